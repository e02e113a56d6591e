import ConfigFiles
import Foundation
import QuantConfig

/// What one layer did during inference, as measured by the engine, for the energy model.
public struct LayerActivity: Hashable, Sendable, Codable {
    public var name: String
    /// The layer's weight choice; nil for weightless products (the attention matmuls).
    public var quantization: LayerQuantization?
    /// Weight elements.
    public var parameters: Int
    /// Inputs summed into each output (for the accumulator width).
    public var fanIn: Int
    /// Dense multiply-accumulate slots per inference (one sample, all T steps).
    public var macs: Double
    /// Fraction of non-zero input elements.
    public var inputFiringRate: Double
    /// Whether the input is binary spikes.
    public var spikingInput: Bool

    public init(
        name: String, quantization: LayerQuantization?, parameters: Int, fanIn: Int, macs: Double,
        inputFiringRate: Double, spikingInput: Bool
    ) {
        self.name = name
        self.quantization = quantization
        self.parameters = parameters
        self.fanIn = fanIn
        self.macs = macs
        self.inputFiringRate = inputFiringRate
        self.spikingInput = spikingInput
    }

    /// Synaptic operations: firing rate × dense MACs for spiking input, else 0.
    public var sops: Double { spikingInput ? inputFiringRate * macs : 0 }
}

/// A per-operation energy table (one of `configs/energy/*.yaml`).
public enum EnergyModel: Hashable, Sendable {
    /// Spikformer's convention: E_MAC and E_AC at 32-bit float, scaled by bits/32.
    case scaledFloat(name: String, macPicojoules: Double, acPicojoules: Double, referenceBits: Int)
    /// Integer arithmetic at the accumulator width, shifts for power-of-two first layers, SRAM reads.
    case integer(IntegerEnergyTable)

    public var name: String {
        switch self {
        case .scaledFloat(let name, _, _, _): name
        case .integer(let table): table.name
        }
    }

    /// Energy of one inference of one layer, picojoules.
    ///
    /// - Parameter timeSteps: T, needed for weight reads under the integer model.
    public func picojoules(for layer: LayerActivity, timeSteps: Int) -> Double {
        switch self {
        case .scaledFloat(_, let mac, let ac, let referenceBits):
            let scale = Double(layer.quantization?.bits ?? referenceBits) / Double(referenceBits)
            return layer.spikingInput ? layer.sops * ac * scale : layer.macs * mac * scale
        case .integer(let table):
            return table.picojoules(for: layer, timeSteps: timeSteps)
        }
    }

    /// Total energy of one inference, picojoules.
    public func picojoules(for layers: [LayerActivity], timeSteps: Int) -> Double {
        layers.reduce(0) { $0 + picojoules(for: $1, timeSteps: timeSteps) }
    }
}

/// The `integer` energy table (see `configs/energy/horowitz-45nm.yaml`).
public struct IntegerEnergyTable: Hashable, Sendable {
    public var name: String
    /// Integer add energy at two widths; linear in width between and beyond them.
    public var addPoints: (low: (bits: Int, pj: Double), high: (bits: Int, pj: Double))
    /// Integer multiply energy at two widths; quadratic in width (fitted through both points).
    public var multiplyPoints: (low: (bits: Int, pj: Double), high: (bits: Int, pj: Double))
    public var floatAddPicojoules: Double
    public var floatMACPicojoules: Double
    public var sramPicojoulesPerBit: Double
    /// Weight reads per inference: T (once per time step) or 1.
    public var readsPerTimeStep: Bool

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.addPoints.low == b.addPoints.low && a.addPoints.high == b.addPoints.high
            && a.multiplyPoints.low == b.multiplyPoints.low && a.multiplyPoints.high == b.multiplyPoints.high
            && a.floatAddPicojoules == b.floatAddPicojoules && a.floatMACPicojoules == b.floatMACPicojoules
            && a.sramPicojoulesPerBit == b.sramPicojoulesPerBit && a.readsPerTimeStep == b.readsPerTimeStep
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// Integer add energy at `bits` (linear through the two table points).
    public func addPicojoules(bits: Int) -> Double {
        let (b0, e0) = addPoints.low
        let (b1, e1) = addPoints.high
        return max(0, e0 + (e1 - e0) * Double(bits - b0) / Double(b1 - b0))
    }

    /// Integer multiply energy at `bits` (`c·bits²`, `c` the least-squares fit through both points).
    public func multiplyPicojoules(bits: Int) -> Double {
        let (b0, e0) = multiplyPoints.low
        let (b1, e1) = multiplyPoints.high
        let x0 = Double(b0 * b0), x1 = Double(b1 * b1)
        let c = (e0 * x0 + e1 * x1) / (x0 * x0 + x1 * x1)
        return c * Double(bits * bits)
    }

    /// Accumulator width of a layer: weight bits + ceil(log2(fan-in)), capped at 32.
    public static func accumulatorBits(weightBits: Int, fanIn: Int) -> Int {
        let growth = fanIn > 1 ? Int(ceil(log2(Double(fanIn)))) : 0
        return min(32, weightBits + growth)
    }

    func picojoules(for layer: LayerActivity, timeSteps: Int) -> Double {
        let reads = readsPerTimeStep ? Double(timeSteps) : 1
        guard let choice = layer.quantization else {
            // A weightless product of spikes (attention): integer counts, accumulated at their width
            // whatever the weights' format, so it costs the same in the FP32 and quantized models.
            return layer.sops * addPicojoules(bits: Self.accumulatorBits(weightBits: 1, fanIn: layer.fanIn))
        }
        guard choice.scheme != .float else {
            let compute = layer.spikingInput ? layer.sops * floatAddPicojoules : layer.macs * floatMACPicojoules
            return compute + Double(layer.parameters * 32) * sramPicojoulesPerBit * reads
        }
        let accumulator = Self.accumulatorBits(weightBits: choice.bits, fanIn: layer.fanIn)
        let compute: Double
        if layer.spikingInput {
            compute = layer.sops * addPicojoules(bits: accumulator)
        } else {
            let product = choice.scheme == .pot ? addPicojoules(bits: accumulator) : multiplyPicojoules(bits: choice.bits)
            compute = layer.macs * (product + addPicojoules(bits: accumulator))
        }
        return compute + Double(layer.parameters * choice.bits) * sramPicojoulesPerBit * reads
    }
}

extension EnergyModel {
    /// Reads an energy table from YAML; errors name the file and key.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> EnergyModel {
        try ConfigError.addingLines(from: text) { () throws(ConfigError) in try parseValues(text, file: file) }
    }

    private static func parseValues(_ text: String, file: String) throws(ConfigError) -> EnergyModel {
        let root = try ConfigYAML.load(text, file: file)
        guard let map = root as? [String: Any] else {
            throw ConfigError(file: file, key: "(document)", message: "expected a mapping")
        }
        let reader = EnergyFileReader(map: map, file: file)
        let name: String = try reader.value("name")
        let kind: String = try reader.value("kind")
        switch kind {
        case "scaled-float":
            try reader.rejectUnknown(["name", "kind", "mac_pj", "ac_pj", "reference_bits"])
            return .scaledFloat(
                name: name, macPicojoules: try reader.number("mac_pj"), acPicojoules: try reader.number("ac_pj"),
                referenceBits: try reader.value("reference_bits"))
        case "integer":
            try reader.rejectUnknown([
                "name", "kind", "int_add_pj", "int_mult_pj", "float_add_pj", "float_mac_pj", "sram_read_pj_per_bit",
                "weight_reads_per_inference",
            ])
            let reads: String = try reader.value("weight_reads_per_inference")
            guard reads == "timesteps" || reads == "once" else {
                throw ConfigError(file: file, key: "weight_reads_per_inference", message: "expected `timesteps` or `once`, got `\(reads)`")
            }
            return .integer(
                IntegerEnergyTable(
                    name: name, addPoints: try reader.twoPoints("int_add_pj"), multiplyPoints: try reader.twoPoints("int_mult_pj"),
                    floatAddPicojoules: try reader.number("float_add_pj"), floatMACPicojoules: try reader.number("float_mac_pj"),
                    sramPicojoulesPerBit: try reader.number("sram_read_pj_per_bit"), readsPerTimeStep: reads == "timesteps"))
        default:
            throw ConfigError(file: file, key: "kind", message: "`\(kind)` is not one of scaled-float, integer")
        }
    }

    /// Reads an energy table file.
    public static func load(contentsOf url: URL) throws -> EnergyModel {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, key: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.path)
    }
}


/// Typed access to a parsed YAML mapping, with errors naming the file and key.
private struct EnergyFileReader {
    let map: [String: Any]
    let file: String

    func value<T>(_ key: String) throws(ConfigError) -> T {
        guard let raw = map[key] else { throw ConfigError(file: file, key: key, message: "missing") }
        guard let value = raw as? T else {
            throw ConfigError(file: file, key: key, message: "expected \(T.self), got `\(raw)`")
        }
        return value
    }

    func number(_ key: String) throws(ConfigError) -> Double {
        guard let raw = map[key] else { throw ConfigError(file: file, key: key, message: "missing") }
        if let d = raw as? Double, d >= 0 { return d }
        if let i = raw as? Int, i >= 0 { return Double(i) }
        throw ConfigError(file: file, key: key, message: "expected a non-negative number, got `\(raw)`")
    }

    func twoPoints(_ key: String) throws(ConfigError) -> (low: (bits: Int, pj: Double), high: (bits: Int, pj: Double)) {
        guard let raw = map[key] as? [AnyHashable: Any], raw.count == 2 else {
            throw ConfigError(file: file, key: key, message: "expected two entries `bits: picojoules`")
        }
        var entries: [(Int, Any)] = []
        for (rawBits, value) in raw {
            guard let bits = (rawBits.base as? Int) ?? Int("\(rawBits.base)") else {
                throw ConfigError(file: file, key: "\(key).\(rawBits)", message: "expected an integer bit width")
            }
            entries.append((bits, value))
        }
        var points: [(bits: Int, pj: Double)] = []
        for (bits, value) in entries.sorted(by: { $0.0 < $1.0 }) {
            guard let pj = (value as? Double) ?? (value as? Int).map(Double.init), pj > 0, bits > 0 else {
                throw ConfigError(file: file, key: "\(key).\(bits)", message: "expected a positive number")
            }
            points.append((bits, pj))
        }
        return (points[0], points[1])
    }

    func rejectUnknown(_ known: Set<String>) throws(ConfigError) {
        for key in map.keys.sorted() where !known.contains(key) {
            throw ConfigError(file: file, key: key, message: "unknown key")
        }
    }
}
