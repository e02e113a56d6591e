import Foundation

/// Which kernel computed a layer's weight product.
///
/// Inputs of every layer but the first are spikes or small sums of spikes, mostly zero. The
/// event-driven kernels (``EventKernels``) visit only the non-zero inputs; the dense ones are
/// OpenBLAS GEMMs. A layer measures its input's density on every call and picks the event path
/// below a crossover density measured on this engine (see BENCHMARKS.md, "Engine").
public enum ProductPath: String, Sendable, Codable, CaseIterable {
    case dense
    case events
}

/// How layers choose their product kernels.
public enum ProductMode: String, Sendable, Codable, CaseIterable {
    /// By measured input density (the default).
    case automatic = "auto"
    /// Always the dense GEMMs (the engine before event-driven kernels).
    case dense
    /// Always the event-driven kernels where one exists.
    case events

    /// `SPIKEQ_PRODUCTS=auto|dense|events` in the environment, else automatic.
    public static let fromEnvironment: ProductMode = {
        guard let value = ProcessInfo.processInfo.environment["SPIKEQ_PRODUCTS"], let mode = ProductMode(rawValue: value) else {
            return .automatic
        }
        return mode
    }()

    /// The path for a product whose input has `density` non-zeros and whose event kernel pays below
    /// `crossover`.
    func path(density: Double, crossover: Double) -> ProductPath {
        switch self {
        case .dense: return .dense
        case .events: return .events
        case .automatic: return density <= crossover ? .events : .dense
        }
    }
}

/// Counts of the paths a layer took, and the densities it saw (reset with the activity counts).
public struct ProductRecord: Sendable, Hashable, Codable {
    /// Forward products on the dense and the event-driven path.
    public var denseForward = 0
    public var eventForward = 0
    /// Forward products computed on integer weight levels (exact; the scale applied after the sum).
    public var exactLevels = 0
    /// Weight-gradient products on each path.
    public var denseWeightGradient = 0
    public var eventWeightGradient = 0
    /// Sum of the measured input densities of the forward products.
    public var densitySum = 0.0

    public init() {}

    /// Forward products counted.
    public var calls: Int { denseForward + eventForward }

    /// Mean measured input density.
    public var meanDensity: Double { calls == 0 ? 0 : densitySum / Double(calls) }

    mutating func recordForward(_ path: ProductPath, density: Double, exact: Bool) {
        if path == .dense { denseForward += 1 } else { eventForward += 1 }
        densitySum += density
        if exact { exactLevels += 1 }
    }

    mutating func recordWeightGradient(_ path: ProductPath) {
        if path == .dense { denseWeightGradient += 1 } else { eventWeightGradient += 1 }
    }
}

/// The crossover densities below which the event-driven kernels beat the dense GEMMs, measured
/// kernel against GEMM (OpenBLAS SkylakeX kernels, one thread, AVX-512 Zen 5; BENCHMARKS.md,
/// "Engine"). The event kernels' fixed cost (scanning the input, transposing the output) is
/// linear in the layer's widths, the GEMM's in their product, so wide layers cross over later.
enum ProductCrossover {
    /// Gather convolution: pays for layers with at least `convolutionMinimumOutputs` output channels.
    static let convolutionForward = 0.30
    static let convolutionMinimumOutputs = 32
    /// The convolution's event weight gradient (per frame a zero-bordered pixel-major copy of dY,
    /// then each input event adds its nine neighbours' rows in registers), 2 threads, 64 frames:
    /// 1.8–3.3× faster than im2col + GEMM at 10–15 % density for 4 → 16 up to 256 → 256 channels,
    /// 1.1–2.4× at 30 %, 1.0–2.1× at 40 %; slower (0.4–0.5×) with 2 input channels (2 → 32 at
    /// 128 × 128), where the copy dominates.
    static let convolutionWeightGradient = 0.30
    static let convolutionWeightGradientMinimumInputs = 4

    /// Token linear forward: about 3 % at 64 × 64, 10 % at 256 × 256 and wider.
    static func linearForward(inFeatures: Int, outFeatures: Int) -> Double {
        max(0, 0.12 * (1 - 48 / Double(min(inFeatures, outFeatures))))
    }

    /// Token linear weight gradient (dY copied token-major a 256 KiB tile at a time, each input's
    /// events of the tile gathering its rows), 2 threads: 1.6–4× faster than the GEMM at 5–10 %
    /// density from 64 × 64 to 1024 × 256, 1.0–1.6× at 20 %, 0.6–1.06× at 30 %.
    static let linearWeightGradient = 0.20
}
