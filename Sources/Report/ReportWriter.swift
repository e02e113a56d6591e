import Foundation
import QuantConfig
import Statistics
import Wire

/// Writes a run's report: `index.html` (self-contained: figures inline), `figures/*.svg`, and the
/// data behind every figure and table as `data/*.csv` and `data/*.json`.
public enum ReportWriter {
    /// Writes the report into `directory` (created if needed) and returns the path of `index.html`.
    @discardableResult
    public static func write(_ input: ReportInput, to directory: URL) throws -> URL {
        let fileManager = FileManager.default
        let figuresDirectory = directory.appendingPathComponent("figures")
        let dataDirectory = directory.appendingPathComponent("data")
        for dir in [directory, figuresDirectory, dataDirectory] {
            try fileManager.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        let figures = ReportFigures(input: input).all
        for figure in figures {
            try figure.svg.write(to: figuresDirectory.appendingPathComponent("\(figure.name).svg"), atomically: true, encoding: .utf8)
            try figure.table.csv.write(to: dataDirectory.appendingPathComponent("\(figure.name).csv"), atomically: true, encoding: .utf8)
            try figure.table.json.write(to: dataDirectory.appendingPathComponent("\(figure.name).json"), atomically: true, encoding: .utf8)
        }
        let pareto = paretoTable(input)
        try pareto.csv.write(to: dataDirectory.appendingPathComponent("pareto.csv"), atomically: true, encoding: .utf8)
        try pareto.json.write(to: dataDirectory.appendingPathComponent("pareto.json"), atomically: true, encoding: .utf8)
        let sweep = supernetTable(input)
        if !sweep.rows.isEmpty {
            try sweep.csv.write(to: dataDirectory.appendingPathComponent("supernets.csv"), atomically: true, encoding: .utf8)
            try sweep.json.write(to: dataDirectory.appendingPathComponent("supernets.json"), atomically: true, encoding: .utf8)
        }
        let reseeds = reseedTable(input)
        if !reseeds.rows.isEmpty {
            try reseeds.csv.write(to: dataDirectory.appendingPathComponent("reseeds.csv"), atomically: true, encoding: .utf8)
            try reseeds.json.write(to: dataDirectory.appendingPathComponent("reseeds.json"), atomically: true, encoding: .utf8)
        }
        let page = html(input, figures: figures, pareto: pareto, sweep: sweep, reseeds: reseeds)
        let index = directory.appendingPathComponent("index.html")
        try page.write(to: index, atomically: true, encoding: .utf8)
        return index
    }

    /// The table of Pareto models, least energy first.
    static func paretoTable(_ input: ReportInput) -> DataTable {
        var columns = ["id", "origin", "\(input.selectionSplit)_accuracy_%", "\(input.reportSplit)_accuracy_%", "\(input.reportSplit)_drop_vs_fp32_pp"]
        for preset in input.energyPresets { columns += ["energy_uj_\(preset)", "reduction_\(preset)"] }
        columns += ["average_bits", "compression", "packed_bytes", "\(input.reportSplit)_accuracy_95ci", "\(input.reportSplit)_paired_drop_vs_fp32"]
        columns += ["config_hash", "layers"]
        var table = DataTable(columns: columns)
        let front = input.front.sorted { ($0.result.energy[input.primaryEnergy]?.picojoules ?? 0) < ($1.result.energy[input.primaryEnergy]?.picojoules ?? 0) }
        for c in front {
            let r = c.result
            let selection = (r.accuracy[input.selectionSplit] ?? .nan) * 100
            let reported = (r.accuracy[input.reportSplit] ?? .nan) * 100
            let referenceReported = ((input.reference ?? r.reference).accuracy[input.reportSplit] ?? .nan) * 100
            var row = ["\(c.id)", c.origin, fmt(selection), fmt(reported), fmt(referenceReported - reported)]
            for preset in input.energyPresets {
                row += [fmt((r.energy[preset]?.picojoules ?? .nan) / 1e6), fmt(r.energy[preset]?.reduction ?? .nan)]
            }
            row += [fmt(r.averageBits), fmt(r.compression), "\(r.packedBytes)"]
            // Small test splits: the Wilson interval, and the drop paired over the same samples
            // (bootstrap interval, exact McNemar p) instead of a bare difference.
            let referenceSamples = (input.reference ?? r.reference).samples?[input.reportSplit]
            row += [
                HonestFigures.text(HonestFigures.accuracy(r, split: input.reportSplit)),
                HonestFigures.text(HonestFigures.drop(of: r.samples?[input.reportSplit], against: referenceSamples)),
            ]
            row += [r.configHash, r.config.summary(order: input.layerOrder)]
            table.append(row)
        }
        return table
    }

    /// `final.reseeds`: each re-tuned model's accuracy under the search's seed and its mean ± sd
    /// over all seeds, and the drop against the fine-tuned FP32 reference seed by seed.
    static func reseedTable(_ input: ReportInput) -> DataTable {
        let splits = [input.selectionSplit, input.reportSplit]
        var columns = ["id", "origin", "seeds"]
        for split in splits { columns += ["\(split)_search_seed_%", "\(split)_mean_%", "\(split)_sd_pp"] }
        columns += ["\(input.reportSplit)_drop_vs_fp32_mean_pp", "\(input.reportSplit)_drop_vs_fp32_sd_pp"]
        var table = DataTable(columns: columns)
        func row(id: String, origin: String, _ seeds: SeedAccuracies) -> [String] {
            var row = [id, origin, "\(seeds.bySeed.count)"]
            for split in splits {
                let spread = seeds.spread(split)
                row += [fmt((seeds.bySeed[0]?[split] ?? .nan) * 100), fmt((spread?.mean ?? .nan) * 100), fmt((spread?.standardDeviation ?? .nan) * 100)]
            }
            let drop = input.referenceReseeds.flatMap { seeds.drop(against: $0, split: input.reportSplit) }
            return row + [drop.map { fmt($0.mean * 100) } ?? "-", drop.map { fmt($0.standardDeviation * 100) } ?? "-"]
        }
        if let reference = input.referenceReseeds { table.append(row(id: "-", origin: "fp32-reference", reference)) }
        let energy = { (c: ReportCandidate) in c.result.energy[input.primaryEnergy]?.picojoules ?? 0 }
        for c in input.front.sorted(by: { energy($0) < energy($1) }) {
            if let seeds = input.reseeds[c.id] { table.append(row(id: "\(c.id)", origin: c.origin, seeds)) }
        }
        return table
    }

    /// The supernet sweep: per λ the derived configuration, its predicted figures, and what its
    /// evaluation measured (when it has been evaluated).
    static func supernetTable(_ input: ReportInput) -> DataTable {
        var table = DataTable(columns: [
            "lambda", "average_bits", "expected_bits", "predicted_energy_vs_fp32", "expected_energy_vs_fp32", "supernet_steps",
            "candidate", "\(input.selectionSplit)_accuracy_%", "on_front", "config_hash", "layers",
        ])
        for supernet in input.supernets {
            let evaluated = input.candidates.first { $0.result.configHash == supernet.configHash }
            table.append([
                fmt(supernet.lambda), fmt(supernet.averageBits), fmt(supernet.expectedAverageBits), fmt(supernet.derivedRelativeEnergy),
                fmt(supernet.expectedRelativeEnergy), "\(supernet.steps)", evaluated.map { "\($0.id)" } ?? "-",
                evaluated.map { fmt(($0.result.accuracy[input.selectionSplit] ?? .nan) * 100) } ?? "-", evaluated.map { $0.onFront ? "yes" : "no" } ?? "-",
                supernet.configHash, supernet.config.summary(order: input.layerOrder),
            ])
        }
        return table
    }

    static func html(
        _ input: ReportInput, figures: [Figure], pareto: DataTable, sweep: DataTable = DataTable(columns: []), reseeds: DataTable = DataTable(columns: [])
    ) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>SpikeQuant report: \(escape(input.runName))</title>
            <style>
            body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; line-height: 1.4; }
            h1 { margin-bottom: 0.1em; } .subtitle { color: #555; margin-top: 0; }
            table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
            th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
            th { background: #f0f0f0; } td.text { text-align: left; font-family: monospace; }
            figure { margin: 1.5em 0; } figcaption { color: #444; font-size: 13px; max-width: 900px; }
            .figure svg { max-width: 100%; height: auto; } .findings li { margin: 0.3em 0; }
            .links { font-size: 12px; }
            </style></head><body>
            <h1>SpikeQuant report: \(escape(input.runName))</h1>
            <p class="subtitle">\(escape(input.subtitle))</p>

            """
        if !input.findings.isEmpty {
            out += "<h2>Findings</h2><ul class=\"findings\">" + input.findings.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
        }
        if !input.facts.isEmpty {
            out += "<h2>Run</h2><table>" + input.facts.map { "<tr><th>\(escape($0.0))</th><td class=\"text\">\(escape($0.1))</td></tr>" }.joined() + "</table>\n"
        }
        if let reference = input.reference {
            out += input.referenceIsFineTuned ? "<p>FP32 reference (fine-tuned like the candidates): " : "<p>FP32 reference (base checkpoint): "
            out += [input.selectionSplit, input.reportSplit].map { split in
                "\(split) accuracy \(fmt((reference.accuracy[split] ?? .nan) * 100))%"
            }.joined(separator: ", ")
            out += input.energyPresets.map { ", energy \(fmt((reference.energy[$0] ?? .nan) / 1e6)) µJ (\($0))" }.joined()
            out += ", \(reference.bytes) bytes.</p>\n"
            if let base = input.baseReference {
                out += "<p>Base checkpoint (not fine-tuned): "
                out += [input.selectionSplit, input.reportSplit].map { "\($0) accuracy \(fmt((base.accuracy[$0] ?? .nan) * 100))%" }.joined(separator: ", ")
                out += ". The claim check uses the stricter of the two references.</p>\n"
            }
        }
        out += "<h2>Pareto models</h2>\n"
        out += "<p>Selected on the \(escape(input.selectionSplit)) split; \(escape(input.reportSplit)) accuracy reported. Drop is in percentage points against the FP32 model; the 95 % interval of each accuracy is Wilson's, and the paired drop is measured on the same test samples (bootstrap 95 % interval, exact McNemar p; \"within noise\" when the interval contains 0). \(input.referenceIsFineTuned ? "The FP32 model was fine-tuned with the candidates' recipe and full budget (like with like)." : "The FP32 model is the base checkpoint, not fine-tuned: drops also include what fine-tuning alone gains (set search.reference: fine_tuned).") <span class=\"links\">Data: <a href=\"data/pareto.csv\">pareto.csv</a>, <a href=\"data/pareto.json\">pareto.json</a></span></p>\n"
        out += htmlTable(pareto)
        if !reseeds.rows.isEmpty {
            out += "<h2>Front under more seeds</h2>\n"
            out += "<p>After the budget every Pareto model and the fine-tuned FP32 reference were fine-tuned again with more seeds (<code>final.reseeds</code>). The front was picked as the best of noisy evaluations, so the search's own seed tends to flatter it (the winner's curse); the mean ± sd over all seeds is the figure to expect. The drop is taken seed by seed against the reference. <span class=\"links\">Data: <a href=\"data/reseeds.csv\">reseeds.csv</a>, <a href=\"data/reseeds.json\">reseeds.json</a></span></p>\n"
            out += htmlTable(reseeds)
        }
        if !sweep.rows.isEmpty {
            out += "<h2>Supernet sweep</h2>\n"
            out += "<p>One Gumbel-softmax supernet per energy weight λ (the seed paper's search); each derived configuration (per-layer most likely choice) was then fine-tuned and evaluated as a candidate. Predicted energies are relative to FP32 at the FP32 model's firing rates; expected figures are under the final choice probabilities. <span class=\"links\">Data: <a href=\"data/supernets.csv\">supernets.csv</a>, <a href=\"data/supernets.json\">supernets.json</a></span></p>\n"
            out += htmlTable(sweep)
        }
        for figure in figures {
            out += "<figure id=\"\(figure.name)\" class=\"figure\">\n"
            out += figure.svg
            out += "<figcaption>\(escape(figure.caption)) <span class=\"links\">"
            out += "<a href=\"figures/\(figure.name).svg\">SVG</a> · <a href=\"data/\(figure.name).csv\">CSV</a> · <a href=\"data/\(figure.name).json\">JSON</a></span></figcaption>\n"
            out += "</figure>\n"
        }
        out += "<p class=\"links\">Generated by spikeq \(SpikeQuantVersion.string).</p>\n</body></html>\n"
        return out
    }

    private static func htmlTable(_ table: DataTable) -> String {
        var out = "<table><tr>" + table.columns.filter { $0 != "layers" }.map { "<th>\(escape($0.replacingOccurrences(of: "_", with: " ")))</th>" }.joined() + "</tr>\n"
        for row in table.rows {
            out += "<tr>"
            for (column, cell) in zip(table.columns, row) where column != "layers" {
                let isText =
                    column == "origin" || column == "config_hash" || column == "layers" || column == "on_front" || column.hasSuffix("95ci")
                    || column.contains("paired")
                // The page rounds to what a reader compares (2 decimals); the CSV/JSON keep full precision.
                let shown =
                    column == "config_hash" ? String(cell.prefix(12))
                    : (cell.contains(".") ? Double(cell).map { String(format: "%.2f", $0) } : nil) ?? cell
                out += isText ? "<td class=\"text\">\(escape(shown))</td>" : "<td>\(escape(shown))</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }
}
