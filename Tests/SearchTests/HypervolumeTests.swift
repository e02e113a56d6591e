import Search
import Seeding
import Testing
import TestSupport

struct HypervolumeTests {
    @Test func twoDimensionalByHand() {
        #expect(Hypervolume.of([[1, 3], [2, 1]], reference: [4, 4]) == 7)
        // Dominated points and duplicates change nothing; points beyond the reference count zero.
        #expect(Hypervolume.of([[1, 3], [2, 1], [3, 3], [2, 1], [5, 0], [0, 4]], reference: [4, 4]) == 7)
        #expect(Hypervolume.of([], reference: [1, 1]) == 0)
        #expect(Hypervolume.of([[0.5]], reference: [2]) == 1.5)
    }

    @Test func threeDimensionalByHand() {
        #expect(Hypervolume.of([[0, 0, 0]], reference: [1, 2, 3]) == 6)
        // Boxes [0,2)²×[1,2) and [1,2)²×[0,2) overlap in [1,2)³: 4 + 2 − 1.
        #expect(Hypervolume.of([[0, 0, 1], [1, 1, 0]], reference: [2, 2, 2]) == 5)
        // Three boxes of 0.25 in the unit cube; each pair overlaps in [½,1)³ (0.125), as do all three:
        // 3 × 0.25 − 3 × 0.125 + 0.125.
        #expect(isClose(Hypervolume.of([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], reference: [1, 1, 1]), 0.5))
    }

    @Test(arguments: [2, 3, 4])
    func matchesBruteForce(dimension: Int) {
        var rng = SeededGenerator(seed: UInt64(dimension))
        for trial in 0..<30 {
            let count = 1 + trial % 9
            let points = (0..<count).map { _ in (0..<dimension).map { _ in rng.nextUnitDouble() * 1.1 } }
            let reference = [Double](repeating: 1, count: dimension)
            let exact = Hypervolume.of(points, reference: reference)
            let brute = Fixtures.bruteForceHypervolume(points, reference: reference)
            #expect(isClose(exact, brute, relative: 1e-12, absolute: 1e-12), "trial \(trial): \(exact) vs \(brute)")
        }
    }
}
