/// The compact encoding of one sample's frame counts in the cache.
///
/// Each sample picks the smallest of: dense `u8` (every count ≤ 255), dense `u16` (≤ 65535), sparse
/// (`u32` flat index array then `u16` count array, for mostly empty frames), and the fallbacks dense
/// `u32` and sparse `u32`. A 32×32, T = 8 synthetic gesture sample is typically a few KB; a 128×128,
/// T = 16 CIFAR10-DVS sample stays well under the 1 MB of dense floats.
public enum FrameEncoding: UInt8, CaseIterable, Hashable, Sendable {
    case dense8 = 0
    case dense16 = 1
    case sparse16 = 2
    case dense32 = 3
    case sparse32 = 4
}

/// Augmentation applied while a sample is decoded: a horizontal flip, then a shift by `(dx, dy)` input
/// pixels with zero fill (what torchvision's affine translate with `fill=0` does to a frame).
public struct FrameTransform: Hashable, Sendable {
    public var flip: Bool
    public var dx: Int
    public var dy: Int

    public init(flip: Bool = false, dx: Int = 0, dy: Int = 0) {
        self.flip = flip
        self.dx = dx
        self.dy = dy
    }

    public static let identity = FrameTransform()
    public var isIdentity: Bool { !flip && dx == 0 && dy == 0 }
}

package enum FrameBlob {
    /// Encodes `counts` in the smallest encoding.
    package static func encode(_ counts: [UInt32]) -> (encoding: FrameEncoding, bytes: [UInt8]) {
        var maximum: UInt32 = 0
        var nonZero = 0
        for value in counts {
            maximum = max(maximum, value)
            nonZero &+= value != 0 ? 1 : 0
        }
        let n = counts.count
        var options: [(FrameEncoding, Int)] = []
        if maximum <= 0xFF { options.append((.dense8, n)) }
        if maximum <= 0xFFFF {
            options.append((.dense16, 2 * n))
            options.append((.sparse16, 6 * nonZero))
        }
        options.append((.dense32, 4 * n))
        options.append((.sparse32, 8 * nonZero))
        let encoding = options.min { $0.1 < $1.1 }!.0
        var out = [UInt8]()
        switch encoding {
        case .dense8:
            out = counts.map { UInt8($0) }
        case .dense16:
            out.reserveCapacity(2 * n)
            for value in counts { appendLE(&out, UInt16(value)) }
        case .dense32:
            out.reserveCapacity(4 * n)
            for value in counts { appendLE(&out, value) }
        case .sparse16, .sparse32:
            out.reserveCapacity(nonZero * (encoding == .sparse16 ? 6 : 8))
            for (i, value) in counts.enumerated() where value != 0 { appendLE(&out, UInt32(i)) }
            for value in counts where value != 0 {
                if encoding == .sparse16 { appendLE(&out, UInt16(value)) } else { appendLE(&out, value) }
            }
        }
        return (encoding, out)
    }

    /// Checks that `bytes` can be decoded as `encoding` into `values` floats; returns a reason if not.
    /// ``decode(_:encoding:height:width:transform:into:)`` relies on this having passed.
    static func validate(_ bytes: ByteReader, encoding: FrameEncoding, values: Int) throws -> String? {
        switch encoding {
        case .dense8: return bytes.count == values ? nil : "dense u8 blob of \(bytes.count) bytes for \(values) values"
        case .dense16: return bytes.count == 2 * values ? nil : "dense u16 blob of \(bytes.count) bytes for \(values) values"
        case .dense32: return bytes.count == 4 * values ? nil : "dense u32 blob of \(bytes.count) bytes for \(values) values"
        case .sparse16, .sparse32:
            let entry = encoding == .sparse16 ? 6 : 8
            guard bytes.count % entry == 0 else { return "sparse blob of \(bytes.count) bytes is not whole entries" }
            let entries = bytes.count / entry
            for k in 0..<entries {
                let index = try bytes.le32(4 * k)
                if Int(index) >= values { return "sparse index \(index) ≥ \(values)" }
            }
            return nil
        }
    }

    /// Decodes into `output` (`T·2·H·W` floats), applying `transform` per `H × W` plane.
    ///
    /// - Precondition: `bytes` passed ``validate(_:encoding:values:)`` for `output.count` values (the
    ///   cache checks every blob when it opens the file). The loads below stay inside the blob because
    ///   of that; the preconditions hold the invariant in release builds at one check per blob (dense)
    ///   or per stored value (sparse).
    package static func decode(
        _ bytes: UnsafeRawBufferPointer, encoding: FrameEncoding, height: Int, width: Int,
        transform: FrameTransform, into output: UnsafeMutableBufferPointer<Float>
    ) {
        let plane = height * width
        let n = output.count
        switch encoding {
        case .dense8: precondition(bytes.count == n, "dense u8 blob does not fit the sample")
        case .dense16: precondition(bytes.count == 2 * n, "dense u16 blob does not fit the sample")
        case .dense32: precondition(bytes.count == 4 * n, "dense u32 blob does not fit the sample")
        case .sparse16: precondition(bytes.count % 6 == 0, "sparse blob is not whole entries")
        case .sparse32: precondition(bytes.count % 8 == 0, "sparse blob is not whole entries")
        }
        precondition(plane > 0 && n % plane == 0, "output is not whole planes")
        @inline(__always) func sparseIndex(_ k: Int) -> Int {
            let index = Int(bytes.le32(4 * k))
            precondition(index < n, "sparse index past the sample")
            return index
        }
        if transform.isIdentity {
            switch encoding {
            case .dense8: for i in 0..<n { output[i] = Float(bytes[i]) }
            case .dense16: for i in 0..<n { output[i] = Float(bytes.le16(2 * i)) }
            case .dense32: for i in 0..<n { output[i] = Float(bytes.le32(4 * i)) }
            case .sparse16, .sparse32:
                output.update(repeating: 0)
                let wide = encoding == .sparse32
                let entries = bytes.count / (wide ? 8 : 6)
                let valuesAt = 4 * entries
                for k in 0..<entries {
                    let value = wide ? Float(bytes.le32(valuesAt + 4 * k)) : Float(bytes.le16(valuesAt + 2 * k))
                    output[sparseIndex(k)] = value
                }
            }
            return
        }
        output.update(repeating: 0)
        let (flip, dx, dy) = (transform.flip, transform.dx, transform.dy)
        @inline(__always) func place(_ index: Int, _ value: Float) {
            let p = index / plane
            let r = index - p * plane
            let y = r / width + dy
            let x = (flip ? width - 1 - r % width : r % width) + dx
            if y >= 0, y < height, x >= 0, x < width { output[p * plane + y * width + x] = value }
        }
        switch encoding {
        case .dense8: shiftDense(bytes, UInt8.self, height: height, width: width, transform: transform, into: output)
        case .dense16: shiftDense(bytes, UInt16.self, height: height, width: width, transform: transform, into: output)
        case .dense32: shiftDense(bytes, UInt32.self, height: height, width: width, transform: transform, into: output)
        case .sparse16, .sparse32:
            let wide = encoding == .sparse32
            let entries = bytes.count / (wide ? 8 : 6)
            let valuesAt = 4 * entries
            for k in 0..<entries {
                let value = wide ? Float(bytes.le32(valuesAt + 4 * k)) : Float(bytes.le16(valuesAt + 2 * k))
                place(sparseIndex(k), value)
            }
        }
    }

    /// Dense decode with a flip and shift: row by row, the valid source columns move as a block.
    @inline(__always)
    private static func shiftDense<T: FixedWidthInteger>(
        _ bytes: UnsafeRawBufferPointer, _: T.Type, height: Int, width: Int, transform: FrameTransform,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        let plane = height * width
        let size = MemoryLayout<T>.size
        let (flip, dx, dy) = (transform.flip, transform.dx, transform.dy)
        let low = max(0, -dx)
        let high = min(width, width - dx)
        guard low < high else { return }
        for p in 0..<(output.count / plane) {
            for y in max(0, -dy)..<min(height, height - dy) {
                let source = p * plane + y * width
                let target = p * plane + (y + dy) * width + dx
                if flip {
                    for f in low..<high {
                        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: (source + width - 1 - f) * size, as: T.self))
                        output[target + f] = Float(value)
                    }
                } else {
                    for f in low..<high {
                        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: (source + f) * size, as: T.self))
                        output[target + f] = Float(value)
                    }
                }
            }
        }
    }
}

/// Loads from a blob ``FrameBlob/validate(_:encoding:values:)`` accepted (in range by that check).
extension UnsafeRawBufferPointer {
    @inline(__always)
    fileprivate func le16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    fileprivate func le32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
