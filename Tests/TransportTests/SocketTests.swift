import Threading
import Foundation
import Testing
import Transport

struct SocketTests {
    @Test func routerDealerRoundTripOverLoopback() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setRoutingID(Data("w1".utf8))
        #expect(try dealer.routingID() == Data("w1".utf8))
        try dealer.connect(endpoint)
        let frames = [Data("MDPW02".utf8), Data([1]), Data(), Data((0...255).map { UInt8($0) })]
        try dealer.send(frames)
        let received = try #require(try router.receive(timeout: .seconds(2)))
        #expect(received == [Data("w1".utf8)] + frames, "ROUTER prepends the routing id; empty frames survive")
        try router.send([Data("w1".utf8), Data("pong".utf8)])
        #expect(try dealer.receive(timeout: .seconds(2)) == [Data("pong".utf8)])
        #expect(try dealer.receive(dontWait: true) == nil)
    }

    @Test func routerMandatoryReportsUnknownPeers() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        #expect {
            try router.send([Data("nobody".utf8), Data("x".utf8)], dontWait: true)
        } throws: { error in
            (error as? ZMQError)?.code == .hostUnreachable
        }
    }

    @Test func routerHandoverGivesTheIdToTheNewConnection() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setRouterHandover(true)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let old = try ZMQSocket(context: context, type: .dealer)
        try old.setRoutingID(Data("same".utf8))
        try old.connect(endpoint)
        try old.send([Data("one".utf8)])
        #expect(try router.receive(timeout: .seconds(2))?.last == Data("one".utf8))
        let new = try ZMQSocket(context: context, type: .dealer)
        try new.setRoutingID(Data("same".utf8))
        try new.connect(endpoint)
        try new.send([Data("two".utf8)])
        #expect(try router.receive(timeout: .seconds(2))?.last == Data("two".utf8))
        try router.send([Data("same".utf8), Data("to-new".utf8)])
        #expect(try new.receive(timeout: .seconds(2)) == [Data("to-new".utf8)])
    }

    @Test func tooManyFramesAreDiscardedWhole() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        pull.maximumFrames = 4
        try pull.bind("inproc://frames")
        let push = try ZMQSocket(context: context, type: .push)
        try push.connect("inproc://frames")
        try push.send(Array(repeating: Data([7]), count: 10))
        try push.send([Data("after".utf8)])
        _ = try ZMQPoller.waitReadable(pull)
        #expect {
            try pull.receive(dontWait: true)
        } throws: { error in
            (error as? ZMQError)?.code == .tooManyFrames
        }
        // The oversized message was consumed entirely; the next one is intact.
        #expect(try pull.receive(timeout: .seconds(1)) == [Data("after".utf8)])
    }

    @Test func maxMessageSizeDisconnectsOversizedPeers() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setMaxMessageSize(1000)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect(try router.lastEndpoint())
        try dealer.send([Data(count: 5000)])
        #expect(try router.receive(timeout: .milliseconds(300)) == nil)
    }

    @Test func badEndpointsAndOptionsThrowNamedErrors() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        #expect {
            try socket.bind("nonsense://x")
        } throws: { error in
            let zmq = error as? ZMQError
            return zmq?.code == .protocolNotSupported && zmq?.operation.contains("nonsense://x") == true
        }
        #expect(throws: ZMQError.self) { try socket.setRoutingID(Data([0, 1])) }
        #expect(throws: ZMQError.self) { try socket.setRoutingID(Data()) }
        let first = try ZMQSocket(context: context, type: .router)
        try first.bind("tcp://127.0.0.1:*")
        let second = try ZMQSocket(context: context, type: .router)
        #expect {
            try second.bind(try first.lastEndpoint())
        } throws: { error in
            (error as? ZMQError)?.code == .addressInUse
        }
    }

    @Test func shutdownWakesABlockedOwnerAndCloseNeverHangs() throws {
        let context = try ZMQContext()
        let outcome = Locked<ZMQError.Code?>(nil)
        let thread = OwnerThread(name: "blocked") {
            do {
                let socket = try ZMQSocket(context: context, type: .pull)
                try socket.bind("inproc://never")
                _ = try socket.receive(dontWait: false)  // blocks until the context shuts down
            } catch let error as ZMQError {
                outcome.withLock { $0 = error.code }
            } catch {}
        }
        Thread.sleep(forTimeInterval: 0.05)
        context.shutdown()
        #expect(thread.join(timeout: .seconds(2)))
        #expect(outcome.current == .terminated)
    }

    @Test func pollerWakesOnDoorbell() throws {
        let bell = try Doorbell()
        let poller = ZMQPoller()
        let index = poller.add(fileDescriptor: bell.fileDescriptor)
        #expect(try poller.poll(timeout: .milliseconds(10)) == 0)
        let started = ContinuousClock.now
        let ringer = OwnerThread(name: "ringer") {
            Thread.sleep(forTimeInterval: 0.02)
            bell.ring()
        }
        #expect(try poller.poll(timeout: .seconds(2)) == 1)
        #expect(poller.isReadable(index))
        #expect(ContinuousClock.now - started < .seconds(1))
        bell.drain()
        ringer.join()
        #expect(try poller.poll(timeout: .milliseconds(10)) == 0)
    }

    @Test func libraryFacts() {
        #expect(ZMQLibrary.version.hasPrefix("4."))
        #expect(ZMQLibrary.has("ipc"))
    }
}

extension ZMQPoller {
    /// Polls one socket until readable (test helper).
    static func waitReadable(_ socket: ZMQSocket, timeout: Duration = .seconds(2)) throws -> Bool {
        let poller = ZMQPoller()
        poller.add(socket)
        return try poller.poll(timeout: timeout) > 0
    }
}
