import ArgumentParser
import Foundation
import Logging
import RunStore

/// Options every command takes: logging and the per-process compute thread count.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Log level.")
    var logLevel: LogLevelArgument = .info

    @Option(help: "Log format: text for people, json (one object per line) for cluster log collectors.")
    var logFormat: LogFormat = .text

    func validate() throws {}

    /// Installs the process-wide log handler. Call once, first thing in `run()`.
    func bootstrapLogging() {
        LogSetup.bootstrap(level: logLevel.level, format: logFormat)
    }
}

enum LogLevelArgument: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

enum LogFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case text, json
}

/// The RUN argument of the commands that read a run.
struct RunArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The run directory, or a name under ./runs/.", valueName: "RUN"))
    var name: String

    /// The run it names, from the current directory.
    var directory: RunDirectory {
        RunDirectory.locate(name, workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }
}
