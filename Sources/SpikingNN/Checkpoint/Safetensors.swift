public import Foundation
public import Tensor

/// Element types of the safetensors format.
public enum SafetensorsDType: String, Sendable, CaseIterable, Codable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32", u64 = "U64", i64 = "I64"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8: 1
        case .u16, .i16, .f16, .bf16: 2
        case .u32, .i32, .f32: 4
        case .u64, .i64, .f64: 8
        }
    }
}

/// One tensor of a safetensors file: type, shape and raw little-endian bytes.
public struct SafetensorsTensor: Sendable, Hashable {
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * dtype.byteSize == bytes.count,
                     "safetensors: \(bytes.count) bytes do not hold \(shape) × \(dtype.rawValue)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 tensor.
    public init(_ tensor: Tensor) {
        dtype = .f32
        shape = tensor.shape
        bytes = tensor.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
    }

    /// A U8 tensor (e.g. bit-packed weights).
    public init(u8 values: [UInt8], shape: [Int]) { self.init(dtype: .u8, shape: shape, bytes: values) }
    /// An I32 tensor.
    public init(i32 values: [Int32], shape: [Int]) {
        self.init(dtype: .i32, shape: shape, bytes: values.flatMap { Self.littleEndianBytes(UInt32(bitPattern: $0)) })
    }
    /// An I64 tensor.
    public init(i64 values: [Int64], shape: [Int]) {
        self.init(dtype: .i64, shape: shape, bytes: values.flatMap { Self.littleEndianBytes(UInt64(bitPattern: $0)) })
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values as Float (F32 exactly; F16, BF16, F64 and integer types converted).
    public func floatTensor() -> Tensor {
        var tensor = Tensor(uninitializedShape: shape)
        tensor.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBytes { raw in
                for i in 0..<elementCount { out[i] = Self.float(raw, at: i, dtype: dtype) }
            }
        }
        return tensor
    }

    /// The values of an integer or boolean tensor as Int64.
    public func integers() -> [Int64]? {
        guard ![.f16, .bf16, .f32, .f64].contains(dtype) else { return nil }
        return bytes.withUnsafeBytes { raw in
            (0..<elementCount).map { i in
                switch dtype {
                case .bool, .u8: Int64(raw[i])
                case .i8: Int64(Int8(bitPattern: raw[i]))
                case .u16: Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .i16: Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .u32: Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .i32: Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .u64: Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case .i64: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                default: 0
                }
            }
        }
    }

    private static func float(_ raw: UnsafeRawBufferPointer, at i: Int, dtype: SafetensorsDType) -> Float {
        switch dtype {
        case .f32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f64: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        case .bf16:
            let bits = UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16
            return Float(bitPattern: bits)
        case .f16: return halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .bool, .u8: return Float(raw[i])
        case .i8: return Float(Int8(bitPattern: raw[i]))
        case .u16: return Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .i16: return Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case .u32: return Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .i32: return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .u64: return Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        case .i64: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        }
    }

    private static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = (h & 0x8000) != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = Float(h & 0x3FF)
        switch exponent {
        case 0: return sign * mantissa * 0x1p-24
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// A safetensors file read or written failed; names the file and the byte offset.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var offset: Int
    public var message: String

    public var description: String { "\(file): byte \(offset): \(message)" }
}

/// A safetensors document: named tensors plus string metadata.
///
/// Layout: an 8-byte little-endian header length n, n bytes of JSON
/// (`{"__metadata__": {…strings…}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, …}`),
/// then the tensor data, offsets relative to the end of the header. Files we write have their
/// tensors contiguous in insertion order and the header padded with spaces to a multiple of 8
/// bytes, as Python's `safetensors` does; Python reads them back.
public struct SafetensorsDocument: Sendable {
    public var metadata: [String: String]
    /// Tensor names in file order.
    public private(set) var names: [String] = []
    public private(set) var tensors: [String: SafetensorsTensor] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds or replaces a tensor.
    public mutating func set(_ name: String, _ tensor: SafetensorsTensor) {
        precondition(name != "__metadata__", "safetensors: `__metadata__` is reserved")
        if tensors[name] == nil { names.append(name) }
        tensors[name] = tensor
    }

    public subscript(name: String) -> SafetensorsTensor? { tensors[name] }

    /// The serialised file.
    public func serialized() -> [UInt8] {
        var entries: [String: Any] = [:]
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            entries[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]] as [String: Any]
            offset += t.bytes.count
        }
        var header = try! JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .withoutEscapingSlashes])
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for name in names { out.append(contentsOf: tensors[name]!.bytes) }
        return out
    }

    /// Writes the file atomically.
    public func write(to url: URL) throws {
        do {
            try Data(serialized()).write(to: url, options: .atomic)
        } catch {
            throw SafetensorsError(file: url.path, offset: 0, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads a file.
    public static func read(contentsOf url: URL) throws -> SafetensorsDocument {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SafetensorsError(file: url.path, offset: 0, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, file: url.path)
    }

    /// Parses a file's bytes; `file` names it in errors.
    public static func parse(_ data: Data, file: String = "<safetensors>") throws -> SafetensorsDocument {
        func fail(_ offset: Int, _ message: String) -> SafetensorsError { SafetensorsError(file: file, offset: offset, message: message) }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail(0, "truncated: \(bytes.count) bytes, need at least the 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail(0, "header length \(headerLength) exceeds the \(bytes.count - 8) bytes after it (truncated file?)")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]), options: [])
        } catch {
            throw fail(8, "header is not valid JSON: \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else { throw fail(8, "header is not a JSON object") }
        var document = SafetensorsDocument()
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: Any] else { throw fail(8, "`__metadata__` is not an object") }
            for (key, value) in map {
                guard let text = value as? String else { throw fail(8, "`__metadata__.\(key)` is not a string") }
                document.metadata[key] = text
            }
        }
        let dataLength = bytes.count - headerEnd
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else { throw fail(8, "tensor `\(name)`: entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String, let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail(8, "tensor `\(name)`: unknown dtype \(entry["dtype"] ?? "nil")")
            }
            guard let shapeList = entry["shape"] as? [Any], let shape = integers(shapeList), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail(8, "tensor `\(name)`: shape is not a list of non-negative integers")
            }
            // More elements than data bytes can never fit; checked first so the byte count below cannot overflow.
            guard let count = Tensor.elementCount(of: shape), count <= dataLength else {
                throw fail(8, "tensor `\(name)`: shape \(shape) has more elements than the file's \(dataLength) data bytes")
            }
            guard let offsetList = entry["data_offsets"] as? [Any], let offsets = integers(offsetList), offsets.count == 2 else {
                throw fail(8, "tensor `\(name)`: data_offsets is not [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else { throw fail(8, "tensor `\(name)`: bad data_offsets [\(begin), \(end)]") }
            guard end <= dataLength else {
                throw fail(headerEnd + begin, "tensor `\(name)`: data [\(begin), \(end)) runs past the end of the file (\(dataLength) data bytes; truncated?)")
            }
            let expected = count * dtype.byteSize
            guard end - begin == expected else {
                throw fail(headerEnd + begin, "tensor `\(name)`: \(end - begin) bytes for shape \(shape) × \(dtype.rawValue) (need \(expected))")
            }
            spans.append((begin, end, name))
            document.tensors[name] = SafetensorsTensor(dtype: dtype, shape: shape, bytes: Array(bytes[(headerEnd + begin)..<(headerEnd + end)]))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for span in spans {
            guard span.begin >= covered else { throw fail(headerEnd + span.begin, "tensor `\(span.name)` overlaps the previous tensor") }
            covered = span.end
        }
        document.names = spans.map(\.name)
        return document
    }

    private static func integers(_ list: [Any]) -> [Int]? {
        var result: [Int] = []
        for item in list {
            if let n = item as? Int { result.append(n) } else if let d = item as? Double, d == d.rounded(), abs(d) < 1e15 {
                result.append(Int(d))
            } else { return nil }
        }
        return result
    }
}
