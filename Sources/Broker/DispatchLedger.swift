import Wire

/// What the broker remembers about dispatches that are no longer held by a live worker session:
/// lost ones, with the worker they were given to (only that worker's late FINAL may still complete
/// them, once), and finished ones (repeats are dropped, or answered with ACK once acknowledged).
///
/// Both memories are bounded; the oldest entries are forgotten first.
struct DispatchLedger {
    struct Lost {
        var owner: WorkerID
        var request: EvaluationRequest
    }

    private(set) var lost: [DispatchID: Lost] = [:]
    private var lostOrder: [DispatchID] = []
    /// Finished dispatches and whether the owner acknowledged them.
    private var finished: [DispatchID: Bool] = [:]
    private var finishedOrder: [DispatchID] = []
    private var finishedHead = 0
    private var lostHead = 0
    let lostCapacity: Int
    let finishedCapacity: Int

    init(lostCapacity: Int, finishedCapacity: Int) {
        self.lostCapacity = max(1, lostCapacity)
        self.finishedCapacity = max(1, finishedCapacity)
    }

    func isFinished(_ id: DispatchID) -> Bool { finished[id] != nil }

    func isAcknowledged(_ id: DispatchID) -> Bool { finished[id] == true }

    /// The worker a lost dispatch was given to, if this broker remembers it.
    func owner(of id: DispatchID) -> WorkerID? { lost[id]?.owner }

    mutating func markLost(_ id: DispatchID, owner: WorkerID, request: EvaluationRequest?) {
        guard finished[id] == nil, let request else { return }
        if lost.updateValue(Lost(owner: owner, request: request), forKey: id) == nil { lostOrder.append(id) }
        while lost.count > lostCapacity, lostHead < lostOrder.count {
            lost[lostOrder[lostHead]] = nil
            lostHead += 1
        }
        compact(&lostOrder, &lostHead)
    }

    /// Removes a lost dispatch its own worker re-attached; returns its request. Nil (and nothing
    /// removed) when the dispatch belongs to another worker or is unknown.
    mutating func reclaim(_ id: DispatchID, by worker: WorkerID) -> EvaluationRequest? {
        guard let entry = lost[id], entry.owner == worker else { return nil }
        lost[id] = nil
        return entry.request
    }

    mutating func markFinished(_ id: DispatchID) {
        lost[id] = nil
        guard finished.updateValue(finished[id] ?? false, forKey: id) == nil else { return }
        finishedOrder.append(id)
        while finished.count > finishedCapacity, finishedHead < finishedOrder.count {
            finished[finishedOrder[finishedHead]] = nil
            finishedHead += 1
        }
        compact(&finishedOrder, &finishedHead)
    }

    /// The owner committed the dispatch's FINAL.
    mutating func markAcknowledged(_ id: DispatchID) {
        markFinished(id)
        if finished[id] != nil { finished[id] = true }
    }

    /// Drops the consumed prefix of a FIFO once it is large, so the arrays stay bounded.
    private func compact(_ order: inout [DispatchID], _ head: inout Int) {
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
