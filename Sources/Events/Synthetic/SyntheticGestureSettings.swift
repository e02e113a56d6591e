/// Settings of the synthetic gesture set: sizes, the simulated sensor, and the difficulty knobs.
///
/// The defaults are chosen so the set is *not* trivially separable: left/right and cw/ccw pairs differ
/// only in side or direction, idle limbs fidget and sometimes mimic another gesture, "other" is a random
/// mix of motions, and the sensor adds background activity and hot pixels. `docs/events.md` describes
/// each knob and which way it moves accuracy.
public struct SyntheticGestureSettings: Hashable, Sendable, Codable {
    /// Master seed; every sample is generated from its own sub-stream of it, so the set is the same
    /// for any thread count.
    public var seed: UInt64 = 1
    public var trainPerClass = 200
    public var validationPerClass = 40
    public var testPerClass = 60
    /// Length of one gesture clip.
    public var durationMilliseconds = 1500
    /// Rendering step of the scene; events inside a step get interpolated timestamps.
    public var timeStepMicroseconds = 5000

    // The simulated DVS.
    /// Log-intensity change that fires an event (per pixel, with mismatch `thresholdSigma`).
    public var contrastThreshold = 0.22
    /// Relative standard deviation of the per-pixel threshold.
    public var thresholdSigma = 0.04
    /// A pixel cannot fire again within this time of its last event.
    public var refractoryMicroseconds = 800
    /// Background activity: noise events per pixel per second (either polarity).
    public var noiseRateHz = 0.4
    /// Number of hot pixels (fixed per sample, firing at `hotPixelRateHz`).
    public var hotPixels = 6
    public var hotPixelRateHz = 80.0

    // Scene variation.
    /// Body centre offset range, as a fraction of the sensor size (uniform in ±positionJitter).
    public var positionJitter = 0.05
    public var scaleMin = 1.2
    public var scaleMax = 1.4
    /// Gesture tempo multiplier range.
    public var speedMin = 0.7
    public var speedMax = 1.4
    /// Slow random wobble added to every joint angle and hand target (radians, roughly).
    public var motionJitter = 0.05
    /// Amplitude of the random fidgeting of limbs that do not perform the gesture, relative to a full
    /// gesture (0 = perfectly still, 1 = as large as the gesture).
    public var idleMotion = 0.15
    /// Probability that the idle arm performs another class's arm motion (e.g. the left arm circles a
    /// little during a right-arm circle), at `mimicAmplitude` of full size. Makes side and direction
    /// pairs confusable.
    public var mimicProbability = 0.0
    public var mimicAmplitude = 0.45
    /// Body sway amplitude in sensor pixels (moves every edge of the body).
    public var sway = 1.5
    /// Probability that a sample has an occluding object (static or drifting) in front of the person.
    public var occlusion = 0.05
    /// Largest fraction of the clip the gesture may start late (the arms rest before it).
    public var onsetJitter = 0.05
    /// Fraction of samples (in every split) whose label is replaced by a random other class. A blunt
    /// last-resort knob to cap accuracy; 0 by default.
    public var labelNoise = 0.0

    public init() {}

    public func count(of split: DatasetSplit) -> Int {
        switch split {
        case .train: trainPerClass
        case .validation: validationPerClass
        case .test: testPerClass
        }
    }

    /// Canonical `key=value` lines (part of the cache key and fingerprint).
    public var canonicalText: String {
        [
            "seed=\(seed)", "train=\(trainPerClass)", "validation=\(validationPerClass)", "test=\(testPerClass)",
            "duration_ms=\(durationMilliseconds)", "time_step_us=\(timeStepMicroseconds)",
            "contrast_threshold=\(contrastThreshold)", "threshold_sigma=\(thresholdSigma)",
            "refractory_us=\(refractoryMicroseconds)", "noise_rate_hz=\(noiseRateHz)", "hot_pixels=\(hotPixels)",
            "hot_pixel_rate_hz=\(hotPixelRateHz)", "position_jitter=\(positionJitter)", "scale=\(scaleMin)..\(scaleMax)",
            "speed=\(speedMin)..\(speedMax)", "motion_jitter=\(motionJitter)", "idle_motion=\(idleMotion)",
            "mimic=\(mimicProbability)x\(mimicAmplitude)", "sway=\(sway)", "occlusion=\(occlusion)",
            "onset_jitter=\(onsetJitter)", "label_noise=\(labelNoise)",
        ].joined(separator: "\n")
    }
}

extension SyntheticGestureSettings {
    /// The same settings with `perClass` samples per class in total, divided between the splits in the
    /// current proportions (at least one train and one test sample).
    public func resized(perClass: Int) -> SyntheticGestureSettings {
        var copy = self
        let total = Double(trainPerClass + validationPerClass + testPerClass)
        copy.testPerClass = max(1, Int((Double(perClass) * Double(testPerClass) / total).rounded()))
        copy.validationPerClass = min(
            perClass - copy.testPerClass - 1, Int((Double(perClass) * Double(validationPerClass) / total).rounded()))
        copy.trainPerClass = perClass - copy.testPerClass - copy.validationPerClass
        return copy
    }
}

