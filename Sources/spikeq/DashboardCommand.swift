import ArgumentParser
import Coordinator
import Dashboard
import Foundation
import Report
import Logging
import RunStore

/// `spikeq dashboard RUN`: a live, read-only web view of a run.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a live, read-only web view of a run: front, hypervolume, in-flight work, workers, events.",
        discussion: """
            RUN is a run directory, or a name under ./runs/. Works while a coordinator writes to the run and on a \
            finished run. Listens on loopback by default; any other address needs --bind and logs a warning \
            (nothing secret is shown, but results and worker names are). `spikeq search --dashboard ADDR` serves \
            the same view from the coordinator.
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var runArgument: RunArgument

    @Option(help: ArgumentHelp("Address to listen on (port 0: any free port).", valueName: "HOST:PORT"))
    var bind: String = "127.0.0.1:8080"

    func validate() throws {
        do {
            _ = try DashboardServer.parseAddress(bind)
        } catch {
            throw ValidationError("--bind: \(error)")
        }
    }

    func run() async throws {
        global.bootstrapLogging()
        let directory = runArgument.directory
        let store = try RunStore.open(at: directory.url, readOnly: true)
        let logger = Logger(label: "spikeq.dashboard")
        try await DashboardLauncher.serve(store: store, address: bind, logger: logger)
    }
}

/// Starts a dashboard server and says where it listens; shared by `dashboard` and `search --dashboard`.
enum DashboardLauncher {
    /// Serves until cancelled or signalled (`spikeq dashboard`).
    static func serve(store: RunStore, address: String, logger: Logger) async throws {
        try await server(store: store, address: address, logger: logger).run(logger: logger, onListening: announce)
    }

    /// Serves in the background until stopped (`spikeq search --dashboard`).
    static func start(store: RunStore, address: String, logger: Logger) throws -> BackgroundDashboard {
        try server(store: store, address: address, logger: logger).start(logger: logger, onListening: announce)
    }

    private static func server(store: RunStore, address: String, logger: Logger) throws -> DashboardServer {
        let (host, port) = try DashboardServer.parseAddress(address)
        if !DashboardServer.isLoopback(host) {
            logger.warning(
                "Dashboard reachable from other machines: it is read-only and shows no secrets, but anyone who can reach it sees the run",
                metadata: ["http.address": "\(address)"])
        }
        return DashboardServer(store: store, host: host, port: port)
    }

    private static let announce: @Sendable (String) -> Void = { url in FileHandle.standardError.write(Data("dashboard: \(url)\n".utf8)) }
}
