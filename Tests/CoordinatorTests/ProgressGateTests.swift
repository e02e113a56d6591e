import Coordinator
import Testing

struct ProgressGateTests {
    /// A study that does not keep up sheds progress beyond the capacity; what it consumes frees room.
    @Test func progressBeyondTheCapacityIsShedUntilTheStudyCatchesUp() {
        let gate = ProgressGate(capacity: 3)
        #expect((0..<5).map { _ in gate.admit() } == [true, true, true, false, false])
        #expect(gate.queued == 3 && gate.shed == 2)
        gate.consumed()
        #expect(gate.admit())
        #expect(!gate.admit())
        #expect(gate.shed == 3)
        for _ in 0..<10 { gate.consumed() }
        #expect(gate.queued == 0, "never below zero")
    }
}
