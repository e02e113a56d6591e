import Foundation

/// The frame cache file (`<cache_dir>/<fingerprint>.frames`), little-endian:
///
///     0   "SQFRAMES"             magic
///     8   u32 version            (1)
///     12  u32 T, u32 channels, u32 height, u32 width, u32 classCount
///     32  u64 sampleCount, u64 indexOffset, u64 metadataOffset, u64 metadataLength
///     64  32 bytes               the fingerprint (raw SHA-256)
///     96  sample blobs           each 8-aligned, encoded by ``FrameEncoding``
///     index                      sampleCount × 16 bytes: u64 offset, u32 length, u8 encoding, u8 split, u16 label
///     metadata                   JSON (``FrameCacheMetadata``): class names, settings, sample origins, skipped files
///
/// It is written to a temporary file and renamed into place, so a reader sees either no cache or a
/// complete one; readers map it read-only and share it through the page cache.
enum FrameCacheFormat {
    static let magic = Array("SQFRAMES".utf8)
    static let version: UInt32 = 1
    static let headerSize = 96
    static let indexEntrySize = 16
}

/// What the cache records besides the frames.
struct FrameCacheMetadata: Codable, Hashable, Sendable {
    var fingerprint: String
    var kind: DatasetKind
    var name: String
    var classNames: [String]
    var frames: FrameSettings
    var sensor: SensorSize
    /// The text whose SHA-256 is the fingerprint.
    var key: String
    /// Where each sample came from (`user01_lab.aedat#3`, `cat/cifar10_cat_7.aedat`, `synthetic/train/12`).
    var origins: [String]
    /// Event count of each sample (before resizing).
    var eventCounts: [Int]
    var skipped: [SkippedSource]
    var toolVersion: String
}

/// An input that could not be used, and why (non-strict preparation skips and counts these).
public struct SkippedSource: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The file (relative to the dataset root) or unit name.
    public var name: String
    public var reason: String

    public var description: String { "\(name): \(reason)" }
}

/// One sample's place in the cache.
struct CacheIndexEntry: Hashable, Sendable {
    var offset: Int
    var length: Int
    var encoding: FrameEncoding
    var split: DatasetSplit
    var label: Int
}

/// Writes a cache file: blobs as they arrive, then the index, metadata and header.
final class FrameCacheWriter {
    private let file: TemporaryFileWriter
    private let frames: FrameSettings
    private(set) var entries: [CacheIndexEntry] = []

    init(path: String, frames: FrameSettings) throws {
        file = try TemporaryFileWriter(finalPath: path)
        self.frames = frames
        try file.append([UInt8](repeating: 0, count: FrameCacheFormat.headerSize))
    }

    func append(_ blob: [UInt8], encoding: FrameEncoding, split: DatasetSplit, label: Int) throws {
        try file.pad(to: 8)
        entries.append(CacheIndexEntry(offset: file.offset, length: blob.count, encoding: encoding, split: split, label: label))
        try file.append(blob)
    }

    /// Finishes the file with the given split per sample (the validation carve happens after all
    /// samples are known) and renames it into place.
    func commit(splits: [DatasetSplit], metadata: FrameCacheMetadata, fingerprintBytes: [UInt8]) throws {
        precondition(splits.count == entries.count && fingerprintBytes.count == 32)
        try file.pad(to: 8)
        let indexOffset = file.offset
        var index = [UInt8]()
        index.reserveCapacity(entries.count * FrameCacheFormat.indexEntrySize)
        for (entry, split) in zip(entries, splits) {
            appendLE(&index, UInt64(entry.offset))
            appendLE(&index, UInt32(entry.length))
            index.append(entry.encoding.rawValue)
            index.append(split.code)
            appendLE(&index, UInt16(entry.label))
        }
        try file.append(index)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = Array(try encoder.encode(metadata))
        let metadataOffset = file.offset
        try file.append(json)
        var header = FrameCacheFormat.magic
        appendLE(&header, FrameCacheFormat.version)
        for value in [frames.timeSteps, FrameSettings.channels, frames.height, frames.width, metadata.classNames.count] {
            appendLE(&header, UInt32(value))
        }
        for value in [entries.count, indexOffset, metadataOffset, json.count] { appendLE(&header, UInt64(value)) }
        header += fingerprintBytes
        try file.overwrite(header, at: 0)
        try file.commit()
    }
}

/// A mapped, validated cache file.
final class FrameCacheFile: Sendable {
    let mapped: MappedFile
    let frames: FrameSettings
    let entries: [CacheIndexEntry]
    let metadata: FrameCacheMetadata

    /// Opens and validates `path`; every structural problem is `.badCache` with its byte offset.
    init(path: String) throws {
        mapped = try MappedFile(path: path)
        func bad(_ offset: Int?, _ message: String) -> EventDataError {
            EventDataError(.badCache, file: path, byteOffset: offset, message: message)
        }
        let parsed: (FrameSettings, [CacheIndexEntry], FrameCacheMetadata) = try mapped.withBytes { bytes in
            guard bytes.count >= FrameCacheFormat.headerSize, bytes.hasBytes(FrameCacheFormat.magic) else {
                throw bad(0, "not a frame cache (bad magic or shorter than its header)")
            }
            guard bytes.le32(8) == FrameCacheFormat.version else {
                throw bad(8, "cache version \(bytes.le32(8)), this build reads \(FrameCacheFormat.version)")
            }
            let (t, c, h, w, classes) = (Int(bytes.le32(12)), Int(bytes.le32(16)), Int(bytes.le32(20)), Int(bytes.le32(24)), Int(bytes.le32(28)))
            guard t > 0, c == FrameSettings.channels, h > 0, w > 0, classes > 0 else { throw bad(12, "bad frame shape \(t)×\(c)×\(h)×\(w)") }
            let count = Int(bytes.le64(32))
            let indexOffset = Int(bytes.le64(40))
            let metadataOffset = Int(bytes.le64(48))
            let metadataLength = Int(bytes.le64(56))
            guard count >= 0, indexOffset >= FrameCacheFormat.headerSize,
                indexOffset + count * FrameCacheFormat.indexEntrySize <= metadataOffset,
                metadataOffset + metadataLength == bytes.count
            else { throw bad(32, "index or metadata offsets do not fit the file (\(bytes.count) bytes)") }
            let metadata: FrameCacheMetadata
            do {
                let json = Data(bytes: bytes.baseAddress! + metadataOffset, count: metadataLength)
                metadata = try JSONDecoder().decode(FrameCacheMetadata.self, from: json)
            } catch {
                throw bad(metadataOffset, "metadata does not decode: \(error)")
            }
            let values = t * c * h * w
            var entries: [CacheIndexEntry] = []
            entries.reserveCapacity(count)
            for i in 0..<count {
                let at = indexOffset + i * FrameCacheFormat.indexEntrySize
                let offset = Int(bytes.le64(at))
                let length = Int(bytes.le32(at + 8))
                guard let encoding = FrameEncoding(rawValue: bytes[at + 12]), let split = DatasetSplit(code: bytes[at + 13]) else {
                    throw bad(at, "sample \(i) has an unknown encoding or split")
                }
                let label = Int(bytes.le16(at + 14))
                guard label < classes, offset >= FrameCacheFormat.headerSize, offset + length <= indexOffset else {
                    throw bad(at, "sample \(i) has label \(label) or blob \(offset)+\(length) out of range")
                }
                if let problem = FrameBlob.validate(
                    UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), encoding: encoding, values: values)
                {
                    throw bad(offset, "sample \(i): \(problem)")
                }
                entries.append(CacheIndexEntry(offset: offset, length: length, encoding: encoding, split: split, label: label))
            }
            guard metadata.classNames.count == classes, metadata.origins.count == count, metadata.eventCounts.count == count,
                metadata.frames.timeSteps == t, metadata.frames.height == h, metadata.frames.width == w
            else { throw bad(metadataOffset, "metadata disagrees with the header") }
            guard hex(UnsafeRawBufferPointer(rebasing: bytes[64..<96])) == metadata.fingerprint else {
                throw bad(64, "header and metadata fingerprints differ")
            }
            return (metadata.frames, entries, metadata)
        }
        (frames, entries, metadata) = parsed
    }

    /// Decodes sample `index` (cache order) into `output`.
    func decode(_ index: Int, transform: FrameTransform, into output: UnsafeMutableBufferPointer<Float>) {
        let entry = entries[index]
        mapped.withBytes { bytes in
            FrameBlob.decode(
                UnsafeRawBufferPointer(rebasing: bytes[entry.offset..<(entry.offset + entry.length)]), encoding: entry.encoding,
                height: frames.height, width: frames.width, transform: transform, into: output)
        }
    }
}
