import ContentHash
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
package final class FrameCacheFile: Sendable {
    let mapped: MappedFile
    let frames: FrameSettings
    let entries: [CacheIndexEntry]
    let metadata: FrameCacheMetadata

    /// Opens and validates `path`; every structural problem is `.badCache` with its byte offset.
    package init(path: String) throws {
        mapped = try MappedFile(path: path)
        func bad(_ offset: Int?, _ message: String) -> EventDataError {
            EventDataError(.badCache, file: path, byteOffset: offset, message: message)
        }
        let parsed: (FrameSettings, [CacheIndexEntry], FrameCacheMetadata) = try mapped.withBytes { bytes in
            // Every number below comes from the file; each is range-checked before any arithmetic
            // uses it, and sums and products are checked, so a damaged cache is `.badCache`, never a trap.
            let reader = ByteReader(bytes, file: path)
            guard bytes.count >= FrameCacheFormat.headerSize, bytes.hasBytes(FrameCacheFormat.magic) else {
                throw bad(0, "not a frame cache (bad magic or shorter than its header)")
            }
            let version = try reader.le32(8)
            guard version == FrameCacheFormat.version else {
                throw bad(8, "cache version \(version), this build reads \(FrameCacheFormat.version)")
            }
            let shape = try stride(from: 12, to: 32, by: 4).map { Int(try reader.le32($0)) }
            let (t, c, h, w, classes) = (shape[0], shape[1], shape[2], shape[3], shape[4])
            guard (1...4096).contains(t), c == FrameSettings.channels, (1...4096).contains(h), (1...4096).contains(w),
                (1...65536).contains(classes)
            else { throw bad(12, "bad frame shape \(t)×\(c)×\(h)×\(w) or class count \(classes)") }
            // Offsets and lengths beyond the file are wrong whatever they are; Int(exactly:) keeps a
            // u64 ≥ 2⁶³ from trapping on conversion.
            func position(_ at: Int) throws -> Int {
                let raw = try reader.le64(at)
                guard let value = Int(exactly: raw), value <= bytes.count else {
                    throw bad(at, "offset or length \(raw) is past the end of the file (\(bytes.count) bytes)")
                }
                return value
            }
            let count = try position(32)
            let indexOffset = try position(40)
            let metadataOffset = try position(48)
            let metadataLength = try position(56)
            guard indexOffset >= FrameCacheFormat.headerSize, metadataOffset >= indexOffset,
                count <= (metadataOffset - indexOffset) / FrameCacheFormat.indexEntrySize,
                metadataLength == bytes.count - metadataOffset
            else { throw bad(32, "index or metadata offsets do not fit the file (\(bytes.count) bytes)") }
            let metadata: FrameCacheMetadata
            do {
                let json = Data(try reader.slice(metadataOffset, count: metadataLength))
                metadata = try JSONDecoder().decode(FrameCacheMetadata.self, from: json)
            } catch {
                throw bad(metadataOffset, "metadata does not decode: \(error)")
            }
            // At most 4096 · 2 · 4096 · 4096 = 2³⁷: no overflow.
            let values = t * c * h * w
            var entries: [CacheIndexEntry] = []
            entries.reserveCapacity(count)
            for i in 0..<count {
                let at = indexOffset + i * FrameCacheFormat.indexEntrySize
                let offset = try position(at)
                let length = Int(try reader.le32(at + 8))
                guard let encoding = FrameEncoding(rawValue: try reader.u8(at + 12)),
                    let split = DatasetSplit(code: try reader.u8(at + 13))
                else {
                    throw bad(at, "sample \(i) has an unknown encoding or split")
                }
                let label = Int(try reader.le16(at + 14))
                guard label < classes, offset >= FrameCacheFormat.headerSize, length <= indexOffset - offset else {
                    throw bad(at, "sample \(i) has label \(label) or blob \(offset)+\(length) out of range")
                }
                if let problem = try FrameBlob.validate(
                    ByteReader(try reader.slice(offset, count: length), file: path), encoding: encoding, values: values)
                {
                    throw bad(offset, "sample \(i): \(problem)")
                }
                entries.append(CacheIndexEntry(offset: offset, length: length, encoding: encoding, split: split, label: label))
            }
            guard metadata.classNames.count == classes, metadata.origins.count == count, metadata.eventCounts.count == count,
                metadata.frames.timeSteps == t, metadata.frames.height == h, metadata.frames.width == w
            else { throw bad(metadataOffset, "metadata disagrees with the header") }
            guard ContentHash.hex(try reader.slice(64, count: 32)) == metadata.fingerprint else {
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
