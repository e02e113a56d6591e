import Foundation
import QuantConfig
import Report
import Testing
import TestSupport
import Wire

struct ReportTests {
    static let layers = SpikformerLayers.quantizable(depth: 2)

    /// A small, hand-made run: FP32, three baselines, a few searched models, two workers.
    static func sampleInput() -> ReportInput {
        let reference = ReferenceFigures(accuracy: ["validation": 0.9, "test": 0.88], energy: ["spikformer-45nm": 4e6, "horowitz-45nm": 1e6], bytes: 654_636)
        func result(_ config: QuantizationConfig, bits: Double, validation: Double, test: Double) -> EvaluationResult {
            let energy = 4e6 * bits / 32
            return EvaluationResult(
                configHash: config.hash, config: config, accuracy: ["validation": validation, "test": test], averageBits: bits,
                compression: 32 / bits, packedBytes: Int(163_659 * bits / 8),
                energy: ["spikformer-45nm": EnergyFigure(picojoules: energy, reduction: 4e6 / energy), "horowitz-45nm": EnergyFigure(picojoules: energy / 3, reduction: 3e6 / energy)],
                layers: [], reference: reference, fineTune: FineTuneSummary(epochs: 1, steps: 10, finalLoss: 0.5, seconds: 3), wallSeconds: 4,
                datasetFingerprint: "d", checkpointHash: "c")
        }
        var mixed = QuantizationConfig.uniformChoice(.pot(3), layers: layers)
        mixed["head"] = .uniform(8)
        let candidates = [
            ReportCandidate(id: 1, origin: "baseline", result: result(.uniformChoice(.uniform(8), layers: layers), bits: 8, validation: 0.9, test: 0.88), onFront: true),
            ReportCandidate(id: 2, origin: "baseline", result: result(.uniformChoice(.uniform(4), layers: layers), bits: 4, validation: 0.88, test: 0.86), onFront: false),
            ReportCandidate(id: 3, origin: "baseline", result: result(.uniformChoice(.pot(4), layers: layers), bits: 4, validation: 0.885, test: 0.87), onFront: true),
            ReportCandidate(id: 4, origin: "offspring", result: result(mixed, bits: 3.2, validation: 0.87, test: 0.865), onFront: true),
            ReportCandidate(id: 5, origin: "offspring", result: result(.uniformChoice(.uniform(2), layers: layers), bits: 2, validation: 0.5, test: 0.45), onFront: true),
        ]
        return ReportInput(
            runName: "sample", subtitle: "spikformer-tiny on synthetic-gestures", layerOrder: layers, primaryEnergy: "spikformer-45nm",
            energyPresets: ["spikformer-45nm", "horowitz-45nm"], candidates: candidates, reference: reference,
            hypervolume: [HypervolumePoint(evaluations: 1, seconds: 10, value: 0.1), HypervolumePoint(evaluations: 5, seconds: 50, value: 0.4)],
            workerActivity: [
                WorkerInterval(worker: "w1", start: 0, end: 20, candidateId: 1, outcome: "done"),
                WorkerInterval(worker: "w2", start: 1, end: 15, candidateId: 2, outcome: "stale"),
                WorkerInterval(worker: "w2", start: 15, end: 40, candidateId: 3, outcome: "done"),
            ],
            findings: ["Model #4 is within 1 pp of FP32 at 3.2 bits."], facts: [("evaluations", "5")])
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spikeq-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func writesPageFiguresAndData() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let index = try ReportWriter.write(Self.sampleInput(), to: dir)
        let html = try String(contentsOf: index, encoding: .utf8)
        let figures = ["accuracy-energy-spikformer-45nm", "accuracy-energy-horowitz-45nm", "hypervolume-evaluations", "hypervolume-time", "bits-accuracy", "layer-choices", "utilisation"]
        for name in figures {
            let svg = try String(contentsOf: dir.appendingPathComponent("figures/\(name).svg"), encoding: .utf8)
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), "\(name)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/\(name).csv").path))
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/\(name).json").path))
            #expect(html.contains("<figure id=\"\(name)\""))
        }
        // Self-contained: every figure is inline, nothing is loaded from elsewhere.
        #expect(!html.contains("<img"))
        #expect(!html.contains("<script"))
        #expect(html.components(separatedBy: "<svg xmlns").count - 1 == figures.count)
        let pareto = try String(contentsOf: dir.appendingPathComponent("data/pareto.csv"), encoding: .utf8)
        let rows = pareto.split(separator: "\n")
        #expect(rows.count == 1 + 4)  // header + four front members
        #expect(rows[0].hasPrefix("id,origin,validation_accuracy_%,test_accuracy_%,test_drop_vs_fp32_pp,energy_uj_spikformer-45nm"))
        // Least energy first: the 2-bit model (id 5) leads; its test drop is 88 - 45 = 43 pp.
        #expect(rows[1].hasPrefix("5,offspring,50,45,43,"))
    }

    @Test func supernetSweepTableLinksEachLambdaToItsEvaluation() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var input = Self.sampleInput()
        let evaluated = input.candidates[3].result.config  // #4, on the front
        var unevaluated = QuantizationConfig.uniformChoice(.pot(2), layers: Self.layers)
        unevaluated["head"] = .uniform(8)
        func supernet(_ lambda: Double, _ config: QuantizationConfig, bits: Double) -> SupernetResult {
            SupernetResult(
                lambda: lambda, config: config, probabilities: [:], energyModel: "spikformer-45nm", referencePicojoules: 4e6,
                expectedRelativeEnergy: bits / 30, derivedRelativeEnergy: bits / 32, averageBits: bits, expectedAverageBits: bits + 0.5,
                trajectory: [], steps: 60, seconds: 5)
        }
        input.supernets = [supernet(0.3, evaluated, bits: 3.2), supernet(3, unevaluated, bits: 2.1)]
        let html = try String(contentsOf: try ReportWriter.write(input, to: dir), encoding: .utf8)
        #expect(html.contains("<h2>Supernet sweep</h2>"))
        let rows = try String(contentsOf: dir.appendingPathComponent("data/supernets.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("lambda,average_bits,expected_bits,predicted_energy_vs_fp32,expected_energy_vs_fp32,supernet_steps,candidate,validation_accuracy_%,on_front"))
        #expect(rows[1].hasPrefix("0.3,3.2,3.7,0.1,"))
        #expect(rows[1].contains(",60,4,87,yes,\(evaluated.hash),"))
        #expect(rows[2].contains(",60,-,-,-,\(unevaluated.hash),"))
        // No sweep, no section.
        let plain = try String(contentsOf: try ReportWriter.write(Self.sampleInput(), to: dir.appendingPathComponent("plain")), encoding: .utf8)
        #expect(!plain.contains("Supernet sweep"))
    }

    /// A damaged or crafted run can hold any number where a time belongs; the report and `status`
    /// trapped converting such numbers to Int. They now draw and print what they can.
    @Test func impossibleTimesDoNotStopTheReport() throws {
        var input = Self.sampleInput()
        input.workerActivity.append(WorkerInterval(worker: "w3", start: 1e308, end: .infinity, candidateId: 4, outcome: "done"))
        input.hypervolume.append(HypervolumePoint(evaluations: 6, seconds: -1e308, value: 0.5))
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try String(contentsOf: try ReportWriter.write(input, to: dir), encoding: .utf8)
        #expect(html.contains("<svg") || html.contains(".svg"))
        #expect(RunInspection.duration(1e308) == "n/a" && RunInspection.duration(-5) == "n/a" && RunInspection.duration(.nan) == "n/a")
        #expect(RunInspection.duration(3725) == "1h02m" && RunInspection.duration(59.4) == "59s")
    }

    @Test func heatMapColoursDistinguishSchemesAndWidths() {
        let u2 = ReportFiguresProbe.color(.uniform(2)), u8 = ReportFiguresProbe.color(.uniform(8))
        let p2 = ReportFiguresProbe.color(.pot(2))
        #expect(u2 != u8)
        #expect(u2 != p2)
        #expect(ReportFiguresProbe.color(.float) == "#d9d9d9")
    }

    /// Renders the page in a real headless browser and checks that every figure has a drawn size.
    /// Skipped (reported) without a browser, unless external tools are required (CI): then it fails.
    @Test(.enabled(if: Self.browser != nil || TestEnvironment.requiresExternalTools))
    func rendersInHeadlessChromium() throws {
        let browser = try #require(Self.browser, "no headless browser installed (apt-get install chromium)")
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let index = try ReportWriter.write(Self.sampleInput(), to: dir)
        // A copy of the page with a probe that measures every figure after layout.
        var html = try String(contentsOf: index, encoding: .utf8)
        html = html.replacingOccurrences(
            of: "</body>",
            with: """
                <script>
                const sizes = [...document.querySelectorAll('figure svg')].map(s => { const r = s.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height); });
                const marks = document.querySelectorAll('figure svg circle, figure svg rect, figure svg polygon').length;
                const probe = document.createElement('pre'); probe.id = 'probe';
                probe.textContent = 'FIGURES=' + sizes.length + ';SIZES=' + sizes.join(',') + ';MARKS=' + marks; document.body.appendChild(probe);
                </script></body>
                """)
        let probePage = dir.appendingPathComponent("probe.html")
        try html.write(to: probePage, atomically: true, encoding: .utf8)
        let dom = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", probePage.absoluteString])
        guard let range = dom.range(of: #"FIGURES=\d+;SIZES=[^;]*;MARKS=\d+"#, options: .regularExpression) else {
            Issue.record("probe output missing from the rendered DOM")
            return
        }
        let fields = dom[range].split(separator: ";")
        #expect(fields[0] == "FIGURES=7")
        let sizes = fields[1].dropFirst("SIZES=".count).split(separator: ",")
        #expect(sizes.count == 7)
        for size in sizes {
            let parts = size.split(separator: "x").compactMap { Int($0) }
            #expect(parts.count == 2 && parts[0] > 100 && parts[1] > 100, "figure rendered at \(size)")
        }
        #expect(Int(fields[2].dropFirst("MARKS=".count)) ?? 0 > 50)
        // And a screenshot of the real page is produced and is not blank.
        let shot = dir.appendingPathComponent("shot.png")
        _ = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,3000", "--screenshot=\(shot.path)", index.absoluteString])
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 20_000)
    }

    static let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
