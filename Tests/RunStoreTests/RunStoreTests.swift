import Foundation
import GRDB
import QuantConfig
import RunStore
import Search
import Seeding
import Testing
import Wire

struct RunStoreTests {
    @Test func createsTheRunDirectoryAndReopensIt() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        #expect(try String(contentsOf: directory.appendingPathComponent("search.yaml"), encoding: .utf8) == "population: 4\n")
        let reopened = try RunStore.open(at: directory)
        #expect(try reopened.metadata() == Fixtures.metadata())
        #expect(throws: RunStoreError.self) { try RunStore.create(at: directory, metadata: Fixtures.metadata()) }
        do {
            _ = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        } catch let error as RunStoreError {
            #expect(error.code == .exists)
        }
    }

    @Test func candidatesOfEveryOriginAndRungResultsRoundTrip() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let t0 = Date(timeIntervalSince1970: 1_000)
        var ids: [Int64] = []
        try store.write { w in
            for (index, origin) in CandidateOrigin.allCases.enumerated() {
                let config = QuantizationConfig(layers: ["a": .uniform(2 + index)])
                ids.append(try w.insertCandidate(NewCandidate(config: config, origin: origin, parents: [], createdAt: t0)))
            }
            try w.insertAttempt(candidateId: ids[0], number: 1, worker: "w", seed: 9, rung: 1, at: t0)
        }
        #expect(try store.candidates().map(\.origin) == CandidateOrigin.allCases)
        #expect(try store.attempts().map(\.rung) == [1])
        let config = QuantizationConfig(layers: ["a": .uniform(2)])
        let result = Fixtures.result(for: config, accuracy: 0.8, picojoules: 1000)
        try store.write { w in
            try w.insertRungResult(candidateId: ids[0], rung: 0, attempt: 1, steps: 15, result: result, objectives: [0.2, 0.3], violations: [], at: t0)
            // A repeat for the same rung replaces the row.
            try w.insertRungResult(candidateId: ids[0], rung: 0, attempt: 1, steps: 15, result: result, objectives: [0.1, 0.3], violations: [], at: t0)
        }
        let stored = try store.rungResults()
        #expect(stored.count == 1)
        #expect(stored.first?.objectives == [0.1, 0.3] && stored.first?.steps == 15 && stored.first?.result.configHash == result.configHash)
        #expect(try store.results().isEmpty, "lower rungs never reach the full-fidelity results")
    }

    @Test func schemaIsMarkedVersionedAndInWALMode() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("run.sqlite").path)
        try queue.read { db in
            #expect(try Int.fetchOne(db, sql: "PRAGMA application_id") == Int(RunStore.applicationID))
            #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == RunStore.schemaVersion)
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name")
            #expect(tables == ["attempt", "candidate", "event", "hypervolume", "reference_result", "reseed_result", "result", "run", "rung_result", "search_state", "session", "supernet_result", "worker", "worker_busy"])
            let candidateColumns = try db.columns(in: "candidate").map(\.name)
            #expect(candidateColumns == ["id", "config_hash", "config_json", "origin", "parents_json", "status", "attempts", "created_at", "finished_at", "reason"])
            let attemptColumns = try db.columns(in: "attempt").map(\.name)
            #expect(attemptColumns == ["candidate_id", "number", "worker", "seed", "dispatched_at", "finished_at", "state", "error", "progress_json", "rung"])
        }
    }

    @Test func aFailedTransactionLeavesNothingBehind() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.write { w in
                let id = try w.insertCandidate(NewCandidate(config: Fixtures.config(.uniform(4)), origin: .baseline, parents: [], createdAt: Date()))
                try w.insertAttempt(candidateId: id, number: 1, worker: "w", seed: 1, at: Date())
                try w.appendEvent("dispatch", at: Date(), candidateId: id)
                throw Boom()
            }
        }
        #expect(try store.candidates().isEmpty)
        #expect(try store.attempts().isEmpty)
        #expect(try store.events().isEmpty)
    }

    @Test func aConfigurationIsStoredAtMostOnce() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let config = Fixtures.config(.uniform(4))
        try store.write { w in _ = try w.insertCandidate(NewCandidate(config: config, origin: .baseline, parents: [], createdAt: Date())) }
        #expect(throws: RunStoreError.self) {
            try store.write { w in
                try w.appendEvent("before-duplicate", at: Date())
                _ = try w.insertCandidate(NewCandidate(config: config, origin: .random, parents: [], createdAt: Date()))
            }
        }
        #expect(try store.candidates().count == 1)
        #expect(try store.events().isEmpty, "the whole transaction rolled back")
    }

    @Test func recordsTheLifeOfACandidate() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let config = Fixtures.config(.pot(4))
        let t0 = Date(timeIntervalSince1970: 2_000)
        let id = try store.write { w in
            let parentA = try w.insertCandidate(NewCandidate(config: Fixtures.config(.uniform(8)), origin: .baseline, parents: [], createdAt: t0))
            let parentB = try w.insertCandidate(NewCandidate(config: Fixtures.config(.uniform(4)), origin: .baseline, parents: [], createdAt: t0))
            let id = try w.insertCandidate(NewCandidate(config: config, origin: .offspring, parents: [parentA, parentB], createdAt: t0))
            try w.workerConnected("w1", at: t0)
            try w.insertAttempt(candidateId: id, number: 1, worker: "w1", seed: UInt64.max, at: t0)
            try w.beginBusy(worker: "w1", candidateId: id, attempt: 1, at: t0)
            return id
        }
        var candidate = try #require(try store.candidate(id: id))
        #expect(candidate.status == .running && candidate.attempts == 1 && candidate.parents == [1, 2] && candidate.origin == .offspring)
        #expect(candidate.config == config && candidate.configHash == config.hash)
        #expect(try store.candidate(hash: config.hash)?.id == id)
        try store.write { w in
            try w.recordProgress(EvaluationProgress(candidateId: id, attempt: 1, phase: "finetune", epoch: 1, epochs: 2, step: 5, steps: 10, loss: 0.7))
            try w.finishAttempt(candidateId: id, number: 1, state: .stale, error: "worker lost", at: t0 + 5)
            try w.endBusy(candidateId: id, attempt: 1, at: t0 + 5)
            try w.workerLost("w1", at: t0 + 5)
            try w.setCandidateStatus(id, .pending)
            try w.insertAttempt(candidateId: id, number: 2, worker: "w2", seed: 3, at: t0 + 6)
            try w.beginBusy(worker: "w2", candidateId: id, attempt: 2, at: t0 + 6)
        }
        let attempts = try store.attempts(candidateId: id)
        #expect(attempts.map(\.state) == [.stale, .running])
        #expect(attempts[0].seed == UInt64.max)
        #expect(attempts[0].progress?.step == 5 && attempts[0].error == "worker lost")
        let result = Fixtures.result(for: config, accuracy: 0.88, picojoules: 40)
        try store.write { w in
            try w.finishAttempt(candidateId: id, number: 2, state: .done, at: t0 + 9)
            try w.endBusy(candidateId: id, attempt: 2, at: t0 + 9)
            try w.insertResult(candidateId: id, attempt: 2, result: result, objectives: [0.12, 0.4], violations: [-0.03], at: t0 + 9)
            try w.setCandidateStatus(id, .done, finishedAt: t0 + 9)
            try w.appendHypervolume(evaluations: 1, wallSeconds: 9, value: 0.5)
            try w.appendEvent("result", at: t0 + 9, candidateId: id, attempt: 2, worker: "w2", payload: ["accuracy": "0.88"])
        }
        candidate = try #require(try store.candidate(id: id))
        #expect(candidate.status == .done && candidate.attempts == 2 && candidate.finishedAt == t0 + 9)
        let stored = try #require(try store.result(candidateId: id))
        #expect(stored.attempt == 2 && stored.objectives == [0.12, 0.4] && stored.violation == 0 && stored.isFeasible)
        #expect(stored.result.accuracy == result.accuracy && stored.result.fineTune.finalLoss!.isNaN, "NaN survives the round trip")
        #expect(try store.hypervolumeHistory() == [HypervolumeRecord(evaluations: 1, wallSeconds: 9, value: 0.5)])
        #expect(try store.events(kind: "result").first?.payload == #"{"accuracy":"0.88"}"#)
        let busy = try store.busyIntervals()
        #expect(busy.map(\.worker) == ["w1", "w2"] && busy.allSatisfy { $0.end != nil })
        let workers = try store.workers()
        #expect(workers.map(\.name) == ["w1"], "only workers the writer was told about")
        #expect(workers.first { $0.name == "w1" }?.lost == 1)
        #expect(workers.first { $0.name == "w1" }?.connects == 1)
    }

    @Test func searchStateKeepsTheLatestAndMilestones() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let space = try GenomeSpace(QuantizationSpace(layers: Fixtures.layers))
        var search = try SteadyStateNSGA2(space: space, parameters: NSGA2Parameters(populationSize: 4), seed: 5)
        #expect(try store.latestSearchState() == nil)
        for _ in 0..<210 {
            let proposal = search.ask()!
            try search.tell(proposal.hash, fitness: Fitness(objectives: [Double(proposal.genome.genes[0].bits) / 8, 0.5]))
            try store.write { w in try w.saveSearchState(search, at: Date()) }
        }
        let restored = try #require(try store.latestSearchState())
        #expect(restored.statistics == search.statistics)
        #expect(restored.rng == search.rng)
        #expect(restored.population == search.population)
        #expect(try store.searchStateCount() == 3, "latest (210) plus milestones 100 and 200")
    }

    @Test func paretoUsesConstrainedDomination() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        #expect(try store.pareto().members.isEmpty)
        // All infeasible: the least violating is the front, flagged as infeasible.
        try Fixtures.addDone(store, .uniform(2), objectives: [0.5, 0.1], violations: [0.3])
        try Fixtures.addDone(store, .uniform(3), objectives: [0.4, 0.2], violations: [0.1])
        var front = try store.pareto()
        #expect(!front.feasible)
        #expect(front.members.map { $0.result.config } == [Fixtures.config(.uniform(3))])
        // Feasible results take over.
        try Fixtures.addDone(store, .uniform(8), objectives: [0.1, 0.9])
        try Fixtures.addDone(store, .uniform(4), objectives: [0.15, 0.5])
        try Fixtures.addDone(store, .uniform(5), objectives: [0.15, 0.6])
        try Fixtures.addDone(store, .pot(4), objectives: [0.2, 0.3])
        front = try store.pareto()
        #expect(front.feasible && front.evaluated == 6)
        #expect(front.members.map { $0.result.config } == [.uniform(8), .uniform(4), .pot(4)].map(Fixtures.config))
        let status = try store.status()
        #expect(status.done == 6 && status.finished == 6 && status.candidates[.done] == 6)
        #expect(status.attempts[.done] == 6 && status.inFlight.isEmpty)
    }

    @Test func droppedWithoutClosingLosesNothingCommitted() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
            try Fixtures.addDone(store, .uniform(4), objectives: [0.1, 0.2])
        }
        let reopened = try RunStore.open(at: directory)
        #expect(try reopened.results().count == 1)
    }

    @Test func readersSeeAWritersCommits() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        let reader = try RunStore.open(at: directory, readOnly: true)
        #expect(try reader.results().isEmpty)
        try Fixtures.addDone(writer, .uniform(4), objectives: [0.1, 0.2])
        #expect(try reader.results().count == 1)
        #expect(throws: RunStoreError.self) { try reader.write { w in try w.appendEvent("x", at: Date()) } }
    }

    /// SQLite keeps any value in any column, so a damaged or crafted file can hold text where a number
    /// belongs. GRDB's row subscript traps on one (it did in `spikeq status`); the readers decode with
    /// errors, so every reader gives a RunStoreError naming the file and column.
    @Test(arguments: [
        ("UPDATE candidate SET attempts = 'abc'", "attempts"), ("UPDATE result SET violation = 'x'", "violation"),
        ("UPDATE run SET created_at = 'yesterday'", "created_at"), ("UPDATE attempt SET finished_at = 'later'", "finished_at"),
        ("UPDATE worker SET connects = 9.5e300", "connects"),
    ])
    func valuesOfTheWrongTypeAreErrorsNotTraps(corruption: String, column: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        try Fixtures.addDone(store, .uniform(4), objectives: [0.2, 0.5])
        try store.write { w in try w.workerConnected("w1", at: Date(timeIntervalSince1970: 1_003)) }
        try DatabaseQueue(path: directory.appendingPathComponent("run.sqlite").path).write { db in try db.execute(sql: corruption) }
        let error = try #require(throws: RunStoreError.self) {
            let reopened = try RunStore.open(at: directory, readOnly: true)
            _ = try reopened.metadata()
            _ = try reopened.candidates()
            _ = try reopened.attempts()
            _ = try reopened.results()
            _ = try reopened.workers()
            _ = try reopened.status()
        }
        #expect(error.code == .corrupt && error.description.contains("\"\(column)\"") && error.description.contains("run.sqlite"), "\(error)")
    }

    @Test func refusesWhatIsNotARunDatabase() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("run.sqlite")

        func code(_ body: () throws -> Void) -> (RunStoreError.Code?, String) {
            do {
                try body()
                return (nil, "")
            } catch let error as RunStoreError {
                return (error.code, error.description)
            } catch {
                return (nil, "\(error)")
            }
        }

        #expect(code { _ = try RunStore.open(at: directory) }.0 == .missing)

        try Data("this is a text file, not a database, and it is long enough to look like a header".utf8).write(to: file)
        var outcome = code { _ = try RunStore.open(at: directory) }
        #expect(outcome.0 == .notRunDatabase)
        #expect(outcome.1.contains(file.path) && outcome.1.contains("not an SQLite database"))

        try Data().write(to: file)
        outcome = code { _ = try RunStore.open(at: directory) }
        #expect(outcome.0 == .notRunDatabase && outcome.1.contains("empty"))

        try FileManager.default.removeItem(at: file)
        try DatabaseQueue(path: file.path).write { db in try db.execute(sql: "CREATE TABLE notes (text TEXT)") }
        outcome = code { _ = try RunStore.open(at: directory) }
        #expect(outcome.0 == .notRunDatabase && outcome.1.contains("another tool"))

        try FileManager.default.removeItem(at: file)
        _ = try RunStore.create(at: directory, metadata: Fixtures.metadata())
        try DatabaseQueue(path: file.path).write { db in try db.execute(sql: "PRAGMA user_version = 99") }
        outcome = code { _ = try RunStore.open(at: directory) }
        #expect(outcome.0 == .newerSchema && outcome.1.contains("schema 99"))
    }
}
