import Foundation
import Testing
import Wire

/// 18/MDP frames checked byte for byte against the RFC's worker and client tables.
struct MDPWorkerFramingTests {
    private let header: [UInt8] = [0x4D, 0x44, 0x50, 0x57, 0x30, 0x32]  // "MDPW02"

    @Test func readyMatchesRFC() throws {
        let frames = MDPWorkerMessage.ready(service: "spikeq.evaluate").frames
        #expect(frames.map { [UInt8]($0) } == [header, [0x01], Array("spikeq.evaluate".utf8)])
        #expect(try MDPWorkerMessage(frames: frames) == .ready(service: "spikeq.evaluate"))
    }

    @Test(arguments: [
        (MDPWorkerCommand.request, UInt8(0x02)), (MDPWorkerCommand.partial, UInt8(0x03)),
        (MDPWorkerCommand.final, UInt8(0x04)),
    ])
    func envelopeCommandsMatchRFC(command: MDPWorkerCommand, byte: UInt8) throws {
        let client = Data([0x00, 0x6B, 0x8B, 0x45, 0x67])
        let body = [Data("{\"a\":1}".utf8), Data([0xFF])]
        let message: MDPWorkerMessage =
            switch command {
            case .request: .request(client: client, body: body)
            case .partial: .partial(client: client, body: body)
            default: .final(client: client, body: body)
            }
        let frames = message.frames
        #expect(frames.count == 6)
        #expect([UInt8](frames[0]) == header)
        #expect([UInt8](frames[1]) == [byte])
        #expect(frames[2] == client)
        #expect(frames[3].isEmpty)
        #expect(Array(frames[4...]) == body)
        #expect(try MDPWorkerMessage(frames: frames) == message)
    }

    @Test func heartbeatAndDisconnectAreTwoFrames() throws {
        #expect(MDPWorkerMessage.heartbeat.frames.map { [UInt8]($0) } == [header, [0x05]])
        #expect(MDPWorkerMessage.disconnect.frames.map { [UInt8]($0) } == [header, [0x06]])
        #expect(try MDPWorkerMessage(frames: [Data(header), Data([0x05])]) == .heartbeat)
        #expect(try MDPWorkerMessage(frames: [Data(header), Data([0x06])]) == .disconnect)
    }

    @Test func commandBytesAreTheRFCValues() {
        #expect(MDPWorkerCommand.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6, 7])  // 7: the ACK extension
        #expect(MDPClientCommand.allCases.map(\.rawValue) == [1, 2, 3])
    }

    private func code(_ frames: [Data], limits: MDPLimits = .default) -> MDPError? {
        do {
            _ = try MDPWorkerMessage(frames: frames, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test func rejectsUnknownCommand() {
        let error = code([Data(header), Data([0x08])])  // 0x07 is the ACK extension
        #expect(error?.code == .unknownCommand)
        #expect(error?.frame == 1)
        #expect(error?.description.contains("0x08") == true)
    }

    @Test func rejectsOldVersionAndLeadingEmptyFrame() {
        #expect(code([Data("MDPW01".utf8), Data([0x05])])?.code == .unsupportedVersion)
        // 7/MDP workers start with an empty frame.
        #expect(code([Data(), Data("MDPW01".utf8), Data([0x04])])?.code == .unsupportedVersion)
        #expect(code([Data("MDPC02".utf8), Data([0x01])])?.code == .wrongSubProtocol)
        #expect(code([Data("HELLO!".utf8)])?.code == .notMDP)
        #expect(code([])?.code == .emptyMessage)
    }

    @Test func rejectsMissingAndExtraFrames() {
        #expect(code([Data(header)])?.code == .missingFrames)
        #expect(code([Data(header), Data([0x01])])?.code == .missingFrames)
        #expect(code([Data(header), Data([0x01]), Data("s".utf8), Data()])?.code == .unexpectedFrames)
        #expect(code([Data(header), Data([0x05]), Data()])?.code == .unexpectedFrames)
        // REQUEST without a body frame.
        #expect(code([Data(header), Data([0x02]), Data([1]), Data()])?.code == .missingFrames)
    }

    @Test func rejectsMalformedFrames() {
        #expect(code([Data(header), Data([0x01, 0x00]), Data("s".utf8)])?.code == .malformedFrame)
        let delimiter = code([Data(header), Data([0x04]), Data([1]), Data([9]), Data([0])])
        #expect(delimiter?.code == .malformedFrame)
        #expect(delimiter?.frame == 3)
        #expect(code([Data(header), Data([0x01]), Data()])?.code == .malformedFrame)
        #expect(code([Data(header), Data([0x01]), Data([0x0A])])?.code == .malformedFrame)
    }

    @Test func rejectsOversizedMessages() {
        let limits = MDPLimits(maxFrames: 6, maxFrameBytes: 100)
        let big = code([Data(header), Data([0x04]), Data([1]), Data(), Data(count: 101)], limits: limits)
        #expect(big?.code == .oversized)
        #expect(big?.frame == 4)
        let many = code([Data(header), Data([0x04]), Data([1]), Data()] + Array(repeating: Data([1]), count: 3), limits: limits)
        #expect(many?.code == .oversized)
    }
}

struct MDPClientFramingTests {
    private let header: [UInt8] = [0x4D, 0x44, 0x50, 0x43, 0x30, 0x32]  // "MDPC02"

    @Test func commandsMatchRFC() throws {
        let body = [Data("x".utf8)]
        for (message, byte) in [
            (MDPClientMessage.request(service: "spikeq.artifact", body: body), UInt8(0x01)),
            (.partial(service: "spikeq.artifact", body: body), 0x02),
            (.final(service: "spikeq.artifact", body: body), 0x03),
        ] {
            let frames = message.frames
            #expect(frames.map { [UInt8]($0) } == [header, [byte], Array("spikeq.artifact".utf8), Array("x".utf8)])
            #expect(try MDPClientMessage(frames: frames) == message)
        }
    }

    @Test func rejectsBadClientMessages() {
        func code(_ frames: [Data]) -> MDPError.Code? {
            do {
                _ = try MDPClientMessage(frames: frames)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code([Data(header), Data([0x04]), Data("s".utf8), Data()]) == .unknownCommand)
        #expect(code([Data(header), Data([0x01]), Data("s".utf8)]) == .missingFrames)
        #expect(code([Data("MDPC01".utf8), Data([0x01]), Data("s".utf8), Data()]) == .unsupportedVersion)
        #expect(code([Data("MDPW02".utf8), Data([0x01]), Data("s".utf8)]) == .wrongSubProtocol)
    }

    @Test func subProtocolDetection() {
        #expect(MDP.subProtocol(of: [Data(header)]) == .client)
        #expect(MDP.subProtocol(of: [MDP.workerHeader]) == .worker)
        #expect(MDP.subProtocol(of: [Data("MDPW01".utf8)]) == nil)
        #expect(MDP.subProtocol(of: []) == nil)
    }

    @Test func delimitedFramingIsDetectedAndWrittenAsMajortomoDoes() throws {
        // majortomo 0.2 worker READY: "" · "MDPW02" · 0x01 · service.
        let ready = [Data(), MDP.workerHeader, Data([0x01]), Data("spikeq.evaluate".utf8)]
        let (framing, rest) = MDPFraming.detect(ready)
        #expect(framing == .delimited)
        #expect(try MDPWorkerMessage(frames: rest) == .ready(service: "spikeq.evaluate"))
        #expect(MDPWorkerMessage.heartbeat.frames(in: .delimited) == [Data(), MDP.workerHeader, Data([0x05])])
        #expect(MDPWorkerMessage.heartbeat.frames(in: .rfc) == [MDP.workerHeader, Data([0x05])])
        // An empty frame before anything but an MDP/0.2 header is not delimited framing.
        #expect(MDPFraming.detect([Data(), Data("MDPW01".utf8), Data([0x04])]).framing == .rfc)
        #expect(MDPFraming.detect([MDP.workerHeader, Data([0x05])]).framing == .rfc)

        // majortomo 0.2 client REQUEST: "" · "MDPC02" · 0x02 · service · body; replies carry no service
        // and are numbered PARTIAL 0x03, FINAL 0x04.
        let request = [Data(), Data(header), Data([0x02]), Data("spikeq.artifact".utf8), Data("{}".utf8)]
        let (clientFraming, clientFrames) = MDPFraming.detect(request)
        #expect(clientFraming == .delimited)
        let decoded = try MDPClientMessage(frames: clientFrames, framing: clientFraming)
        #expect(decoded == .request(service: "spikeq.artifact", body: [Data("{}".utf8)]))
        let final = MDPClientMessage.final(service: "spikeq.artifact", body: [Data("a".utf8), Data("b".utf8)])
        #expect(final.frames(in: .delimited) == [Data(), Data(header), Data([0x04]), Data("a".utf8), Data("b".utf8)])
        #expect(final.frames(in: .rfc) == [Data(header), Data([0x03]), Data("spikeq.artifact".utf8), Data("a".utf8), Data("b".utf8)])
        let partial = MDPClientMessage.partial(service: "s", body: [Data("p".utf8)])
        #expect(partial.frames(in: .delimited) == [Data(), Data(header), Data([0x03]), Data("p".utf8)])
        // In delimited framing a client sends nothing but REQUEST.
        #expect(throws: MDPError.self) {
            try MDPClientMessage(frames: [Data(header), Data([0x04]), Data("s".utf8), Data()], framing: .delimited)
        }
    }
}
