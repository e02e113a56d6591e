import Foundation
import Logging
import ServiceLifecycle
import Threading
import UnixSignals

/// The coordinator as a ServiceLifecycle service, like the worker's: SIGINT or SIGTERM cancels its
/// loop, which stops the run cleanly (resumable with `--resume`).
public final class CoordinatorService: Service, Sendable {
    private let coordinator: SearchCoordinator
    private let logger: Logger
    private let status: @Sendable (CoordinatorStatus) -> Void
    private let summary = Locked<StudySummary?>(nil)

    /// - Parameter status: called on the loop every few seconds and once at the end.
    public init(coordinator: SearchCoordinator, logger: Logger, status: @escaping @Sendable (CoordinatorStatus) -> Void = { _ in }) {
        self.coordinator = coordinator
        self.logger = logger
        self.status = status
    }

    public func run() async throws {
        let result = try await cancelWhenGracefulShutdown { [coordinator, status] in try await coordinator.run(status: status) }
        summary.withLock { $0 = result }
    }

    /// Runs in a `ServiceGroup` until the study finishes or a signal stops it. Returns the summary when
    /// the loop ended (finished, or stopped cleanly), nil if it never ran.
    public func runUntilSignalled() async throws -> StudySummary? {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // The study finishing is the normal end, not a failure of the group.
                services: [.init(service: self, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return summary.current
    }
}
