import Foundation
import Seeding

/// Renders synthetic gesture clips and turns them into events with a DVS model.
///
/// Scene: a person (torso, head, two-segment arms, hands) in front of a static textured background,
/// at a random position, scale and tempo, optionally swaying and partly hidden by an occluder. Each
/// class moves the hands along a path (``HandPath``); arms follow by two-link inverse kinematics.
///
/// Sensor: per pixel, the log intensity `L = log(0.02 + I)` is compared with a reference level; each
/// crossing of the pixel's threshold `C·(1 + σ·N(0,1))` emits an event (ON for brighter) with a timestamp
/// interpolated inside the render step, and moves the reference by ±C. A pixel that fired less than
/// the refractory period ago stays silent. Background activity (Poisson, uniform over the sensor) and hot
/// pixels are added on top. Only pixels a moving shape can have touched are re-rendered each step.
///
/// A sample depends only on the settings, its split, its index and its class, never on the thread that
/// renders it.
public struct SyntheticGestureGenerator: Sendable {
    public let settings: SyntheticGestureSettings
    public static let sensor = SensorSize.dvs128
    /// Bumped whenever generation changes, so caches of the old output are not reused.
    public static let version = 1

    public init(settings: SyntheticGestureSettings) {
        self.settings = settings
    }

    /// One generated sample.
    public struct Sample: Sendable {
        public var events: EventStream
        /// The label (after label noise).
        public var label: Int
        /// The class whose motion was rendered.
        public var gesture: SyntheticGestureClass
    }

    /// Generates sample `index` of `split` showing `gesture`.
    public func sample(split: DatasetSplit, index: Int, gesture: SyntheticGestureClass) -> Sample {
        var rng = SeededGenerator(seed: settings.seed, stream: "synthetic-gestures/\(split.rawValue)/\(index)")
        var label = gesture.rawValue
        if rng.uniform() < Float(settings.labelNoise) {
            label = (label + 1 + rng.below(SyntheticGestureClass.allCases.count - 1)) % SyntheticGestureClass.allCases.count
        }
        var clip = Clip(settings: settings, gesture: gesture, rng: &rng)
        return Sample(events: clip.run(rng: &rng), label: label, gesture: gesture)
    }
}

/// One clip being rendered: the scene's fixed parts and the sensor state.
private struct Clip {
    let width = 128
    let height = 128
    let settings: SyntheticGestureSettings
    let script: GestureScript
    let center: SIMD2<Float>
    let scale: Float
    let swayAmplitude: Float
    let swayFrequency: SIMD2<Float>
    let swayPhase: SIMD2<Float>
    let torsoLook: ScenePrimitive.Look
    let headLook: ScenePrimitive.Look
    let sleeveLook: ScenePrimitive.Look
    let skinLook: ScenePrimitive.Look
    let occluder: ScenePrimitive?
    let occluderVelocity: SIMD2<Float>
    let hotPixels: [(index: Int, polarity: UInt8)]
    var background: [Float]

    init(settings: SyntheticGestureSettings, gesture: SyntheticGestureClass, rng: inout SeededGenerator) {
        self.settings = settings
        let duration = Float(settings.durationMilliseconds) / 1000
        script = GestureScript.random(gesture, settings: settings, duration: duration, rng: &rng)
        let jitter = Float(settings.positionJitter) * 128
        center = SIMD2(64 + jitter * rng.uniform(-1, 1), 74 + jitter * rng.uniform(-1, 1) * 0.6)
        scale = rng.uniform(Float(settings.scaleMin), Float(settings.scaleMax))
        swayAmplitude = Float(settings.sway) * rng.uniform(0.5, 1)
        swayFrequency = SIMD2(rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6))
        swayPhase = SIMD2(rng.uniform(0, 2 * .pi), rng.uniform(0, 2 * .pi))
        func look(_ low: Float, _ high: Float, stripes: Float) -> ScenePrimitive.Look {
            ScenePrimitive.Look(
                intensity: rng.uniform(low, high), stripeAmplitude: rng.uniform(0, stripes),
                stripeFrequency: rng.uniform(0.4, 1.4) * Float(SceneTables.stripeSize) / (2 * .pi))
        }
        torsoLook = look(0.2, 0.95, stripes: 0.3)
        headLook = look(0.45, 0.95, stripes: 0.05)
        sleeveLook = rng.uniform() < 0.6 ? torsoLook : look(0.2, 0.95, stripes: 0.3)
        skinLook = ScenePrimitive.Look(intensity: headLook.intensity, stripeAmplitude: 0, stripeFrequency: 0)
        if rng.uniform() < Float(settings.occlusion) {
            let w = rng.uniform(12, 40)
            let h = rng.uniform(12, 40)
            let origin = SIMD2(rng.uniform(0, 128 - w), rng.uniform(0, 128 - h))
            let o = look(0.1, 0.9, stripes: 0.4)
            occluder = ScenePrimitive(
                a: origin, b: origin + SIMD2(w, h), radius: 0, intensity: o.intensity, stripeAmplitude: o.stripeAmplitude,
                stripeFrequency: o.stripeFrequency, isRectangle: true)
            occluderVelocity = rng.uniform() < 0.5 ? SIMD2(rng.uniform(-20, 20), rng.uniform(-8, 8)) : .zero
        } else {
            occluder = nil
            occluderVelocity = .zero
        }
        hotPixels = (0..<settings.hotPixels).map { _ in (rng.below(128 * 128), UInt8(rng.below(2))) }
        // Background: bilinearly upsampled 9×9 random grid around a random base level.
        let base = rng.uniform(0.15, 0.55)
        let contrast = rng.uniform(0.1, 0.35)
        let grid = (0..<81).map { _ in base * (1 + contrast * rng.uniform(-1, 1)) }
        var background = [Float](repeating: 0, count: 128 * 128)
        for y in 0..<128 {
            let gy = Float(y) / 127 * 8
            let y0 = min(Int(gy), 7)
            let fy = gy - Float(y0)
            for x in 0..<128 {
                let gx = Float(x) / 127 * 8
                let x0 = min(Int(gx), 7)
                let fx = gx - Float(x0)
                let top = grid[y0 * 9 + x0] * (1 - fx) + grid[y0 * 9 + x0 + 1] * fx
                let bottom = grid[(y0 + 1) * 9 + x0] * (1 - fx) + grid[(y0 + 1) * 9 + x0 + 1] * fx
                background[y * 128 + x] = top * (1 - fy) + bottom * fy
            }
        }
        self.background = background
    }

    var sways: Bool { swayAmplitude > 0 }

    /// The scene's shapes at time `t` seconds, back to front: torso, head, right arm, left arm, occluder.
    func primitives(at t: Float) -> [ScenePrimitive] {
        let sway = swayAmplitude * SIMD2(sin(2 * .pi * swayFrequency.x * t + swayPhase.x), 0.5 * sin(2 * .pi * swayFrequency.y * t + swayPhase.y))
        let origin = center + sway
        func world(_ body: SIMD2<Float>) -> SIMD2<Float> { origin + scale * body }
        var shapes: [ScenePrimitive] = [
            .capsule(world(SIMD2(0, -22)), world(SIMD2(0, 24)), radius: 12 * scale, look: torsoLook),
            .capsule(world(SIMD2(0, -35)), world(SIMD2(0, -35)), radius: 8 * scale, look: headLook),
        ]
        let hands = script.hands(at: t)
        for (side, target) in [(Float(-1), hands.right), (Float(1), hands.left)] {
            let shoulder = world(HandPath.shoulder(side: side))
            let (joint, hand) = elbow(
                shoulder: shoulder, hand: world(target), upper: HandPath.upperArm * scale, fore: HandPath.forearm * scale, side: side)
            shapes.append(.capsule(shoulder, joint, radius: 3.6 * scale, look: sleeveLook))
            shapes.append(.capsule(joint, hand, radius: 3.0 * scale, look: sleeveLook))
            shapes.append(.capsule(hand, hand, radius: 4.2 * scale, look: skinLook))
        }
        if var occluder {
            let shift = occluderVelocity * t
            occluder.a += shift
            occluder.b += shift
            shapes.append(occluder)
        }
        return shapes
    }

    /// Renders the clip and returns its events in time order.
    ///
    /// The per-pixel state lives in raw buffers rather than arrays captured by closures, so the hot loop
    /// pays no bounds or exclusivity checks.
    mutating func run(rng: inout SeededGenerator) -> EventStream {
        let pixels = width * height
        let stepMicroseconds = Int64(settings.timeStepMicroseconds)
        let steps = Int((Int64(settings.durationMilliseconds) * 1000 + stepMicroseconds - 1) / stepMicroseconds)
        let firstDynamic = sways ? 0 : 2
        let baseThreshold = Float(settings.contrastThreshold)
        let sigma = Float(settings.thresholdSigma)
        let refractory = Int64(settings.refractoryMicroseconds)
        let noisePerStep = settings.noiseRateHz * Double(pixels) * Double(stepMicroseconds) / 1e6
        let hotPerStep = settings.hotPixelRateHz * Double(stepMicroseconds) / 1e6
        // Arms are re-rendered after 0.1 px of motion; the slowly swaying torso, head and occluder after 0.25 px.
        let tolerance = (0..<(firstDynamic == 0 ? 2 : 0)).map { _ in Float(0.25) } + [Float](repeating: 0.1, count: 6) + [0.25]

        let stripes = UnsafeMutablePointer<Float>.allocate(capacity: SceneTables.stripeSize)
        let logTable = UnsafeMutablePointer<Float>.allocate(capacity: SceneTables.log.count)
        let staticLayer = UnsafeMutablePointer<Float>.allocate(capacity: pixels)
        let reference = UnsafeMutablePointer<Float>.allocate(capacity: pixels)
        let threshold = UnsafeMutablePointer<Float>.allocate(capacity: pixels)
        let lastFire = UnsafeMutablePointer<Int64>.allocate(capacity: pixels)
        let stamp = UnsafeMutablePointer<Int32>.allocate(capacity: pixels)
        defer {
            stripes.deallocate()
            logTable.deallocate()
            staticLayer.deallocate()
            reference.deallocate()
            threshold.deallocate()
            lastFire.deallocate()
            stamp.deallocate()
        }
        stripes.initialize(from: SceneTables.stripes, count: SceneTables.stripeSize)
        logTable.initialize(from: SceneTables.log, count: SceneTables.log.count)
        staticLayer.initialize(from: background, count: pixels)
        lastFire.initialize(repeating: Int64.min / 2, count: pixels)
        stamp.initialize(repeating: -1, count: pixels)
        for i in 0..<pixels { threshold[i] = baseThreshold * max(0.3, 1 + sigma * rng.approximateGaussian()) }

        let initial = primitives(at: 0)
        // The static layer: background plus the shapes that never move.
        for shape in initial[0..<firstDynamic] {
            let box = shape.bounds(width: width, height: height)
            for y in box.y0..<box.y1 {
                for x in box.x0..<box.x1 {
                    let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                    staticLayer[y * width + x] = shape.shade(p, over: staticLayer[y * width + x], stripes: stripes)
                }
            }
        }
        // Initial reference levels, each a random fraction of a threshold away from the scene; the
        // moving shapes are painted back to front over their own bounds only.
        reference.initialize(from: staticLayer, count: pixels)
        for shape in initial[firstDynamic...] {
            let box = shape.bounds(width: width, height: height)
            for y in box.y0..<box.y1 {
                for x in box.x0..<box.x1 {
                    let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                    reference[y * width + x] = shape.shade(p, over: reference[y * width + x], stripes: stripes)
                }
            }
        }
        for i in 0..<pixels {
            reference[i] = SceneTables.logIntensity(reference[i], logTable) + threshold[i] * rng.uniform(-0.5, 0.5)
        }

        // What each pixel last showed is the scene with the shapes as last rendered; a shape is
        // re-rendered once it has moved more than `tolerance` pixels since (sub-pixel sway accumulates
        // instead of costing a redraw every step).
        var rendered = initial
        var prepared = initial[firstDynamic...].map { PreparedShape($0, width: width, height: height) }
        var dirty: [(before: ScenePrimitive, after: ScenePrimitive)] = []
        var keys: [UInt64] = []
        var columns = EventColumns(capacity: 1 << 15)
        for step in 1...steps {
            let tEnd = Int64(step) * stepMicroseconds
            let tStart = tEnd - stepMicroseconds
            let current = primitives(at: Float(tEnd) / 1e6)
            keys.removeAll(keepingCapacity: true)
            dirty.removeAll(keepingCapacity: true)
            for k in firstDynamic..<current.count where current[k].differs(from: rendered[k], tolerance: tolerance[k - firstDynamic]) {
                dirty.append((rendered[k], current[k]))
                rendered[k] = current[k]
                prepared[k - firstDynamic] = PreparedShape(current[k], width: width, height: height)
            }
            let stepStamp = Int32(step)
            prepared.withUnsafeBufferPointer { shapes in
                for (before, after) in dirty {
                    let rows = before.bounds(width: width, height: height).union(after.bounds(width: width, height: height))
                    for y in rows.y0..<rows.y1 {
                        let old = before.span(row: y, width: width)
                        let new = after.span(row: y, width: width)
                        let span =
                            old.isEmpty ? new : new.isEmpty ? old : min(old.lowerBound, new.lowerBound)..<max(old.upperBound, new.upperBound)
                        for x in span {
                            let i = y &* width &+ x
                            if stamp[i] == stepStamp { continue }
                            stamp[i] = stepStamp
                            let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                            var value = staticLayer[i]
                            for shape in shapes where shape.box.contains(x: x, y: y) {
                                value = shape.shade(p, over: value, stripes: stripes)
                            }
                            let change = SceneTables.logIntensity(value, logTable) - reference[i]
                            let c = threshold[i]
                            let magnitude = Swift.abs(change)
                            guard magnitude >= c else { continue }
                            let crossings = min(Int(magnitude / c), 10)
                            let polarity: UInt64 = change > 0 ? 1 : 0
                            for j in 1...crossings {
                                let t = tStart + Int64(Float(stepMicroseconds) * Float(j) * c / magnitude)
                                if t - lastFire[i] >= refractory {
                                    lastFire[i] = t
                                    keys.append(UInt64(t) << 15 | UInt64(y) << 8 | UInt64(x) << 1 | polarity)
                                }
                            }
                            reference[i] += (change > 0 ? c : -c) * Float(crossings)
                        }
                    }
                }
            }
            // Background activity and hot pixels.
            for _ in 0..<rng.poisson(noisePerStep) {
                let i = rng.below(pixels)
                let t = tStart + Int64(rng.below(Int(stepMicroseconds)))
                keys.append(UInt64(t) << 15 | UInt64(i / width) << 8 | UInt64(i % width) << 1 | UInt64(rng.below(2)))
            }
            for hot in hotPixels {
                for _ in 0..<rng.poisson(hotPerStep) {
                    let t = tStart + Int64(rng.below(Int(stepMicroseconds)))
                    keys.append(UInt64(t) << 15 | UInt64(hot.index / width) << 8 | UInt64(hot.index % width) << 1 | UInt64(hot.polarity))
                }
            }
            keys.sort()
            columns.reserve(keys.count)
            for key in keys {
                columns.appendReserved(x: UInt16((key >> 1) & 0x7F), y: UInt16((key >> 8) & 0x7F), t: Int64(key >> 15), p: UInt8(key & 1))
            }
        }
        return columns.stream(sensor: SyntheticGestureGenerator.sensor)
    }
}
