import Threading
import Foundation
import RunStore
import Testing
import Transport

/// Floods of maximum-size and many-frame messages against a real coordinator process: its resident
/// memory stays within 64 MiB of its idle value, and an honest worker still completes the run.
/// What one connection can make it buffer is about (ZMQ_RCVHWM + 1) × the frame limit, so the
/// bound holds per flooding connection, not for any number of them (CURVE limits who connects).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct MemoryFloodTests {
    let directory = Net.temporaryDirectory("flood")

    /// VmRSS of `pid` in bytes, from /proc.
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }

    @Test func maximumSizeAndManyFrameFloodsKeepTheCoordinatorWithin64MiB() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try MiniRun.write(into: directory, evaluations: 4, nullEvaluator: true)
        let run = directory.appendingPathComponent("run")
        let environment = ["SPIKEQ_CACHE_DIR": directory.appendingPathComponent("frames").path]
        let search = try SpikeqProcess(
            ["search", "--config", config.path, "--run", run.path, "--bind", "tcp://127.0.0.1:*", "--threads", "1"],
            log: directory.appendingPathComponent("coordinator.log"), environment: environment)
        let endpoint = try #require(await search.listeningEndpoint(within: .seconds(180)), "no endpoint: \(search.output)")
        let pid = search.process.processIdentifier
        // Idle: the largest of a second's samples once the coordinator listens.
        var idle = 0
        for _ in 0..<20 {
            idle = max(idle, Self.residentBytes(pid) ?? 0)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(idle > 0)

        // Two connections, each sending 400 MiB: one-frame messages just under the 8 MiB frame
        // limit, and 32-frame messages of 256 KiB frames (8 MiB, at the message limit).
        let done = Locked(0)
        let connections = 2
        for index in 0..<connections {
            Thread.detachNewThread {
                defer { done.withLock { $0 += 1 } }
                guard let context = try? ZMQContext(), let socket = try? ZMQSocket(context: context, type: .dealer) else { return }
                try? socket.connect(endpoint)
                let large = Data(repeating: UInt8(index), count: (8 << 20) - 1024)
                let slice = Data(repeating: 7, count: 256 << 10)
                for round in 0..<50 {
                    if round % 2 == 0 {
                        try? socket.send([large])
                    } else {
                        try? socket.send([Data()] + Array(repeating: slice, count: 32))
                    }
                }
                // Closing with linger 0 would drop what is still queued: give it time to go out.
                Thread.sleep(forTimeInterval: 2)
                withExtendedLifetime(socket) {}
            }
        }
        var peak = idle
        while done.current < connections {
            peak = max(peak, Self.residentBytes(pid) ?? 0)
            try await Task.sleep(for: .milliseconds(10))
        }
        let growth = Double(peak - idle) / Double(1 << 20)
        #expect(peak - idle <= 64 << 20, "coordinator RSS grew by \(growth) MiB under the flood (idle \(idle >> 20) MiB)")

        // The coordinator is still serving: an honest worker completes the run.
        let worker = try SpikeqProcess(
            ["worker", "--connect", endpoint, "--name", "honest", "--evaluator", "null", "--null-sleep-ms", "100", "--threads", "1",
             "--cache-dir", directory.appendingPathComponent("cache").path],
            log: directory.appendingPathComponent("worker.log"), environment: environment)
        defer { worker.kill9() }
        #expect(await search.exitStatus(within: .seconds(120)) == 0, "\(search.output)")
        #expect(try RunStore.open(at: run, readOnly: true).results().count == 4)
        print("flood: coordinator idle \(idle >> 20) MiB, peak \(peak >> 20) MiB (+\(String(format: "%.1f", growth)) MiB)")
    }
}
