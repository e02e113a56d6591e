import ConfigFiles
import Coordinator
import Foundation
import QuantConfig
import Search
import TestSupport
import Testing
import Wire

struct SearchConfigTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let file = URL(fileURLWithPath: "/work/configs/search/demo.yaml")

    let minimal = """
        model: ../models/tiny.yaml
        dataset: ../datasets/gestures.yaml
        checkpoint: ../../runs/base/tiny.safetensors
        energy:
          e45: ../energy/e45.yaml
        budget:
          evaluations: 10
        """

    /// Parses `text`; on failure returns the error.
    func parseError(_ text: String) -> ConfigError? {
        do {
            _ = try SearchConfig.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func knapsackSeedsAndSurrogateScreeningReachTheSearchParameters() throws {
        let text = minimal + "\nsearch:\n  sensitivity: ../sens.json\n  knapsack_seeds: 3\n  surrogate: {candidates: 8, min_results: 5, ridge: 2.5}\n"
        let config = try SearchConfig.parse(text, file: file)
        #expect(config.search.knapsackSeeds == 3)
        #expect(config.search.surrogate == SurrogateScreening(candidates: 8, minimumResults: 5, ridge: 2.5))
        let reparsed = try SearchConfig.parse(config.resolvedYAML, file: file)
        #expect(reparsed.search == config.search, "the resolved config keeps them")
        #expect(parseError(minimal + "\nsearch:\n  knapsack_seeds: 3\n")?.key == "search.knapsack_seeds", "seeds need a table")
        #expect(parseError(minimal + "\nsearch:\n  surrogate: {candidates: 0}\n")?.key == "search.surrogate.candidates")
    }

    @Test func aSensitivityTableMeasuredAtCreationAndKnapsackSeedsAtTheTopRung() throws {
        let text = minimal + "\nsearch:\n  sensitivity: {method: fisher, batches: 6}\n  knapsack_seeds: 3\n"
            + "  fidelity: {rungs: [5, 20], eta: 3, knapsack_seeds: top}\n"
        let config = try SearchConfig.parse(text, file: file)
        #expect(config.search.measuredSensitivity == SensitivityMeasurement(method: .fisher, batches: 6) && config.search.sensitivity == nil)
        #expect(config.search.measuredSensitivity?.qatSteps == 6, "a Fisher batch is charged as a QAT step")
        #expect(SensitivityMeasurement(method: .drop, samples: 100).qatSteps == 0, "measured drops are evaluation passes")
        #expect(config.search.fidelity == FidelitySchedule(rungs: [5, 20], eta: 3, knapsackSeedsAtTop: true))
        #expect(config.search.fidelity?.entryRung(for: .knapsack) == 1 && config.search.fidelity?.entryRung(for: .offspring) == 0)
        #expect(FidelitySchedule(rungs: [5, 20]).entryRung(for: .knapsack) == 0, "bottom by default")
        #expect(try SearchConfig.parse(config.resolvedYAML, file: file).search == config.search, "the resolved config keeps both")
        let drop = try SearchConfig.parse(minimal + "\nsearch:\n  sensitivity: {method: drop, samples: 200}\n", file: file)
        #expect(drop.search.measuredSensitivity == SensitivityMeasurement(method: .drop, samples: 200))
        #expect(parseError(minimal + "\nsearch:\n  sensitivity: {method: hessian}\n")?.key == "search.sensitivity.method")
        #expect(parseError(minimal + "\nsearch:\n  sensitivity: {batches: 4}\n")?.key == "search.sensitivity")
        #expect(parseError(minimal + "\nsearch:\n  sensitivity: {method: fisher, batches: 0}\n")?.key == "search.sensitivity.batches")
        #expect(parseError(minimal + "\nsearch:\n  fidelity: {rungs: [5, 20], knapsack_seeds: middle}\n")?.key == "search.fidelity.knapsack_seeds")
        // The table is measured by whoever creates the run; a setup without it is refused, not run without seeds.
        let template = RequestTemplate(
            fineTune: config.fineTune, baseCheckpoint: ArtifactReference(sha256: "x", bytes: 1, name: "b"), dataset: DatasetReference(configYAML: "", fingerprint: "f"),
            energyModels: [:])
        #expect(throws: ConfigError.self) { try config.studySetup(layers: SpikformerLayers.quantizable(depth: 1), template: template) }
    }

    @Test func finalReseedsAreReadAndReachTheSetup() throws {
        let config = try SearchConfig.parse(minimal + "\nfinal:\n  reseeds: 2\n", file: file)
        #expect(config.reseeds == 2)
        #expect(try SearchConfig.parse(config.resolvedYAML, file: file).reseeds == 2)
        #expect(try SearchConfig.parse(minimal, file: file).reseeds == 0, "none by default")
        #expect(!(try SearchConfig.parse(minimal, file: file).resolvedYAML.contains("final")))
        #expect(parseError(minimal + "\nfinal:\n  reseeds: -1\n")?.key == "final.reseeds")
        #expect(parseError(minimal + "\nfinal:\n  seeds: 2\n")?.key == "final.seeds")
    }

    @Test func fidelityReferenceAndCommonRandomNumbersAreRead() throws {
        let text = minimal + "\nsearch:\n  fidelity: {rungs: [15, 60], eta: 4}\n  reference: fine_tuned\n  common_random_numbers: false\n"
        let config = try SearchConfig.parse(text, file: file)
        #expect(config.search.fidelity == FidelitySchedule(rungs: [15, 60], eta: 4))
        #expect(config.search.reference == .fineTuned && !config.search.commonRandomNumbers)
        #expect(try SearchConfig.parse(config.resolvedYAML, file: file).search == config.search)
        #expect(try SearchConfig.parse(minimal, file: file).search.commonRandomNumbers, "on by default")
        for bad in ["{rungs: [60, 15]}", "{rungs: []}", "{eta: 3}", "{rungs: [15, 60], eta: 1}"] {
            #expect(parseError(minimal + "\nsearch:\n  fidelity: \(bad)\n")?.key.hasPrefix("search.fidelity") == true, "\(bad)")
        }
        #expect(parseError(minimal + "\nsearch:\n  reference: fp16\n")?.key == "search.reference")
    }

    @Test func theShippedDemoConfigParses() throws {
        let url = Self.repoRoot.appendingPathComponent("configs/search/synthetic-gestures.yaml")
        let config = try SearchConfig.load(from: url)
        let configs = Self.repoRoot.appendingPathComponent("configs").standardizedFileURL
        #expect(config.name == "synthetic-gestures")
        #expect(config.model == configs.appendingPathComponent("models/spikformer-tiny.yaml"))
        #expect(config.energyModel("spikformer-45nm") == configs.appendingPathComponent("energy/spikformer-45nm.yaml"))
        #expect(config.objectives == [.accuracy(split: "validation"), .energy(model: "spikformer-45nm")])
        #expect(config.space.fixed == ["head": .uniform(8)])
        #expect(config.checkpoint.train?.learningRate == 3e-3 && config.checkpoint.train?.weightDecay == 0.06)
        #expect(config.budget.evaluations != nil)
        #expect(config.search.fidelity == FidelitySchedule(rungs: [15, 60], eta: 3, knapsackSeedsAtTop: true), "the demo runs the multi-fidelity search")
        #expect(config.search.measuredSensitivity?.method == .fisher && config.search.knapsackSeeds == 4, "seeded from a measured table")
        #expect(config.search.reference == .fineTuned && config.search.commonRandomNumbers)
        // Every path it names resolves inside the repository's configs/ or runs/.
        let paths = [config.model, config.dataset] + config.energyModels.map(\.url) + [config.checkpoint.path].compactMap { $0 }
        for path in paths {
            #expect(path.path.hasPrefix(configs.path + "/") || path.path.hasPrefix(Self.repoRoot.standardizedFileURL.path + "/runs/"), "\(path.path)")
        }
    }

    @Test(arguments: ["synthetic-gestures", "synthetic-gestures-quick", "dvs128-gesture", "cifar10-dvs", "n-caltech101"])
    func everyShippedSearchConfigParsesAndNamesItsModelAndData(name: String) throws {
        let config = try SearchConfig.load(from: Self.repoRoot.appendingPathComponent("configs/search/\(name).yaml"))
        let configs = Self.repoRoot.appendingPathComponent("configs").standardizedFileURL
        #expect(config.name == name)
        for path in [config.model, config.dataset] + config.energyModels.map(\.url) {
            #expect(path.path.hasPrefix(configs.path + "/"), "\(path.path)")
            #expect(FileManager.default.fileExists(atPath: path.path), "\(path.path)")
        }
        #expect(config.energyModels.map(\.name).sorted() == ["horowitz-45nm", "spikformer-45nm"])
        #expect(config.checkpoint.train != nil && config.budget.evaluations != nil)
    }

    @Test func defaultsAndPathResolution() throws {
        let config = try SearchConfig.parse(minimal, file: file)
        #expect(config.model.path == "/work/configs/models/tiny.yaml")
        #expect(config.checkpoint.path?.path == "/work/runs/base/tiny.safetensors")
        #expect(config.objectives == ObjectiveSpec.defaults(energyModel: "e45"))
        #expect(config.space.bits == [2, 3, 4, 5, 6, 8] && config.space.schemes == [.uniform, .pot])
        #expect(config.search.referencePoint == [1, 1])
        #expect(config.maxAttempts == 3 && config.lease.progressTimeout == 900)
        #expect(config.seed == 0 && config.budget.wallSeconds == nil)
    }

    @Test func everythingSetAndTheResolvedYAMLReadsBack() throws {
        let text = minimal.replacingOccurrences(of: "budget:\n  evaluations: 10", with: "") + """

            name: full
            seed: 9
            space:
              schemes: [uniform]
              bits: [3, 2, 8]
              fixed: {head: u8, sps.stages.0.conv: p4}
            objectives:
              - accuracy: test
              - energy: e45
              - average_bits
            constraints:
              max_accuracy_drop: 0.03
              max_energy: 5.0e5
              max_average_bits: 6
              max_packed_bytes: 100000
            budget:
              evaluations: 50
              wall_time: 1.5h
              grace: 90
            search:
              population: 20
              crossover_rate: 0.8
              mutation_rate: 0.1
              mutation_mix: {neighbour: 1, resample: 1}
              remating_attempts: 5
              reference_point: [1, 1.2, 1]
              sensitivity_budgets: [0.5]
            fine_tune: {epochs: 2, max_steps: 100, learning_rate: 3e-4, weight_decay: 0.01, batch_size: 8, label_smoothing: 0.0, threads: 2}
            retry: {max_attempts: 5}
            lease: {progress_timeout: 20m, heartbeat_timeout: 45s}
            """
        let config = try SearchConfig.parse(text, file: file)
        #expect(config.space.bits == [2, 3, 8])
        #expect(config.constraints == [
            .maxAccuracyDrop(split: "test", limit: 0.03), .maxEnergy(model: "e45", picojoules: 5e5), .maxAverageBits(6), .maxPackedBytes(100_000),
        ])
        #expect(config.budget == StudyBudget(evaluations: 50, wallSeconds: 5400, graceSeconds: 90))
        #expect(config.search.mutationMix == MutationMix(neighbour: 1, flipScheme: 0, resample: 1))
        #expect(config.fineTune == FineTuneBudget(epochs: 2, maxSteps: 100, learningRate: 3e-4, weightDecay: 0.01, batchSize: 8, labelSmoothing: 0, threads: 2))
        #expect(config.lease == LeaseTimings(progressTimeout: 1200, heartbeatTimeout: 45))
        let again = try SearchConfig.parse(config.resolvedYAML, file: URL(fileURLWithPath: "/elsewhere/resolved.yaml"))
        var expected = config
        expected.file = again.file
        #expect(again == expected, "resolved YAML:\n\(config.resolvedYAML)")
    }

    @Test(arguments: [
        ("colour: blue", "colour", "unknown key"),
        ("space: {bits: [2, 9]}", "space.bits[1]", "outside"),
        ("space: {schemes: [uniform, int]}", "space.schemes[1]", "not one of"),
        ("space: {fixed: {head: q8}}", "space.fixed.head", "not a choice"),
        ("objectives: [{energy: e99}]", "objectives[0].energy", "unknown energy model"),
        ("objectives: [speed]", "objectives[0]", "not an objective"),
        ("objectives: [accuracy, accuracy]", "objectives[1]", "listed twice"),
        ("constraints: {max_accuracy_drop: 2}", "constraints.max_accuracy_drop", "outside"),
        ("constraints: {max_latency: 2}", "constraints.max_latency", "unknown key"),
        ("search: {population: 1}", "search.population", "outside"),
        ("search: {reference_point: [1, 1, 1]}", "search.reference_point", "3 entries for 2 objectives"),
        ("search: {mutation_rate: often}", "search.mutation_rate", "expected a number"),
        ("fine_tune: {learning_rate: fast}", "fine_tune.learning_rate", "expected a number"),
        ("lease: {progress_timeout: soon}", "lease.progress_timeout", "not a positive duration"),
        ("retry: {max_attempts: 0}", "retry.max_attempts", "outside"),
        ("seed: -1", "seed", "outside"),
        ("name: ../escape", "name", "not usable"),
    ])
    func badValuesNameTheFileAndKey(extra: String, key: String, message: String) throws {
        let error = try #require(parseError(minimal + "\n" + extra))
        #expect(error.file == file.path)
        #expect(error.key == key, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix(file.path))
    }

    @Test func missingRequiredKeysAndBudgets() throws {
        #expect(parseError(minimal.replacingOccurrences(of: "model: ../models/tiny.yaml\n", with: ""))?.key == "model")
        #expect(parseError(minimal.replacingOccurrences(of: "  evaluations: 10", with: "  grace: 5m"))?.key == "budget")
        #expect(parseError("checkpoint: {}\n" + minimal.replacingOccurrences(of: "checkpoint: ../../runs/base/tiny.safetensors\n", with: ""))?.key == "checkpoint")
        let twice = try #require(parseError(minimal + "\nbudget: {evaluations: 3}"))
        #expect(twice.description.contains("duplicate") || twice.key == "budget", "a key given twice: \(twice)")
        let notYAML = try #require(parseError("model: [unclosed"))
        #expect(notYAML.description.contains("not valid YAML"))
        #expect(parseError(CraftedYAML.aliasBomb(levels: 6))?.message.contains("expands to more than") == true)
        #expect(parseError("")?.description.contains("empty") == true)
        let line = try #require(parseError(minimal + "\nspace:\n  bits: [2, 99]"))
        #expect(line.line == 9, "\(line)")
    }

    @Test func spaceAndSetupForAModel() throws {
        let config = try SearchConfig.parse(minimal + "\nspace: {fixed: {head: u8}}", file: file)
        let layers = SpikformerLayers.quantizable(depth: 1)
        let space = try config.quantizationSpace(layers: layers)
        #expect(space.choices(for: "head") == [.uniform(8)])
        let other = try SearchConfig.parse(minimal + "\nspace: {fixed: {classifier: u8}}", file: file)
        do {
            _ = try other.quantizationSpace(layers: layers)
            Issue.record("an unknown pinned layer must be refused")
        } catch {
            #expect(error.key == "space.fixed.classifier" && error.file == file.path)
        }
        let template = RequestTemplate(
            fineTune: config.fineTune, baseCheckpoint: ArtifactReference(sha256: "x", bytes: 1, name: "b"), dataset: DatasetReference(configYAML: "", fingerprint: "f"),
            energyModels: [:])
        let setup = try config.studySetup(layers: layers, template: template)
        #expect(setup.name == "demo" && setup.parameters.objectiveCount == 2 && setup.parameters.populationSize == 32)
        #expect(setup.configYAML == config.resolvedYAML)
        let missingTable = try SearchConfig.parse(minimal + "\nsearch: {sensitivity: nowhere.json}", file: file)
        #expect(throws: ConfigError.self) { try missingTable.studySetup(layers: layers, template: template) }
    }
}
