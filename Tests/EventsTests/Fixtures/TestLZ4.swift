/// A small LZ4 frame encoder written from the LZ4 frame and block format specifications
/// (lz4_Frame_format.md, lz4_Block_format.md), independent of liblz4, so the AEDAT 4 reader is tested
/// against frames liblz4 did not produce.
enum TestLZ4 {
    /// One frame: magic, FLG (version 01, independent blocks), BD (4 MB max block), header checksum,
    /// one block (compressed, or stored when `store`), end mark.
    static func frame(_ input: [UInt8], store: Bool = false) -> [UInt8] {
        var b = Bytes()
        b.le32(0x184D_2204)
        let descriptor: [UInt8] = [0x60, 0x70]
        b.raw(descriptor)
        b.u8(UInt8((xxh32(descriptor) >> 8) & 0xFF))
        if !input.isEmpty {
            if store {
                b.le32(input.count | Int(1 << 31))
                b.raw(input)
            } else {
                let block = compressBlock(input)
                b.le32(block.count)
                b.raw(block)
            }
        }
        b.le32(0)
        return b.data
    }

    /// Greedy LZ4 block: 4-byte hash matches, respecting the end-of-block rules (the last 5 bytes are
    /// literals, no match starts in the last 12 bytes).
    static func compressBlock(_ input: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        var table = [Int](repeating: -1, count: 1 << 12)
        var anchor = 0
        var i = 0
        let n = input.count
        func read32(_ p: Int) -> UInt32 {
            UInt32(input[p]) | UInt32(input[p + 1]) << 8 | UInt32(input[p + 2]) << 16 | UInt32(input[p + 3]) << 24
        }
        func hash(_ v: UInt32) -> Int { Int((v &* 2_654_435_761) >> 20) }
        func lengthBytes(_ value: Int) {
            var rest = value
            while rest >= 255 {
                out.append(255)
                rest -= 255
            }
            out.append(UInt8(rest))
        }
        while i + 12 < n {
            let value = read32(i)
            let h = hash(value)
            let candidate = table[h]
            table[h] = i
            if candidate >= 0, i - candidate <= 65535, read32(candidate) == value {
                var length = 4
                while i + length < n - 5, input[candidate + length] == input[i + length] { length += 1 }
                let literals = i - anchor
                let matchCode = length - 4
                out.append(UInt8(min(literals, 15) << 4 | min(matchCode, 15)))
                if literals >= 15 { lengthBytes(literals - 15) }
                out += input[anchor..<i]
                let offset = i - candidate
                out += [UInt8(offset & 0xFF), UInt8(offset >> 8)]
                if matchCode >= 15 { lengthBytes(matchCode - 15) }
                i += length
                anchor = i
            } else {
                i += 1
            }
        }
        let literals = n - anchor
        out.append(UInt8(min(literals, 15) << 4))
        if literals >= 15 { lengthBytes(literals - 15) }
        out += input[anchor..<n]
        return out
    }

    /// xxHash32 with seed 0 (for the frame header checksum).
    static func xxh32(_ input: [UInt8]) -> UInt32 {
        let p1: UInt32 = 0x9E37_79B1, p2: UInt32 = 0x85EB_CA77, p3: UInt32 = 0xC2B2_AE3D
        let p4: UInt32 = 0x27D4_EB2F, p5: UInt32 = 0x1656_67B1
        func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }
        func lane(_ p: Int) -> UInt32 {
            UInt32(input[p]) | UInt32(input[p + 1]) << 8 | UInt32(input[p + 2]) << 16 | UInt32(input[p + 3]) << 24
        }
        var i = 0
        var acc: UInt32
        if input.count >= 16 {
            var v1 = p1 &+ p2, v2 = p2, v3: UInt32 = 0, v4 = 0 &- p1
            while i + 16 <= input.count {
                v1 = rotl(v1 &+ lane(i) &* p2, 13) &* p1
                v2 = rotl(v2 &+ lane(i + 4) &* p2, 13) &* p1
                v3 = rotl(v3 &+ lane(i + 8) &* p2, 13) &* p1
                v4 = rotl(v4 &+ lane(i + 12) &* p2, 13) &* p1
                i += 16
            }
            acc = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        } else {
            acc = p5
        }
        acc = acc &+ UInt32(input.count)
        while i + 4 <= input.count {
            acc = rotl(acc &+ lane(i) &* p3, 17) &* p4
            i += 4
        }
        while i < input.count {
            acc = rotl(acc &+ UInt32(input[i]) &* p5, 11) &* p1
            i += 1
        }
        acc ^= acc >> 15
        acc = acc &* p2
        acc ^= acc >> 13
        acc = acc &* p3
        acc ^= acc >> 16
        return acc
    }
}

/// Crafted LZ4 frames, also written from the frame and block format specifications.
extension TestLZ4 {
    /// A frame whose descriptor declares `contentSize` (FLG bit 3; the 8-byte little-endian size follows
    /// BD and is covered by the header checksum), holding `input` as one stored block.
    static func frame(_ input: [UInt8], declaring contentSize: UInt64) -> [UInt8] {
        var b = Bytes()
        b.le32(0x184D_2204)
        var descriptor = Bytes()
        descriptor.raw([0x68, 0x70])
        descriptor.le64(Int64(bitPattern: contentSize))
        b.raw(descriptor.data)
        b.u8(UInt8((xxh32(descriptor.data) >> 8) & 0xFF))
        if !input.isEmpty {
            b.le32(input.count | Int(1 << 31))
            b.raw(input)
        }
        b.le32(0)
        return b.data
    }

    /// A decompression bomb: a frame that expands to `outputBytes` zero bytes at about 255:1. Each
    /// block (at most the 4 MiB the descriptor allows) is one literal, one match at offset 1 that
    /// repeats it (length in 255-byte extension steps), and the five closing literals the block format
    /// requires.
    static func bomb(outputBytes: Int) -> [UInt8] {
        var b = Bytes()
        b.le32(0x184D_2204)
        let descriptor: [UInt8] = [0x60, 0x70]
        b.raw(descriptor)
        b.u8(UInt8((xxh32(descriptor) >> 8) & 0xFF))
        var left = outputBytes
        while left > 0 {
            let size = min(left, 4 << 20)
            precondition(size >= 32, "a bomb block needs at least 32 output bytes")
            var block = Bytes()
            block.u8(0x1F)  // 1 literal, match length code 15
            block.u8(0)
            block.raw([1, 0])  // offset 1
            var rest = size - 6 - 4 - 15  // match length = size − 1 literal − 5 closing literals
            while rest >= 255 {
                block.u8(255)
                rest -= 255
            }
            block.u8(UInt8(rest))
            block.u8(0x50)  // 5 literals, no match
            block.raw([0, 0, 0, 0, 0])
            b.le32(block.count)
            b.raw(block.data)
            left -= size
        }
        b.le32(0)
        return b.data
    }
}
