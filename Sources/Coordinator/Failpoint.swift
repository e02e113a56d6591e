import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Fault injection for process tests, off unless `SPIKEQ_FAILPOINT` names a point: the process
/// sends itself SIGKILL there, so a test can crash the coordinator at an exact moment that no
/// outside `kill -9` could hit reliably (as FoundationDB's buggify and etcd's gofail do).
enum Failpoint: String {
    /// A FINAL with a result has arrived and nothing of it is committed yet.
    case beforeCommittingAResult = "coordinator-before-commit"

    private static let armed = ProcessInfo.processInfo.environment["SPIKEQ_FAILPOINT"].flatMap(Failpoint.init(rawValue:))

    /// Kills this process with SIGKILL if `point` is armed.
    static func trigger(_ point: Failpoint) {
        guard armed == point else { return }
        FileHandle.standardError.write(Data("failpoint \(point.rawValue): SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
