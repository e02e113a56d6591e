/// How a sample's events are cut into frames.
public enum FrameSplit: String, CaseIterable, Hashable, Sendable, Codable {
    /// Equal event counts per frame (SpikingJelly `split_by='number'`; the Spikformer recipes).
    case number
    /// Equal time windows per frame (SpikingJelly `split_by='time'`).
    case time
}

/// Whose edge rules frame cutting follows.
public enum FrameSemantics: String, CaseIterable, Hashable, Sendable, Codable {
    /// SpikingJelly: the last frame takes the remainder (events `N − (T−1)·⌊N/T⌋…N` by number, or
    /// every event from `t0 + (T−1)·dt` on by time). The default: published Spikformer numbers use it.
    case spikingjelly
    /// Tonic `ToFrame(n_event_bins / n_time_bins)`: every frame has exactly `⌊N/T⌋` events or exactly
    /// `dt` µs, and what is left over is dropped.
    case tonic
}

/// How frames at the sensor's resolution become the model's input size.
public enum ResizeMode: String, CaseIterable, Hashable, Sendable, Codable {
    /// Sum pooling: each event is counted once, in the input pixel that covers its sensor pixel
    /// (`x · W / sensorW`). For integer factors (128 → 32) this is exact block summing. The default,
    /// because it keeps every event: at 4× downsampling, nearest keeps one sensor pixel in 16 and throws
    /// the rest of the signal away.
    case sum
    /// Nearest neighbour (torch `interpolate(mode='nearest')`): input pixel `(i, j)` takes the counts of
    /// sensor pixel `(⌊i · sensorH / H⌋, ⌊j · sensorW / W⌋)`.
    case nearest
}

/// Everything that determines a sample's frames (and so is part of the cache key).
public struct FrameSettings: Hashable, Sendable, Codable, CustomStringConvertible {
    /// T, the number of frames.
    public var timeSteps: Int
    public var splitBy: FrameSplit
    public var semantics: FrameSemantics
    /// The model input, after resizing.
    public var height: Int
    public var width: Int
    public var resize: ResizeMode

    public init(
        timeSteps: Int, splitBy: FrameSplit = .number, semantics: FrameSemantics = .spikingjelly, height: Int,
        width: Int, resize: ResizeMode = .sum
    ) {
        precondition(timeSteps > 0 && height > 0 && width > 0, "frame settings must be positive")
        self.timeSteps = timeSteps
        self.splitBy = splitBy
        self.semantics = semantics
        self.height = height
        self.width = width
        self.resize = resize
    }

    /// Polarity channels: 0 holds OFF (p = 0) events, 1 holds ON (p = 1), as in SpikingJelly.
    public static let channels = 2

    /// Floats in one sample, `T × 2 × H × W`.
    public var valuesPerSample: Int { timeSteps * Self.channels * height * width }

    /// A canonical one-line form (used in the cache key).
    public var description: String {
        "T=\(timeSteps) split=\(splitBy.rawValue) semantics=\(semantics.rawValue) size=\(height)x\(width) resize=\(resize.rawValue)"
    }
}
