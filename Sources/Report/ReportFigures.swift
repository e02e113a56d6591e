import Foundation
import QuantConfig
import Wire

/// One figure: its SVG and the table of values behind it.
struct Figure {
    var name: String
    var caption: String
    var svg: String
    var table: DataTable
}

/// Builds each figure of the report from a ``ReportInput``.
struct ReportFigures {
    let input: ReportInput

    var all: [Figure] {
        input.energyPresets.map(accuracyVersusEnergy) + [
            hypervolume(overTime: false), hypervolume(overTime: true), bitsVersusAccuracy(), layerChoices(), utilisation(),
        ]
    }

    private func accuracy(_ c: ReportCandidate, _ split: String) -> Double { (c.result.accuracy[split] ?? .nan) * 100 }

    private func describe(_ c: ReportCandidate) -> String {
        let acc = input.candidates.isEmpty ? "" : String(format: "%.2f%%", accuracy(c, input.selectionSplit))
        return "#\(c.id) \(c.origin) \(acc) \(String(format: "%.2f", c.result.averageBits)) bits\n"
            + c.result.config.summary(order: input.layerOrder)
    }

    /// Accuracy (selection split) versus energy per inference, the front as a step line.
    func accuracyVersusEnergy(preset: String) -> Figure {
        let energyOf = { (c: ReportCandidate) in (c.result.energy[preset]?.picojoules ?? .nan) / 1e6 }
        let baselines = input.candidates.filter { $0.origin == "baseline" }
        let front = input.front.sorted { energyOf($0) < energyOf($1) }
        let others = input.candidates.filter { $0.origin != "baseline" }
        var series = [
            ScatterSeries(
                name: "evaluated", shape: .circle, fill: "#9ecae1", stroke: "#3182bd", size: 3.5,
                points: others.map { (energyOf($0), accuracy($0, input.selectionSplit), describe($0)) }),
            ScatterSeries(
                name: "uniform baselines", shape: .square, fill: "#fdd0a2", stroke: "#e6550d",
                points: baselines.map { (energyOf($0), accuracy($0, input.selectionSplit), describe($0)) }),
            ScatterSeries(
                name: "Pareto front", shape: .circle, fill: "none", stroke: "#d62728", size: 6.5,
                points: front.map { (energyOf($0), accuracy($0, input.selectionSplit), describe($0)) }),
        ]
        if let reference = input.reference, let energy = reference.energy[preset], let acc = reference.accuracy[input.selectionSplit] {
            series.append(
                ScatterSeries(
                    name: "FP32", shape: .star, fill: "#ffd92f", stroke: "#444", size: 5,
                    points: [(energy / 1e6, acc * 100, "FP32 reference")]))
        }
        let frame = ChartFrame(
            title: "Accuracy vs energy (\(preset))", xLabel: "energy per inference (µJ, \(preset))",
            yLabel: "\(input.selectionSplit) accuracy (%)")
        let svg = Charts.scatter(
            frame: frame, series: series,
            front: preset == input.primaryEnergy ? front.map { (energyOf($0), accuracy($0, input.selectionSplit)) } : [])
        var table = DataTable(columns: ["id", "origin", "on_front", "energy_uj", "\(input.selectionSplit)_accuracy", "\(input.reportSplit)_accuracy", "average_bits"])
        for c in input.candidates {
            table.append([
                "\(c.id)", c.origin, c.onFront ? "1" : "0", fmt(energyOf(c)), fmt(accuracy(c, input.selectionSplit)),
                fmt(accuracy(c, input.reportSplit)), fmt(c.result.averageBits),
            ])
        }
        if let reference = input.reference {
            table.append([
                "fp32", "reference", "0", fmt((reference.energy[preset] ?? .nan) / 1e6),
                fmt((reference.accuracy[input.selectionSplit] ?? .nan) * 100), fmt((reference.accuracy[input.reportSplit] ?? .nan) * 100), "32",
            ])
        }
        return Figure(
            name: "accuracy-energy-\(preset)",
            caption: "Every evaluated configuration (blue), the uniform baselines (orange squares), the Pareto front (red rings and line; selected on \(input.selectionSplit) accuracy and \(input.primaryEnergy) energy) and the FP32 model (star), under the \(preset) energy model. Hover a point for its per-layer choice.",
            svg: svg, table: table)
    }

    func hypervolume(overTime: Bool) -> Figure {
        let points = input.hypervolume.map { (x: overTime ? $0.seconds / 60 : Double($0.evaluations), y: $0.value) }
        let frame = ChartFrame(
            title: overTime ? "Hypervolume over wall time" : "Hypervolume over evaluations",
            xLabel: overTime ? "wall time (min)" : "evaluations", yLabel: "hypervolume")
        var table = DataTable(columns: ["evaluations", "seconds", "hypervolume"])
        for p in input.hypervolume { table.append(["\(p.evaluations)", fmt(p.seconds), fmt(p.value)]) }
        return Figure(
            name: overTime ? "hypervolume-time" : "hypervolume-evaluations",
            caption: "Hypervolume of the front (fixed reference point) as the search progressed.",
            svg: Charts.lines(frame: frame, series: [("hypervolume", "#2ca02c", points)]), table: table)
    }

    func bitsVersusAccuracy() -> Figure {
        let series = [
            ScatterSeries(
                name: "evaluated", shape: .circle, fill: "#c7e9c0", stroke: "#31a354", size: 3.5,
                points: input.candidates.filter { !$0.onFront }.map { ($0.result.averageBits, accuracy($0, input.selectionSplit), describe($0)) }),
            ScatterSeries(
                name: "Pareto front", shape: .circle, fill: "#d62728", stroke: "#67000d",
                points: input.front.map { ($0.result.averageBits, accuracy($0, input.selectionSplit), describe($0)) }),
        ]
        let frame = ChartFrame(title: "Average bits vs accuracy", xLabel: "average weight bits (parameter-weighted)", yLabel: "\(input.selectionSplit) accuracy (%)")
        var table = DataTable(columns: ["id", "average_bits", "\(input.selectionSplit)_accuracy", "on_front"])
        for c in input.candidates { table.append(["\(c.id)", fmt(c.result.averageBits), fmt(accuracy(c, input.selectionSplit)), c.onFront ? "1" : "0"]) }
        return Figure(name: "bits-accuracy", caption: "Average weight width against accuracy.", svg: Charts.scatter(frame: frame, series: series), table: table)
    }

    /// Per-layer scheme and width of each Pareto model, sorted by energy.
    func layerChoices() -> Figure {
        let models = input.front.sorted { ($0.result.energy[input.primaryEnergy]?.picojoules ?? 0) < ($1.result.energy[input.primaryEnergy]?.picojoules ?? 0) }
        let cells = models.map { model in
            input.layerOrder.map { layer -> (String, String, String, Bool) in
                let choice = model.result.config[layer]
                let dark = choice.map { $0.scheme != .float && $0.bits <= 4 } ?? false
                return (choice?.description ?? "-", Self.color(for: choice), "\(layer): \(choice?.description ?? "-")", dark)
            }
        }
        let svg = Charts.heatMap(
            title: "Per-layer scheme and width of the Pareto models", rows: models.map { "#\($0.id)" },
            columns: input.layerOrder, cells: cells,
            legend: [("uniform 2…8 bits", Self.color(for: .uniform(4))), ("power-of-two 2…8", Self.color(for: .pot(4))), ("float", Self.color(for: .float))])
        var table = DataTable(columns: ["id"] + input.layerOrder)
        for model in models { table.append(["\(model.id)"] + input.layerOrder.map { model.result.config[$0]?.description ?? "" }) }
        return Figure(
            name: "layer-choices",
            caption: "Rows are the Pareto models from least to most energy; u = uniform, p = power-of-two, number = bits; darker = fewer bits.",
            svg: svg, table: table)
    }

    func utilisation() -> Figure {
        let workers = Array(Set(input.workerActivity.map(\.worker))).sorted()
        let colors = ["done": "#74c476", "failed": "#de2d26", "stale": "#bdbdbd"]
        let bars = input.workerActivity.map { interval in
            (
                row: workers.firstIndex(of: interval.worker) ?? 0, start: interval.start / 60, end: interval.end / 60,
                color: colors[interval.outcome] ?? "#6baed6", title: "#\(interval.candidateId) \(interval.outcome)"
            )
        }
        let frame = ChartFrame(title: "Worker utilisation", xLabel: "wall time (min)", yLabel: "")
        var table = DataTable(columns: ["worker", "start_s", "end_s", "candidate", "outcome"])
        for i in input.workerActivity { table.append([i.worker, fmt(i.start), fmt(i.end), "\(i.candidateId)", i.outcome]) }
        let busy = input.workerActivity.reduce(0) { $0 + $1.end - $1.start }
        let span = input.workerActivity.map(\.end).max() ?? 0
        let share = span > 0 && !workers.isEmpty ? busy / (span * Double(workers.count)) * 100 : 0
        return Figure(
            name: "utilisation",
            caption: String(format: "What each worker was evaluating over time; busy %.0f%% of the time overall.", share),
            svg: Charts.timeline(frame: frame, rows: workers, bars: bars, legend: colors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
            table: table)
    }

    /// Blue for uniform, orange for power-of-two, darker for fewer bits; grey for float.
    static func color(for choice: LayerQuantization?) -> String {
        guard let choice else { return "#ffffff" }
        let t = Double(min(max(choice.bits, 2), 8) - 2) / 6  // 0 at 2 bits, 1 at 8 bits
        func mix(_ dark: (Double, Double, Double), _ light: (Double, Double, Double)) -> String {
            let c = (dark.0 + (light.0 - dark.0) * t, dark.1 + (light.1 - dark.1) * t, dark.2 + (light.2 - dark.2) * t)
            return String(format: "#%02x%02x%02x", Int(c.0), Int(c.1), Int(c.2))
        }
        switch choice.scheme {
        case .uniform: return mix((33, 113, 181), (198, 219, 239))
        case .pot: return mix((217, 72, 1), (253, 208, 162))
        case .float: return "#d9d9d9"
        }
    }
}

func fmt(_ value: Double) -> String {
    value.isFinite ? String(format: "%.6g", value) : ""
}

/// The heat-map colour scale, for tests.
package enum ReportFiguresProbe {
    package static func color(_ choice: LayerQuantization) -> String { ReportFigures.color(for: choice) }
}
