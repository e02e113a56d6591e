import Quantization
import Testing

struct BitPackingTests {
    @Test(arguments: 2...8)
    func roundTripsEveryWidthAndOddSizes(bits: Int) throws {
        var rng = SeededGeneratorShim(seed: UInt64(bits))
        for count in [0, 1, 2, 3, 7, 8, 9, 13, 31, 1001] {
            let codes = (0..<count).map { _ in UInt32(rng.below(1 << bits)) }
            let packed = BitPacking.pack(codes, bits: bits)
            #expect(packed.count == (count * bits + 7) / 8)
            #expect(try BitPacking.unpack(packed, count: count, bits: bits) == codes)
        }
    }

    @Test func layoutIsLeastSignificantBitFirst() throws {
        // Three 3-bit codes 0b101, 0b011, 0b110 -> bits (LSB first): 101 110 011 -> byte0 = 0b10_011_101... see below.
        let packed = BitPacking.pack([0b101, 0b011, 0b110], bits: 3)
        // stream bits 0-2 = 101 (code 0), 3-5 = 011 (code 1), 6-8 = 110 (code 2)
        // byte0 = bit7..bit0 = [code2 bit1, code2 bit0, code1 bits 2..0, code0 bits 2..0] = 1 0 011 101
        #expect(packed == [0b1001_1101, 0b0000_0001])
        #expect(BitPacking.pack([0xF, 0x1], bits: 4) == [0x1F])
    }

    @Test func shortInputIsAnError() {
        #expect(throws: BitPackingError.self) { try BitPacking.unpack([0xFF], count: 3, bits: 3) }
    }
}
