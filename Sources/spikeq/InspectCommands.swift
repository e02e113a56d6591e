import ArgumentParser
import Coordinator
import Foundation
import Report
import RunStore

/// `spikeq pareto RUN`: the Pareto front of a run, as a table or JSON.
struct ParetoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pareto",
        abstract: "Show a run's Pareto front (accuracy vs energy).",
        discussion: """
            RUN is a run directory, or a name under ./runs/. The front uses constrained domination: when no \
            configuration meets the constraints it shows the least-violating ones. Safe to run while the search runs.
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var runArgument: RunArgument

    @Flag(help: "Print JSON (one object per front member) instead of a table.")
    var json = false

    func run() throws {
        global.bootstrapLogging()
        let directory = runArgument.directory
        let store = try RunStore.open(at: directory.url, readOnly: true)
        print(json ? try RunInspection.paretoJSON(store) : try RunInspection.paretoTable(store), terminator: "")
    }
}

/// `spikeq status RUN`: progress, failures, hypervolume, best accuracy per energy, workers.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a run's progress: evaluations, in-flight work, failures, hypervolume, workers.",
        discussion: "RUN is a run directory, or a name under ./runs/. Safe to run while the search runs.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var runArgument: RunArgument

    func run() throws {
        global.bootstrapLogging()
        let directory = runArgument.directory
        let store = try RunStore.open(at: directory.url, readOnly: true)
        print(try RunInspection.statusText(store), terminator: "")
    }
}
