import Foundation
import Testing

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
