/// The multi-fidelity schedule: every candidate starts at the lowest rung's fine-tune budget; the
/// best 1/η at a rung are promoted to the next (Li et al.'s ASHA; Schmucker et al.'s multi-objective
/// ranking, MO-ASHA).
public struct FidelitySchedule: Codable, Hashable, Sendable {
    /// Fine-tune steps per rung, strictly increasing. The last one is full fidelity: only results at
    /// it enter the Pareto front and the hypervolume.
    public var rungs: [Int]
    /// Promotion ratio: the top 1/η of a rung's results may move up.
    public var eta: Int
    /// Knapsack seeds start at the top rung instead of the lowest. The lower rungs exist to screen
    /// guesses cheaply; a knapsack seed is already the sensitivity model's optimum at its energy
    /// budget, and only top-rung results count towards the front, so screening it first would
    /// delay the front's first points (and cost the continuation anyway if it is promoted).
    /// Nil or false: every candidate starts at the lowest rung.
    public var knapsackSeedsAtTop: Bool?

    public init(rungs: [Int], eta: Int = 3, knapsackSeedsAtTop: Bool = false) {
        self.rungs = rungs
        self.eta = eta
        self.knapsackSeedsAtTop = knapsackSeedsAtTop ? true : nil
    }

    /// The rung a new candidate of `origin` is first evaluated at.
    public func entryRung(for origin: CandidateOrigin) -> Int {
        origin == .knapsack && knapsackSeedsAtTop == true ? topRung : 0
    }

    /// One rung: every candidate at full fidelity at once.
    public static func single(steps: Int) -> FidelitySchedule { FidelitySchedule(rungs: [steps], eta: 3) }

    public var topRung: Int { rungs.count - 1 }
    public var isMultiFidelity: Bool { rungs.count > 1 }

    public func validate() throws(SearchError) {
        guard !rungs.isEmpty else { throw .invalidParameters("fidelity needs at least one rung") }
        guard rungs.allSatisfy({ $0 >= 0 }) else { throw .invalidParameters("fidelity rungs must be non-negative step counts") }
        guard zip(rungs, rungs.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidParameters("fidelity rungs \(rungs) must be strictly increasing")
        }
        guard eta >= 2 else { throw .invalidParameters("fidelity eta must be at least 2") }
    }
}

/// Which candidate to promote next, decided asynchronously whenever a worker is free.
///
/// A rung's results are ranked by non-domination level, then crowding distance (larger first), the
/// NSGA-II order, under constrained domination; results at different rungs are never compared. A
/// candidate is promotable from rung k when it is among the top ⌊n_k / η⌋ of the n_k results at rung k,
/// has not been promoted from it yet, and fewer than ⌊n_k / η⌋ candidates have been promoted from rung
/// k so far. Higher rungs are served first, so candidates finish rather than pile up at the bottom.
/// Nothing waits for a rung to fill.
///
/// The last condition is a strict quota. Plain asynchronous ASHA checks only the first two, and under
/// Pareto ranking the top of a rung churns with every result (crowding distances move), so it
/// promoted half of all candidates where 1/η was meant (15–17 of 30 in the benchmark, η = 3). With the
/// quota, at most ⌊n_k / η⌋ of a rung's n_k results ever move up.
public struct RungLadder: Codable, Hashable, Sendable {
    public let schedule: FidelitySchedule
    /// Per rung: results in arrival order.
    public private(set) var results: [[RungResult]]
    /// Per rung: hashes promoted from it (their next rung is in flight or done).
    private var promoted: [Set<String>]

    public struct RungResult: Codable, Hashable, Sendable {
        public var hash: String
        public var fitness: Fitness
    }

    public init(schedule: FidelitySchedule) {
        self.schedule = schedule
        results = Array(repeating: [], count: schedule.rungs.count)
        promoted = Array(repeating: [], count: schedule.rungs.count)
    }

    /// Records a candidate's result at `rung` (a repeated report replaces the earlier one).
    public mutating func record(_ hash: String, rung: Int, fitness: Fitness) {
        precondition(results.indices.contains(rung), "rung \(rung) is outside the schedule")
        if let index = results[rung].firstIndex(where: { $0.hash == hash }) {
            results[rung][index].fitness = fitness
        } else {
            results[rung].append(RungResult(hash: hash, fitness: fitness))
        }
    }

    /// The highest rung at which `hash` has a result.
    public func highestRung(of hash: String) -> Int? {
        results.indices.last { rung in results[rung].contains { $0.hash == hash } }
    }

    public func result(of hash: String, at rung: Int) -> Fitness? {
        results[rung].first { $0.hash == hash }?.fitness
    }

    /// Whether `hash` was promoted out of `rung`.
    public func wasPromoted(_ hash: String, from rung: Int) -> Bool { promoted[rung].contains(hash) }

    /// Picks the next promotion and marks it taken: the best-ranked promotable candidate of the
    /// highest rung that has one. Nil when no rung has one (then start a new candidate).
    public mutating func nextPromotion() -> (hash: String, toRung: Int)? {
        for rung in stride(from: schedule.topRung - 1, through: 0, by: -1) {
            if let hash = promotable(at: rung).first {
                promoted[rung].insert(hash)
                return (hash, rung + 1)
            }
        }
        return nil
    }

    /// Candidates that may be promoted from `rung`, best first.
    public func promotable(at rung: Int) -> [String] {
        let entries = results[rung]
        let quota = entries.count / schedule.eta
        let remaining = quota - promoted[rung].count
        guard remaining > 0 else { return [] }
        let unpromoted = Self.ranked(entries).prefix(quota).map { entries[$0].hash }.filter { !promoted[rung].contains($0) }
        return Array(unpromoted.prefix(remaining))
    }

    /// Indices of `entries` in NSGA-II order: front, then crowding distance descending, then arrival.
    static func ranked(_ entries: [RungResult]) -> [Int] {
        let fronts = ParetoRanking.fronts(entries.map(\.fitness))
        var order: [Int] = []
        for front in fronts {
            let crowding = ParetoRanking.crowdingDistance(front.map { entries[$0].fitness.objectives })
            let sorted = front.indices.sorted { crowding[$0] != crowding[$1] ? crowding[$0] > crowding[$1] : front[$0] < front[$1] }
            order += sorted.map { front[$0] }
        }
        return order
    }
}
