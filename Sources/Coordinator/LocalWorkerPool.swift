import Foundation
import Logging
import Threading

/// Worker processes on this machine (`spikeq search --local-workers N`), supervised: a worker that
/// exits while the pool runs (crashed, killed) is restarted after a short back-off, so a local
/// search survives `kill -9` of a worker the same way a cluster survives a lost node.
public final class LocalWorkerPool: @unchecked Sendable {
    // @unchecked: the mutable state is behind `state` (a Locked, not Sendable itself because a
    // Process is not); termination handlers run on Foundation's queue.
    private let executable: URL
    private let arguments: (Int) -> [String]
    private let logDirectory: URL
    private let logger: Logger
    private struct State {
        var processes: [Int: Process] = [:]
        var stopping = false
        var restarts = 0
    }
    private let state = Locked(State())

    /// - Parameters:
    ///   - executable: the `spikeq` binary.
    ///   - arguments: the command line of worker `i` (0-based), e.g. `worker --connect …`.
    ///   - logDirectory: each worker's standard error goes to `worker-i.log` there.
    public init(executable: URL, logDirectory: URL, logger: Logger, arguments: @escaping (Int) -> [String]) {
        self.executable = executable
        self.arguments = arguments
        self.logDirectory = logDirectory
        self.logger = logger
    }

    /// Starts `count` workers.
    public func start(count: Int) throws {
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        for index in 0..<count { try launch(index) }
    }

    /// Process ids of the running workers, by index.
    public var processIdentifiers: [Int: Int32] {
        state.withLock { $0.processes.mapValues(\.processIdentifier) }
    }

    /// How many times a worker was restarted after exiting.
    public var restartCount: Int {
        state.withLock { $0.restarts }
    }

    private func launch(_ index: Int) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments(index)
        let logURL = logDirectory.appendingPathComponent("worker-\(index).log")
        if !FileManager.default.fileExists(atPath: logURL.path) { _ = FileManager.default.createFile(atPath: logURL.path, contents: nil) }
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [weak self] finished in
            try? log.close()
            self?.exited(index, status: finished.terminationStatus, reason: finished.terminationReason)
        }
        try process.run()
        state.withLock { $0.processes[index] = process }
        logger.info("Started local worker", metadata: ["worker.index": "\(index)", "worker.pid": "\(process.processIdentifier)", "log.file": "\(logURL.path)"])
    }

    private func exited(_ index: Int, status: Int32, reason: Process.TerminationReason) {
        let restart = state.withLock { state in
            state.processes[index] = nil
            if !state.stopping { state.restarts += 1 }
            return !state.stopping
        }
        guard restart else { return }
        logger.warning(
            "Local worker exited; restarting it",
            metadata: ["worker.index": "\(index)", "exit.status": "\(status)", "exit.signal": "\(reason == .uncaughtSignal)"])
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [weak self] in
            guard let self else { return }
            guard !self.state.withLock(\.stopping) else { return }
            do { try self.launch(index) } catch { self.logger.error("Cannot restart local worker", metadata: ["error": "\(error)"]) }
        }
    }

    /// Asks every worker to stop (SIGTERM), waits up to `timeout`, then kills what is left.
    public func stop(timeout: TimeInterval = 10) {
        let running = state.withLock { state in
            state.stopping = true
            return Array(state.processes.values)
        }
        for process in running where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(timeout)
        for process in running {
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }
}
