import SpikingNN

/// The three splits a candidate is fine-tuned and measured on, and the fingerprint that identifies
/// them (a hash of the source files and the frame settings).
///
/// Fine-tuning uses `train`; the search selects on `validation` (accuracy and the firing rates
/// behind the energy figures); `test` is only reported, never used for a decision.
public struct EvaluationData: Sendable {
    public var train: any FrameSource
    public var validation: any FrameSource
    public var test: any FrameSource
    public var fingerprint: String

    public init(train: any FrameSource, validation: any FrameSource, test: any FrameSource, fingerprint: String) {
        self.train = train
        self.validation = validation
        self.test = test
        self.fingerprint = fingerprint
    }
}
