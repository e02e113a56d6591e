import ConfigFiles
import Foundation

extension DatasetConfig {
    /// Reads a dataset config file; see ``parse(_:file:)``.
    public static func load(path: String) throws -> DatasetConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "(file)", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses a dataset config from YAML text (workers receive the text over the wire, so nothing here
    /// depends on where the file was).
    ///
    ///     kind: dvs128-gesture          # synthetic-gestures | dvs128-gesture | cifar10-dvs | n-caltech101 | n-mnist | event-folders
    ///     root: data/DvsGesture         # relative to the working directory; not for synthetic-gestures
    ///     frames: {steps: 16, split_by: number, semantics: spikingjelly, size: 128, resize: sum}
    ///     split: {mode: official, train_fraction: 0.9, validation_fraction: 0.1, seed: 0}
    ///     orientation: spikingjelly     # AEDAT 2.0 datasets only: spikingjelly | jaer | raw
    ///     augmentation: {translate: 5, hflip: false}
    ///     strict: false
    ///     cache_dir: ~/.cache/spikeq/frames
    ///     sensor: [128, 128]            # [width, height], each 1…4096; required for event-folders
    ///     reader_limits: {max_packet_mib: 64, max_file_mib: 1024}   # event-folders only: AEDAT 4 decompression caps
    ///     exclude_classes: []
    ///     synthetic: {…}                # synthetic-gestures only; see SyntheticGestureSettings
    ///
    /// - Throws: ``ConfigError`` naming the file and the key for every unknown key, wrong type or
    ///   out-of-range value.
    public static func parse(_ text: String, file: String? = nil) throws -> DatasetConfig {
        try ConfigError.addingLines(from: text) { try parseValues(text, file: file) }
    }

    private static func parseValues(_ text: String, file: String?) throws -> DatasetConfig {
        let reader = ConfigReader(file: file)
        let root = try ConfigYAML.load(text, file: file)
        guard let map = root as? [String: Any] else { throw reader.error("(document)", "expected a mapping with at least `kind`") }
        try reader.allow(map, "", [
            "kind", "name", "root", "frames", "split", "orientation", "augmentation", "strict", "cache_dir", "sensor",
            "exclude_classes", "synthetic", "reader_limits",
        ])
        guard let kindValue = map["kind"] else { throw reader.error("kind", "missing (one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        let kind: DatasetKind = try reader.choice(kindValue, "kind")

        let maxSide = ReaderLimits.default.maxSensorSide
        let sensor: SensorSize? = try map["sensor"].map { try reader.pair($0, "sensor", range: 1...maxSide) }.map {
            SensorSize(width: $0.0, height: $0.1)
        }
        let defaultSensor = sensor ?? kind.defaultSensor
        if kind == .eventFolders, sensor == nil { throw reader.error("sensor", "required for event-folders ([width, height])") }

        // frames
        let frameMap = try reader.section(map["frames"], "frames", ["steps", "split_by", "semantics", "size", "resize"])
        let steps = try frameMap["steps"].map { try reader.integer($0, "frames.steps", range: 1...1024) } ?? (kind == .syntheticGestures ? 8 : 16)
        let splitBy: FrameSplit = try frameMap["split_by"].map { try reader.choice($0, "frames.split_by") } ?? .number
        let semantics: FrameSemantics = try frameMap["semantics"].map { try reader.choice($0, "frames.semantics") } ?? .spikingjelly
        let resize: ResizeMode = try frameMap["resize"].map { try reader.choice($0, "frames.resize") } ?? .sum
        let size: (Int, Int)
        if let raw = frameMap["size"] {
            if let single = raw as? Int {
                let side = try reader.integer(single, "frames.size", range: 1...4096)
                size = (side, side)
            } else {
                size = try reader.pair(raw, "frames.size", range: 1...4096)
            }
        } else if kind == .syntheticGestures {
            size = (32, 32)
        } else {
            size = (defaultSensor!.height, defaultSensor!.width)
        }
        let frames = FrameSettings(
            timeSteps: steps, splitBy: splitBy, semantics: semantics, height: size.0, width: size.1, resize: resize)

        // split
        let splitMap = try reader.section(map["split"], "split", ["mode", "train_fraction", "validation_fraction", "seed"])
        let defaultMode: SplitMode =
            switch kind {
            case .syntheticGestures, .dvs128Gesture, .nMNIST: .official
            case .cifar10DVS, .nCaltech101: .firstFraction
            case .eventFolders: .random
            }
        let mode: SplitMode = try splitMap["mode"].map { try reader.choice($0, "split.mode") } ?? defaultMode
        let allowedModes: [SplitMode] =
            switch kind {
            case .syntheticGestures, .dvs128Gesture, .nMNIST: [.official]
            case .cifar10DVS: [.firstFraction, .tebn, .random]
            case .nCaltech101, .eventFolders: [.firstFraction, .random]
            }
        guard allowedModes.contains(mode) else {
            throw reader.error("split.mode", "`\(mode.rawValue)` does not apply to \(kind.rawValue) (use \(allowedModes.map(\.rawValue).joined(separator: " or ")))")
        }
        let trainFraction = try splitMap["train_fraction"].map { try reader.fraction($0, "split.train_fraction", open: true) } ?? 0.9
        if splitMap["train_fraction"] != nil, mode != .firstFraction, mode != .random {
            throw reader.error("split.train_fraction", "only used by the first-fraction and random split modes")
        }
        let validationFraction = try splitMap["validation_fraction"].map { try reader.fraction($0, "split.validation_fraction", open: false) } ?? 0.1
        if kind == .syntheticGestures, splitMap["validation_fraction"] != nil {
            throw reader.error("split.validation_fraction", "the synthetic set generates its validation split (synthetic.validation_per_class)")
        }
        let seed = try splitMap["seed"].map { UInt64(try reader.integer($0, "split.seed", range: 0...Int.max)) } ?? 0
        let split = SplitSettings(mode: mode, trainFraction: trainFraction, validationFraction: validationFraction, seed: seed)

        // orientation
        var orientation = DVS128Orientation.spikingjelly
        if let raw = map["orientation"] {
            guard kind == .cifar10DVS || kind == .eventFolders else {
                throw reader.error("orientation", "only AEDAT 2.0 datasets (cifar10-dvs, event-folders) have an orientation")
            }
            orientation = try reader.choice(raw, "orientation")
        }

        // augmentation
        let augmentationMap = try reader.section(map["augmentation"], "augmentation", ["translate", "hflip"])
        let translate = try augmentationMap["translate"].map {
            try reader.integer($0, "augmentation.translate", range: 0...max(0, min(frames.height, frames.width) / 2))
        } ?? 0
        let flip = try augmentationMap["hflip"].map { try reader.boolean($0, "augmentation.hflip") } ?? false
        if flip, kind.flipChangesLabels {
            throw reader.error("augmentation.hflip", "a horizontal flip turns left-hand gestures into right-hand ones; not allowed for \(kind.rawValue)")
        }

        // the rest
        let name = try map["name"].map { try reader.string($0, "name") } ?? kind.rawValue
        var rootPath: String?
        if let raw = map["root"] {
            guard kind != .syntheticGestures else { throw reader.error("root", "synthetic-gestures is generated; it has no root") }
            rootPath = try reader.string(raw, "root")
        } else if kind != .syntheticGestures {
            throw reader.error("root", "missing: the directory holding the \(kind.rawValue) files")
        }
        let strict = try map["strict"].map { try reader.boolean($0, "strict") } ?? false
        let cacheDirectory = try map["cache_dir"].map { try reader.string($0, "cache_dir") } ?? DatasetConfig.defaultCacheDirectory
        let excluded = try map["exclude_classes"].map { try reader.stringList($0, "exclude_classes") } ?? []
        if !excluded.isEmpty, kind == .syntheticGestures || kind == .dvs128Gesture {
            throw reader.error("exclude_classes", "only folder-per-class datasets can exclude classes")
        }

        var synthetic = SyntheticGestureSettings()
        if let raw = map["synthetic"] {
            guard kind == .syntheticGestures else { throw reader.error("synthetic", "only for kind synthetic-gestures") }
            synthetic = try reader.synthetic(raw)
        }
        if kind == .syntheticGestures, let sensor, sensor != .dvs128 {
            throw reader.error("sensor", "the synthetic set is rendered at 128×128")
        }

        // reader limits (only event-folders can hold AEDAT 4, the one format with compressed packets)
        var limits = ReaderLimits.default
        if let raw = map["reader_limits"] {
            guard kind == .eventFolders else {
                throw reader.error("reader_limits", "only event-folders datasets can hold AEDAT 4 files, whose caps these are")
            }
            let limitMap = try reader.section(raw, "reader_limits", ["max_packet_mib", "max_file_mib"])
            if let v = limitMap["max_packet_mib"] { limits.maxPacketBytes = try reader.integer(v, "reader_limits.max_packet_mib", range: 1...4096) << 20 }
            if let v = limitMap["max_file_mib"] { limits.maxFileBytes = try reader.integer(v, "reader_limits.max_file_mib", range: 1...65536) << 20 }
        }

        return DatasetConfig(
            kind: kind, name: name, root: rootPath, frames: frames, split: split, orientation: orientation,
            augmentation: AugmentationSettings(translate: translate, horizontalFlip: flip), strict: strict,
            cacheDirectory: cacheDirectory, sensor: sensor, excludedClasses: excluded, synthetic: synthetic,
            readerLimits: limits, sourceFile: file)
    }
}

/// Typed reads of YAML values with errors that name the file and the key.
struct ConfigReader {
    let file: String?

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, key: key, message: message)
    }

    func allow(_ map: [String: Any], _ prefix: String, _ keys: [String]) throws {
        for key in map.keys.sorted() where !keys.contains(key) {
            throw error(prefix + key, "unknown key (expected one of: \(keys.joined(separator: ", ")))")
        }
    }

    /// A nested mapping (absent = empty).
    func section(_ value: Any?, _ key: String, _ keys: [String]) throws -> [String: Any] {
        guard let value else { return [:] }
        guard let map = value as? [String: Any] else { throw error(key, "expected a mapping") }
        try allow(map, key + ".", keys)
        return map
    }

    func integer(_ value: Any, _ key: String, range: ClosedRange<Int>) throws -> Int {
        guard let number = value as? Int, !(value is Bool) else { throw error(key, "expected an integer, found `\(value)`") }
        guard range.contains(number) else { throw error(key, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return number
    }

    func number(_ value: Any, _ key: String, range: ClosedRange<Double>) throws -> Double {
        let number: Double
        if let d = value as? Double {
            number = d
        } else if let i = value as? Int, !(value is Bool) {
            number = Double(i)
        } else {
            throw error(key, "expected a number, found `\(value)`")
        }
        guard number.isFinite, range.contains(number) else {
            throw error(key, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    /// A fraction in (0, 1) when `open`, else in [0, 1).
    func fraction(_ value: Any, _ key: String, open: Bool) throws -> Double {
        let f = try number(value, key, range: 0...1)
        guard f < 1, !open || f > 0 else { throw error(key, "\(f) must be in \(open ? "(0, 1)" : "[0, 1)")") }
        return f
    }

    func boolean(_ value: Any, _ key: String) throws -> Bool {
        guard let flag = value as? Bool else { throw error(key, "expected true or false, found `\(value)`") }
        return flag
    }

    func string(_ value: Any, _ key: String) throws -> String {
        guard let text = value as? String, !text.isEmpty else { throw error(key, "expected a non-empty string, found `\(value)`") }
        return text
    }

    func stringList(_ value: Any, _ key: String) throws -> [String] {
        guard let list = value as? [Any] else { throw error(key, "expected a list of strings") }
        return try list.enumerated().map { try string($0.element, "\(key)[\($0.offset)]") }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ value: Any, _ key: String) throws -> T where T.RawValue == String {
        guard let text = value as? String, let parsed = T(rawValue: text) else {
            throw error(key, "`\(value)` is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    /// `[a, b]` of integers in `range`.
    func pair(_ value: Any, _ key: String, range: ClosedRange<Int>) throws -> (Int, Int) {
        guard let list = value as? [Any], list.count == 2 else { throw error(key, "expected [a, b], found `\(value)`") }
        return (try integer(list[0], "\(key)[0]", range: range), try integer(list[1], "\(key)[1]", range: range))
    }

    func synthetic(_ value: Any) throws -> SyntheticGestureSettings {
        let keys = [
            "seed", "train_per_class", "validation_per_class", "test_per_class", "duration_ms", "time_step_us",
            "contrast_threshold", "threshold_sigma", "refractory_us", "noise_rate_hz", "hot_pixels", "hot_pixel_rate_hz",
            "position_jitter", "scale", "speed", "motion_jitter", "idle_motion", "mimic_probability", "mimic_amplitude",
            "sway", "occlusion", "onset_jitter", "label_noise",
        ]
        let map = try section(value, "synthetic", keys)
        var s = SyntheticGestureSettings()
        func k(_ name: String) -> String { "synthetic.\(name)" }
        if let v = map["seed"] { s.seed = UInt64(try integer(v, k("seed"), range: 0...Int.max)) }
        if let v = map["train_per_class"] { s.trainPerClass = try integer(v, k("train_per_class"), range: 1...1_000_000) }
        if let v = map["validation_per_class"] { s.validationPerClass = try integer(v, k("validation_per_class"), range: 0...1_000_000) }
        if let v = map["test_per_class"] { s.testPerClass = try integer(v, k("test_per_class"), range: 1...1_000_000) }
        if let v = map["duration_ms"] { s.durationMilliseconds = try integer(v, k("duration_ms"), range: 100...60_000) }
        if let v = map["time_step_us"] { s.timeStepMicroseconds = try integer(v, k("time_step_us"), range: 100...100_000) }
        if let v = map["contrast_threshold"] { s.contrastThreshold = try number(v, k("contrast_threshold"), range: 0.01...2) }
        if let v = map["threshold_sigma"] { s.thresholdSigma = try number(v, k("threshold_sigma"), range: 0...0.5) }
        if let v = map["refractory_us"] { s.refractoryMicroseconds = try integer(v, k("refractory_us"), range: 0...1_000_000) }
        if let v = map["noise_rate_hz"] { s.noiseRateHz = try number(v, k("noise_rate_hz"), range: 0...1000) }
        if let v = map["hot_pixels"] { s.hotPixels = try integer(v, k("hot_pixels"), range: 0...16384) }
        if let v = map["hot_pixel_rate_hz"] { s.hotPixelRateHz = try number(v, k("hot_pixel_rate_hz"), range: 0...100_000) }
        if let v = map["position_jitter"] { s.positionJitter = try number(v, k("position_jitter"), range: 0...0.3) }
        if let v = map["scale"] {
            guard let list = v as? [Any], list.count == 2 else { throw error(k("scale"), "expected [min, max]") }
            s.scaleMin = try number(list[0], k("scale") + "[0]", range: 0.3...2)
            s.scaleMax = try number(list[1], k("scale") + "[1]", range: s.scaleMin...2)
        }
        if let v = map["speed"] {
            guard let list = v as? [Any], list.count == 2 else { throw error(k("speed"), "expected [min, max]") }
            s.speedMin = try number(list[0], k("speed") + "[0]", range: 0.1...5)
            s.speedMax = try number(list[1], k("speed") + "[1]", range: s.speedMin...5)
        }
        if let v = map["motion_jitter"] { s.motionJitter = try number(v, k("motion_jitter"), range: 0...1) }
        if let v = map["idle_motion"] { s.idleMotion = try number(v, k("idle_motion"), range: 0...1) }
        if let v = map["mimic_probability"] { s.mimicProbability = try number(v, k("mimic_probability"), range: 0...1) }
        if let v = map["mimic_amplitude"] { s.mimicAmplitude = try number(v, k("mimic_amplitude"), range: 0...1) }
        if let v = map["sway"] { s.sway = try number(v, k("sway"), range: 0...20) }
        if let v = map["occlusion"] { s.occlusion = try number(v, k("occlusion"), range: 0...1) }
        if let v = map["onset_jitter"] { s.onsetJitter = try number(v, k("onset_jitter"), range: 0...0.8) }
        if let v = map["label_noise"] { s.labelNoise = try number(v, k("label_noise"), range: 0...0.9) }
        return s
    }
}
