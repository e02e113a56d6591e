import ContentHash
import Foundation
import Quantization
import SpikingNN
import Statistics
import QuantConfig
import RunStore
import Search
import Wire

/// Which Pareto models to export.
public enum ExportSelection: String, CaseIterable, Sendable {
    /// Every member of the front.
    case pareto
    /// The front member farthest from the line joining the front's two extremes (normalised
    /// accuracy and energy): the best trade-off when neither objective dominates the choice.
    case knee
    case maxAccuracy = "max-accuracy"
    case minEnergy = "min-energy"
}

/// Which files to write per exported model.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// The packed model (integer codes + scales): the deployable form.
    case packed
    /// An FP32 checkpoint with the weights dequantized, under the checkpoint's tensor names: loads
    /// into any Spikformer that reads SpikeQuant checkpoints (PyTorch included), no decoder needed.
    case float
    case both

    var writesPacked: Bool { self != .float }
    var writesFloat: Bool { self != .packed }
}

/// One exported model, as listed in `manifest.json`.
public struct ExportedModel: Codable, Hashable, Sendable {
    /// The packed file (absent when only the float form was exported).
    public var file: String?
    public var sha256: String?
    /// The dequantized FP32 checkpoint, when exported.
    public var floatFile: String?
    public var floatSha256: String?
    public var candidateId: Int64
    public var configHash: String
    public var config: QuantizationConfig
    public var accuracy: [String: Double]
    /// 95 % Wilson intervals of the accuracies, by split.
    public var accuracyIntervals: [String: Interval]?
    /// Accuracy over all fine-tune seeds by split (mean, sd, n, min, max), when the run re-tuned
    /// its front (`final.reseeds`): what to expect from this configuration, free of the selection's
    /// flattery.
    public var accuracyOverSeeds: [String: Spread]?
    public var energy: [String: EnergyFigure]
    public var averageBits: Double
    public var compression: Double
    public var packedBytes: Int
}

/// `manifest.json` of an export directory.
public struct ExportManifest: Codable, Hashable, Sendable {
    public var tool: String
    public var toolVersion: String
    public var run: String
    public var selection: String
    public var datasetFingerprint: String
    public var checkpointSha256: String
    public var layers: [String]
    public var reference: ReferenceFigures?
    /// The FP32 model fine-tuned with the candidates' recipe, when the run measured one.
    public var fineTunedReference: ReferenceFigures?
    public var models: [ExportedModel]
}

/// Copies a run's selected Pareto models (packed safetensors) with a manifest and a README.
public enum RunExport {
    /// The selected front members, least energy first.
    public static func select(_ selection: ExportSelection, from store: RunStore) throws -> [StoredResult] {
        let front = try store.pareto().members
        guard !front.isEmpty else { return [] }
        let settings = try store.metadata().settings
        let accuracyIndex = settings.objectives.firstIndex { if case .accuracy = $0 { true } else { false } } ?? 0
        let costIndex = settings.objectives.indices.first { $0 != accuracyIndex } ?? accuracyIndex
        // Minimised objectives: 1 − accuracy, energy / FP32 energy.
        let sorted = front.sorted { $0.objectives[costIndex] < $1.objectives[costIndex] }
        switch selection {
        case .pareto:
            return sorted
        case .maxAccuracy:
            return [sorted.min { $0.objectives[accuracyIndex] < $1.objectives[accuracyIndex] }!]
        case .minEnergy:
            return [sorted.first!]
        case .knee:
            guard sorted.count > 2 else { return [sorted.min { $0.objectives[accuracyIndex] < $1.objectives[accuracyIndex] }!] }
            let xs = sorted.map { $0.objectives[costIndex] }, ys = sorted.map { $0.objectives[accuracyIndex] }
            let (x0, x1) = (xs.min()!, xs.max()!), (y0, y1) = (ys.min()!, ys.max()!)
            let points = zip(xs, ys).map { (($0 - x0) / max(x1 - x0, 1e-12), ($1 - y0) / max(y1 - y0, 1e-12)) }
            let (a, b) = (points.first!, points.last!)
            func distance(_ p: (Double, Double)) -> Double {
                abs((b.1 - a.1) * p.0 - (b.0 - a.0) * p.1 + b.0 * a.1 - b.1 * a.0) / max(hypot(b.0 - a.0, b.1 - a.1), 1e-12)
            }
            let best = points.indices.max { distance(points[$0]) < distance(points[$1]) }!
            return [sorted[best]]
        }
    }

    /// Writes the selected models, `manifest.json` and `README.md` into `directory`.
    @discardableResult
    public static func write(run directory: URL, selection: ExportSelection, format: ExportFormat = .packed, to output: URL) throws -> ExportManifest {
        let store = try RunStore.open(at: directory, readOnly: true)
        let metadata = try store.metadata()
        let chosen = try select(selection, from: store)
        guard !chosen.isEmpty else { throw ExportError("\(directory.path): the run has no results to export yet") }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let run = RunDirectory(directory)
        var models: [ExportedModel] = []
        let spreads = try store.accuracySpreads()
        for member in chosen {
            let source = run.artifact(configHash: member.configHash)
            guard let data = FileManager.default.contents(atPath: source.path) else {
                throw ExportError("candidate \(member.candidateId): its packed model \(source.path) is missing (was the result recorded by an older coordinator?)")
            }
            let stem = "candidate-\(member.candidateId)-\(member.configHash.prefix(12))"
            var packed: (file: String, sha256: String)?
            var float: (file: String, sha256: String)?
            if format.writesPacked {
                packed = ("\(stem).safetensors", ContentHash.sha256(data))
                try data.write(to: output.appendingPathComponent(packed!.file), options: .atomic)
            }
            if format.writesFloat {
                let checkpoint = try PackedModel.dequantized(SafetensorsDocument.parse(data, file: source.path), file: source.path)
                let bytes = Data(checkpoint.serialized())
                float = ("\(stem).float.safetensors", ContentHash.sha256(bytes))
                try bytes.write(to: output.appendingPathComponent(float!.file), options: .atomic)
            }
            let r = member.result
            models.append(
                ExportedModel(
                    file: packed?.file, sha256: packed?.sha256, floatFile: float?.file, floatSha256: float?.sha256,
                    candidateId: member.candidateId,
                    configHash: member.configHash, config: r.config, accuracy: r.accuracy,
                    accuracyIntervals: Dictionary(uniqueKeysWithValues: r.accuracy.keys.compactMap { split in r.accuracyInterval(split: split).map { (split, $0) } }),
                    accuracyOverSeeds: spreads[member.candidateId],
                    energy: r.energy, averageBits: r.averageBits,
                    compression: r.compression, packedBytes: r.packedBytes))
        }
        let manifest = ExportManifest(
            tool: "spikeq", toolVersion: SpikeQuantVersion.string, run: metadata.name, selection: selection.rawValue,
            datasetFingerprint: metadata.datasetFingerprint, checkpointSha256: metadata.checkpointHash, layers: metadata.settings.layers,
            reference: chosen.first?.result.reference,
            fineTunedReference: try store.fineTunedReference().map {
                ReferenceFigures(accuracy: $0.accuracy, energy: chosen.first?.result.reference.energy ?? [:], bytes: $0.packedBytes, samples: nil)
            },
            models: models)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(manifest).write(to: output.appendingPathComponent("manifest.json"), options: .atomic)
        try readme(manifest).write(to: output.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        return manifest
    }

    static func readme(_ manifest: ExportManifest) -> String {
        var text = """
            # Exported models of run `\(manifest.run)`

            Selected: **\(manifest.selection)** (from the Pareto front of accuracy versus energy). Each file is a packed
            SpikeQuant model (safetensors): per quantized layer the integer codes bit-packed at the layer's width
            (`<layer>.weight.codes`, U8) and its scale (`<layer>.weight.scale`), float tensors for BatchNorm and
            biases, and the model and quantization configs in `__metadata__` (format `spikeq.packed.v1`; see
            docs/quantization.md in the SpikeQuant repository). A `*.float.safetensors` file, when present, is
            the same model as an FP32 checkpoint with the dequantized weights under their checkpoint names;
            `python/spikeq_export.py` in the repository loads either with numpy.

            Dataset fingerprint `\(manifest.datasetFingerprint)`; FP32 checkpoint sha256 `\(manifest.checkpointSha256)`;
            spikeq \(manifest.toolVersion).

            | file | validation | test | average bits | compression | packed bytes | energy reduction |
            |---|---|---|---|---|---|---|

            """
        for m in manifest.models {
            let reductions = m.energy.sorted { $0.key < $1.key }.map { String(format: "%.2f× ", $0.value.reduction) + "(\($0.key))" }
            text += "| `\(m.file ?? m.floatFile ?? "-")` | " + String(format: "%.2f%% | %.2f%% | %.2f | %.2f× | ", (m.accuracy["validation"] ?? .nan) * 100, (m.accuracy["test"] ?? .nan) * 100, m.averageBits, m.compression)
                + "\(m.packedBytes) | \(reductions.joined(separator: ", ")) |\n"
        }
        let reseeded = manifest.models.filter { $0.accuracyOverSeeds?["test"] != nil }
        if !reseeded.isEmpty {
            text += "\nOver all fine-tune seeds (the search's and the `final.reseeds` re-fine-tunes; the search's own figures\nabove were selected as the best of noisy evaluations):\n\n"
            for m in reseeded {
                let test = m.accuracyOverSeeds!["test"]!
                text += "- `\(m.file ?? m.floatFile ?? "-")`: test " + String(format: "%.2f%% ± %.2f (n = %d)", test.mean * 100, test.standardDeviation * 100, test.count)
                if let validation = m.accuracyOverSeeds?["validation"] {
                    text += String(format: ", validation %.2f%% ± %.2f", validation.mean * 100, validation.standardDeviation * 100)
                }
                text += "\n"
            }
        }
        if let reference = manifest.reference {
            text += String(format: "\nFP32 reference: validation %.2f%%, test %.2f%%, %d bytes.\n", (reference.accuracy["validation"] ?? .nan) * 100, (reference.accuracy["test"] ?? .nan) * 100, reference.bytes)
        }
        text += """

            Check a model reproduces its recorded accuracy (run from the SpikeQuant repository):

                spikeq infer --manifest manifest.json --data configs/datasets/<dataset>.yaml

            """
        return text
    }
}

/// Why a run cannot be exported (nothing to export yet, a packed model missing from the run).
public struct ExportError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
