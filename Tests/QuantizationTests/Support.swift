import Seeding
import TestSupport

@_exported import TestSupport

/// Gaussian draws for test weights.
struct SeededGeneratorShim {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    mutating func gaussian() -> Float { generator.nextGaussian() }
    mutating func below(_ n: Int) -> Int { Int(generator.next() % UInt64(n)) }
}
