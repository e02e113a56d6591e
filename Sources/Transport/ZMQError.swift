import CZeroMQ
import Foundation

/// An error from libzmq, or from this layer's own checks on what libzmq returned.
///
/// Callers match on ``code``: `catch let error as ZMQError where error.code == .wouldBlock`.
public struct ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; match the ones you handle and treat the rest as
    /// fatal for the operation.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case wouldBlock, terminated, interrupted, hostUnreachable, addressInUse, addressNotAvailable
            case invalidArgument, notSupported, protocolNotSupported, stateMachine, tooManySockets
            case tooManyFrames, tooLarge, invalidKey, other
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// `EAGAIN`: a non-blocking call would have blocked (no message, or the high-water mark is reached).
        public static let wouldBlock = Code(.wouldBlock)
        /// `ETERM`: the context was shut down; the socket must be closed.
        public static let terminated = Code(.terminated)
        /// `EINTR`: a signal interrupted the call (``zmqCall(_:_:)`` retries these).
        public static let interrupted = Code(.interrupted)
        /// `EHOSTUNREACH`: a ROUTER with `ROUTER_MANDATORY` has no connected peer with that routing id.
        public static let hostUnreachable = Code(.hostUnreachable)
        /// `EADDRINUSE`: the endpoint is already bound.
        public static let addressInUse = Code(.addressInUse)
        /// `EADDRNOTAVAIL`: the endpoint names an address that is not local.
        public static let addressNotAvailable = Code(.addressNotAvailable)
        /// `EINVAL`: an invalid option, value or endpoint.
        public static let invalidArgument = Code(.invalidArgument)
        /// `ENOTSUP`: the operation is not supported (e.g. CURVE without libsodium).
        public static let notSupported = Code(.notSupported)
        /// `EPROTONOSUPPORT`: the endpoint's transport is not supported.
        public static let protocolNotSupported = Code(.protocolNotSupported)
        /// `EFSM`: the socket's state machine forbids the operation (REQ/REP alternation).
        public static let stateMachine = Code(.stateMachine)
        /// `EMFILE`: the context's socket limit (`ZMQ_MAX_SOCKETS`) or the process's file limit is reached.
        public static let tooManySockets = Code(.tooManySockets)
        /// A received multipart message had more frames than the caller allows; the rest was discarded.
        public static let tooManyFrames = Code(.tooManyFrames)
        /// A received multipart message was larger in all than the caller allows; it was discarded.
        public static let tooLarge = Code(.tooLarge)
        /// A CURVE key was not 40 Z85 characters (or 32 bytes), or a key file was malformed.
        public static let invalidKey = Code(.invalidKey)
        /// Any other errno; see ``ZMQError/errno``.
        public static let other = Code(.other)

        static func from(errno value: CInt) -> Code {
            switch value {
            case EAGAIN: .wouldBlock
            case ETERM: .terminated
            case EINTR: .interrupted
            case EHOSTUNREACH: .hostUnreachable
            case EADDRINUSE: .addressInUse
            case EADDRNOTAVAIL: .addressNotAvailable
            case EINVAL: .invalidArgument
            case ENOTSUP: .notSupported
            case EPROTONOSUPPORT: .protocolNotSupported
            case EFSM: .stateMachine
            case EMFILE: .tooManySockets
            default: .other
            }
        }

        public var description: String {
            switch wrapped {
            case .wouldBlock: "would block"
            case .terminated: "context terminated"
            case .interrupted: "interrupted"
            case .hostUnreachable: "host unreachable"
            case .addressInUse: "address in use"
            case .addressNotAvailable: "address not available"
            case .invalidArgument: "invalid argument"
            case .notSupported: "not supported"
            case .protocolNotSupported: "protocol not supported"
            case .stateMachine: "operation not valid in the socket's state"
            case .tooManySockets: "too many sockets"
            case .tooManyFrames: "too many frames"
            case .tooLarge: "message too large"
            case .invalidKey: "invalid key"
            case .other: "error"
            }
        }
    }

    public var code: Code
    /// The errno libzmq reported (0 for checks made by this layer).
    public var errno: CInt
    /// The call that failed, e.g. `zmq_bind(tcp://127.0.0.1:5555)`.
    public var operation: String
    /// A human-readable explanation (`zmq_strerror`, or this layer's own message).
    public var message: String

    public init(code: Code, errno: CInt = 0, operation: String, message: String) {
        self.code = code
        self.errno = errno
        self.operation = operation
        self.message = message
    }

    /// The error libzmq just reported for `operation` (reads `zmq_errno()`).
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        let value = zmq_errno()
        return ZMQError(
            code: .from(errno: value), errno: value, operation: operation(),
            message: String(cString: zmq_strerror(value)))
    }

    public var description: String { "\(operation): \(message)" }
}

/// Calls a libzmq function that returns -1 and sets errno on failure; retries `EINTR`.
///
/// - Returns: The function's non-negative result.
/// - Throws: ``ZMQError`` with the errno libzmq reported.
@inline(__always)
@discardableResult
func zmqCall<R: FixedWidthInteger>(
    _ operation: @autoclosure () -> String, _ body: () -> R
) throws(ZMQError) -> R {
    while true {
        let result = body()
        if result != -1 { return result }
        if zmq_errno() == EINTR { continue }
        throw ZMQError.last(operation())
    }
}
