import Foundation

/// The files of one run directory (`runs/NAME/`), named in one place.
///
/// Every tool that reads or writes a run (coordinator, report, export, dashboard, benchmarks) asks this
/// type for the path instead of spelling a file name.
public struct RunDirectory: Sendable, Hashable {
    /// File name of the database.
    public static let databaseName = "run.sqlite"
    /// File name of the resolved search config.
    public static let configName = "search.yaml"
    /// File name of the FP32 base checkpoint every candidate starts from (also its artifact name on the wire).
    public static let baseCheckpointName = "base.safetensors"

    public let url: URL

    public init(_ url: URL) { self.url = url.standardizedFileURL }

    /// `run.sqlite`: candidates, results, events (WAL mode; readers may open it while the coordinator writes).
    public var database: URL { url.appendingPathComponent(Self.databaseName) }
    /// `search.yaml`: the config the run was created from, as resolved.
    public var config: URL { url.appendingPathComponent(Self.configName) }
    /// `base.safetensors`: the FP32 checkpoint served to workers.
    public var baseCheckpoint: URL { url.appendingPathComponent(Self.baseCheckpointName) }
    /// `artifacts/`: the candidates' packed models, one file per config hash.
    public var artifacts: URL { url.appendingPathComponent("artifacts") }
    /// `logs/`: one log file per local worker.
    public var logs: URL { url.appendingPathComponent("logs") }
    /// `cache/`: what local workers keep between evaluations (fetched checkpoint, frame caches).
    public var cache: URL { url.appendingPathComponent("cache") }
    /// `report/`: the default target of `spikeq report`.
    public var report: URL { url.appendingPathComponent("report") }

    /// The run directory a command-line argument names: the path itself if it holds a run, otherwise
    /// `runs/ARGUMENT` under `workingDirectory` if that does, otherwise the path (whose open then fails
    /// with a message naming it).
    public static func locate(_ argument: String, workingDirectory: URL) -> RunDirectory {
        let direct = RunDirectory(resolve(argument, against: workingDirectory))
        if direct.holdsRun { return direct }
        let named = RunDirectory(workingDirectory.appendingPathComponent("runs").appendingPathComponent(argument))
        return named.holdsRun ? named : direct
    }

    /// A path from the command line: absolute as given, else under `workingDirectory` (whether or not
    /// that URL carries the trailing slash Foundation's relative resolution depends on).
    public static func resolve(_ path: String, against workingDirectory: URL) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : workingDirectory.appendingPathComponent(path)).standardizedFileURL
    }

    /// Whether the directory already holds a run (its database exists).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: database.path) }

    /// A candidate's packed model, named by its config hash (content-defined, so a re-evaluation writes
    /// the same name; the hash is checked before it names a file).
    public func artifact(configHash: String) -> URL {
        Self.artifact(in: artifacts, configHash: configHash)
    }

    /// The same, for a caller that holds only the artifacts folder.
    public static func artifact(in artifacts: URL, configHash: String) -> URL {
        artifacts.appendingPathComponent("\(configHash).safetensors")
    }
}
