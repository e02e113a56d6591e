/// What a study knows about its workers: who is connected, who waits for work (in the order they
/// became free) and who is quarantined. Kept as one value so its rules hold in one place: an idle
/// worker is connected, and a quarantined worker is neither.
struct WorkerTable {
    private(set) var live: Set<String> = []
    /// Workers waiting for work, oldest first: after READY, or after a FINAL (18/MDP workers do not
    /// say READY again after one).
    private(set) var idle: [String] = []
    /// Workers whose results are refused, with the reason.
    private(set) var quarantined: [String: String] = [:]

    func isLive(_ worker: String) -> Bool { live.contains(worker) }
    func isIdle(_ worker: String) -> Bool { idle.contains(worker) }
    func quarantineReason(_ worker: String) -> String? { quarantined[worker] }

    /// The worker that has waited longest.
    var firstIdle: String? { idle.first }

    /// The worker is connected (a READY, or a re-attached attempt).
    mutating func connected(_ worker: String) { live.insert(worker) }

    /// The worker waits for work (no-op if it already does, or is quarantined).
    mutating func becameIdle(_ worker: String) {
        guard quarantined[worker] == nil, !idle.contains(worker) else { return }
        idle.append(worker)
    }

    /// The worker got work (or cannot take any now).
    mutating func becameBusy(_ worker: String) { idle.removeAll { $0 == worker } }

    /// The worker is gone (its link lost, its lease expired): neither connected nor idle.
    mutating func lost(_ worker: String) {
        live.remove(worker)
        becameBusy(worker)
    }

    /// The worker's results are refused from now on; it is treated as gone.
    mutating func quarantine(_ worker: String, reason: String) {
        quarantined[worker] = reason
        lost(worker)
    }
}
