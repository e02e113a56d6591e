import Foundation
import Threading

/// A one-line progress bar on standard error; in logs (not a terminal) one line per 10%.
final class ProgressBar: Sendable {
    /// The last percentage shown (redraws and log lines happen when it changes).
    private let last = Locked(-1)
    private let label: String
    private let interactive = isatty(2) != 0

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int, stage: String = "", detail: String = "") {
        guard total > 0 else { return }
        let percent = done * 100 / total
        let changed = last.withLock { last in
            defer { last = percent }
            return percent != last
        }
        let width = 30
        let filled = width * min(done, total) / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\(label) \(stage) [\(bar)] \(done)/\(total) \(detail)"
        if interactive {
            // Redraw on every percent, and on every call that carries new figures.
            if changed || done == total || !detail.isEmpty {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            }
        } else if changed && (percent % 10 == 0 || done == total) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// A failure while a command runs, as opposed to a usage error: ArgumentParser prints it as
/// "Error: …" without the usage text and exits with status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
