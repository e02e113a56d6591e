/// Text that came from a peer (an error message, a progress phase), made safe to log, store and
/// print: control characters (terminal escape sequences among them) become visible `\u{…}`
/// escapes, and the length is capped.
public enum PeerText {
    public static let maxLength = 500

    public static func escaped(_ text: String, maxLength: Int = PeerText.maxLength) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= maxLength {
                out += "…"
                break
            }
            let value = scalar.value
            if value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029 {
                out += "\\u{" + String(value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }
}

extension EvaluationFailure {
    /// The failure with its kind and message escaped (see ``PeerText``).
    public var escaped: EvaluationFailure {
        EvaluationFailure(kind: FailureKind(rawValue: PeerText.escaped(kind.rawValue, maxLength: 64)), message: PeerText.escaped(message))
    }
}

extension EvaluationProgress {
    /// The progress with its phase escaped (see ``PeerText``).
    public var escaped: EvaluationProgress {
        var copy = self
        copy.phase = PeerText.escaped(phase, maxLength: 64)
        return copy
    }
}
