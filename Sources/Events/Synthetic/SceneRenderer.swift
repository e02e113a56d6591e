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

    /// The pixel columns `x0..<x1` of row `y` that the shape can touch (empty when none): the row
    /// section of the capsule grown by 1.5 pixels, which is one interval because a capsule is convex.
    func span(row y: Int, width: Int) -> Range<Int> {
        let yc = Float(y) + 0.5
        var low = Float.infinity
        var high = -Float.infinity
        if isRectangle {
            guard yc >= a.y - 1.5, yc <= b.y + 1.5 else { return 0..<0 }
            low = a.x - 1.5
            high = b.x + 1.5
        } else {
            let grown = radius + 1.5
            @inline(__always) func cap(_ c: SIMD2<Float>) {
                let dy = yc - c.y
                if Swift.abs(dy) <= grown {
                    let dx = (grown * grown - dy * dy).squareRoot()
                    low = min(low, c.x - dx)
                    high = max(high, c.x + dx)
                }
            }
            cap(a)
            cap(b)
            let ab = b - a
            let length = (ab * ab).sum().squareRoot()
            if length > 1e-4 {
                // The band between the end caps: 0 <= (p − a)·u <= length and |(p − a)·n| <= grown.
                let u = ab / length
                let n = SIMD2(-u.y, u.x)
                var bandLow = -Float.infinity
                var bandHigh = Float.infinity
                @inline(__always) func clip(_ axis: SIMD2<Float>, _ lower: Float, _ upper: Float) {
                    let offset = (yc - a.y) * axis.y - a.x * axis.x
                    if Swift.abs(axis.x) < 1e-6 {
                        if offset < lower || offset > upper { bandLow = .infinity }
                    } else {
                        let x1 = (lower - offset) / axis.x
                        let x2 = (upper - offset) / axis.x
                        bandLow = max(bandLow, min(x1, x2))
                        bandHigh = min(bandHigh, max(x1, x2))
                    }
                }
                clip(u, 0, length)
                clip(n, -grown, grown)
                if bandLow <= bandHigh {
                    low = min(low, bandLow)
                    high = max(high, bandHigh)
                }
            }
        }
        guard low <= high else { return 0..<0 }
        let x0 = max(0, Int((low - 0.5).rounded(.down)))
        let x1 = min(width, Int((high - 0.5).rounded(.up)) + 1)
        return x0 < x1 ? x0..<x1 : 0..<0
    }

    /// Whether the shape moved by more than `tolerance` pixels (or changed size) relative to `other`.
    func differs(from other: ScenePrimitive, tolerance: Float) -> Bool {
        let da = a - other.a
        let db = b - other.b
        let moved = max(max(Swift.abs(da.x), Swift.abs(da.y)), max(Swift.abs(db.x), Swift.abs(db.y)))
        return moved > tolerance || radius != other.radius
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

/// A shape with its per-step constants precomputed, for the per-pixel loop.
struct PreparedShape {
    let a: SIMD2<Float>
    let b: SIMD2<Float>
    let ab: SIMD2<Float>
    let inverseLength2: Float
    let inverseLength: Float
    let edge: Float
    let intensity: Float
    let stripeAmplitude: Float
    let stripeFrequency: Float
    let isRectangle: Bool
    let box: PixelRect

    init(_ shape: ScenePrimitive, width: Int, height: Int) {
        a = shape.a
        b = shape.b
        ab = shape.b - shape.a
        let length2 = (ab * ab).sum()
        inverseLength2 = length2 > 1e-6 ? 1 / length2 : 0
        inverseLength = length2 > 1e-6 ? 1 / length2.squareRoot() : 0
        edge = shape.radius + 0.5
        intensity = shape.intensity
        stripeAmplitude = shape.stripeAmplitude
        stripeFrequency = shape.stripeFrequency
        isRectangle = shape.isRectangle
        box = shape.bounds(width: width, height: height)
    }

    /// Same as ``ScenePrimitive/shade(_:over:stripes:)``.
    @inline(__always)
    func shade(_ p: SIMD2<Float>, over under: Float, stripes: UnsafePointer<Float>) -> Float {
        let coverage: Float
        let along: Float
        if isRectangle {
            let inside = min(min(p.x - a.x, b.x - p.x), min(p.y - a.y, b.y - p.y))
            coverage = min(max(inside + 0.5, 0), 1)
            along = p.x - a.x
        } else {
            let ap = p - a
            let projection = (ap * ab).sum()
            let h = min(max(projection * inverseLength2, 0), 1)
            let d = ap - ab * h
            let distance2 = (d * d).sum()
            if distance2 >= edge * edge { return under }
            coverage = min(edge - distance2.squareRoot(), 1)
            along = inverseLength > 0 ? projection * inverseLength : ap.x
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
