import Foundation
import Logging
import Wire

/// The `spikeq.artifact` service: answers chunk requests for the catalog's files by SHA-256, keeping
/// each file open after its first chunk. Peer data never names a file: only catalog hashes do.
struct ArtifactService {
    let catalog: ArtifactCatalog
    let chunkBytes: Int
    let logger: Logger
    private var openFiles: [String: FileHandle] = [:]

    init(catalog: ArtifactCatalog, chunkBytes: Int, logger: Logger) {
        self.catalog = catalog
        self.chunkBytes = chunkBytes
        self.logger = logger
    }

    /// Closes the files it opened.
    mutating func close() {
        for handle in openFiles.values { try? handle.close() }
        openFiles = [:]
    }

    /// Answers one `spikeq.artifact` request body: the reply header and the chunk's bytes (nil on
    /// error). Counts an undecodable body as malformed and a served chunk with its bytes in `stats`.
    mutating func serve(_ body: [Data], counting stats: inout BrokerStatistics) -> (ArtifactChunkReply, Data?) {
        let request: ArtifactChunkRequest
        do {
            request = try BodyCodec.decode(ArtifactChunkRequest.self, fromBody: body)
        } catch {
            stats.malformedDropped += 1
            return (ArtifactChunkReply(sha256: "", offset: 0, length: 0, totalBytes: 0,
                                       error: ServiceError(kind: .badRequest, message: "\(error)")), nil)
        }
        func refuse(_ kind: FailureKind, _ message: String, total: Int = 0) -> (ArtifactChunkReply, Data?) {
            (ArtifactChunkReply(sha256: request.sha256, offset: request.offset, length: 0, totalBytes: total,
                                error: ServiceError(kind: kind, message: message)), nil)
        }
        guard request.schema == ArtifactChunkRequest.currentSchema else {
            return refuse(.badRequest, "unknown schema '\(request.schema)', expected '\(ArtifactChunkRequest.currentSchema)'")
        }
        guard let file = catalog.lookup(request.sha256) else {
            return refuse(.notFound, "no artifact with SHA-256 \(request.sha256)")
        }
        guard request.offset >= 0, request.offset <= file.bytes, request.length >= 0 else {
            return refuse(.badRange, "offset \(request.offset), length \(request.length) of a \(file.bytes)-byte file", total: file.bytes)
        }
        let length = min(request.length, chunkBytes, file.bytes - request.offset)
        do {
            let handle: FileHandle
            if let open = openFiles[request.sha256] {
                handle = open
            } else {
                handle = try FileHandle(forReadingFrom: file.url)
                openFiles[request.sha256] = handle
            }
            try handle.seek(toOffset: UInt64(request.offset))
            let data = try handle.read(upToCount: length) ?? Data()
            stats.artifactChunksServed += 1
            stats.artifactBytesServed += data.count
            return (ArtifactChunkReply(sha256: request.sha256, offset: request.offset, length: data.count,
                                       totalBytes: file.bytes), data)
        } catch {
            openFiles[request.sha256] = nil
            logger.error("Artifact read failed", metadata: ["artifact.sha256": "\(request.sha256)", "error": "\(error)"])
            return refuse(.io, "the broker could not read the file: \(error.localizedDescription)", total: file.bytes)
        }
    }
}
