import ContentHash
import Crypto
import Foundation
public import Logging
public import Transport
public import Wire
import Threading

/// An MDP/Client of the broker's `spikeq.artifact` service: downloads a content-addressed file chunk by
/// chunk over its own DEALER socket, verifying the SHA-256 of the whole.
///
/// Each chunk is one REQUEST (offset, length) answered by one FINAL, so a download resumes where it
/// was after any failure. If a reply does not arrive in time, the socket is closed and a new one sends
/// the request again (the Lazy Pirate pattern), up to `retries` times per chunk.
///
/// - Important: A fetcher creates its socket on the calling thread and closes it before returning,
///   so it may be used from any one thread at a time.
public struct ArtifactFetcher: Sendable {
    public var context: ZMQContext
    public var endpoint: String
    public var curve: CurveClientSettings?
    public var chunkBytes: Int
    public var timeout: Duration
    public var retries: Int
    public var maxMessageBytes: Int
    public var logger: Logger

    public init(
        context: ZMQContext, endpoint: String, curve: CurveClientSettings? = nil, chunkBytes: Int = 1 << 20,
        timeout: Duration = .seconds(10), retries: Int = 5, maxMessageBytes: Int = 64 << 20, logger: Logger
    ) {
        self.context = context
        self.endpoint = endpoint
        self.curve = curve
        self.chunkBytes = chunkBytes
        self.timeout = timeout
        self.retries = retries
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    private func makeSocket() throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .dealer)
        socket.maximumFrames = 8
        try socket.setMaxMessageSize(maxMessageBytes)
        if let curve { try curve.apply(to: socket) }
        try socket.connect(endpoint)
        return socket
    }

    /// Downloads the artifact into `destination` (truncated first) and checks its size and hash.
    ///
    /// - Parameter progress: Called after each chunk with (bytes so far, total bytes).
    /// - Throws: ``EvaluationFailure`` of kind `checkpoint` (unreachable broker, refused request) or
    ///   `checkpoint-hash` (the bytes do not hash to the reference).
    public func fetch(
        _ reference: ArtifactReference, into destination: URL, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws {
        let output = try FileHandle(forWritingTo: destination)
        defer { try? output.close() }
        try output.truncate(atOffset: 0)
        var hasher = SHA256()
        var socket = try makeSocket()
        var offset = 0
        var total = reference.bytes
        let started = ContinuousClock.now
        while offset < total {
            let request = ArtifactChunkRequest(sha256: reference.sha256, offset: offset, length: chunkBytes)
            let frames = MDPClientMessage.request(service: MDP.artifactService, body: [try BodyCodec.encode(request)]).frames
            var reply: [Data]?
            var attempt = 0
            while reply == nil {
                attempt += 1
                try socket.send(frames, dontWait: true)
                reply = try socket.receive(timeout: timeout)
                if reply == nil {
                    guard attempt <= retries else {
                        throw EvaluationFailure(
                            kind: .checkpoint,
                            message: "no reply from \(endpoint) for \(reference.name) at byte \(offset) after \(attempt) tries")
                    }
                    logger.warning(
                        "Artifact chunk timed out; retrying on a new socket",
                        metadata: ["zmq.endpoint": "\(endpoint)", "artifact.offset": "\(offset)", "attempt": "\(attempt)"])
                    socket = try makeSocket()
                }
            }
            let (header, data) = try parse(reply!, expecting: request)
            guard header.totalBytes == reference.bytes else {
                throw EvaluationFailure(
                    kind: .checkpointHash,
                    message: "the coordinator's \(reference.name) has \(header.totalBytes) bytes, the request says \(reference.bytes)")
            }
            total = header.totalBytes
            guard !data.isEmpty || offset >= total else {
                throw EvaluationFailure(kind: .checkpoint, message: "empty chunk at byte \(offset) of \(total)")
            }
            try output.write(contentsOf: data)
            hasher.update(data: data)
            offset += data.count
            progress?(offset, total)
        }
        let hex = ContentHash.hex(hasher.finalize())
        guard hex == reference.sha256 else {
            throw EvaluationFailure(
                kind: .checkpointHash, message: "\(reference.name) downloaded with SHA-256 \(hex), expected \(reference.sha256)")
        }
        logger.info(
            "Artifact fetched",
            metadata: [
                "artifact.sha256": "\(reference.sha256)", "artifact.bytes": "\(total)",
                "artifact.seconds": "\(String(format: "%.3f", (ContinuousClock.now - started).seconds))",
            ])
    }

    private func parse(_ frames: [Data], expecting request: ArtifactChunkRequest) throws -> (ArtifactChunkReply, Data) {
        let message: MDPClientMessage
        do {
            message = try MDPClientMessage(frames: frames)
        } catch {
            throw EvaluationFailure(kind: .checkpoint, message: "artifact reply: \(error)")
        }
        guard case .final(let service, let body) = message, service == MDP.artifactService else {
            throw EvaluationFailure(kind: .checkpoint, message: "artifact reply: unexpected \(message)")
        }
        let header: ArtifactChunkReply
        do {
            header = try BodyCodec.decode(ArtifactChunkReply.self, from: body[0])
        } catch {
            throw EvaluationFailure(kind: .checkpoint, message: "artifact reply: \(error)")
        }
        if let error = header.error {
            throw EvaluationFailure(kind: .checkpoint, message: "the coordinator refused the artifact request: \(error)")
        }
        guard header.sha256 == request.sha256, header.offset == request.offset, body.count == 2,
            body[1].count == header.length
        else {
            throw EvaluationFailure(
                kind: .checkpoint,
                message: "artifact reply does not match the request (offset \(header.offset) vs \(request.offset), \(body.count) frames)")
        }
        return (header, body[1])
    }
}

/// Local artifacts for evaluations: the cache first, else a verified fetch from the coordinator.
public struct CheckpointProvider: CheckpointProviding {
    public var cache: ArtifactCache
    public var fetcher: ArtifactFetcher

    public init(cache: ArtifactCache, fetcher: ArtifactFetcher) {
        self.cache = cache
        self.fetcher = fetcher
    }

    public func file(for reference: ArtifactReference, progress: (@Sendable (Int, Int) -> Void)?) throws -> URL {
        guard ContentHash.isSHA256(reference.sha256) else {
            throw EvaluationFailure(kind: .badRequest, message: "'\(reference.sha256)' is not a lowercase hex SHA-256")
        }
        do {
            if let cached = try cache.cachedFile(for: reference) { return cached }
        } catch let corrupt as ArtifactCache.CorruptCacheEntry {
            fetcher.logger.warning("Corrupt cached artifact; fetching again", metadata: ["error": "\(corrupt)"])
        }
        let temporary = try cache.temporaryFile(for: reference)
        do {
            try fetcher.fetch(reference, into: temporary, progress: progress)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return try cache.commit(temporary, for: reference)
    }
}
