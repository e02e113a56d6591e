import Foundation
import Quantization
import SpikingNN

/// `spikeq infer --manifest`: does every exported file still give the accuracy the search recorded?
///
/// The packed file runs the exact integer-level products the search measured; the float file the same
/// weights in FP32. Both must reproduce the recorded validation and test accuracy exactly.
public enum ExportVerification {
    /// One exported file measured on one split.
    public struct Measurement: Sendable, Hashable {
        public var file: String
        public var split: String
        public var measured: Double
        /// NaN if the manifest has no accuracy for the split.
        public var recorded: Double
        public var reproduced: Bool { measured == recorded }
    }

    /// The splits every file is measured on.
    public static let splits = ["validation", "test"]

    /// Measures every file of the manifest at `manifest` on `data` (split name → frames).
    ///
    /// - Throws: ``ExportError`` when the models were measured on another dataset than `fingerprint`;
    ///   the readers' errors for a missing or damaged file.
    public static func verify(
        manifest: URL, data: [String: any FrameSource], fingerprint: String
    ) throws -> (manifest: ExportManifest, measurements: [Measurement]) {
        let exported = try JSONDecoder().decode(ExportManifest.self, from: Data(contentsOf: manifest))
        guard exported.datasetFingerprint == fingerprint else {
            throw ExportError("\(manifest.path): models were measured on dataset \(exported.datasetFingerprint), but this dataset is \(fingerprint).")
        }
        let folder = manifest.deletingLastPathComponent()
        var measurements: [Measurement] = []
        for entry in exported.models {
            var networks: [(String, Spikformer)] = []
            if let file = entry.file { networks.append((file, try PackedModel.load(contentsOf: folder.appendingPathComponent(file)).model)) }
            if let file = entry.floatFile {
                let url = folder.appendingPathComponent(file)
                networks.append((file, try Spikformer(checkpoint: SafetensorsDocument.read(contentsOf: url), file: url.path)))
            }
            for (file, network) in networks {
                for split in splits {
                    guard let frames = data[split] else { continue }
                    let measured = try Trainer.evaluate(network, on: frames, batchSize: 32).accuracy
                    measurements.append(Measurement(file: file, split: split, measured: measured, recorded: entry.accuracy[split] ?? .nan))
                }
            }
        }
        return (exported, measurements)
    }
}
