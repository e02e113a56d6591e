import Foundation

/// Which dataset a config describes.
public enum DatasetKind: String, CaseIterable, Hashable, Sendable, Codable {
    /// The embedded default: generated on each machine, no download (see ``SyntheticGestureSettings``).
    case syntheticGestures = "synthetic-gestures"
    /// IBM DVS128 Gesture: `*.aedat` (AEDAT 3.1) + `*_labels.csv`, split by `trials_to_train.txt` /
    /// `trials_to_test.txt`.
    case dvs128Gesture = "dvs128-gesture"
    /// CIFAR10-DVS: `<class>/cifar10_<class>_<i>.aedat` (AEDAT 2.0), 10 classes.
    case cifar10DVS = "cifar10-dvs"
    /// N-Caltech101: `<category>/image_NNNN.bin` (ATIS), categories enumerated from the folders.
    case nCaltech101 = "n-caltech101"
    /// N-MNIST: `Train/<digit>/*.bin` and `Test/<digit>/*.bin`.
    case nMNIST = "n-mnist"
    /// Your own recordings: `<class>/<file>` in any supported format (AEDAT 2.0/3.1/4, `.bin`).
    case eventFolders = "event-folders"

    /// The sensor of the dataset's recordings (N-Caltech101: SpikingJelly's 240×180 frame).
    public var defaultSensor: SensorSize? {
        switch self {
        case .syntheticGestures, .dvs128Gesture, .cifar10DVS: .dvs128
        case .nCaltech101: .nCaltech101
        case .nMNIST: .nMNIST
        case .eventFolders: nil
        }
    }

    /// Whether labels distinguish left from right, so that a horizontal flip would change the class.
    public var flipChangesLabels: Bool { self == .syntheticGestures || self == .dvs128Gesture }
}

/// How samples are divided into train and test (validation is always carved from train).
public enum SplitMode: String, CaseIterable, Hashable, Sendable, Codable {
    /// The dataset's own split: DVS128 Gesture's trials lists, N-MNIST's Train/Test folders, or the
    /// synthetic set's generated splits.
    case official
    /// Per class, the first ``SplitSettings/trainFraction`` of the files in lexicographic (byte-wise)
    /// filename order are train: SpikingJelly's `split_to_train_test_set(0.9, …)` over torchvision's
    /// sorted `DatasetFolder`, as the official Spikformer CIFAR10-DVS code does. On CIFAR10-DVS the test
    /// files are `{91…99} ∪ {909…999}` of each class, not 900–999.
    case firstFraction = "first-fraction"
    /// CIFAR10-DVS as in TEBN: files numbered 0–99 of each class are test, 100–999 train.
    case tebn
    /// Per class, a seeded random ``SplitSettings/trainFraction`` of the files are train.
    case random
}

/// The three splits of a prepared dataset.
public enum DatasetSplit: String, CaseIterable, Hashable, Sendable, Codable {
    case train, validation, test

    var code: UInt8 {
        switch self {
        case .train: 0
        case .validation: 1
        case .test: 2
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .train
        case 1: self = .validation
        case 2: self = .test
        default: return nil
        }
    }
}

/// Train / validation / test division.
public struct SplitSettings: Hashable, Sendable, Codable {
    public var mode: SplitMode
    /// `first-fraction` and `random`: the share of each class that is train (+ validation).
    public var trainFraction: Double
    /// The share of each class's train samples held out as validation (seeded, stratified). Real
    /// datasets only define train and test; the search selects on validation and reports test.
    public var validationFraction: Double
    /// Seed of the validation carve and of `random` splits.
    public var seed: UInt64

    public init(mode: SplitMode = .official, trainFraction: Double = 0.9, validationFraction: Double = 0.1, seed: UInt64 = 0) {
        self.mode = mode
        self.trainFraction = trainFraction
        self.validationFraction = validationFraction
        self.seed = seed
    }
}

/// Training-time augmentation, applied when a sample is read (never baked into the cache).
public struct AugmentationSettings: Hashable, Sendable, Codable {
    /// Largest random shift in input pixels, drawn uniformly in `−translate…translate` for x and y
    /// independently; zero fill. 0 turns it off.
    public var translate: Int
    /// Random horizontal flip with probability ½. Only for datasets whose labels do not depend on
    /// left and right (CIFAR10-DVS yes; gestures no).
    public var horizontalFlip: Bool

    public init(translate: Int = 0, horizontalFlip: Bool = false) {
        self.translate = translate
        self.horizontalFlip = horizontalFlip
    }
}

/// A dataset and how to turn it into frames: the parsed form of `configs/datasets/*.yaml`.
public struct DatasetConfig: Hashable, Sendable {
    public var kind: DatasetKind
    /// A display name (defaults to the kind).
    public var name: String
    /// The dataset directory as written in the config (relative paths are relative to the working
    /// directory of the process, so one config works on every machine that has the data at the same
    /// relative place). Nil for the synthetic set.
    public var root: String?
    public var frames: FrameSettings
    public var split: SplitSettings
    /// AEDAT 2.0 address mapping (CIFAR10-DVS, event folders).
    public var orientation: DVS128Orientation
    public var augmentation: AugmentationSettings
    /// Fail on the first bad file instead of skipping it (skips are always counted and reported).
    public var strict: Bool
    /// Where prepared frame caches live (shared by every worker on the machine).
    public var cacheDirectory: String
    /// The sensor, overriding the kind's default (required for `event-folders`).
    public var sensor: SensorSize?
    /// Class folders to leave out (e.g. `BACKGROUND_Google` in N-Caltech101).
    public var excludedClasses: [String]
    /// Generator settings for `synthetic-gestures`.
    public var synthetic: SyntheticGestureSettings
    /// Caps on what one input file may make a reader allocate (a file over them is skipped, or fails
    /// a strict preparation).
    public var readerLimits: ReaderLimits
    /// The file the config came from, for messages.
    public var sourceFile: String?

    public init(
        kind: DatasetKind, name: String? = nil, root: String? = nil, frames: FrameSettings, split: SplitSettings = SplitSettings(),
        orientation: DVS128Orientation = .spikingjelly, augmentation: AugmentationSettings = AugmentationSettings(),
        strict: Bool = false, cacheDirectory: String = DatasetConfig.defaultCacheDirectory, sensor: SensorSize? = nil,
        excludedClasses: [String] = [], synthetic: SyntheticGestureSettings = SyntheticGestureSettings(),
        readerLimits: ReaderLimits = .default, sourceFile: String? = nil
    ) {
        self.kind = kind
        self.name = name ?? kind.rawValue
        self.root = root
        self.frames = frames
        self.split = split
        self.orientation = orientation
        self.augmentation = augmentation
        self.strict = strict
        self.cacheDirectory = cacheDirectory
        self.sensor = sensor
        self.excludedClasses = excludedClasses
        self.synthetic = synthetic
        self.readerLimits = readerLimits
        self.sourceFile = sourceFile
    }

    /// `$SPIKEQ_CACHE_DIR`, else `$XDG_CACHE_HOME/spikeq/frames`, else `~/.cache/spikeq/frames`.
    public static var defaultCacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["SPIKEQ_CACHE_DIR"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/spikeq/frames" }
        return NSHomeDirectory() + "/.cache/spikeq/frames"
    }

    /// The sensor events are checked against and frames are integrated from.
    public var effectiveSensor: SensorSize? { sensor ?? kind.defaultSensor }

    /// `root` with `~` expanded and made absolute against the working directory.
    public var resolvedRoot: String? {
        guard let root else { return nil }
        return Self.resolve(root)
    }

    /// `cacheDirectory` with `~` expanded and made absolute.
    public var resolvedCacheDirectory: String { Self.resolve(cacheDirectory) }

    static func resolve(_ path: String) -> String {
        var expanded = path
        if expanded == "~" || expanded.hasPrefix("~/") { expanded = NSHomeDirectory() + expanded.dropFirst() }
        if !expanded.hasPrefix("/") { expanded = FileManager.default.currentDirectoryPath + "/" + expanded }
        return URL(fileURLWithPath: expanded).standardizedFileURL.path
    }
}

