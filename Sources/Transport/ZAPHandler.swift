import Threading
import Foundation
public import Logging

/// One ZAP (ZeroMQ RFC 27) authentication request: a peer is completing a security handshake on a
/// socket whose ZAP domain is set.
public struct ZAPRequest: Sendable {
    public var requestID: Data
    public var domain: String
    /// The peer's IP address.
    public var address: String
    /// The routing id the peer presented.
    public var routingID: Data
    /// `NULL`, `PLAIN`, `CURVE` or `GSSAPI`.
    public var mechanism: String
    /// For CURVE, one frame: the peer's 32-byte long-term public key.
    public var credentials: [Data]
}

/// What a ``ZAPAuthorizer`` decides about a peer.
public enum ZAPDecision: Sendable, Equatable {
    /// Admit the peer; `userID` is attached to its messages as the `User-Id` property.
    case allow(userID: String)
    /// Refuse the handshake (status 400) with a reason that is logged.
    case deny(reason: String)
}

/// Decides whether a peer may connect.
public protocol ZAPAuthorizer: Sendable {
    func authorize(_ request: ZAPRequest) -> ZAPDecision
}

/// The ZAP handler: answers libzmq's authentication requests for every socket of one context on
/// `inproc://zeromq.zap.01`, from its own thread.
///
/// Without a handler, a CURVE server admits any client that knows its public key (the "Stonehouse"
/// pattern). With this handler and an allowlist of client public keys (``AuthorizedKeys``) only those
/// clients complete the handshake ("Ironhouse").
///
/// - Important: There is one handler per context, and it must be started before any socket that
///   uses ZAP binds. Stop it (or let it deinitialise) before terminating the context.
public final class ZAPHandler: Sendable {
    /// The endpoint RFC 27 fixes for the handler.
    public static let endpoint = "inproc://zeromq.zap.01"

    private let thread: OwnerThread
    private let stopping = Locked(false)
    private let counters = Locked((allowed: 0, denied: 0))

    /// Binds the handler in a new thread and returns once it is listening.
    ///
    /// - Throws: ``ZMQError`` if the endpoint is taken (another handler on this context).
    public init(context: ZMQContext, authorizer: any ZAPAuthorizer, logger: Logger) throws {
        let ready = DispatchSemaphore(value: 0)
        let bindResult = Locked<ZMQError?>(nil)
        let stopping = self.stopping
        let counters = self.counters
        thread = OwnerThread(name: "spikeq-zap") {
            let socket: ZMQSocket
            do {
                socket = try ZMQSocket(context: context, type: .router)
                try socket.bind(Self.endpoint)
            } catch {
                bindResult.withLock {
                    $0 = (error as? ZMQError)
                        ?? ZMQError(code: .other, operation: "ZAP bind", message: "\(error)")
                }
                ready.signal()
                return
            }
            ready.signal()
            Self.serve(socket, authorizer: authorizer, stopping: stopping, counters: counters, logger: logger)
        }
        ready.wait()
        if let error = bindResult.current {
            thread.join()
            throw error
        }
    }

    /// Stops the handler thread and closes its socket. Safe to call more than once.
    public func stop() {
        stopping.withLock { $0 = true }
        thread.join()
    }

    deinit {
        stop()
    }

    /// Handshakes admitted and refused so far.
    public var decisions: (allowed: Int, denied: Int) { counters.current }

    private static func serve(
        _ socket: ZMQSocket, authorizer: any ZAPAuthorizer, stopping: Locked<Bool>,
        counters: Locked<(allowed: Int, denied: Int)>, logger: Logger
    ) {
        let poller = ZMQPoller()
        poller.add(socket)
        while !stopping.current {
            do {
                guard try poller.poll(timeout: .milliseconds(50)) > 0 else { continue }
                while let frames = try socket.receive(dontWait: true) {
                    guard let reply = handle(frames, authorizer: authorizer, counters: counters, logger: logger)
                    else { continue }
                    try socket.send(reply, dontWait: true)
                }
            } catch let error as ZMQError where error.code == .terminated {
                return
            } catch {
                logger.warning("ZAP handler error", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Builds the reply frames for one request; nil if the request is too malformed to answer.
    static func handle(
        _ frames: [Data], authorizer: any ZAPAuthorizer, counters: Locked<(allowed: Int, denied: Int)>,
        logger: Logger
    ) -> [Data]? {
        // ROUTER adds the peer's routing id; libzmq's ZAP client sends an empty delimiter, then the request.
        guard frames.count >= 3, frames[1].isEmpty else {
            logger.warning("Malformed ZAP request dropped", metadata: ["zap.frames": "\(frames.count)"])
            return nil
        }
        let envelope = Array(frames[0...1])
        let body = Array(frames[2...])
        func reply(_ requestID: Data, _ status: String, _ text: String, _ userID: String = "") -> [Data] {
            envelope + [Data("1.0".utf8), requestID, Data(status.utf8), Data(text.utf8), Data(userID.utf8), Data()]
        }
        guard body.count >= 2 else { return nil }
        let requestID = body[1]
        guard String(decoding: body[0], as: UTF8.self) == "1.0" else {
            return reply(requestID, "500", "unsupported ZAP version")
        }
        guard body.count >= 6 else { return reply(requestID, "500", "incomplete ZAP request") }
        let request = ZAPRequest(
            requestID: requestID, domain: String(decoding: body[2], as: UTF8.self),
            address: String(decoding: body[3], as: UTF8.self), routingID: body[4],
            mechanism: String(decoding: body[5], as: UTF8.self), credentials: Array(body.dropFirst(6)))
        switch authorizer.authorize(request) {
        case .allow(let userID):
            counters.withLock { $0.allowed += 1 }
            logger.debug(
                "ZAP admitted peer",
                metadata: ["zap.domain": "\(request.domain)", "zap.address": "\(request.address)", "zap.user": "\(userID)"])
            return reply(requestID, "200", "OK", userID)
        case .deny(let reason):
            counters.withLock { $0.denied += 1 }
            logger.warning(
                "ZAP refused peer",
                metadata: [
                    "zap.domain": "\(request.domain)", "zap.address": "\(request.address)",
                    "zap.mechanism": "\(request.mechanism)", "zap.reason": "\(reason)",
                ])
            return reply(requestID, "400", reason)
        }
    }
}
