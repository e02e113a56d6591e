import Foundation

/// The MDP/Client commands (frame 1).
public enum MDPClientCommand: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case request = 0x01
    case partial = 0x02
    case final = 0x03

    public var description: String {
        switch self {
        case .request: "REQUEST"
        case .partial: "PARTIAL"
        case .final: "FINAL"
        }
    }
}

/// One MDP/Client command between a client's DEALER and the broker, as in 18/MDP:
///
/// | Command | Frames |
/// |---|---|
/// | REQUEST (C→B) | "MDPC02" · 0x01 · service name · body (1+ frames) |
/// | PARTIAL (B→C) | "MDPC02" · 0x02 · service name · body (1+ frames) |
/// | FINAL (B→C) | "MDPC02" · 0x03 · service name · body (1+ frames) |
public enum MDPClientMessage: Hashable, Sendable, CustomStringConvertible {
    case request(service: String, body: [Data])
    case partial(service: String, body: [Data])
    case final(service: String, body: [Data])

    public var command: MDPClientCommand {
        switch self {
        case .request: .request
        case .partial: .partial
        case .final: .final
        }
    }

    public var service: String {
        switch self {
        case .request(let service, _), .partial(let service, _), .final(let service, _): service
        }
    }

    public var body: [Data] {
        switch self {
        case .request(_, let body), .partial(_, let body), .final(_, let body): body
        }
    }

    /// The wire frames.
    ///
    /// - Precondition: The body has at least one frame and the service name is not empty.
    public var frames: [Data] {
        precondition(!service.isEmpty, "an MDP service name is not empty")
        precondition(!body.isEmpty, "an MDP/Client \(command) has at least one body frame")
        return [MDP.clientHeader, Data([command.rawValue]), Data(service.utf8)] + body
    }

    /// The wire frames in `framing`. Delimited framing is majortomo's: a leading empty frame, commands
    /// numbered like the worker's (REQUEST 0x02, PARTIAL 0x03, FINAL 0x04), replies without the service.
    public func frames(in framing: MDPFraming) -> [Data] {
        switch framing {
        case .rfc:
            return frames
        case .delimited:
            precondition(!body.isEmpty, "an MDP/Client \(command) has at least one body frame")
            switch self {
            case .request(let service, let body):
                return framing.wrap([MDP.clientHeader, Data([MDPWorkerCommand.request.rawValue]), Data(service.utf8)] + body)
            case .partial(_, let body):
                return framing.wrap([MDP.clientHeader, Data([MDPWorkerCommand.partial.rawValue])] + body)
            case .final(_, let body):
                return framing.wrap([MDP.clientHeader, Data([MDPWorkerCommand.final.rawValue])] + body)
            }
        }
    }

    /// Decodes a message from a client or for a client (without any routing-id frame).
    ///
    /// - Throws: ``MDPError`` naming the frame at fault.
    public init(frames: [Data], limits: MDPLimits = .default) throws(MDPError) {
        try self.init(frames: frames, limits: limits, framing: .rfc)
    }

    /// Decodes a message in `framing` (frames without the routing id and without the delimiter
    /// ``MDPFraming/detect(_:)`` split off).
    ///
    /// In ``MDPFraming/delimited`` framing only REQUEST is decoded (what a broker receives), numbered
    /// 0x02 as majortomo does, or 0x01 as 18/MDP does.
    public init(frames: [Data], limits: MDPLimits = .default, framing: MDPFraming) throws(MDPError) {
        try MDPValidation.checkLimits(frames, limits)
        try MDPValidation.checkHeader(frames, expected: MDP.clientHeader)
        let byte = try MDPValidation.command(frames)
        let decoded: MDPClientCommand?
        switch framing {
        case .rfc: decoded = MDPClientCommand(rawValue: byte)
        case .delimited: decoded = byte == 0x01 || byte == 0x02 ? .request : nil
        }
        guard let command = decoded else {
            throw MDPError(.unknownCommand, frame: 1, String(format: "0x%02x is not an MDP/Client command", byte))
        }
        let service = try MDPValidation.serviceName(frames, at: 2, limits)
        guard frames.count >= 4 else {
            throw MDPError(.missingFrames, "\(command) has a service name and 1+ body frames (4+ frames), got \(frames.count)")
        }
        let body = Array(frames[3...])
        switch command {
        case .request: self = .request(service: service, body: body)
        case .partial: self = .partial(service: service, body: body)
        case .final: self = .final(service: service, body: body)
        }
    }

    public var description: String {
        "\(command)(\(service), \(body.count) body frame\(body.count == 1 ? "" : "s"))"
    }
}
