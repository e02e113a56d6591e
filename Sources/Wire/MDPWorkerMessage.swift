import Foundation

/// The MDP/Worker commands (frame 1).
public enum MDPWorkerCommand: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ready = 0x01
    case request = 0x02
    case partial = 0x03
    case final = 0x04
    case heartbeat = 0x05
    case disconnect = 0x06
    /// SpikeQuant's extension, not in 18/MDP: the broker's owner committed the FINAL of the client
    /// address that follows, so the worker may forget it. Workers that do not know it ignore it.
    case acknowledge = 0x07

    public var description: String {
        switch self {
        case .ready: "READY"
        case .request: "REQUEST"
        case .partial: "PARTIAL"
        case .final: "FINAL"
        case .heartbeat: "HEARTBEAT"
        case .disconnect: "DISCONNECT"
        case .acknowledge: "ACK"
        }
    }
}

/// One MDP/Worker command between a worker's DEALER and the broker, as in 18/MDP:
///
/// | Command | Frames |
/// |---|---|
/// | READY (W→B) | "MDPW02" · 0x01 · service name |
/// | REQUEST (B→W) | "MDPW02" · 0x02 · client address · "" · body (1+ frames) |
/// | PARTIAL (W→B) | "MDPW02" · 0x03 · client address · "" · body (1+ frames) |
/// | FINAL (W→B) | "MDPW02" · 0x04 · client address · "" · body (1+ frames) |
/// | HEARTBEAT (both) | "MDPW02" · 0x05 |
/// | DISCONNECT (both) | "MDPW02" · 0x06 |
/// | ACK (B→W, SpikeQuant extension) | "MDPW02" · 0x07 · client address |
public enum MDPWorkerMessage: Hashable, Sendable, CustomStringConvertible {
    case ready(service: String)
    case request(client: Data, body: [Data])
    case partial(client: Data, body: [Data])
    case final(client: Data, body: [Data])
    case heartbeat
    case disconnect
    case acknowledge(client: Data)

    public var command: MDPWorkerCommand {
        switch self {
        case .ready: .ready
        case .request: .request
        case .partial: .partial
        case .final: .final
        case .heartbeat: .heartbeat
        case .disconnect: .disconnect
        case .acknowledge: .acknowledge
        }
    }

    /// The wire frames.
    ///
    /// - Precondition: Bodies have at least one frame; a service name is non-empty printable ASCII.
    public var frames: [Data] {
        let head = [MDP.workerHeader, Data([command.rawValue])]
        switch self {
        case .ready(let service):
            precondition(!service.isEmpty, "an MDP service name is not empty")
            return head + [Data(service.utf8)]
        case .request(let client, let body), .partial(let client, let body), .final(let client, let body):
            precondition(!body.isEmpty, "an MDP \(command) has at least one body frame")
            return head + [client, Data()] + body
        case .heartbeat, .disconnect:
            return head
        case .acknowledge(let client):
            return head + [client]
        }
    }

    /// The wire frames in `framing` (delimited: a leading empty frame, otherwise the same).
    public func frames(in framing: MDPFraming) -> [Data] {
        framing.wrap(frames)
    }

    /// Decodes a message from a worker or for a worker (without any routing-id frame).
    ///
    /// - Throws: ``MDPError`` naming the frame at fault.
    public init(frames: [Data], limits: MDPLimits = .default) throws(MDPError) {
        try MDPValidation.checkLimits(frames, limits)
        try MDPValidation.checkHeader(frames, expected: MDP.workerHeader)
        let byte = try MDPValidation.command(frames)
        guard let command = MDPWorkerCommand(rawValue: byte) else {
            throw MDPError(.unknownCommand, frame: 1, String(format: "0x%02x is not an MDP/Worker command", byte))
        }
        func exactly(_ count: Int) throws(MDPError) {
            if frames.count < count {
                throw MDPError(.missingFrames, "\(command) has \(count) frames, got \(frames.count)")
            }
            if frames.count > count {
                throw MDPError(.unexpectedFrames, frame: count, "\(command) has \(count) frames, got \(frames.count)")
            }
        }
        func envelope() throws(MDPError) -> (Data, [Data]) {
            guard frames.count >= 5 else {
                throw MDPError(
                    .missingFrames,
                    "\(command) has a client address, an empty delimiter and 1+ body frames (5+ frames), got \(frames.count)")
            }
            guard frames[3].isEmpty else {
                throw MDPError(.malformedFrame, frame: 3, "the envelope delimiter must be empty, got \(frames[3].count) bytes")
            }
            return (frames[2], Array(frames[4...]))
        }
        switch command {
        case .ready:
            try exactly(3)
            self = .ready(service: try MDPValidation.serviceName(frames, at: 2, limits))
        case .request:
            let (client, body) = try envelope()
            self = .request(client: client, body: body)
        case .partial:
            let (client, body) = try envelope()
            self = .partial(client: client, body: body)
        case .final:
            let (client, body) = try envelope()
            self = .final(client: client, body: body)
        case .heartbeat:
            try exactly(2)
            self = .heartbeat
        case .disconnect:
            try exactly(2)
            self = .disconnect
        case .acknowledge:
            try exactly(3)
            self = .acknowledge(client: frames[2])
        }
    }

    public var description: String {
        switch self {
        case .ready(let service): "READY(\(service))"
        case .request(_, let body), .partial(_, let body), .final(_, let body):
            "\(command)(\(body.count) body frame\(body.count == 1 ? "" : "s"), \(body.reduce(0) { $0 + $1.count }) bytes)"
        case .heartbeat, .disconnect: "\(command)"
        case .acknowledge: "ACK"
        }
    }
}
