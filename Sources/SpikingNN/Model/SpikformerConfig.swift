import ConfigFiles
import Foundation
import QuantConfig
import Tensor

/// The shape of a Spikformer (DVS variant): everything needed to build the model.
///
/// YAML form (keys are required unless a default is given):
///
///     name: spikformer-2-256-dvs   # optional
///     input_size: 128              # or [height, width]
///     in_channels: 2               # default 2 (event polarities)
///     time_steps: 16
///     embed_dim: 256               # divisible by 8 and by heads
///     depth: 2
///     heads: 16
///     mlp_ratio: 4
///     pool_stages: [0, 1, 2, 3]    # patch-splitting stages (0-based) followed by max-pooling
///     classes: 10
///     tau: 2.0                     # optional LIF constants
///     threshold: 1.0
///     attention_threshold: 0.5
///     attention_scale: 0.125
public struct SpikformerConfig: Sendable, Hashable, Codable {
    public var name: String?
    public var inputHeight: Int
    public var inputWidth: Int
    public var inputChannels: Int
    public var timeSteps: Int
    public var embedDimension: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Int
    public var poolAfterStage: [Bool]
    public var classes: Int
    public var tau: Float
    public var threshold: Float
    public var attentionThreshold: Float
    public var attentionScale: Float

    public init(name: String? = nil, inputHeight: Int, inputWidth: Int, inputChannels: Int = 2, timeSteps: Int, embedDimension: Int,
                depth: Int, heads: Int, mlpRatio: Int, poolAfterStage: [Bool], classes: Int, tau: Float = 2, threshold: Float = 1,
                attentionThreshold: Float = 0.5, attentionScale: Float = 0.125) {
        self.name = name
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.timeSteps = timeSteps
        self.embedDimension = embedDimension
        self.depth = depth
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.poolAfterStage = poolAfterStage
        self.classes = classes
        self.tau = tau
        self.threshold = threshold
        self.attentionThreshold = attentionThreshold
        self.attentionScale = attentionScale
    }

    /// Tokens per frame after patch splitting.
    public var tokens: Int {
        var h = inputHeight
        var w = inputWidth
        for pooled in poolAfterStage where pooled {
            h = MaxPool2d.outputSize(h)
            w = MaxPool2d.outputSize(w)
        }
        return h * w
    }

    /// Names of the quantizable layers, in model order (QuantConfig's list, the one source; the model
    /// names its layers identically, which SpikformerTests checks).
    public var quantizableLayerNames: [String] { SpikformerLayers.quantizable(depth: depth) }
}


extension SpikformerConfig {
    static let knownKeys: Set<String> = [
        "name", "input_size", "in_channels", "time_steps", "embed_dim", "depth", "heads", "mlp_ratio", "pool_stages", "classes",
        "tau", "threshold", "attention_threshold", "attention_scale",
    ]

    /// Parses YAML (or JSON) text; see the type's documentation for the keys.
    public static func parse(_ text: String, file: String? = nil) throws -> SpikformerConfig {
        try ConfigError.addingLines(from: text) { try parseValues(text, file: file) }
    }

    private static func parseValues(_ text: String, file: String?) throws -> SpikformerConfig {
        let root = try ConfigYAML.load(text, file: file)
        guard let map = root as? [String: Any] else {
            throw ConfigError(file: file, key: "(document)", message: "expected a mapping of model settings")
        }
        for key in map.keys.sorted() where !knownKeys.contains(key) {
            throw ConfigError(file: file, key: key, message: "unknown key (known: \(knownKeys.sorted().joined(separator: ", ")))")
        }
        func fail(_ key: String, _ message: String) -> ConfigError { ConfigError(file: file, key: key, message: message) }
        func integer(_ key: String, default value: Int? = nil, minimum: Int = 1) throws -> Int {
            guard let raw = map[key] else {
                if let value { return value }
                throw fail(key, "missing")
            }
            guard let number = raw as? Int else { throw fail(key, "expected an integer, got \(raw)") }
            guard number >= minimum else { throw fail(key, "must be at least \(minimum), got \(number)") }
            return number
        }
        func real(_ key: String, default value: Float) throws -> Float {
            guard let raw = map[key] else { return value }
            if let number = raw as? Double, number.isFinite, number > 0 { return Float(number) }
            if let number = raw as? Int, number > 0 { return Float(number) }
            throw fail(key, "expected a positive number, got \(raw)")
        }
        let height: Int
        let width: Int
        switch map["input_size"] {
        case let size as Int where size > 0:
            (height, width) = (size, size)
        case let pair as [Any]:
            guard pair.count == 2, let h = pair[0] as? Int, let w = pair[1] as? Int, h > 0, w > 0 else {
                throw fail("input_size", "expected a positive integer or [height, width]")
            }
            (height, width) = (h, w)
        case nil:
            throw fail("input_size", "missing")
        case let other?:
            throw fail("input_size", "expected a positive integer or [height, width], got \(other)")
        }
        var pools = [false, false, false, false]
        if let raw = map["pool_stages"] {
            guard let list = raw as? [Any] else { throw fail("pool_stages", "expected a list of stage indices 0...3") }
            for item in list {
                guard let stage = item as? Int, (0..<4).contains(stage) else {
                    throw fail("pool_stages", "stage \(item) is not in 0...3")
                }
                guard !pools[stage] else { throw fail("pool_stages", "stage \(stage) listed twice") }
                pools[stage] = true
            }
        } else {
            throw fail("pool_stages", "missing (use [] for no pooling)")
        }
        var name: String?
        if let raw = map["name"] {
            guard let text = raw as? String else { throw fail("name", "expected a string") }
            name = text
        }
        let config = SpikformerConfig(
            name: name, inputHeight: height, inputWidth: width,
            inputChannels: try integer("in_channels", default: 2),
            timeSteps: try integer("time_steps"), embedDimension: try integer("embed_dim"),
            depth: try integer("depth", minimum: 0), heads: try integer("heads"), mlpRatio: try integer("mlp_ratio"),
            poolAfterStage: pools, classes: try integer("classes"),
            tau: try real("tau", default: 2), threshold: try real("threshold", default: 1),
            attentionThreshold: try real("attention_threshold", default: 0.5),
            attentionScale: try real("attention_scale", default: 0.125))
        guard config.embedDimension % 8 == 0 else { throw fail("embed_dim", "must be divisible by 8, got \(config.embedDimension)") }
        guard config.embedDimension % config.heads == 0 else {
            throw fail("heads", "embed_dim \(config.embedDimension) is not divisible by \(config.heads) heads")
        }
        guard config.tau > 1 else { throw fail("tau", "must be greater than 1") }
        // Sizes a run could never hold (from a typo, or a crafted checkpoint's metadata) are refused
        // here, so no later size or MAC product can overflow.
        let limit = 1 << 36
        guard let activations = Tensor.elementCount(of: [config.timeSteps, config.inputHeight, config.inputWidth, max(config.embedDimension, config.inputChannels)]),
              activations <= limit
        else { throw fail("input_size", "time_steps × height × width × channels exceeds 2^36 values per sample") }
        guard let weights = Tensor.elementCount(of: [config.embedDimension, config.embedDimension, config.mlpRatio, max(config.depth, 1)]), weights <= limit,
              let head = Tensor.elementCount(of: [config.classes, config.embedDimension]), head <= limit
        else { throw fail("embed_dim", "embed_dim² × mlp_ratio × depth or classes × embed_dim exceeds 2^36 weights") }
        return config
    }

    /// Reads a model configuration file.
    public static func load(contentsOf url: URL) throws -> SpikformerConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, key: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.path)
    }

    /// The configuration as canonical JSON in the YAML key names (what checkpoints store).
    public var canonicalJSON: String {
        var fields: [String] = []
        if let name { fields.append("\"name\":\(jsonString(name))") }
        fields.append("\"input_size\":[\(inputHeight),\(inputWidth)]")
        fields.append("\"in_channels\":\(inputChannels)")
        fields.append("\"time_steps\":\(timeSteps)")
        fields.append("\"embed_dim\":\(embedDimension)")
        fields.append("\"depth\":\(depth)")
        fields.append("\"heads\":\(heads)")
        fields.append("\"mlp_ratio\":\(mlpRatio)")
        let pools = poolAfterStage.enumerated().filter(\.element).map { "\($0.offset)" }.joined(separator: ",")
        fields.append("\"pool_stages\":[\(pools)]")
        fields.append("\"classes\":\(classes)")
        fields.append("\"tau\":\(tau)")
        fields.append("\"threshold\":\(threshold)")
        fields.append("\"attention_threshold\":\(attentionThreshold)")
        fields.append("\"attention_scale\":\(attentionScale)")
        return "{" + fields.joined(separator: ",") + "}"
    }
}

private func jsonString(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [])
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}
