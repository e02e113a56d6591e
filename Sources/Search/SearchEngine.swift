import QuantConfig

/// What a run's search does when a worker is free, and what it makes of results: the steady-state
/// NSGA-II (or random proposals) for new candidates, the rung ladder for promotions. Everything the
/// coordinator needs to save for an exact resume is in this one `Codable` value.
public struct SearchEngine: Codable, Sendable {
    /// How new configurations are proposed.
    public enum Proposals: String, Codable, Hashable, Sendable {
        /// Seeds, then the initial random population, then children (NSGA-II).
        case evolutionary
        /// Uniformly random unseen configurations, nothing else (the benchmark's floor).
        case random
        /// Only the seeds given to it (e.g. a supernet's derived configurations); then nothing.
        case seedsOnly = "seeds-only"
    }

    /// One unit of work for a free worker.
    public enum Work: Hashable, Sendable {
        /// A new candidate, evaluated at its entry rung (``FidelitySchedule/entryRung(for:)``).
        case evaluate(Proposal)
        /// An evaluated candidate, continued to a higher rung.
        case promote(hash: String, toRung: Int)
    }

    public private(set) var nsga2: SteadyStateNSGA2
    public private(set) var ladder: RungLadder
    public let proposals: Proposals

    public init(nsga2: SteadyStateNSGA2, fidelity: FidelitySchedule, proposals: Proposals = .evolutionary) throws(SearchError) {
        try fidelity.validate()
        self.nsga2 = nsga2
        self.ladder = RungLadder(schedule: fidelity)
        self.proposals = proposals
    }

    public var fidelity: FidelitySchedule { ladder.schedule }
    public var front: [FrontPoint] { nsga2.front }
    public var hypervolume: Double { nsga2.hypervolume }
    /// Whether some candidate may be promoted now.
    public var hasPromotion: Bool { (0..<fidelity.topRung).contains { !ladder.promotable(at: $0).isEmpty } }
    public var isExhausted: Bool { proposals == .seedsOnly ? nsga2.pendingSeeds.isEmpty : nsga2.isExhausted }

    /// Promotions first (so candidates reach full fidelity rather than pile up at the bottom), then a
    /// new candidate if `allowNew`; nil when there is nothing to do.
    public mutating func next(allowNew: Bool = true, allowPromotion: Bool = true) -> Work? {
        if allowPromotion, let promotion = ladder.nextPromotion() { return .promote(hash: promotion.hash, toRung: promotion.toRung) }
        guard allowNew else { return nil }
        let proposal: Proposal?
        switch proposals {
        case .evolutionary: proposal = nsga2.ask()
        case .random: proposal = nsga2.askRandom()
        case .seedsOnly: proposal = nsga2.pendingSeeds.isEmpty ? nil : nsga2.ask()
        }
        return proposal.map(Work.evaluate)
    }

    /// Records a result of `hash` at `rung`: the ladder ranks it among its rung; the NSGA-II takes
    /// it (population and, at the top rung only, front and hypervolume).
    @discardableResult
    public mutating func record(_ hash: String, config: QuantizationConfig, rung: Int, fitness: Fitness) throws(SearchError) -> TellReport {
        guard (0...fidelity.topRung).contains(rung) else { throw .invalidFitness(hash: hash, reason: "rung \(rung) is outside the schedule") }
        let onFront = rung == fidelity.topRung
        // The first result of a candidate is one the NSGA-II still holds in flight (or gave up on);
        // any later one comes from a promotion.
        let isFirst = nsga2.inFlight.contains { $0.hash == hash } || nsga2.failed.contains { $0.hash == hash }
        let report =
            isFirst
            ? try nsga2.tell(hash, fitness: fitness, onFront: onFront) : try nsga2.tellPromoted(hash, config: config, fitness: fitness, onFront: onFront)
        ladder.record(hash, rung: rung, fitness: fitness)
        return report
    }

    /// `hash` will get no result at `rung`: at the lowest rung the candidate is failed for the
    /// search; a promotion that failed is simply lost (the candidate keeps its lower-rung result).
    public mutating func recordFailure(_ hash: String, rung: Int) throws(SearchError) {
        if rung == 0 { try nsga2.tellFailure(hash) }
    }

    /// Queues configurations to propose next (see ``SteadyStateNSGA2/addSeeds(_:origin:)``).
    @discardableResult
    public mutating func addSeeds(_ configs: [QuantizationConfig], origin: CandidateOrigin) -> Int {
        nsga2.addSeeds(configs, origin: origin)
    }

    /// Gives the search a sensitivity table that arrived after it started (computed by a worker):
    /// knapsack seeds are queued first, and the surrogate uses the table's predictions as features.
    @discardableResult
    public mutating func adopt(_ sensitivity: SensitivityTable, knapsackSeeds count: Int) -> Int {
        nsga2.adopt(sensitivity)
        let seeds = sensitivity.knapsackSeeds(in: nsga2.space, count: count).map { nsga2.space.config(of: $0) }
        return nsga2.addSeeds(seeds, origin: .knapsack)
    }
}
