import ContentHash
import Crypto
import Foundation
import QuantConfig
import RunStore
import Search
import Statistics
import Wire

/// Everything the dashboard shows, read from a run's store in one pass. Times are absolute (seconds
/// since 1970), never "ago", so the same store state always gives the same snapshot and its
/// ``version`` changes only when the run does; the page computes ages itself.
public struct DashboardSnapshot: Codable, Hashable, Sendable {
    public var run: RunView
    public var references: [ReferenceView]
    /// Full-fidelity results on the Pareto front, least energy first (the objective's energy table).
    public var front: [PointView]
    /// The other full-fidelity results, for the scatter plots.
    public var dominated: [PointView]
    /// Multi-fidelity: candidates measured only below full fidelity so far, at their highest rung
    /// (shown apart: they never sit on the front next to full-fidelity results).
    public var lowerRungs: [PointView] = []
    public var hypervolume: [HypervolumePoint]
    public var inFlight: [InFlightView]
    public var workers: [WorkerView]
    /// The gumbel/hybrid strategies' supernet sweep, least λ first (empty for nsga2 runs).
    public var supernets: [SupernetView] = []
    /// The most recent events, newest first.
    public var events: [EventView]
    /// A digest of everything above: a long-polling page waits for it to change.
    public var version: String = ""

    public struct RunView: Codable, Hashable, Sendable {
        public var name: String
        public var directory: String
        public var createdAt: Date
        public var seed: UInt64
        public var toolVersion: String
        public var datasetFingerprint: String
        public var layers: [String]
        public var objectives: [String]
        public var constraints: [String]
        public var evaluationBudget: Int?
        public var wallTimeBudget: Double?
        public var referencePoint: [Double]
        /// Energy tables the results carry (the report shows each); the objective's comes first.
        public var energyModels: [String]
        public var candidates: [String: Int]
        public var attempts: [String: Int]
        /// Candidates counted against the budget (done, failed, stale) and with a result.
        public var finished: Int
        public var done: Int
        /// Lower-rung results of a multi-fidelity run.
        public var rungResults: Int
        public var qatSteps: Int
        public var activeSeconds: Double
        public var lastEvent: Date?
        public var feasibleFront: Bool
    }

    /// An FP32 reference: the base checkpoint (measured once) or the fine-tuned all-float candidate.
    public struct ReferenceView: Codable, Hashable, Sendable {
        public var label: String
        public var accuracy: [String: Double]
        public var energy: [String: Double]
    }

    public struct PointView: Codable, Hashable, Sendable {
        public var id: Int64
        public var origin: String
        /// Short forms in layer order, e.g. `u8 u4 p3 …`.
        public var config: String
        public var averageBits: Double
        public var accuracy: [String: Double]
        /// 95 % Wilson intervals, by split.
        public var intervals: [String: Interval]
        public var energy: [String: EnergyFigure]
        public var feasible: Bool
        public var receivedAt: Date
        /// Fine-tune steps of a lower-rung result; nil at full fidelity.
        public var steps: Int? = nil
        /// Accuracy over all fine-tune seeds by split, for front models the run re-tuned
        /// (`final.reseeds`); nil otherwise.
        public var overSeeds: [String: Spread]? = nil

        init(
            _ r: EvaluationResult, id: Int64, origin: String, layers: [String], feasible: Bool, receivedAt: Date, steps: Int? = nil
        ) {
            self.id = id
            self.origin = origin
            config = r.config.summary(order: layers)
            averageBits = r.averageBits
            accuracy = r.accuracy
            intervals = Dictionary(uniqueKeysWithValues: r.accuracy.keys.compactMap { split in r.accuracyInterval(split: split).map { (split, $0) } })
            energy = r.energy
            self.feasible = feasible
            self.receivedAt = receivedAt
            self.steps = steps
        }
    }

    public struct HypervolumePoint: Codable, Hashable, Sendable {
        public var evaluations: Int
        public var wallSeconds: Double
        public var value: Double
    }

    public struct InFlightView: Codable, Hashable, Sendable {
        public var candidateId: Int64
        public var attempt: Int
        public var worker: String
        public var rung: Int
        public var dispatchedAt: Date
        /// The latest PARTIAL the worker sent, if any.
        public var progress: EvaluationProgress?
    }

    public struct WorkerView: Codable, Hashable, Sendable {
        public var name: String
        /// `busy` (holds a lease), `lost` (reported lost and not heard from since), or `idle`.
        public var state: String
        public var connects: Int
        public var lost: Int
        public var quarantined: String?
        public var firstSeen: Date
        public var lastSeen: Date
        /// Busy time in finished leases; the page adds the time since ``busySince``.
        public var busySeconds: Double
        /// Start of the lease it holds now, if any.
        public var busySince: Date?
        /// Attempts it finished (any outcome).
        public var finishedAttempts: Int
        /// Finished attempts per hour of its busy time in finished leases.
        public var throughputPerHour: Double?
    }

    /// One supernet of the λ sweep and what its derived configuration measured, once evaluated.
    public struct SupernetView: Codable, Hashable, Sendable {
        public var lambda: Double
        /// Short forms in layer order.
        public var config: String
        public var averageBits: Double
        /// Predicted energy of the derived configuration relative to FP32 (FP32 firing rates).
        public var predictedEnergy: Double
        public var steps: Int
        /// The candidate that evaluated the derived configuration, and its validation accuracy.
        public var candidateId: Int64?
        public var accuracy: Double?
        public var onFront: Bool
    }

    public struct EventView: Codable, Hashable, Sendable {
        public var id: Int64
        public var time: Date
        public var kind: String
        public var candidateId: Int64?
        public var attempt: Int?
        public var worker: String?
        public var payload: String
    }
}

extension DashboardSnapshot {
    /// How many events a snapshot carries.
    public static let recentEvents = 50
    /// How many dominated points a snapshot carries (the most recent), so huge runs stay light.
    public static let maxDominated = 5_000

    /// Reads a snapshot; it depends on the store alone (not on the clock).
    ///
    /// The parts come from several read transactions, so a write landing between them would give a
    /// torn snapshot (a new event without its result, say) with a version of its own. The snapshot is
    /// therefore read until two reads in a row agree; a torn read never repeats itself.
    public static func load(from store: RunStore) throws -> DashboardSnapshot {
        var previous = try read(from: store)
        for _ in 0..<8 {
            let next = try read(from: store)
            if next.version == previous.version { return next }
            previous = next
        }
        return previous
    }

    private static func read(from store: RunStore) throws -> DashboardSnapshot {
        let status = try store.status()
        let settings = status.metadata.settings
        let results = try store.results()
        let frontIDs = Set(status.front.members.map(\.candidateId))
        let models = energyModels(settings, results: results)
        let point = { (stored: StoredResult) -> PointView in
            PointView(
                stored.result, id: stored.candidateId, origin: stored.origin.rawValue, layers: settings.layers, feasible: stored.isFeasible,
                receivedAt: stored.receivedAt)
        }
        let primary = models.first
        let spreads = try store.accuracySpreads()
        let front = status.front.members.map { stored in
            var view = point(stored)
            view.overSeeds = spreads[stored.candidateId]
            return view
        }.sorted {
            ($0.energy[primary ?? ""]?.picojoules ?? 0, $0.id) < ($1.energy[primary ?? ""]?.picojoules ?? 0, $1.id)
        }
        let dominated = results.filter { !frontIDs.contains($0.candidateId) }.suffix(maxDominated).map(point)
        let full = Set(results.map(\.candidateId))
        var highestRung: [Int64: StoredRungResult] = [:]
        for rung in try store.rungResults() where !full.contains(rung.candidateId) {
            if (highestRung[rung.candidateId]?.rung ?? -1) < rung.rung { highestRung[rung.candidateId] = rung }
        }
        let lowerRungs = highestRung.values.sorted { $0.candidateId < $1.candidateId }.suffix(maxDominated).map { stored in
            PointView(
                stored.result, id: stored.candidateId, origin: "rung \(stored.rung)", layers: settings.layers, feasible: stored.violation <= 0,
                receivedAt: stored.receivedAt, steps: stored.steps)
        }

        var references: [ReferenceView] = []
        if let base = results.first?.result.reference {
            references.append(ReferenceView(label: "base FP32 checkpoint", accuracy: base.accuracy, energy: base.energy))
        }
        if let tuned = try store.fineTunedReference() {
            references.append(
                ReferenceView(label: "fine-tuned FP32", accuracy: tuned.accuracy, energy: tuned.energy.mapValues(\.picojoules)))
        }

        var busy: [String: Double] = [:]
        var busySince: [String: Date] = [:]
        var finishedByWorker: [String: Int] = [:]
        for interval in try store.busyIntervals() {
            if let end = interval.end {
                busy[interval.worker, default: 0] += max(0, end.timeIntervalSince(interval.start))
            } else {
                busySince[interval.worker] = min(busySince[interval.worker] ?? interval.start, interval.start)
            }
        }
        for attempt in try store.attempts() where attempt.finishedAt != nil {
            finishedByWorker[attempt.worker, default: 0] += 1
        }
        let holding = Set(status.inFlight.map(\.worker))
        let workers = status.workers.map { w -> WorkerView in
            let seconds = busy[w.name, default: 0]
            let finished = finishedByWorker[w.name, default: 0]
            return WorkerView(
                name: w.name, state: holding.contains(w.name) ? "busy" : (w.isLost ? "lost" : "idle"), connects: w.connects, lost: w.lost,
                quarantined: w.quarantined, firstSeen: w.firstSeen, lastSeen: w.lastSeen, busySeconds: seconds, busySince: busySince[w.name],
                finishedAttempts: finished, throughputPerHour: seconds > 0 ? Double(finished) / seconds * 3600 : nil)
        }

        var snapshot = DashboardSnapshot(
            run: RunView(
                name: status.metadata.name, directory: store.directory.path, createdAt: status.metadata.createdAt, seed: status.metadata.seed,
                toolVersion: status.metadata.toolVersion, datasetFingerprint: status.metadata.datasetFingerprint, layers: settings.layers,
                objectives: settings.objectives.map { "\($0)" }, constraints: settings.constraints.map { "\($0)" },
                evaluationBudget: settings.evaluationBudget, wallTimeBudget: settings.wallTimeBudget, referencePoint: settings.referencePoint,
                energyModels: models,
                candidates: Dictionary(uniqueKeysWithValues: status.candidates.map { ($0.key.rawValue, $0.value) }),
                attempts: Dictionary(uniqueKeysWithValues: status.attempts.map { ($0.key.rawValue, $0.value) }),
                finished: status.finished, done: status.done, rungResults: try store.rungResults().count, qatSteps: try store.qatSteps(),
                activeSeconds: try store.activeSeconds(), lastEvent: status.lastEvent, feasibleFront: status.front.feasible),
            references: references, front: front, dominated: Array(dominated), lowerRungs: Array(lowerRungs),
            hypervolume: try store.hypervolumeHistory().map { HypervolumePoint(evaluations: $0.evaluations, wallSeconds: $0.wallSeconds, value: $0.value) },
            inFlight: status.inFlight.map {
                InFlightView(candidateId: $0.candidateId, attempt: $0.number, worker: $0.worker, rung: $0.rung, dispatchedAt: $0.dispatchedAt, progress: $0.progress)
            },
            workers: workers,
            events: try store.events().suffix(recentEvents).reversed().map {
                EventView(id: $0.id, time: $0.time, kind: $0.kind, candidateId: $0.candidateId, attempt: $0.attempt, worker: $0.worker, payload: $0.payload)
            })
        snapshot.supernets = try store.supernetResults().map { stored in
            let derived = stored.result
            let evaluated = results.first { $0.configHash == derived.configHash }
            return SupernetView(
                lambda: derived.lambda, config: derived.config.summary(order: settings.layers), averageBits: derived.averageBits,
                predictedEnergy: derived.derivedRelativeEnergy, steps: derived.steps, candidateId: evaluated?.candidateId,
                accuracy: evaluated?.result.accuracy["validation"], onFront: evaluated.map { frontIDs.contains($0.candidateId) } ?? false)
        }
        snapshot.version = try snapshot.digest()
        return snapshot
    }

    /// The energy tables of a run: the energy objective's first, then any other the results carry.
    static func energyModels(_ settings: RunSettings, results: [StoredResult]) -> [String] {
        var models: [String] = []
        for case .energy(let model) in settings.objectives { models.append(model) }
        for case .maxEnergy(let model, _) in settings.constraints where !models.contains(model) { models.append(model) }
        for model in Set(results.flatMap { $0.result.energy.keys }).sorted() where !models.contains(model) { models.append(model) }
        return models
    }

    /// JSON as served: dates in seconds since 1970, non-finite numbers as strings.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    func digest() throws -> String {
        var copy = self
        copy.version = ""
        let data = try Self.encoder().encode(copy)
        return ContentHash.hex(SHA256.hash(data: data).prefix(12))
    }
}
