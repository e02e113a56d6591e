import Foundation
import Seeding

/// The 11 classes of the synthetic set, mirroring DVS128 Gesture's (same order and names).
public enum SyntheticGestureClass: Int, CaseIterable, Hashable, Sendable {
    case clap, rightHandWave, leftHandWave
    case rightArmClockwise, rightArmCounterClockwise, leftArmClockwise, leftArmCounterClockwise
    case armRoll, airDrums, airGuitar, other

    public var name: String { GestureLabels.classNames[rawValue] }
}

/// Where a hand goes over time, in body units (1 unit = 1 sensor pixel at scale 1) relative to the
/// torso centre; x to the right of the image, y down. The person faces the camera, so their right
/// arm is on the image's left (side −1) and their left arm on the right (side +1).
///
/// "Clockwise" is clockwise as the camera sees it (the angle grows with y pointing down). A left/right
/// pair differs only in the side; a cw/ccw pair only in the direction.
enum HandPath: Sendable {
    case rest
    /// Upper arm raised outward at `elevation` (radians above horizontal); the forearm swings ±`amplitude`
    /// around vertical.
    case wave(side: Float, elevation: Float, amplitude: Float)
    /// The hand circles `center` with `radius`; `direction` +1 is clockwise.
    case circle(center: SIMD2<Float>, radius: Float, direction: Float)
    /// Both hands meet in front of the chest.
    case clap(side: Float, reach: Float)
    /// Both forearms roll around each other; the left hand is half a turn behind.
    case roll(side: Float, radius: Float, direction: Float)
    /// Alternating vertical strikes from `base`.
    case drum(base: SIMD2<Float>, amplitude: Float, offset: Float)
    /// Fast small strumming around `base`.
    case strum(base: SIMD2<Float>, amplitude: Float)
    /// Holds `point`, sliding slowly along `axis`.
    case hold(point: SIMD2<Float>, axis: SIMD2<Float>, slide: Float)
    /// A smooth random motion: a sum of sinusoids (x amplitude, y amplitude, Hz, x phase, y phase).
    case wander(components: [SIMD4<Float>], phases: [SIMD2<Float>])

    static let shoulderY: Float = -20
    static let shoulderX: Float = 15
    static let upperArm: Float = 20
    static let forearm: Float = 18

    static func shoulder(side: Float) -> SIMD2<Float> { SIMD2(side * shoulderX, shoulderY) }
    static func restHand(side: Float) -> SIMD2<Float> { SIMD2(side * 19, 14) }

    /// The hand position at time `t` (seconds) and gesture phase `phase` (radians).
    func hand(side: Float, t: Float, phase: Float) -> SIMD2<Float> {
        switch self {
        case .rest:
            return Self.restHand(side: side)
        case .wave(let s, let elevation, let amplitude):
            let elbow = Self.shoulder(side: s) + Self.upperArm * SIMD2(s * cos(elevation), -sin(elevation))
            let swing = amplitude * sin(phase)
            return elbow + Self.forearm * SIMD2(sin(swing), -cos(swing))
        case .circle(let center, let radius, let direction):
            let angle = direction * phase
            return center + radius * SIMD2(cos(angle), sin(angle))
        case .clap(let s, let reach):
            let open = 2.5 + reach * (1 + cos(phase)) / 2
            return SIMD2(s * open, -6 + 1.5 * sin(phase))
        case .roll(let s, let radius, let direction):
            let angle = direction * phase + (s > 0 ? Float.pi : 0)
            return SIMD2(s * 2.5, -4) + radius * SIMD2(cos(angle), sin(angle))
        case .drum(let base, let amplitude, let offset):
            return base + SIMD2(0, -amplitude * (0.5 + 0.5 * sin(phase + offset)))
        case .strum(let base, let amplitude):
            return base + SIMD2(0.25 * amplitude * sin(phase), amplitude * sin(phase))
        case .hold(let point, let axis, let slide):
            return point + axis * (slide * sin(0.3 * phase))
        case .wander(let components, let phases):
            var offset = SIMD2<Float>(0, 0)
            for (c, p) in zip(components, phases) {
                let w = 2 * Float.pi * c.z * t
                offset += SIMD2(c.x * sin(w + p.x), c.y * sin(w + p.y))
            }
            return Self.restHand(side: side) + offset
        }
    }
}

/// Everything random about one sample's motion, drawn once; ``pose(at:)`` is then a pure function of time.
struct GestureScript: Sendable {
    var gesture: SyntheticGestureClass
    var right: HandPath
    var left: HandPath
    /// How far each hand goes from rest toward its path (1 = full gesture; idle and mimic arms less).
    var rightAmount: Float
    var leftAmount: Float
    var frequency: Float
    var phase0: Float
    /// Gesture start (seconds) — the arms rest before it and ease in over 0.15 s.
    var onset: Float
    /// Motion jitter: slow wobble of the phase and of each hand target.
    var jitter: Float
    var jitterPhases: [Float]
    var jitterFrequencies: [Float]

    static func random(
        _ gesture: SyntheticGestureClass, settings: SyntheticGestureSettings, duration: Float, rng: inout SeededGenerator
    ) -> GestureScript {
        let speed = rng.uniform(Float(settings.speedMin), Float(settings.speedMax))
        var right = HandPath.rest
        var left = HandPath.rest
        var rightAmount: Float = 1
        var leftAmount: Float = 1
        var base: Float
        // The idle arm of one-arm gestures fidgets, or sometimes mimics another one-arm gesture.
        func idle(side: Float, rng: inout SeededGenerator) -> (HandPath, Float) {
            if rng.uniform() < Float(settings.mimicProbability) {
                let mimic: HandPath =
                    rng.uniform() < 0.5
                    ? .wave(side: side, elevation: rng.uniform(0.2, 0.9), amplitude: rng.uniform(0.4, 0.7))
                    : .circle(
                        center: HandPath.shoulder(side: side) + SIMD2(side * rng.uniform(5, 10), rng.uniform(-8, 2)),
                        radius: rng.uniform(10, 15), direction: rng.uniform() < 0.5 ? 1 : -1)
                return (mimic, Float(settings.mimicAmplitude) * rng.uniform(0.7, 1.0))
            }
            return (wander(side: side, amplitude: 9, rng: &rng), Float(settings.idleMotion))
        }
        switch gesture {
        case .clap:
            base = 1.6
            let reach = rng.uniform(9, 15)
            (right, left) = (.clap(side: -1, reach: reach), .clap(side: 1, reach: reach))
        case .rightHandWave, .leftHandWave:
            base = 1.8
            let side: Float = gesture == .rightHandWave ? -1 : 1
            let wave = HandPath.wave(side: side, elevation: rng.uniform(0.2, 0.9), amplitude: rng.uniform(0.4, 0.7))
            let (other, amount) = idle(side: -side, rng: &rng)
            if side < 0 { (right, left, leftAmount) = (wave, other, amount) } else { (left, right, rightAmount) = (wave, other, amount) }
        case .rightArmClockwise, .rightArmCounterClockwise, .leftArmClockwise, .leftArmCounterClockwise:
            base = 1.0
            let side: Float = gesture == .rightArmClockwise || gesture == .rightArmCounterClockwise ? -1 : 1
            let direction: Float = gesture == .rightArmClockwise || gesture == .leftArmClockwise ? 1 : -1
            let circle = HandPath.circle(
                center: HandPath.shoulder(side: side) + SIMD2(side * rng.uniform(5, 10), rng.uniform(-8, 2)),
                radius: rng.uniform(10, 15), direction: direction)
            let (other, amount) = idle(side: -side, rng: &rng)
            if side < 0 { (right, left, leftAmount) = (circle, other, amount) } else { (left, right, rightAmount) = (circle, other, amount) }
        case .armRoll:
            base = 1.5
            let radius = rng.uniform(4, 7)
            let direction: Float = rng.uniform() < 0.5 ? 1 : -1
            (right, left) = (.roll(side: -1, radius: radius, direction: direction), .roll(side: 1, radius: radius, direction: direction))
        case .airDrums:
            base = 2.2
            let amplitude = rng.uniform(6, 10)
            let spread = rng.uniform(8, 13)
            right = .drum(base: SIMD2(-spread, rng.uniform(0, 5)), amplitude: amplitude, offset: 0)
            left = .drum(base: SIMD2(spread, rng.uniform(0, 5)), amplitude: amplitude, offset: .pi)
        case .airGuitar:
            base = 3.0
            right = .strum(base: SIMD2(rng.uniform(-6, 0), rng.uniform(3, 9)), amplitude: rng.uniform(4, 7))
            left = .hold(point: SIMD2(rng.uniform(20, 26), rng.uniform(-14, -6)), axis: SIMD2(0.9, -0.4), slide: rng.uniform(1, 4))
        case .other:
            base = 1.0
            // A random mix: each hand wanders, does a fragment of a circle or a wave, or rests.
            var moving = 0
            for side: Float in [-1, 1] {
                let pick = rng.uniform()
                let path: HandPath
                if pick < 0.2 {
                    path = .rest
                } else if pick < 0.65 {
                    path = wander(side: side, amplitude: 14, rng: &rng)
                    moving += 1
                } else if pick < 0.85 {
                    path = .circle(
                        center: HandPath.shoulder(side: side) + SIMD2(side * rng.uniform(2, 12), rng.uniform(-4, 12)),
                        radius: rng.uniform(4, 9), direction: rng.uniform() < 0.5 ? 1 : -1)
                    moving += 1
                } else {
                    path = .wave(side: side, elevation: rng.uniform(-0.3, 0.4), amplitude: rng.uniform(0.3, 0.8))
                    moving += 1
                }
                if side < 0 { right = path } else { left = path }
            }
            if moving == 0 { right = wander(side: -1, amplitude: 14, rng: &rng) }
        }
        let jitter = Float(settings.motionJitter)
        return GestureScript(
            gesture: gesture, right: right, left: left, rightAmount: rightAmount, leftAmount: leftAmount,
            frequency: base * speed, phase0: rng.uniform(0, 2 * .pi),
            onset: rng.uniform(0, Float(settings.onsetJitter)) * duration, jitter: jitter,
            jitterPhases: (0..<10).map { _ in rng.uniform(0, 2 * .pi) },
            jitterFrequencies: (0..<10).map { _ in rng.uniform(0.3, 2.5) })
    }

    static func wander(side: Float, amplitude: Float, rng: inout SeededGenerator) -> HandPath {
        var components: [SIMD4<Float>] = []
        var phases: [SIMD2<Float>] = []
        for _ in 0..<3 {
            components.append(
                SIMD4(rng.uniform(0.2, 1) * amplitude / 2, rng.uniform(0.2, 1) * amplitude / 2, rng.uniform(0.3, 2.5), 0))
            phases.append(SIMD2(rng.uniform(0, 2 * .pi), rng.uniform(0, 2 * .pi)))
        }
        return .wander(components: components, phases: phases)
    }

    /// Hand targets (body units, relative to the torso centre) of the right and left arm at `t` seconds.
    func hands(at t: Float) -> (right: SIMD2<Float>, left: SIMD2<Float>) {
        let wobble = jitter * 1.5 * sin(2 * .pi * jitterFrequencies[0] * t + jitterPhases[0])
        let phase = 2 * .pi * frequency * max(0, t - onset) + phase0 + wobble
        let ease = smoothstep((t - onset) / 0.15)
        func noise(_ k: Int) -> SIMD2<Float> {
            let a = 2 * Float.pi * t
            return jitter * 8
                * SIMD2(
                    sin(a * jitterFrequencies[k] + jitterPhases[k]) + 0.5 * sin(a * jitterFrequencies[k + 1] + jitterPhases[k + 1]),
                    sin(a * jitterFrequencies[k + 2] + jitterPhases[k + 2]) + 0.5 * sin(a * jitterFrequencies[k + 3] + jitterPhases[k + 3]))
        }
        let restR = HandPath.restHand(side: -1)
        let restL = HandPath.restHand(side: 1)
        let r = restR + ease * rightAmount * (right.hand(side: -1, t: t, phase: phase) - restR) + noise(1)
        let l = restL + ease * leftAmount * (left.hand(side: 1, t: t, phase: phase) - restL) + noise(5)
        return (r, l)
    }
}

@inline(__always)
func smoothstep(_ x: Float) -> Float {
    let c = min(max(x, 0), 1)
    return c * c * (3 - 2 * c)
}

/// Two-link inverse kinematics: the elbow for a hand target, bending outward (away from the body).
func elbow(shoulder: SIMD2<Float>, hand: SIMD2<Float>, upper: Float, fore: Float, side: Float) -> (elbow: SIMD2<Float>, hand: SIMD2<Float>) {
    var toHand = hand - shoulder
    var distance = (toHand * toHand).sum().squareRoot()
    let reach = upper + fore
    if distance < 1e-3 {
        toHand = SIMD2(side, 0)
        distance = 1
    }
    let clamped = min(max(distance, abs(upper - fore) + 0.5), reach - 0.01)
    let direction = toHand / distance
    let target = shoulder + direction * clamped
    let cosAngle = (upper * upper + clamped * clamped - fore * fore) / (2 * upper * clamped)
    let angle = acos(min(max(cosAngle, -1), 1))
    let base = atan2(direction.y, direction.x)
    let a = shoulder + upper * SIMD2(cos(base + angle), sin(base + angle))
    let b = shoulder + upper * SIMD2(cos(base - angle), sin(base - angle))
    // Outward = further along `side` in x; ties broken downward.
    let pickA = side * a.x > side * b.x + 1e-3 || (abs(a.x - b.x) <= 1e-3 && a.y > b.y)
    return (pickA ? a : b, target)
}

extension SeededGenerator {
    /// Uniform in [0, 1).
    @inline(__always)
    mutating func uniform() -> Float { nextUnitFloat() }

    /// Uniform in [low, high).
    @inline(__always)
    mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextUnitFloat() }

    /// An integer uniform in 0..<bound (bound > 0; modulo bias below 2⁻⁴⁰ for the bounds used here).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// An approximately standard normal draw from one 64-bit number: the Irwin–Hall sum of four 16-bit
    /// uniforms, rescaled (exact mean and variance; tails cut at ±3.46). Good enough for per-pixel
    /// threshold mismatch, and four times cheaper than Box–Muller.
    @inline(__always)
    mutating func approximateGaussian() -> Float {
        let r = next()
        let sum = Float(r & 0xFFFF) + Float((r >> 16) & 0xFFFF) + Float((r >> 32) & 0xFFFF) + Float(r >> 48)
        return (sum / 65536 - 2) * 1.7320508
    }

    /// A Poisson draw (Knuth's method for small means, a rounded normal for large ones).
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 {
            return max(0, Int((mean + mean.squareRoot() * Double(nextGaussian())).rounded()))
        }
        let limit = exp(-mean)
        var product = nextUnitDouble()
        var count = 0
        while product > limit {
            count += 1
            product *= nextUnitDouble()
        }
        return count
    }
}
