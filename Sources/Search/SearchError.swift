/// Why the search refused an input. A closed set: each case names what was wrong.
public enum SearchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A setting is out of range (population size, reference point, rates …).
    case invalidParameters(String)
    /// A sensitivity table does not fit the space.
    case invalidSensitivity(String)
    /// `tell` for a configuration the search never proposed.
    case unknownCandidate(hash: String)
    /// `tell` for a configuration that already has a result.
    case alreadyEvaluated(hash: String)
    /// Objectives of the wrong length, or values that are not finite.
    case invalidFitness(hash: String, reason: String)
    /// A restored state was made for a different space or settings.
    case stateMismatch(String)

    public var description: String {
        switch self {
        case .invalidParameters(let message): "invalid search parameters: \(message)"
        case .invalidSensitivity(let message): "invalid sensitivity table: \(message)"
        case .unknownCandidate(let hash): "no candidate \(hash.prefix(12)) was proposed"
        case .alreadyEvaluated(let hash): "candidate \(hash.prefix(12)) already has a result"
        case .invalidFitness(let hash, let reason): "candidate \(hash.prefix(12)): \(reason)"
        case .stateMismatch(let message): "saved search state does not match: \(message)"
        }
    }
}
