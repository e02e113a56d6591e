import Wire

/// What the broker remembers about dispatches that are no longer held by a live worker session:
/// lost ones (a late FINAL may still complete them, once) and finished ones (repeats are dropped).
///
/// Both memories are bounded; the oldest entries are forgotten first.
struct DispatchLedger {
    private(set) var lost: [DispatchID: EvaluationRequest] = [:]
    private var lostOrder: [DispatchID] = []
    private var finished: Set<DispatchID> = []
    private var finishedOrder: [DispatchID] = []
    private var finishedHead = 0
    private var lostHead = 0
    let lostCapacity: Int
    let finishedCapacity: Int

    init(lostCapacity: Int, finishedCapacity: Int) {
        self.lostCapacity = max(1, lostCapacity)
        self.finishedCapacity = max(1, finishedCapacity)
    }

    func isFinished(_ id: DispatchID) -> Bool { finished.contains(id) }

    mutating func markLost(_ id: DispatchID, request: EvaluationRequest?) {
        guard !finished.contains(id), let request else { return }
        if lost.updateValue(request, forKey: id) == nil { lostOrder.append(id) }
        while lost.count > lostCapacity, lostHead < lostOrder.count {
            lost[lostOrder[lostHead]] = nil
            lostHead += 1
        }
        compact(&lostOrder, &lostHead)
    }

    /// Removes a lost dispatch (its worker re-attached it); returns its request if it was known.
    mutating func reclaim(_ id: DispatchID) -> EvaluationRequest? {
        lost.removeValue(forKey: id)
    }

    mutating func markFinished(_ id: DispatchID) {
        lost[id] = nil
        guard finished.insert(id).inserted else { return }
        finishedOrder.append(id)
        while finished.count > finishedCapacity, finishedHead < finishedOrder.count {
            finished.remove(finishedOrder[finishedHead])
            finishedHead += 1
        }
        compact(&finishedOrder, &finishedHead)
    }

    /// Drops the consumed prefix of a FIFO once it is large, so the arrays stay bounded.
    private func compact(_ order: inout [DispatchID], _ head: inout Int) {
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
