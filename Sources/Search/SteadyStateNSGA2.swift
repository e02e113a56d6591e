import ContentHash
import Foundation
import QuantConfig
import Seeding

/// Settings of the steady-state NSGA-II.
public struct NSGA2Parameters: Codable, Hashable, Sendable {
    /// μ: evaluated candidates kept for selection. Independent of the number of workers.
    public var populationSize: Int
    /// Number of (minimised) objectives; 2 or 3 in practice.
    public var objectiveCount: Int
    /// Fixed hypervolume reference point, one entry per objective (see ``ObjectiveSpec``).
    public var referencePoint: [Double]
    public var variation: Variation
    /// How many times a duplicate child is re-mated before a random unseen configuration is used.
    public var rematingAttempts: Int
    /// Cost budgets for sensitivity-guided seeds (fractions of the widest configuration's cost).
    public var sensitivityBudgets: [Double]
    /// How many knapsack-optimal seeds to propose first when the sensitivity table has per-layer
    /// energies (see ``SensitivityTable/knapsackSeeds(in:count:resolution:)``); nil or 0: none.
    public var knapsackSeeds: Int?
    /// Surrogate screening of children; nil: every child is proposed as drawn.
    public var screening: SurrogateScreening?

    public init(
        populationSize: Int = 32, objectiveCount: Int = 2, referencePoint: [Double]? = nil, variation: Variation = Variation(),
        rematingAttempts: Int = 20, sensitivityBudgets: [Double] = [0.75, 0.5, 0.375], knapsackSeeds: Int? = nil,
        screening: SurrogateScreening? = nil
    ) {
        self.populationSize = populationSize
        self.objectiveCount = objectiveCount
        self.referencePoint = referencePoint ?? Array(repeating: 1, count: objectiveCount)
        self.variation = variation
        self.rematingAttempts = rematingAttempts
        self.sensitivityBudgets = sensitivityBudgets
        self.knapsackSeeds = knapsackSeeds
        self.screening = screening
    }

    public func validate() throws(SearchError) {
        guard populationSize >= 2 else { throw .invalidParameters("population size \(populationSize) must be at least 2") }
        guard objectiveCount >= 1 else { throw .invalidParameters("need at least one objective") }
        guard referencePoint.count == objectiveCount else {
            throw .invalidParameters("reference point has \(referencePoint.count) entries for \(objectiveCount) objectives")
        }
        guard referencePoint.allSatisfy(\.isFinite) else { throw .invalidParameters("reference point must be finite") }
        guard (0...1).contains(variation.crossoverRate) else { throw .invalidParameters("crossover rate must be in [0, 1]") }
        if let rate = variation.mutationRate, !(rate > 0 && rate <= 1) { throw .invalidParameters("mutation rate must be in (0, 1]") }
        let mix = variation.mix
        guard [mix.neighbour, mix.flipScheme, mix.resample].allSatisfy({ $0 >= 0 && $0.isFinite }),
            mix.neighbour + mix.flipScheme + mix.resample > 0
        else { throw .invalidParameters("mutation mix must be non-negative and not all zero") }
        guard rematingAttempts >= 0 else { throw .invalidParameters("remating attempts must be non-negative") }
        guard sensitivityBudgets.allSatisfy({ $0 > 0 && $0 <= 1 }) else { throw .invalidParameters("sensitivity budgets must be in (0, 1]") }
        guard (knapsackSeeds ?? 0) >= 0 else { throw .invalidParameters("knapsack seeds must be non-negative") }
        try screening?.validate()
    }
}

/// Where a proposed configuration came from.
public enum CandidateOrigin: String, Codable, Hashable, Sendable, CaseIterable {
    /// A uniform baseline (all-u8, all-u4, all-p4).
    case baseline
    /// Built from a sensitivity table at a cost budget (greedy).
    case sensitivity
    /// The multiple-choice knapsack optimum of the sensitivity table at an energy budget.
    case knapsack
    /// Derived by a Gumbel-softmax supernet at one energy weight λ.
    case supernet
    /// Child of two population members.
    case offspring
    /// Drawn uniformly from the unseen part of the space.
    case random
    /// Not a search candidate: the FP32 model fine-tuned with the candidates' recipe, the reference
    /// accuracy drops are measured against.
    case reference
    /// Not a configuration: a Gumbel-softmax supernet training job of the gumbel and hybrid
    /// strategies (its derived configuration becomes a candidate of origin ``supernet``).
    case supernetTraining = "supernet-training"
    /// Not a search candidate: a front member (or the fine-tuned reference, its only parent)
    /// fine-tuned again with another seed after the budget (`final.reseeds`), to show the spread
    /// that selecting the best of noisy evaluations hides.
    case reseed
}

/// A configuration the search wants evaluated.
public struct Proposal: Codable, Hashable, Sendable {
    /// ``QuantizationConfig/hash`` of ``config``: the candidate's identity in the search.
    public var hash: String
    public var genome: Genome
    public var config: QuantizationConfig
    public var origin: CandidateOrigin
    /// Hashes of the parents (offspring only).
    public var parents: [String]
}

/// An evaluated population member with its NSGA-II rank and crowding distance.
public struct Member: Codable, Hashable, Sendable {
    public var hash: String
    public var genome: Genome
    public var fitness: Fitness
    /// Front index within the population (0 = non-dominated).
    public var rank: Int
    /// Crowding distance within its front (larger = less crowded; +∞ at a front's extremes).
    public var crowding: Double
}

extension Member {
    private enum CodingKeys: String, CodingKey { case hash, genome, fitness, rank, crowding }

    // JSON has no infinity: an extreme point's crowding is stored as an absent value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hash = try container.decode(String.self, forKey: .hash)
        genome = try container.decode(Genome.self, forKey: .genome)
        fitness = try container.decode(Fitness.self, forKey: .fitness)
        rank = try container.decode(Int.self, forKey: .rank)
        crowding = try container.decodeIfPresent(Double.self, forKey: .crowding) ?? .infinity
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hash, forKey: .hash)
        try container.encode(genome, forKey: .genome)
        try container.encode(fitness, forKey: .fitness)
        try container.encode(rank, forKey: .rank)
        try container.encodeIfPresent(crowding.isFinite ? crowding : nil, forKey: .crowding)
    }
}

/// A point of the feasible non-dominated set over every evaluation so far (not only the population).
public struct FrontPoint: Codable, Hashable, Sendable {
    public var hash: String
    public var objectives: [Double]
}

/// Counters for the run log and the report.
public struct SearchStatistics: Codable, Hashable, Sendable {
    public var proposals = 0
    public var evaluations = 0
    public var failures = 0
    /// Children rejected because their configuration was already seen (then re-mated).
    public var duplicateChildren = 0
    /// Times re-mating gave up and a random unseen configuration was used instead.
    public var randomFallbacks = 0
    /// Results of promoted candidates at a higher fidelity (not counted in ``evaluations``).
    public var promotions = 0
    /// Children the surrogate screened out.
    public var screenedOut = 0

    public init() {}

    private enum CodingKeys: String, CodingKey { case proposals, evaluations, failures, duplicateChildren, randomFallbacks, promotions, screenedOut }

    // Counters added later decode as 0 from states saved before them.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        proposals = try c.decode(Int.self, forKey: .proposals)
        evaluations = try c.decode(Int.self, forKey: .evaluations)
        failures = try c.decode(Int.self, forKey: .failures)
        duplicateChildren = try c.decode(Int.self, forKey: .duplicateChildren)
        randomFallbacks = try c.decode(Int.self, forKey: .randomFallbacks)
        promotions = try c.decodeIfPresent(Int.self, forKey: .promotions) ?? 0
        screenedOut = try c.decodeIfPresent(Int.self, forKey: .screenedOut) ?? 0
    }
}

/// What one `tell` changed.
public struct TellReport: Hashable, Sendable {
    /// Whether the new member survived truncation to μ.
    public var keptInPopulation: Bool
    /// Whether the feasible non-dominated set changed (then the hypervolume may have grown).
    public var frontChanged: Bool
    public var hypervolume: Double
}

/// Steady-state (asynchronous) NSGA-II over per-layer quantization configurations.
///
/// ``ask()`` returns one new configuration whenever a worker is free: first the seeds (uniform
/// baselines, sensitivity-guided configs), then random ones until μ have been proposed, then children
/// of two binary-tournament winners (rank, then crowding distance) by crossover and mutation.
/// ``tell(_:fitness:)`` inserts each result at once and, above μ members, drops the member of the last
/// front with the smallest crowding distance, as LEAP's and jMetalPy's asynchronous NSGA-II do. Ranking
/// uses constrained domination, so infeasible candidates rank behind feasible ones, least violation
/// first.
///
/// No configuration is proposed twice: every proposal's hash (in flight, evaluated or failed) is
/// remembered, a duplicate child is re-mated up to ``NSGA2Parameters/rematingAttempts`` times, then a
/// random unseen configuration is used; ``ask()`` returns nil only when the whole space has been
/// proposed.
///
/// The hypervolume of the feasible non-dominated set of every evaluation so far is updated after each
/// insert against the fixed reference point, with its history.
///
/// The whole state, including the random generator, is `Codable`, so a run resumes exactly.
public struct SteadyStateNSGA2: Codable, Sendable {
    public let space: GenomeSpace
    public let parameters: NSGA2Parameters
    public private(set) var rng: SeededGenerator
    /// Seeds not yet proposed, in order.
    public private(set) var pendingSeeds: [Proposal]
    public private(set) var inFlight: [Proposal]
    public private(set) var failed: [Proposal]
    public private(set) var population: [Member]
    public private(set) var front: [FrontPoint]
    public private(set) var hypervolume: Double
    public private(set) var statistics: SearchStatistics
    private var seen: SortedHashSet
    private var steps: HypervolumeSteps
    /// The sensitivity table the search was started with (surrogate features).
    public private(set) var sensitivity: SensitivityTable?
    /// The screening model, when ``NSGA2Parameters/screening`` is set.
    public private(set) var surrogate: Surrogate?

    /// The hypervolume after each evaluation (1, 2, …).
    public var history: [HypervolumeSample] { steps.samples }

    /// Starts a search.
    ///
    /// - Parameters:
    ///   - space: what may be chosen per layer.
    ///   - parameters: μ, objectives, operators.
    ///   - seed: the run seed; the search draws from its own sub-stream `"search"`.
    ///   - sensitivity: optional per-layer sensitivity; adds seeds at ``NSGA2Parameters/sensitivityBudgets``.
    ///     Mutation weights are taken from ``Variation/weights`` (see ``SensitivityTable/mutationWeights(for:temperature:)``).
    public init(space: GenomeSpace, parameters: NSGA2Parameters, seed: UInt64, sensitivity: SensitivityTable? = nil) throws(SearchError) {
        try parameters.validate()
        if let weights = parameters.variation.weights, !weights.fits(space) {
            throw .invalidParameters("mutation weights do not match the space's layers and choices")
        }
        try sensitivity?.validate(against: space)
        self.space = space
        self.parameters = parameters
        self.rng = SeededGenerator(seed: seed, stream: "search")
        self.inFlight = []
        self.failed = []
        self.population = []
        self.front = []
        self.hypervolume = 0
        self.steps = HypervolumeSteps()
        self.statistics = SearchStatistics()
        self.seen = SortedHashSet()
        self.sensitivity = sensitivity
        self.surrogate = parameters.screening == nil ? nil : Surrogate()
        self.pendingSeeds = Self.initialSeeds(
            space: space, sensitivity: sensitivity, budgets: parameters.sensitivityBudgets, knapsack: parameters.knapsackSeeds ?? 0)
    }

    /// Whether every configuration of the space has been proposed.
    public var isExhausted: Bool {
        guard let size = space.size else { return false }
        return seen.count >= size
    }

    /// Whether a seed not yet proposed is waiting (``ask()`` returns it next).
    public var hasPendingSeed: Bool { pendingSeeds.contains { !seen.contains($0.hash) } }

    /// Whether `hash` was ever proposed (in flight, evaluated or failed).
    public func hasSeen(_ hash: String) -> Bool { seen.contains(hash) }

    /// The next configuration to evaluate, or nil when the space is exhausted.
    public mutating func ask() -> Proposal? {
        if isExhausted { return nil }
        while !pendingSeeds.isEmpty {
            let seed = pendingSeeds.removeFirst()
            if !seen.contains(seed.hash) { return register(seed) }
        }
        if statistics.proposals >= parameters.populationSize && population.count >= 2 {
            let wanted = screeningActive ? parameters.screening!.candidates : 1
            var children: [Proposal] = []
            for _ in 0...parameters.rematingAttempts {
                let first = tournament()
                var second = tournament()
                if second == first { second = tournament() }
                let genome = parameters.variation.child(of: population[first].genome, and: population[second].genome, in: space, using: &rng)
                let config = space.config(of: genome)
                let hash = config.hash
                if !seen.contains(hash) && !children.contains(where: { $0.hash == hash }) {
                    children.append(
                        Proposal(hash: hash, genome: genome, config: config, origin: .offspring, parents: [population[first].hash, population[second].hash]))
                    if children.count >= wanted { break }
                } else {
                    statistics.duplicateChildren += 1
                }
            }
            if !children.isEmpty {
                let chosen = children.count == 1 ? 0 : screen(children)
                statistics.screenedOut += children.count - 1
                return register(children[chosen])
            }
            statistics.randomFallbacks += 1
        }
        return register(randomUnseen())
    }

    /// A uniformly random configuration nobody has proposed (the random-search strategy), or nil when
    /// the space is exhausted. Seeds are not used.
    public mutating func askRandom() -> Proposal? {
        isExhausted ? nil : register(randomUnseen())
    }

    /// Takes a sensitivity table that was computed after the search started (surrogate features).
    /// The mutation weights stay as configured.
    public mutating func adopt(_ table: SensitivityTable) {
        sensitivity = table
    }

    /// Queues configurations to be proposed before anything else (e.g. a supernet's derived
    /// configurations in the hybrid strategy); ones already proposed or not in the space are skipped.
    ///
    /// - Returns: how many were queued.
    @discardableResult
    public mutating func addSeeds(_ configs: [QuantizationConfig], origin: CandidateOrigin) -> Int {
        var added = 0
        for config in configs {
            guard let genome = try? space.genome(of: config) else { continue }
            let hash = config.hash
            guard !seen.contains(hash), !pendingSeeds.contains(where: { $0.hash == hash }) else { continue }
            pendingSeeds.insert(Proposal(hash: hash, genome: genome, config: space.config(of: genome), origin: origin, parents: []), at: added)
            added += 1
        }
        return added
    }

    var screeningActive: Bool {
        guard let screening = parameters.screening, screening.candidates > 1, let surrogate else { return false }
        return surrogate.count >= screening.minimumResults
    }

    /// The child with the largest predicted hypervolume improvement over the population's feasible
    /// non-dominated set; if none improves it, the one closest to that set (smallest additive ε
    /// needed to be non-dominated). Ties go to the first drawn.
    private mutating func screen(_ children: [Proposal]) -> Int {
        let front = population.filter { $0.rank == 0 && $0.fitness.isFeasible }.map(\.fitness.objectives)
        let base = Hypervolume.of(front, reference: parameters.referencePoint)
        var best = 0
        var bestScore = -Double.infinity
        for (index, child) in children.enumerated() {
            guard let predicted = surrogate?.predict(child.genome, in: space, sensitivity: sensitivity, screening: parameters.screening!) else { continue }
            let improvement = Hypervolume.of(front + [predicted], reference: parameters.referencePoint) - base
            let score: Double
            if improvement > 0 {
                score = improvement
            } else {
                let epsilon = front.map { point in zip(predicted, point).map { $0 - $1 }.max() ?? 0 }.min() ?? 0
                score = -max(0, epsilon)
            }
            if score > bestScore {
                bestScore = score
                best = index
            }
        }
        return best
    }

    /// Records a result and updates population, front and hypervolume.
    ///
    /// - Parameters:
    ///   - hash: a proposal's hash; it must be in flight, or failed earlier (a late result is welcome).
    ///   - fitness: minimised objectives (``NSGA2Parameters/objectiveCount`` finite values) and violation.
    @discardableResult
    ///   - onFront: whether the result is at full fidelity and may enter the front and hypervolume
    ///     (false for lower rungs of a multi-fidelity search).
    public mutating func tell(_ hash: String, fitness: Fitness, onFront: Bool = true) throws(SearchError) -> TellReport {
        try check(fitness, hash: hash)
        let proposal: Proposal
        if let index = inFlight.firstIndex(where: { $0.hash == hash }) {
            proposal = inFlight.remove(at: index)
        } else if let index = failed.firstIndex(where: { $0.hash == hash }) {
            proposal = failed.remove(at: index)
            statistics.failures -= 1
        } else if seen.contains(hash) {
            throw .alreadyEvaluated(hash: hash)
        } else {
            throw .unknownCandidate(hash: hash)
        }
        statistics.evaluations += 1
        if let screening = parameters.screening {
            surrogate?.observe(proposal.genome, objectives: fitness.objectives, in: space, sensitivity: sensitivity, screening: screening)
        }
        population.append(Member(hash: hash, genome: proposal.genome, fitness: fitness, rank: 0, crowding: 0))
        var kept = true
        if population.count > parameters.populationSize {
            let removed = truncateOne()
            kept = removed != hash
        }
        rerank()
        let changed = onFront && fitness.isFeasible && insertIntoFront(FrontPoint(hash: hash, objectives: fitness.objectives))
        if changed { hypervolume = Hypervolume.of(front.map(\.objectives), reference: parameters.referencePoint) }
        steps.append(HypervolumeSample(evaluations: statistics.evaluations, value: hypervolume))
        return TellReport(keptInPopulation: kept, frontChanged: changed, hypervolume: hypervolume)
    }

    /// Records the result of a promoted candidate at a higher fidelity: its population member now
    /// carries this fitness (a member that had been dropped competes again, so the truncation may
    /// drop another), and a full-fidelity result may enter the front.
    ///
    /// - Parameters:
    ///   - hash: a candidate that already has a result (``tell(_:fitness:onFront:)``).
    ///   - config: its configuration (to rebuild a dropped member's genes).
    @discardableResult
    public mutating func tellPromoted(_ hash: String, config: QuantizationConfig, fitness: Fitness, onFront: Bool) throws(SearchError) -> TellReport {
        try check(fitness, hash: hash)
        guard seen.contains(hash), !inFlight.contains(where: { $0.hash == hash }), !failed.contains(where: { $0.hash == hash }) else {
            throw .unknownCandidate(hash: hash)
        }
        guard config.hash == hash, let genome = try? space.genome(of: config) else {
            throw .invalidFitness(hash: hash, reason: "the configuration does not match the hash or the space")
        }
        statistics.promotions += 1
        var kept = true
        if let index = population.firstIndex(where: { $0.hash == hash }) {
            population[index].fitness = fitness
        } else {
            population.append(Member(hash: hash, genome: genome, fitness: fitness, rank: 0, crowding: 0))
            if population.count > parameters.populationSize {
                rerank()
                kept = truncateOne() != hash
            }
        }
        rerank()
        let changed = onFront && fitness.isFeasible && insertIntoFront(FrontPoint(hash: hash, objectives: fitness.objectives))
        if changed { hypervolume = Hypervolume.of(front.map(\.objectives), reference: parameters.referencePoint) }
        return TellReport(keptInPopulation: kept, frontChanged: changed, hypervolume: hypervolume)
    }

    private func check(_ fitness: Fitness, hash: String) throws(SearchError) {
        guard fitness.objectives.count == parameters.objectiveCount else {
            throw .invalidFitness(hash: hash, reason: "\(fitness.objectives.count) objectives, expected \(parameters.objectiveCount)")
        }
        guard fitness.objectives.allSatisfy(\.isFinite), fitness.violation.isFinite, fitness.violation >= 0 else {
            throw .invalidFitness(hash: hash, reason: "objectives and violation must be finite, violation non-negative")
        }
    }

    /// Records that a proposal will not get a result (the evaluation failed, or it was given up).
    /// It is never proposed again.
    public mutating func tellFailure(_ hash: String) throws(SearchError) {
        guard let index = inFlight.firstIndex(where: { $0.hash == hash }) else {
            if seen.contains(hash) { throw .alreadyEvaluated(hash: hash) }
            throw .unknownCandidate(hash: hash)
        }
        failed.append(inFlight.remove(at: index))
        statistics.failures += 1
    }

    // MARK: - Internals

    private mutating func register(_ proposal: Proposal) -> Proposal {
        seen.insert(proposal.hash)
        inFlight.append(proposal)
        statistics.proposals += 1
        return proposal
    }

    /// A random configuration nobody has proposed. Random draws first; if they keep hitting seen
    /// configurations (a small or nearly exhausted space), a scan from a random index, which finds one
    /// within `seen.count + 1` steps.
    private mutating func randomUnseen() -> Proposal {
        for _ in 0..<32 {
            let genome = space.randomGenome(using: &rng)
            let config = space.config(of: genome)
            if !seen.contains(config.hash) { return Proposal(hash: config.hash, genome: genome, config: config, origin: .random, parents: []) }
        }
        guard let size = space.size else {
            // More configurations than Int.max: a miss is astronomically unlikely; keep drawing.
            while true {
                let genome = space.randomGenome(using: &rng)
                let config = space.config(of: genome)
                if !seen.contains(config.hash) { return Proposal(hash: config.hash, genome: genome, config: config, origin: .random, parents: []) }
            }
        }
        let start = Int.random(in: 0..<size, using: &rng)
        for step in 0..<size {
            let genome = space.genome(atIndex: (start &+ step) % size)
            let config = space.config(of: genome)
            if !seen.contains(config.hash) { return Proposal(hash: config.hash, genome: genome, config: config, origin: .random, parents: []) }
        }
        preconditionFailure("randomUnseen called on an exhausted space")
    }

    /// Binary tournament: lower rank wins, then larger crowding distance, then a coin flip.
    private mutating func tournament() -> Int {
        let a = Int.random(in: 0..<population.count, using: &rng)
        var b = Int.random(in: 0..<(population.count - 1), using: &rng)
        if b >= a { b += 1 }
        let (x, y) = (population[a], population[b])
        if x.rank != y.rank { return x.rank < y.rank ? a : b }
        if x.crowding != y.crowding { return x.crowding > y.crowding ? a : b }
        return rng.next() & 1 == 0 ? a : b
    }

    /// Removes the most crowded member of the last front; returns its hash.
    private mutating func truncateOne() -> String {
        let fronts = ParetoRanking.fronts(population.map(\.fitness))
        let last = fronts.last!
        var victim = last[0]
        if last.count > 1 {
            let crowding = ParetoRanking.crowdingDistance(last.map { population[$0].fitness.objectives })
            let least = crowding.min()!
            let ties = last.indices.filter { crowding[$0] == least }
            victim = last[ties[Int.random(in: 0..<ties.count, using: &rng)]]
        }
        return population.remove(at: victim).hash
    }

    private mutating func rerank() {
        let fronts = ParetoRanking.fronts(population.map(\.fitness))
        for (level, members) in fronts.enumerated() {
            let crowding = ParetoRanking.crowdingDistance(members.map { population[$0].fitness.objectives })
            for (index, distance) in zip(members, crowding) {
                population[index].rank = level
                population[index].crowding = distance
            }
        }
    }

    /// Adds a feasible point to the non-dominated set unless something there is at least as good
    /// everywhere; removes what it dominates. Returns whether the set changed.
    private mutating func insertIntoFront(_ point: FrontPoint) -> Bool {
        if front.contains(where: { zip($0.objectives, point.objectives).allSatisfy { $0 <= $1 } }) { return false }
        front.removeAll { Fitness.dominates(point.objectives, $0.objectives) }
        front.append(point)
        return true
    }
}

/// The set of proposed hashes. It encodes sorted, so saved states are byte-for-byte reproducible, and
/// compactly: SHA-256 hex digests as one base64 string of 32-byte digests (43 instead of 67 bytes
/// per hash, and one JSON string instead of thousands); anything else as an array of strings.
struct SortedHashSet: Codable, Hashable, Sendable {
    private var hashes: Set<String> = []

    var count: Int { hashes.count }
    func contains(_ hash: String) -> Bool { hashes.contains(hash) }
    mutating func insert(_ hash: String) { hashes.insert(hash) }

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let list = try? container.decode([String].self) {
            hashes = Set(list)
            return
        }
        let text = try container.decode(String.self)
        guard let data = Data(base64Encoded: text), data.count % 32 == 0 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a base64 list of 32-byte digests")
        }
        for start in stride(from: 0, to: data.count, by: 32) {
            hashes.insert(ContentHash.hex(data[start..<(start + 32)]))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        let sorted = hashes.sorted()
        var data = Data(capacity: sorted.count * 32)
        for hash in sorted {
            guard let digest = Self.digestBytes(hash) else {
                try container.encode(sorted)
                return
            }
            data.append(contentsOf: digest)
        }
        try container.encode(data.base64EncodedString())
    }

    /// The 32 bytes of a lowercase 64-digit hex digest, or nil for anything else.
    private static func digestBytes(_ hash: String) -> [UInt8]? {
        let utf8 = Array(hash.utf8)
        guard utf8.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for i in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}

/// The hypervolume history as a step function: only the evaluations where the value changed are
/// stored (the value is constant in between), so saved states do not grow with every evaluation.
struct HypervolumeSteps: Codable, Hashable, Sendable {
    private var changes: [HypervolumeSample] = []
    private var last = 0

    mutating func append(_ sample: HypervolumeSample) {
        if changes.last?.value != sample.value { changes.append(sample) }
        last = sample.evaluations
    }

    /// One sample per evaluation from the first to the last.
    var samples: [HypervolumeSample] {
        guard let first = changes.first else { return [] }
        var result: [HypervolumeSample] = []
        result.reserveCapacity(last - first.evaluations + 1)
        var index = 0
        for evaluations in first.evaluations...last {
            while index + 1 < changes.count && changes[index + 1].evaluations <= evaluations { index += 1 }
            result.append(HypervolumeSample(evaluations: evaluations, value: changes[index].value))
        }
        return result
    }
}
