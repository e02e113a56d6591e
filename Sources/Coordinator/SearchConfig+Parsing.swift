import ConfigFiles
import Foundation
import QuantConfig
import Search
import Wire

extension SearchConfig {
    static let topLevelKeys = [
        "name", "seed", "model", "dataset", "checkpoint", "energy", "space", "objectives", "constraints", "budget", "search", "fine_tune", "retry",
        "lease", "gumbel", "final",
    ]

    /// Reads and checks a search config file; relative paths resolve against its directory.
    public static func load(from url: URL) throws(ConfigError) -> SearchConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, key: "", message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.standardizedFileURL)
    }

    /// Parses config text as if it were the file `file` (whose directory relative paths resolve against).
    public static func parse(_ text: String, file: URL) throws(ConfigError) -> SearchConfig {
        let root = try ConfigNode.root(text, file: file.path)
        let base = file.deletingLastPathComponent()
        let map = try root.mapping(allowed: topLevelKeys)
        func required(_ key: String) throws(ConfigError) -> ConfigNode {
            guard let node = map[key] else { throw ConfigError(file: file.path, key: key, message: "missing (required)") }
            return node
        }

        let energyModels = try parseEnergy(map["energy"], base: base)
        let objectives = try parseObjectives(map["objectives"], energyModels: energyModels, file: file.path)
        var search = try parseSearch(map["search"], base: base)
        if let reference = search.referencePoint, reference.count != objectives.count, let node = map["search"] {
            throw ConfigError(
                file: file.path, key: "search.reference_point", line: node.line,
                message: "has \(reference.count) entries for \(objectives.count) objectives")
        }
        search.referencePoint = search.referencePoint ?? Array(repeating: 1, count: objectives.count)
        let gumbel = try parseGumbel(map["gumbel"])
        if search.strategy == .gumbel, search.fidelity != nil, let node = map["search"] {
            throw ConfigError(
                file: file.path, key: "search.fidelity", line: node.line,
                message: "the gumbel strategy evaluates each derived configuration once at full fidelity; use hybrid for multi-fidelity")
        }
        if map["gumbel"] != nil && search.strategy == .nsga2, let node = map["gumbel"] {
            throw ConfigError(
                file: file.path, key: "gumbel", line: node.line, message: "is used only with search.strategy gumbel or hybrid (the strategy is nsga2)")
        }

        let config = SearchConfig(
            file: file, name: try map["name"]?.string(), seed: try map["seed"].map { node throws(ConfigError) in UInt64(try node.int(0...Int.max)) } ?? 0,
            model: try required("model").path(relativeTo: base), dataset: try required("dataset").path(relativeTo: base),
            checkpoint: try parseCheckpoint(try required("checkpoint"), base: base), energyModels: energyModels,
            space: try parseSpace(map["space"]), objectives: objectives,
            constraints: try parseConstraints(map["constraints"], objectives: objectives, energyModels: energyModels),
            budget: try parseBudget(try required("budget")), search: search, fineTune: try parseFineTune(map["fine_tune"]),
            maxAttempts: try parseRetry(map["retry"]), lease: try parseLease(map["lease"]), gumbel: gumbel, reseeds: try parseFinal(map["final"]))
        if let name = config.name, name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw ConfigError(file: file.path, key: "name", message: "`\(name)` is not usable as a directory name")
        }
        return config
    }

    private static func parseCheckpoint(_ node: ConfigNode, base: URL) throws(ConfigError) -> CheckpointSource {
        if node.isScalar { return CheckpointSource(path: try node.path(relativeTo: base), train: nil) }
        let map = try node.mapping(allowed: ["path", "train"])
        let source = CheckpointSource(path: try map["path"]?.path(relativeTo: base), train: try map["train"].map(parseRecipe))
        if source.path == nil && source.train == nil { throw node.error("give a `path`, a `train` recipe, or both") }
        return source
    }

    private static func parseRecipe(_ node: ConfigNode) throws(ConfigError) -> TrainingRecipe {
        let map = try node.mapping(allowed: ["epochs", "learning_rate", "weight_decay", "schedule", "warmup_epochs", "label_smoothing", "batch_size"])
        guard let epochs = map["epochs"] else { throw ConfigError(file: node.file, key: "\(node.key).epochs", message: "missing (required)") }
        var recipe = TrainingRecipe(epochs: try epochs.int(1...100_000))
        if let value = map["learning_rate"] { recipe.learningRate = try value.double(0...10, exclusiveLower: true) }
        if let value = map["weight_decay"] { recipe.weightDecay = try value.double(0...10) }
        if let value = map["schedule"] {
            let text = try value.string()
            guard let schedule = TrainingRecipe.Schedule(rawValue: text) else {
                throw value.error("`\(text)` is not one of \(TrainingRecipe.Schedule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            recipe.schedule = schedule
        }
        if let value = map["warmup_epochs"] { recipe.warmupEpochs = try value.int(0...recipe.epochs) }
        if let value = map["label_smoothing"] { recipe.labelSmoothing = try value.double(0...1) }
        if let value = map["batch_size"] { recipe.batchSize = try value.int(1...1_000_000) }
        return recipe
    }

    private static func parseEnergy(_ node: ConfigNode?, base: URL) throws(ConfigError) -> [NamedFile] {
        guard let node else { return [] }
        var models: [NamedFile] = []
        for (name, entry) in try node.namedEntries() { models.append(NamedFile(name: name, url: try entry.path(relativeTo: base))) }
        return models
    }

    /// Reads a search space on its own: a YAML file holding either a search config's `space:`
    /// section (schemes, bits, fixed) or a whole search config with one.
    public static func loadSpace(from url: URL) throws(ConfigError) -> SpaceSettings {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(file: url.path, key: "", message: "cannot read: \(error.localizedDescription)")
        }
        let root = try ConfigNode.root(text, file: url.path)
        if root.hasKey("space") {
            return try parseSpace(try root.mapping(allowed: topLevelKeys)["space"])
        }
        return try parseSpace(root)
    }

    private static func parseSpace(_ node: ConfigNode?) throws(ConfigError) -> SpaceSettings {
        var space = SpaceSettings()
        guard let node else { return space }
        let map = try node.mapping(allowed: ["schemes", "bits", "fixed"])
        if let list = map["schemes"] {
            space.schemes = []
            for entry in try list.sequence() {
                let text = try entry.string()
                guard let scheme = QuantScheme(rawValue: text) else { throw entry.error("`\(text)` is not one of uniform, pot, float") }
                guard !space.schemes.contains(scheme) else { throw entry.error("`\(text)` listed twice") }
                space.schemes.append(scheme)
            }
            if space.schemes.isEmpty { throw list.error("allow at least one scheme") }
        }
        if let list = map["bits"] {
            space.bits = []
            for entry in try list.sequence() {
                let bits = try entry.int(QuantizationSpace.supportedBits.lowerBound...QuantizationSpace.supportedBits.upperBound)
                guard !space.bits.contains(bits) else { throw entry.error("\(bits) listed twice") }
                space.bits.append(bits)
            }
            space.bits.sort()
            if space.bits.isEmpty && space.schemes.contains(where: { $0 != .float }) { throw list.error("allow at least one width") }
        }
        if let fixed = map["fixed"] {
            for (layer, entry) in try fixed.namedEntries() {
                let text = try entry.string()
                guard let choice = LayerQuantization(shortForm: text) else { throw entry.error("`\(text)` is not a choice (use u<bits>, p<bits> or f32)") }
                if choice.scheme != .float && !QuantizationSpace.supportedBits.contains(choice.bits) {
                    throw entry.error("width \(choice.bits) is outside \(QuantizationSpace.supportedBits)")
                }
                space.fixed[layer] = choice
            }
        }
        return space
    }

    private static func parseObjectives(_ node: ConfigNode?, energyModels: [NamedFile], file: String) throws(ConfigError) -> [ObjectiveSpec] {
        func energy(_ entry: ConfigNode, model: String?) throws(ConfigError) -> ObjectiveSpec {
            guard let model = model ?? energyModels.first?.name else { throw entry.error("no energy models are configured (add an `energy:` section)") }
            guard energyModels.contains(where: { $0.name == model }) else {
                throw entry.error("unknown energy model `\(model)` (configured: \(energyModels.map(\.name).joined(separator: ", ")))")
            }
            return .energy(model: model)
        }
        guard let node else {
            guard let first = energyModels.first else {
                throw ConfigError(file: file, key: "objectives", message: "missing, and no energy model to default to")
            }
            return ObjectiveSpec.defaults(energyModel: first.name)
        }
        var objectives: [ObjectiveSpec] = []
        for entry in try node.sequence() {
            let objective: ObjectiveSpec
            if entry.isScalar {
                switch try entry.string() {
                case "accuracy": objective = .accuracy(split: "validation")
                case "energy": objective = try energy(entry, model: nil)
                case "average_bits": objective = .averageBits
                case "packed_bytes": objective = .packedBytes
                case let other: throw entry.error("`\(other)` is not an objective (accuracy, energy, average_bits, packed_bytes)")
                }
            } else {
                let map = try entry.mapping(allowed: ["accuracy", "energy"])
                guard map.count == 1 else { throw entry.error("give exactly one of `accuracy: SPLIT` or `energy: MODEL`") }
                if let split = map["accuracy"] {
                    let name = try split.string()
                    guard name == "validation" || name == "test" || name == "train" else { throw split.error("`\(name)` is not a split (validation, test, train)") }
                    objective = .accuracy(split: name)
                } else {
                    let model = map["energy"]!
                    objective = try energy(model, model: try model.string())
                }
            }
            guard !objectives.contains(objective) else { throw entry.error("\(objective) listed twice") }
            objectives.append(objective)
        }
        guard (1...4).contains(objectives.count) else { throw node.error("give 1 to 4 objectives") }
        return objectives
    }

    private static func parseConstraints(_ node: ConfigNode?, objectives: [ObjectiveSpec], energyModels: [NamedFile]) throws(ConfigError)
        -> [ConstraintSpec]
    {
        guard let node else { return [] }
        let map = try node.mapping(allowed: ["max_accuracy_drop", "max_energy", "max_average_bits", "max_packed_bytes"])
        var constraints: [ConstraintSpec] = []
        if let value = map["max_accuracy_drop"] {
            var split = "validation"
            for case .accuracy(let s) in objectives { split = s }
            constraints.append(.maxAccuracyDrop(split: split, limit: try value.double(0...1)))
        }
        if let value = map["max_energy"] {
            var model: String?
            for case .energy(let m) in objectives { model = m }
            let picojoules: Double
            if value.isScalar {
                picojoules = try value.double(0...Double.greatestFiniteMagnitude, exclusiveLower: true)
            } else {
                let inner = try value.mapping(allowed: ["model", "picojoules"])
                guard let pj = inner["picojoules"] else { throw value.error("missing `picojoules`") }
                picojoules = try pj.double(0...Double.greatestFiniteMagnitude, exclusiveLower: true)
                if let m = inner["model"] { model = try m.string() }
            }
            guard let model = model ?? energyModels.first?.name else { throw value.error("no energy model to measure against") }
            guard energyModels.contains(where: { $0.name == model }) else { throw value.error("unknown energy model `\(model)`") }
            constraints.append(.maxEnergy(model: model, picojoules: picojoules))
        }
        if let value = map["max_average_bits"] { constraints.append(.maxAverageBits(try value.double(1...32))) }
        if let value = map["max_packed_bytes"] { constraints.append(.maxPackedBytes(try value.int(1...Int.max))) }
        return constraints
    }

    private static func parseBudget(_ node: ConfigNode) throws(ConfigError) -> StudyBudget {
        let map = try node.mapping(allowed: ["evaluations", "wall_time", "grace"])
        let budget = StudyBudget(
            evaluations: try map["evaluations"]?.int(1...10_000_000), wallSeconds: try map["wall_time"]?.duration(),
            graceSeconds: try map["grace"]?.duration())
        if budget.evaluations == nil && budget.wallSeconds == nil { throw node.error("set `evaluations`, `wall_time`, or both") }
        return budget
    }

    private static func parseSearch(_ node: ConfigNode?, base: URL) throws(ConfigError) -> SearchSettings {
        var settings = SearchSettings()
        guard let node else { return settings }
        let map = try node.mapping(allowed: [
            "population", "crossover_rate", "mutation_rate", "mutation_mix", "remating_attempts", "reference_point", "sensitivity", "sensitivity_budgets",
            "sensitivity_temperature", "knapsack_seeds", "surrogate", "fidelity", "reference", "common_random_numbers", "strategy",
        ])
        if let value = map["strategy"] {
            let text = try value.string()
            guard let strategy = SearchStrategy(rawValue: text) else {
                throw value.error("`\(text)` is not one of \(SearchStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.strategy = strategy
        }
        if let value = map["population"] { settings.populationSize = try value.int(2...100_000) }
        if let value = map["crossover_rate"] { settings.crossoverRate = try value.double(0...1) }
        if let value = map["mutation_rate"] {
            settings.mutationRate = (try? value.string()) == "auto" ? nil : try value.double(0...1, exclusiveLower: true)
        }
        if let value = map["mutation_mix"] {
            let mix = try value.mapping(allowed: ["neighbour", "flip_scheme", "resample"])
            settings.mutationMix = MutationMix(
                neighbour: try mix["neighbour"]?.double(0...1000) ?? 0, flipScheme: try mix["flip_scheme"]?.double(0...1000) ?? 0,
                resample: try mix["resample"]?.double(0...1000) ?? 0)
            let m = settings.mutationMix
            if m.neighbour + m.flipScheme + m.resample <= 0 { throw value.error("at least one weight must be positive") }
        }
        if let value = map["remating_attempts"] { settings.rematingAttempts = try value.int(0...100_000) }
        if let value = map["reference_point"] {
            var point: [Double] = []
            for entry in try value.sequence() { point.append(try entry.double(0...1e6, exclusiveLower: true)) }
            settings.referencePoint = point
        }
        if let value = map["sensitivity"] {
            if value.isScalar {
                settings.sensitivity = try value.path(relativeTo: base)
            } else {
                let measure = try value.mapping(allowed: ["method", "batches", "samples"])
                guard let methodNode = measure["method"] else { throw value.error("set `method` (fisher or drop), or give a table file") }
                let name = try methodNode.string()
                guard let method = SensitivityMethod(rawValue: name) else {
                    throw methodNode.error("`\(name)` is not one of \(SensitivityMethod.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                var measurement = SensitivityMeasurement(method: method)
                if let entry = measure["batches"] { measurement.batches = try entry.int(1...10_000) }
                if let entry = measure["samples"] { measurement.samples = try entry.int(1...10_000_000) }
                settings.measuredSensitivity = measurement
            }
        }
        if let value = map["sensitivity_budgets"] {
            settings.sensitivityBudgets = []
            for entry in try value.sequence() { settings.sensitivityBudgets.append(try entry.double(0...1, exclusiveLower: true)) }
        }
        if let value = map["sensitivity_temperature"] { settings.sensitivityTemperature = try value.double(0...10, exclusiveLower: true) }
        if let value = map["knapsack_seeds"] { settings.knapsackSeeds = try value.int(0...10_000) }
        if let value = map["surrogate"] {
            let surrogate = try value.mapping(allowed: ["candidates", "min_results", "ridge"])
            var screening = SurrogateScreening()
            if let entry = surrogate["candidates"] { screening.candidates = try entry.int(1...10_000) }
            if let entry = surrogate["min_results"] { screening.minimumResults = try entry.int(2...1_000_000) }
            if let entry = surrogate["ridge"] { screening.ridge = try entry.double(0...1e9, exclusiveLower: true) }
            settings.surrogate = screening
        }
        if let value = map["common_random_numbers"] { settings.commonRandomNumbers = try value.bool() }
        if let value = map["reference"] {
            let text = try value.string()
            guard let kind = ReferenceKind(rawValue: text) else {
                throw value.error("`\(text)` is not one of \(ReferenceKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.reference = kind
        }
        if let value = map["fidelity"] {
            let fidelity = try value.mapping(allowed: ["rungs", "eta", "knapsack_seeds"])
            guard let rungsNode = fidelity["rungs"] else { throw value.error("set `rungs`, the fine-tune steps of each rung") }
            var rungs: [Int] = []
            for entry in try rungsNode.sequence() { rungs.append(try entry.int(1...EvaluationRequest.maxSteps)) }
            guard !rungs.isEmpty, zip(rungs, rungs.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw rungsNode.error("rungs must be one or more strictly increasing step counts, got \(rungs)")
            }
            var atTop = false
            if let entry = fidelity["knapsack_seeds"] {
                let text = try entry.string()
                guard ["top", "bottom"].contains(text) else { throw entry.error("`\(text)` is not top or bottom (the rung knapsack seeds start at)") }
                atTop = text == "top"
            }
            settings.fidelity = FidelitySchedule(rungs: rungs, eta: try fidelity["eta"]?.int(2...100) ?? 3, knapsackSeedsAtTop: atTop)
        }
        if settings.knapsackSeeds ?? 0 > 0 && settings.sensitivity == nil && settings.measuredSensitivity == nil {
            throw map["knapsack_seeds"]!.error(
                "knapsack seeds need a `sensitivity` table: a file (spikeq sensitivity --method fisher) or {method: fisher} to measure one")
        }
        return settings
    }

    private static func parseGumbel(_ node: ConfigNode?) throws(ConfigError) -> GumbelSettings {
        var settings = GumbelSettings()
        guard let node else { return settings }
        let map = try node.mapping(allowed: [
            "lambdas", "epochs", "max_steps", "learning_rate", "temperature", "architecture_learning_rate", "hard_sampling",
        ])
        if let list = map["lambdas"] {
            settings.lambdas = []
            for entry in try list.sequence() {
                let lambda = try entry.double(0...1e6)
                guard !settings.lambdas.contains(lambda) else { throw entry.error("\(lambda) listed twice") }
                settings.lambdas.append(lambda)
            }
            if settings.lambdas.isEmpty { throw list.error("list at least one λ") }
            if settings.lambdas.count > 1000 { throw list.error("at most 1000 λ values") }
            settings.lambdas.sort()
        }
        if let value = map["epochs"] { settings.epochs = try value.int(1...100_000) }
        if let value = map["max_steps"] { settings.maxSteps = try value.int(1...EvaluationRequest.maxSteps) }
        if let value = map["learning_rate"] { settings.learningRate = try value.double(0...10, exclusiveLower: true) }
        if let value = map["temperature"] {
            let entries = try value.sequence()
            guard entries.count == 2 else { throw value.error("give [start, end], e.g. [5.0, 0.5]") }
            settings.temperatureStart = try entries[0].double(0...1000, exclusiveLower: true)
            settings.temperatureEnd = try entries[1].double(0...1000, exclusiveLower: true)
            if settings.temperatureEnd > settings.temperatureStart { throw value.error("the temperature must anneal down (start ≥ end)") }
        }
        if let value = map["architecture_learning_rate"] { settings.architectureLearningRate = try value.double(0...10, exclusiveLower: true) }
        if let value = map["hard_sampling"] { settings.hardSampling = try value.bool() }
        return settings
    }

    private static func parseFineTune(_ node: ConfigNode?) throws(ConfigError) -> FineTuneBudget {
        var budget = FineTuneBudget()
        guard let node else { return budget }
        let map = try node.mapping(allowed: ["epochs", "max_steps", "learning_rate", "weight_decay", "batch_size", "label_smoothing", "threads"])
        if let value = map["epochs"] { budget.epochs = try value.int(0...100_000) }
        if let value = map["max_steps"] { budget.maxSteps = try value.int(1...Int.max) }
        if let value = map["learning_rate"] { budget.learningRate = try value.double(0...10, exclusiveLower: true) }
        if let value = map["weight_decay"] { budget.weightDecay = try value.double(0...10) }
        if let value = map["batch_size"] { budget.batchSize = try value.int(1...1_000_000) }
        if let value = map["label_smoothing"] { budget.labelSmoothing = try value.double(0...1) }
        if let value = map["threads"] { budget.threads = try value.int(1...4096) }
        return budget
    }

    /// `final: {reseeds: K}`; K = 0 (the default) re-tunes nothing.
    private static func parseFinal(_ node: ConfigNode?) throws(ConfigError) -> Int {
        guard let node else { return 0 }
        let map = try node.mapping(allowed: ["reseeds"])
        return try map["reseeds"]?.int(0...100) ?? 0
    }

    private static func parseRetry(_ node: ConfigNode?) throws(ConfigError) -> Int {
        guard let node else { return 3 }
        let map = try node.mapping(allowed: ["max_attempts"])
        return try map["max_attempts"]?.int(1...100) ?? 3
    }

    private static func parseLease(_ node: ConfigNode?) throws(ConfigError) -> LeaseTimings {
        var lease = LeaseTimings()
        guard let node else { return lease }
        let map = try node.mapping(allowed: ["progress_timeout", "heartbeat_timeout"])
        if let value = map["progress_timeout"] { lease.progressTimeout = try value.duration() }
        if let value = map["heartbeat_timeout"] { lease.heartbeatTimeout = try value.duration() }
        return lease
    }
}
