import ContentHash
import Foundation

/// Constants of 18/MDP (Majordomo Protocol 0.2, https://rfc.zeromq.org/spec/18/) as SpikeQuant uses it.
///
/// Frames are as seen by the DEALER peer (worker or client); the broker's ROUTER socket adds (on
/// receive) and consumes (on send) one routing-id frame in front, which these types never include.
public enum MDP {
    /// Frame 0 of every MDP/Worker command: "MDPW02".
    public static let workerHeader = Data("MDPW02".utf8)
    /// Frame 0 of every MDP/Client command: "MDPC02".
    public static let clientHeader = Data("MDPC02".utf8)

    /// The largest frame a coordinator accepts by default (`spikeq search --max-message-mib`): room
    /// for the packed model of Spikformer-2-256 (2.6 MB at 8 bits) three times over, small enough that
    /// what one connection can make the coordinator buffer stays a few tens of MiB.
    public static let defaultMaxFrameBytes = 8 << 20

    /// The service workers register for: one candidate evaluation per REQUEST.
    public static let evaluateService = "spikeq.evaluate"
    /// The service the broker itself serves to MDP clients: content-addressed file chunks.
    public static let artifactService = "spikeq.artifact"

    /// Which sub-protocol a message (without a routing-id frame) claims to speak, from its first frame.
    public enum SubProtocol: Sendable, Equatable {
        case worker, client
    }

    /// The sub-protocol named by `frames[0]`, or nil if it is neither header.
    public static func subProtocol(of frames: [Data]) -> SubProtocol? {
        guard let first = frames.first else { return nil }
        if first == workerHeader { return .worker }
        if first == clientHeader { return .client }
        return nil
    }
}

/// Bounds applied when decoding, so a hostile or broken peer cannot make a process allocate or
/// log without limit.
public struct MDPLimits: Sendable, Hashable {
    /// Most frames in one message (header, command, address, delimiter and body together).
    public var maxFrames: Int
    /// Most bytes in any one frame.
    public var maxFrameBytes: Int
    /// Most bytes of a service name (RFC: a printable string; ZeroMQ strings are at most 255).
    public var maxServiceNameBytes: Int

    public init(maxFrames: Int = 16, maxFrameBytes: Int = 64 << 20, maxServiceNameBytes: Int = 255) {
        self.maxFrames = maxFrames
        self.maxFrameBytes = maxFrameBytes
        self.maxServiceNameBytes = maxServiceNameBytes
    }

    public static let `default` = MDPLimits()
}

/// Why a message is not valid 18/MDP. Each error names the frame at fault.
public struct MDPError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case emptyMessage, notMDP, unsupportedVersion, wrongSubProtocol, unknownCommand, missingFrames
            case unexpectedFrames, malformedFrame, oversized
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// No frames at all.
        public static let emptyMessage = Code(.emptyMessage)
        /// Frame 0 is not an MDP header.
        public static let notMDP = Code(.notMDP)
        /// Frame 0 is an MDP header of another version ("MDPW01", or 7/MDP's leading empty frame).
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A client header where a worker header was expected, or the reverse.
        public static let wrongSubProtocol = Code(.wrongSubProtocol)
        /// Frame 1 is one byte but not a command of this sub-protocol.
        public static let unknownCommand = Code(.unknownCommand)
        /// Fewer frames than the command requires.
        public static let missingFrames = Code(.missingFrames)
        /// More frames than the command allows (READY, HEARTBEAT, DISCONNECT have a fixed count).
        public static let unexpectedFrames = Code(.unexpectedFrames)
        /// A frame has the wrong shape: a command frame that is not one byte, a non-empty envelope
        /// delimiter, a service name that is empty, too long or not printable ASCII.
        public static let malformedFrame = Code(.malformedFrame)
        /// Too many frames, or a frame larger than ``MDPLimits``.
        public static let oversized = Code(.oversized)

        public var description: String {
            switch wrapped {
            case .emptyMessage: "empty message"
            case .notMDP: "not 18/MDP"
            case .unsupportedVersion: "unsupported MDP version"
            case .wrongSubProtocol: "wrong MDP sub-protocol"
            case .unknownCommand: "unknown command"
            case .missingFrames: "missing frames"
            case .unexpectedFrames: "unexpected frames"
            case .malformedFrame: "malformed frame"
            case .oversized: "oversized message"
            }
        }
    }

    public var code: Code
    /// Index of the offending frame (without the ROUTER's routing-id frame), if one is at fault.
    public var frame: Int?
    public var detail: String

    public init(_ code: Code, frame: Int? = nil, _ detail: String) {
        self.code = code
        self.frame = frame
        self.detail = detail
    }

    public var description: String {
        if let frame { return "18/MDP \(code) at frame \(frame): \(detail)" }
        return "18/MDP \(code): \(detail)"
    }
}

/// Checks shared by both sub-protocols.
enum MDPValidation {
    static func checkLimits(_ frames: [Data], _ limits: MDPLimits) throws(MDPError) {
        guard !frames.isEmpty else { throw MDPError(.emptyMessage, "no frames") }
        guard frames.count <= limits.maxFrames else {
            throw MDPError(.oversized, "\(frames.count) frames, more than the \(limits.maxFrames) allowed")
        }
        for (index, frame) in frames.enumerated() where frame.count > limits.maxFrameBytes {
            throw MDPError(
                .oversized, frame: index, "\(frame.count) bytes, more than the \(limits.maxFrameBytes) allowed")
        }
    }

    /// Validates frame 0 against `expected`, telling a wrong version apart from garbage.
    static func checkHeader(_ frames: [Data], expected: Data) throws(MDPError) {
        let header = frames[0]
        if header == expected { return }
        let text = printable(header)
        if header.isEmpty {
            throw MDPError(
                .unsupportedVersion, frame: 0,
                "empty first frame without an MDP/0.2 header after it (a 7/MDP peer?); this endpoint speaks \(printable(expected))")
        }
        if header.count == 6, header.prefix(4) == expected.prefix(4) {
            throw MDPError(.unsupportedVersion, frame: 0, "'\(text)', expected '\(printable(expected))'")
        }
        if header.count == 6, header.prefix(3) == expected.prefix(3) {
            throw MDPError(.wrongSubProtocol, frame: 0, "'\(text)', expected '\(printable(expected))'")
        }
        throw MDPError(.notMDP, frame: 0, "header '\(text)', expected '\(printable(expected))'")
    }

    static func command(_ frames: [Data]) throws(MDPError) -> UInt8 {
        guard frames.count >= 2 else { throw MDPError(.missingFrames, "no command frame after the header") }
        guard frames[1].count == 1, let byte = frames[1].first else {
            throw MDPError(.malformedFrame, frame: 1, "a command frame has one byte, got \(frames[1].count)")
        }
        return byte
    }

    static func serviceName(_ frames: [Data], at index: Int, _ limits: MDPLimits) throws(MDPError) -> String {
        guard frames.count > index else { throw MDPError(.missingFrames, "no service name frame") }
        let raw = frames[index]
        guard !raw.isEmpty else { throw MDPError(.malformedFrame, frame: index, "empty service name") }
        guard raw.count <= limits.maxServiceNameBytes else {
            throw MDPError(.malformedFrame, frame: index, "service name of \(raw.count) bytes")
        }
        guard raw.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw MDPError(.malformedFrame, frame: index, "service name is not printable ASCII")
        }
        return String(decoding: raw, as: UTF8.self)
    }

    /// A short, log-safe rendering of a frame: printable ASCII as text, anything else as hex.
    static func printable(_ data: Data) -> String {
        let shown = data.prefix(32)
        let suffix = data.count > 32 ? "…" : ""
        if shown.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return String(decoding: shown, as: UTF8.self) + suffix
        }
        return "0x" + ContentHash.hex(shown) + suffix
    }
}

/// How a peer lays out its MDP commands on the wire. The broker accepts both and answers each peer
/// in the framing it used (workers: remembered per routing id from READY).
public enum MDPFraming: Sendable, Hashable, CustomStringConvertible {
    /// 18/MDP as written: frame 0 is the header.
    case rfc
    /// A leading empty frame before the header, as majortomo (the MDP/0.2 library on PyPI) and
    /// REQ-socket habits from 7/MDP send. majortomo's clients also number their commands like workers
    /// (REQUEST 0x02, PARTIAL 0x03, FINAL 0x04) and expect replies without the service frame; see
    /// ``MDPClientMessage/init(frames:limits:framing:)``.
    case delimited

    /// Splits off a leading empty frame when an MDP header follows it.
    public static func detect(_ frames: [Data]) -> (framing: MDPFraming, frames: [Data]) {
        if frames.count >= 2, frames[0].isEmpty, frames[1] == MDP.workerHeader || frames[1] == MDP.clientHeader {
            return (.delimited, Array(frames.dropFirst()))
        }
        return (.rfc, frames)
    }

    /// The frames with this framing's prefix, if any.
    public func wrap(_ frames: [Data]) -> [Data] {
        switch self {
        case .rfc: frames
        case .delimited: [Data()] + frames
        }
    }

    public var description: String {
        switch self {
        case .rfc: "18/MDP"
        case .delimited: "delimited (majortomo)"
        }
    }
}
