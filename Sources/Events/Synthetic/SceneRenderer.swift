import Foundation

/// A shape of the rendered scene: a capsule (limb, torso; a circle when `a == b`) or an axis-aligned
/// rectangle (occluder), with a brightness and stripes that move with the shape, so a moving limb
/// changes brightness inside it and not only at its edges. Edges are anti-aliased over one pixel, so
/// sub-pixel motion changes brightness smoothly as it does on a real sensor.
struct ScenePrimitive: Equatable, Sendable {
    var a: SIMD2<Float>
    var b: SIMD2<Float>
    var radius: Float
    var intensity: Float
    var stripeAmplitude: Float
    /// Stripe phase per pixel along the shape's axis, in stripe-table steps.
    var stripeFrequency: Float
    var isRectangle: Bool

    static func capsule(_ a: SIMD2<Float>, _ b: SIMD2<Float>, radius: Float, look: Look) -> ScenePrimitive {
        ScenePrimitive(
            a: a, b: b, radius: radius, intensity: look.intensity, stripeAmplitude: look.stripeAmplitude,
            stripeFrequency: look.stripeFrequency, isRectangle: false)
    }

    struct Look: Equatable, Sendable {
        var intensity: Float
        var stripeAmplitude: Float
        var stripeFrequency: Float
    }

    /// Pixel bounds `x0..<x1, y0..<y1` that the shape can touch, clipped to the sensor.
    func bounds(width: Int, height: Int) -> PixelRect {
        let reach = isRectangle ? 1 : radius + 1.5
        let low = SIMD2(min(a.x, b.x), min(a.y, b.y)) - reach
        let high = SIMD2(max(a.x, b.x), max(a.y, b.y)) + reach
        return PixelRect(
            x0: max(0, Int(low.x.rounded(.down))), y0: max(0, Int(low.y.rounded(.down))),
            x1: min(width, Int(high.x.rounded(.up)) + 1), y1: min(height, Int(high.y.rounded(.up)) + 1))
    }

    /// The brightness at pixel centre `p` with this shape drawn over `under`.
    @inline(__always)
    func shade(_ p: SIMD2<Float>, over under: Float, stripes: UnsafePointer<Float>) -> Float {
        let coverage: Float
        let along: Float
        if isRectangle {
            let inside = min(min(p.x - a.x, b.x - p.x), min(p.y - a.y, b.y - p.y))
            coverage = min(max(inside + 0.5, 0), 1)
            along = p.x - a.x
        } else {
            let ab = b - a
            let ap = p - a
            let length2 = (ab * ab).sum()
            let h = length2 > 1e-6 ? min(max((ap * ab).sum() / length2, 0), 1) : 0
            let d = ap - ab * h
            let distance = (d * d).sum().squareRoot()
            coverage = min(max(radius + 0.5 - distance, 0), 1)
            along = length2 > 1e-6 ? (ap * ab).sum() / length2.squareRoot() : ap.x
        }
        guard coverage > 0 else { return under }
        let phase = Int(along * stripeFrequency) & (SceneTables.stripeSize - 1)
        let value = intensity * (1 + stripeAmplitude * stripes[phase])
        return under + coverage * (value - under)
    }
}

/// A pixel rectangle `x0..<x1 × y0..<y1`.
struct PixelRect: Equatable, Sendable {
    var x0: Int, y0: Int, x1: Int, y1: Int

    var isEmpty: Bool { x0 >= x1 || y0 >= y1 }

    func union(_ other: PixelRect) -> PixelRect {
        if isEmpty { return other }
        if other.isEmpty { return self }
        return PixelRect(x0: min(x0, other.x0), y0: min(y0, other.y0), x1: max(x1, other.x1), y1: max(y1, other.y1))
    }

    func contains(x: Int, y: Int) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
}

/// Lookup tables shared by every renderer: the stripe profile and log intensity.
enum SceneTables {
    static let stripeSize = 1024
    static let stripes: [Float] = (0..<stripeSize).map { Float(sin(2 * Double.pi * Double($0) / Double(stripeSize))) }

    /// `log(dark + I)` for `I` in `[0, 2)` in steps of 1/4096; `dark` keeps black pixels finite and
    /// makes them as noisy as real DVS pixels in the dark.
    static let logSteps: Float = 4096
    static let dark = 0.02
    static let log: [Float] = (0...(2 * 4096)).map { Float(Foundation.log(dark + Double($0) / 4096)) }

    @inline(__always)
    static func logIntensity(_ value: Float, _ table: UnsafePointer<Float>) -> Float {
        let index = Int(min(max(value, 0), 1.999) * logSteps)
        return table[index]
    }
}
