import Foundation
import Hummingbird
import Logging
import NIOCore
import RunStore
import ServiceLifecycle

/// `spikeq dashboard`: a read-only HTTP view of one run, live while a coordinator writes to it.
///
/// Routes (all GET): `/` the page, `/dashboard.js` and `/dashboard.css` its code and style, and JSON:
/// `/api/snapshot` (everything), `/api/run`, `/api/front`, `/api/hypervolume`, `/api/inflight`,
/// `/api/workers`, `/api/events`. `/api/snapshot?after=VERSION` long-polls: it answers as soon as the
/// run's snapshot differs from VERSION, or after ``longPoll`` with the unchanged one, so the page
/// updates within a second of a change without reloading or hammering the database.
///
/// It opens `run.sqlite` read-only (WAL: readers never block the coordinator) and shows no secrets:
/// run settings, results, worker names and events only.
public struct DashboardServer: Sendable {
    public var store: RunStore
    public var host: String
    public var port: Int
    /// Longest a long-poll request is held.
    public var longPoll: Duration = .seconds(20)
    /// How often a held long-poll re-reads the store.
    public var pollInterval: Duration = .milliseconds(500)

    public init(store: RunStore, host: String = "127.0.0.1", port: Int = 8080) {
        self.store = store
        self.host = host
        self.port = port
    }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Serves until the calling task is cancelled (or SIGINT/SIGTERM). `onListening` gets the bound
    /// `http://host:port/` (useful with port 0).
    public func run(logger: Logger, onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        try await application(logger: logger, onListening: onListening).run()
    }

    /// Serves in the background until ``BackgroundDashboard/stop()``: what `spikeq search --dashboard`
    /// runs beside the coordinator. Stopping shuts the server down gracefully, so the end of a search
    /// is not logged as a cancelled server.
    public func start(logger: Logger, onListening: @escaping @Sendable (String) -> Void = { _ in }) -> BackgroundDashboard {
        BackgroundDashboard(application(logger: logger, onListening: onListening), logger: logger)
    }

    func application(logger: Logger, onListening: @escaping @Sendable (String) -> Void) -> some ApplicationProtocol & Service {
        let router = Router()
        // Before the routes: middleware applies to routes added after it.
        router.middlewares.add(LogRequestsMiddleware(.debug))
        let store = self.store
        router.get("/") { _, _ in Self.asset(DashboardAssets.html, type: "text/html; charset=utf-8") }
        router.get("/dashboard.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard.css") { _, _ in Self.asset(DashboardAssets.style, type: "text/css; charset=utf-8") }
        let longPoll = self.longPoll
        let pollInterval = self.pollInterval
        router.get("/api/snapshot") { request, _ in
            var snapshot = try DashboardSnapshot.load(from: store)
            if let after = request.uri.queryParameters.get("after"), after == snapshot.version {
                let deadline = ContinuousClock.now + longPoll
                while snapshot.version == after, ContinuousClock.now < deadline {
                    try await Task.sleep(for: pollInterval)
                    snapshot = try DashboardSnapshot.load(from: store)
                }
            }
            return try Self.json(snapshot)
        }
        router.get("/api/run") { _, _ in try Self.json(try DashboardSnapshot.load(from: store).run) }
        router.get("/api/front") { _, _ in
            let snapshot = try DashboardSnapshot.load(from: store)
            return try Self.json(FrontView(energyModels: snapshot.run.energyModels, references: snapshot.references, front: snapshot.front, dominated: snapshot.dominated))
        }
        router.get("/api/hypervolume") { _, _ in try Self.json(try DashboardSnapshot.load(from: store).hypervolume) }
        router.get("/api/inflight") { _, _ in try Self.json(try DashboardSnapshot.load(from: store).inFlight) }
        router.get("/api/workers") { _, _ in try Self.json(try DashboardSnapshot.load(from: store).workers) }
        router.get("/api/events") { _, _ in try Self.json(try DashboardSnapshot.load(from: store).events) }

        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "spikeq-dashboard"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? self.port
                let shown = host.contains(":") ? "[\(host)]" : host
                onListening("http://\(shown):\(port)/")
            },
            logger: logger)
        return app
    }

    /// The `/api/front` body.
    struct FrontView: Codable {
        var energyModels: [String]
        var references: [DashboardSnapshot.ReferenceView]
        var front: [DashboardSnapshot.PointView]
        var dominated: [DashboardSnapshot.PointView]
    }

    static func json(_ value: some Encodable) throws -> Response {
        let data = try DashboardSnapshot.encoder().encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .cacheControl: "no-store",
                // Everything comes from this server; peer strings are inserted as text, never as HTML.
                .contentSecurityPolicy: "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
                .init("X-Content-Type-Options")!: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A dashboard served by a task of its own, stopped by a graceful shutdown instead of a cancellation.
public final class BackgroundDashboard: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    init(_ service: some Service, logger: Logger) {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [service], logger: logger))
        self.group = group
        task = Task {
            do { try await group.run() } catch { logger.error("Dashboard stopped", metadata: ["error": "\(error)"]) }
        }
    }

    /// Shuts the server down gracefully and waits until it has.
    public func stop() async {
        await group.triggerGracefulShutdown()
        await task.value
    }
}

/// A `--bind`/`--dashboard` address that is not `HOST:PORT`.
public struct DashboardAddressError: Error, CustomStringConvertible {
    public var text: String
    public var description: String { "'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080; port 0 picks a free one)" }
}

extension DashboardServer {
    /// Parses `HOST:PORT` (IPv6 hosts in brackets).
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            guard text[close...].hasPrefix("]:") else { throw DashboardAddressError(text: text) }
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw DashboardAddressError(text: text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65_535).contains(port) else { throw DashboardAddressError(text: text) }
        return (String(host), port)
    }
}
