import Threading
import Foundation
import Logging
import Transport
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// A command from the broker's owner, executed on the broker thread.
package enum BrokerCommand: Sendable {
    case dispatch(DispatchID, EvaluationRequest, WorkerID?)
    case disconnect(WorkerID)
    case acknowledge(DispatchID, WorkerID)
    case snapshot(@Sendable ([WorkerStatus]) -> Void)
}

/// The broker thread's socket loop: polls the ROUTER socket and the doorbell, feeds messages, the
/// owner's commands and heartbeat ticks to a ``BrokerState``, and publishes its counters. All protocol
/// decisions are the state's; this type only moves bytes and time.
final class BrokerLoop {
    private let socket: ZMQSocket
    private let configuration: BrokerConfiguration
    private let commands: Locked<[BrokerCommand]>
    private let doorbell: Doorbell
    private let statistics: Locked<BrokerStatistics>
    private let logger: Logger
    private let state: BrokerState

    init(
        socket: ZMQSocket, configuration: BrokerConfiguration, commands: Locked<[BrokerCommand]>, doorbell: Doorbell,
        statistics: Locked<BrokerStatistics>, artifacts: ArtifactCatalog, logger: Logger,
        emit: @escaping (BrokerEvent) -> Void
    ) {
        self.socket = socket
        self.configuration = configuration
        self.commands = commands
        self.doorbell = doorbell
        self.statistics = statistics
        self.logger = logger
        self.state = BrokerState(
            configuration: configuration, artifacts: artifacts, logger: logger, now: .now,
            transmit: { frames in try socket.send(frames, dontWait: true) }, emit: emit)
    }

    /// Runs until `stopping` is set; then optionally tells workers to disconnect.
    func run(stopping: Locked<Bool>) {
        let poller = ZMQPoller()
        let socketIndex = poller.add(socket)
        let bellIndex = poller.add(fileDescriptor: doorbell.fileDescriptor)
        let tickEvery = configuration.heartbeatInterval / 2
        var nextTick = ContinuousClock.now + tickEvery
        var maxTickLag = Duration.zero
        var ticks = 0
        while !stopping.current {
            let wait = nextTick - .now
            do {
                _ = try poller.poll(timeout: min(max(wait, .zero), tickEvery))
            } catch let error as ZMQError where error.code == .terminated {
                break
            } catch {
                logger.error("Broker poll failed", metadata: ["error": "\(error)"])
            }
            if poller.isReadable(bellIndex) { doorbell.drain() }
            runCommands()
            if poller.isReadable(socketIndex) || socket.hasPendingInput {
                if !receiveBatch() { break }
            }
            let now = ContinuousClock.now
            if now >= nextTick {
                maxTickLag = max(maxTickLag, now - nextTick)
                ticks += 1
                state.tick(at: now)
                nextTick = now + tickEvery
            }
            publish(maxTickLag: maxTickLag, ticks: ticks)
        }
        runCommands()
        if configuration.disconnectWorkersOnShutdown {
            state.disconnectAll(at: .now)
            // Give the DISCONNECTs a moment to leave before the socket closes.
            try? socket.setLinger(.milliseconds(200))
        }
        publish(maxTickLag: maxTickLag, ticks: ticks)
    }

    /// Receives up to a batch of messages so commands and heartbeats are never starved.
    /// Returns false if the context was terminated.
    private func receiveBatch() -> Bool {
        for _ in 0..<512 {
            do {
                guard let frames = try socket.receive(dontWait: true) else { return true }
                state.receive(frames, userID: socket.lastUserID, at: .now)
            } catch let error as ZMQError where error.code == .terminated {
                return false
            } catch {
                state.receiveFailed(error, at: .now)
            }
        }
        return true
    }

    private func runCommands() {
        let pending = commands.withLock { queue -> [BrokerCommand] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for command in pending { state.run(command, at: .now) }
    }

    private func publish(maxTickLag: Duration, ticks: Int) {
        var snapshot = state.statistics(loopCPUSeconds: Self.threadCPUSeconds())
        snapshot.maxTickLag = maxTickLag
        snapshot.ticks = ticks
        statistics.withLock { $0 = snapshot }
    }

    static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
