import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The crafted files through the real `spikeq dataset inspect`: a trap there kills the process with a
/// signal, which an in-process test could only show by dying itself.
struct InspectProcessTests {
    /// The release binary next to the test bundle (`make test` and `swift build -c release` build it);
    /// `SPIKEQ_BIN` overrides.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["SPIKEQ_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spikeq")
    }()

    struct Run {
        var reason: Process.TerminationReason
        var status: Int32
        var output: String
        var errors: String
    }

    static func inspect(_ path: String) throws -> Run {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [
                NSLocalizedDescriptionKey: "\(binary.path) is missing: build it first (swift build -c release --product spikeq)"
            ])
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["dataset", "inspect", path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let (out, err) = (output.fileHandleForReading.readDataToEndOfFile(), errors.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return Run(
            reason: process.terminationReason, status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
            errors: String(decoding: err, as: UTF8.self))
    }

    /// Each crafted file, and the words its error message must contain.
    static func craftedFiles() -> [(name: String, bytes: [UInt8], expected: [String])] {
        CraftedFiles.extremeTimestamps.map { ($0.name, $0.bytes, ["packet \($0.packet)", "timestamp \($0.timestamp) µs", "±2^62"]) }
            + [
                ("bomb.aedat4", CraftedFiles.bomb(outputBytes: 80 << 20), ["packet 0", "limit per packet"]),
                ("declared.aedat4", CraftedFiles.declaredBomb(contentSize: 1 << 40), ["declares 1099511627776 decompressed bytes"]),
                ("nested.aedat4", CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: CraftedFiles.deeplyNestedXML(depth: 5000)),
                 ["nest deeper than 32"]),
                ("huge-sensor.aedat4", CraftedFiles.lz4File([(2, CraftedFiles.ordinary(3))], xml: CraftedFiles.sensorXML(sizeX: "1000000000")),
                 ["sizeX `1000000000`"]),
                ("huge-capacity.aedat", CraftedFiles.aedat31(capacity: Int(Int32.max), number: 2), ["packet 0", "runs past the end"]),
            ]
    }

    @Test func craftedFilesExitWithANamedErrorNotASignal() throws {
        let dir = TemporaryDirectory("inspect")
        for crafted in Self.craftedFiles() {
            let path = dir.write(crafted.name, crafted.bytes)
            let run = try Self.inspect(path)
            #expect(run.reason == .exit, "\(crafted.name): ended by signal \(run.status)")
            #expect(run.status == 1, "\(crafted.name): exit status \(run.status)")
            #expect(run.errors.contains(path), "\(crafted.name): \(run.errors)")
            for word in crafted.expected {
                #expect(run.errors.contains(word), "\(crafted.name): `\(word)` not in \(run.errors)")
            }
        }
    }

    /// Peak resident memory (KiB) and exit status of `spikeq dataset inspect path`, from `wait4` on
    /// that one child (RUSAGE_CHILDREN would mix in every process the test bundle started).
    static func peakMemory(inspecting path: String) throws -> (kib: Int, status: Int32) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw CocoaError(.fileNoSuchFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [binary.path, "dataset", "inspect", path]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary.path, &actions, nil, &argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        return (usage.ru_maxrss, status)
    }

    /// A 1 GiB decompression bomb (4 MB on disk) costs `spikeq dataset inspect` at most the 64 MiB
    /// packet cap over what an honest file costs: the cap's buffer, plus the mapped file and slack.
    @Test func bombCostsAtMostThePacketCap() throws {
        let dir = TemporaryDirectory("inspect-memory")
        let honest = dir.write("honest.aedat4", CraftedFiles.lz4File([(2, CraftedFiles.ordinary(30))]))
        let bomb = dir.write("bomb.aedat4", CraftedFiles.bomb(outputBytes: 1 << 30))
        let base = try Self.peakMemory(inspecting: honest)
        let hostile = try Self.peakMemory(inspecting: bomb)
        #expect(base.status == 0)
        #expect(hostile.status == 1 << 8, "exit status 1, not a signal: wait status \(hostile.status)")
        let fileKiB = try FileManager.default.attributesOfItem(atPath: bomb)[.size] as! Int / 1024
        let allowance = (64 << 10) + fileKiB + (16 << 10)
        #expect(hostile.kib - base.kib <= allowance, "bomb \(hostile.kib) KiB, honest \(base.kib) KiB, allowed +\(allowance) KiB")
    }

    /// The same binary prints a summary for the honest file the crafted ones were made from.
    @Test func honestFileIsSummarised() throws {
        let dir = TemporaryDirectory("inspect")
        let path = dir.write("honest.aedat4", CraftedFiles.lz4File([(2, CraftedFiles.ordinary(30))]))
        let run = try Self.inspect(path)
        #expect(run.reason == .exit && run.status == 0, "\(run.errors)")
        #expect(run.output.contains("events      30"))
        #expect(run.output.contains("sensor      640×480"))
    }
}
