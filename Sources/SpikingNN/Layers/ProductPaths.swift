import Foundation
import Tensor

/// Which kernel computed a layer's weight product.
///
/// Inputs of every layer but the first are spikes or small sums of spikes, mostly zero. The
/// event-driven kernels (``EventKernels``) visit only the non-zero inputs; the dense ones are
/// OpenBLAS GEMMs, or int8 dot products for exact levels on CPUs with AVX-512 VNNI. A layer
/// measures its input's density on every call and picks the event path below a crossover density
/// measured on this engine (see BENCHMARKS.md, "Engine").
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
    /// Of those, dense ones summed in 32-bit integers (int8 levels × byte inputs, AVX-512 VNNI).
    public var integerForward = 0
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

    mutating func recordForward(_ path: ProductPath, density: Double, exact: Bool, integer: Bool = false) {
        if path == .dense { denseForward += 1 } else { eventForward += 1 }
        densitySum += density
        if exact { exactLevels += 1 }
        if integer { integerForward += 1 }
    }

    mutating func recordWeightGradient(_ path: ProductPath) {
        if path == .dense { denseWeightGradient += 1 } else { eventWeightGradient += 1 }
    }
}

/// The crossover densities below which the event-driven kernels beat the dense GEMMs, measured
/// per layer shape with `spikeq bench products` (BENCHMARKS.md, "Engine"): 2 threads, wall time,
/// AMD EPYC Zen 4, OpenBLAS Cooperlake kernels, cross-checked against earlier one-thread
/// measurements on Zen 5, where the linear kernels crossed over earlier; where the two machines
/// disagree the value lies between them. An event kernel's fixed cost (listing the input's
/// events, transposing to or from token- or pixel-major) is linear in the layer's widths, the
/// GEMM's in their product, so the number of events each output sums decides.
enum ProductCrossover {
    /// Gather convolution forward: with ≥ 32 input channels 1.5–1.8× faster than im2col + GEMM at
    /// 30 % density (3–7.5× at 5 %); with 8–16 input channels 1.3–1.4× at 5 % and behind from 10 %;
    /// with 2 (the event-camera input) never ahead (0.85× at 5 %).
    ///
    /// Against the int8 dense product (`integer`: exact levels on a CPU with VNNI, which packs its
    /// bytes straight from the input's patches) the gather kernel pays less often
    /// (`spikeq bench products --quant benchmarks/quant/mixed.yaml`, 2026-12-05): with ≥ 64 input
    /// channels up to 9–10 % (64→64 and 64→128 cross at 10 %, 128→256 and 256→256 at 9 %), with
    /// 32 up to 4–6 % (32→64 of the tiny and the paper model), with 8–16 never from 5 % on.
    ///
    /// Against the direct dense kernel (`direct`, ``directConvolution(inChannels:gradient:)``) the
    /// gather kernel never pays under 32 input channels (8→16 at 3 %: 2.30 against 0.90 ms).
    static func convolutionForward(inChannels: Int, outChannels: Int, integer: Bool, direct: Bool) -> Double {
        guard integer else { return inChannels >= 32 ? 0.35 : inChannels >= 8 && !direct ? 0.07 : 0 }
        return inChannels >= 64 ? 0.09 : inChannels >= 32 ? 0.05 : inChannels >= 8 ? 0.02 : 0
    }

    /// Whether a convolution's dense float product runs the direct kernel
    /// (``ConvolutionKernels/direct3x3(_:inChannels:frames:height:width:frameRange:transposedWeight:outChannels:scale:into:)``)
    /// rather than im2col and GEMM, with `summed` channels per output (the input gradient is such
    /// a product over the layer's output channels). Measured with `spikeq bench products` and
    /// per-layer timings (AMD EPYC Zen 5, 2 threads, 2026-12-06): the direct kernel is 1.3–2×
    /// faster summing up to 64 channels (2→8 and 8→16 @32², 16→32 @16², 32→64 and 64→64 @8²,
    /// 2→32 @128², 32→64 @64²), 1.02–1.08× at 64→128 @32², and faster for the input gradients
    /// summing 64 and 128 channels; summing 128–256 channels it is 1.14–1.2× slower, where GEMM's
    /// blocking wins.
    static func directConvolution(inChannels summed: Int, gradient: Bool = false) -> Bool {
        ConvolutionKernels.isFast && summed <= (gradient ? 128 : 64)
    }

    /// Whether a convolution input gradient runs Winograd's F(2×2, 3×3)
    /// (``ConvolutionKernels/winograd3x3(_:inChannels:frames:height:width:frameRange:transposedWeight:outChannels:scale:into:)``)
    /// instead of the direct kernel or col2im and GEMM: its transforms take 16 tiles at a time, of
    /// one row of tiles on planes 32 or more wide, of 2 or 4 rows of tiles on planes 15–16 or 7–8
    /// wide; it pays with enough channels summed to fill its products. Measured in the paper
    /// model's training step (AMD Zen 5, 2 threads, 2026-12-06): 64 → 32 channels @64² 16 %
    /// faster than the direct kernel, 128 → 64 @32² 27 %; 16 → 8 @32² 33 % slower; the paper
    /// model's 256 → 128 @16² and 256 → 256 @8² (col2im before) made whole steps 4–6 % faster.
    static func winogradGradient(summed: Int, width: Int) -> Bool {
        ConvolutionKernels.hasWinograd && summed >= 64 && (width >= 32 || [7, 8, 15, 16].contains(width))
    }

    /// The convolution's event weight gradient (a zero-bordered pixel-major copy of dY by bands of rows,
    /// then each input event adds its nine neighbours' rows in registers): with ≥ 4 input channels
    /// 1.45–3.4× faster at 20 % and 1.2–2.8× at 30 % (3.2–5.9× at 5 %); with 2, 1.3–2.3× at 5 %
    /// and 0.7–1.1× at 20 %, where the copy of dY is most of the work.
    static func convolutionWeightGradient(inChannels: Int) -> Double {
        inChannels >= 4 ? 0.30 : 0.12
    }

    /// Token linear forward: against OpenBLAS's GEMM, 1.2–1.6× faster at 10 % (64 wide) and 2–3×
    /// (256 and 1024 wide), crossing over at 20–28 % here; on Zen 5 (one thread) it crossed at 3 %
    /// for 64 × 64 and 10 % for 256 × 256. Under 32 outputs (the classifier head) it never pays.
    ///
    /// Against the wide-product kernel (``BLAS/usesWideProduct(n:k:)``, AVX-512; `spikeq bench
    /// products`, Zen 5, 2 threads, 2026-12-06) it pays longer for wide outputs, whose events add
    /// whole rows: 64 → 256 1.46× at 15 %; 256 → 256, 256 → 1024 and 1024 → 256 cross at 18–20 %.
    /// With 64 outputs it crosses at 3–5 % (64 → 64: 1.2–1.3× at 3 %, 0.8–0.9× at 8 %).
    ///
    /// Against the int8 dense product (`integer`) it pays only for 256 × 256 and larger, up to
    /// 6–8 %; at 64 × 64 and 64 × 256 the int8 product is 1.2–1.7× faster already at 5 %.
    static func linearForward(inFeatures: Int, outFeatures: Int, integer: Bool, tokens: Int) -> Double {
        guard outFeatures >= 32 else { return 0 }
        guard integer else {
            guard BLAS.usesWideProduct(n: tokens, k: inFeatures) else { return 0.15 }
            return outFeatures >= 256 ? 0.18 : 0.04
        }
        return inFeatures * outFeatures >= 65_536 ? 0.07 : 0
    }

    /// Token linear weight gradient (dY copied token-major a 256 KiB tile at a time, each input's
    /// events of the tile gathering its rows): 1.4–3× faster than the GEMM at 5–10 % density from
    /// 64 × 64 to 1024 × 256, 1.0–1.4× at 20 %, 0.6–1.06× at 30 %; never under 32 outputs.
    static func linearWeightGradient(outFeatures: Int) -> Double {
        outFeatures >= 32 ? 0.20 : 0
    }
}
