import ConfigFiles
import Foundation
import QuantConfig
import Search
import Wire
import Yams

extension SearchConfig {
    /// The search space for a model whose quantizable layers are `layers` (model order).
    ///
    /// - Throws: naming `space.fixed.LAYER` when a pinned layer is not in the model.
    public func quantizationSpace(layers: [String]) throws(ConfigError) -> QuantizationSpace {
        do {
            return try space.quantizationSpace(layers: layers)
        } catch {
            throw ConfigError(file: file.path, key: "space.\(error.key)", message: error.message)
        }
    }

    /// Reads the sensitivity table named by `search.sensitivity`, if any.
    public func loadSensitivity() throws(ConfigError) -> SensitivityTable? {
        guard let url = search.sensitivity else { return nil }
        do {
            return try JSONDecoder().decode(SensitivityTable.self, from: Data(contentsOf: url))
        } catch {
            throw ConfigError(file: file.path, key: "search.sensitivity", message: "cannot read \(url.path): \(error)")
        }
    }

    /// The energy model files' contents (name → YAML text), as requests carry them.
    public func energyModelTexts() throws(ConfigError) -> [String: String] {
        var texts: [String: String] = [:]
        for model in energyModels {
            do {
                texts[model.name] = try String(contentsOf: model.url, encoding: .utf8)
            } catch {
                throw ConfigError(file: file.path, key: "energy.\(model.name)", message: "cannot read \(model.url.path): \(error.localizedDescription)")
            }
        }
        return texts
    }

    /// The NSGA-II settings for `space`, with sensitivity-guided mutation weights when a table is given.
    public func parameters(space: GenomeSpace, sensitivity: SensitivityTable?) -> NSGA2Parameters {
        NSGA2Parameters(
            populationSize: search.populationSize, objectiveCount: objectives.count, referencePoint: search.referencePoint,
            variation: Variation(
                crossoverRate: search.crossoverRate, mutationRate: search.mutationRate, mix: search.mutationMix,
                weights: sensitivity?.mutationWeights(for: space, temperature: search.sensitivityTemperature)),
            rematingAttempts: search.rematingAttempts, sensitivityBudgets: search.sensitivityBudgets, knapsackSeeds: search.knapsackSeeds,
            screening: search.surrogate)
    }

    /// Everything a ``Study`` needs, once the model's layers and the request template are known.
    ///
    /// - Parameters:
    ///   - name: the run name; defaults to the config's `name`, then the file's base name.
    ///   - layers: the model's quantizable layers, in order.
    ///   - template: fine-tune budget, checkpoint and dataset references, energy model texts.
    ///   - measuredSensitivity: the table measured for `search.sensitivity: {method: …}` (ignored
    ///     when the config names a file).
    public func studySetup(
        name: String? = nil, layers: [String], template: RequestTemplate, measuredSensitivity: SensitivityTable? = nil
    ) throws -> StudySetup {
        let quantizationSpace = try quantizationSpace(layers: layers)
        let genomeSpace = try GenomeSpace(quantizationSpace)
        if search.measuredSensitivity != nil && measuredSensitivity == nil {
            throw ConfigError(file: file.path, key: "search.sensitivity", message: "asks for a measured table, but none was measured")
        }
        let sensitivity = try loadSensitivity() ?? (search.measuredSensitivity == nil ? nil : measuredSensitivity)
        if let sensitivity {
            do {
                try sensitivity.validate(against: genomeSpace)
            } catch {
                throw ConfigError(file: file.path, key: "search.sensitivity", message: error.description)
            }
        }
        return StudySetup(
            name: name ?? self.name ?? file.deletingPathExtension().lastPathComponent, configYAML: resolvedYAML, space: quantizationSpace,
            objectives: objectives, constraints: constraints, parameters: parameters(space: genomeSpace, sensitivity: sensitivity), sensitivity: sensitivity,
            seed: seed, budget: budget, maxAttempts: maxAttempts, lease: lease, template: template, fidelity: search.fidelity,
            fineTunedReference: search.reference == .fineTuned, commonRandomNumbers: search.commonRandomNumbers,
            supernet: supernetSweep(template: template), reseeds: reseeds,
            sensitivitySteps: sensitivity != nil && search.measuredSensitivity != nil
                ? measuredSensitivity?.gradientPasses ?? search.measuredSensitivity?.qatSteps : nil)
    }

    /// The energy table a measured sensitivity table (and the λ sweep) uses: the energy objective's,
    /// else the first one.
    public var objectiveEnergyModel: String? {
        objectives.lazy.compactMap { objective -> String? in
            if case .energy(let model) = objective { return model }
            return nil
        }.first ?? energyModels.first?.name
    }

    /// The λ sweep of the gumbel and hybrid strategies (nil for nsga2); E is measured under the
    /// energy objective's table (else the first one).
    func supernetSweep(template: RequestTemplate) -> SupernetSweep? {
        guard search.strategy != .nsga2 else { return nil }
        return SupernetSweep(
            jobs: gumbel.jobs(energyModel: objectiveEnergyModel), budget: gumbel.budget(from: template.fineTune), continuesWithNSGA2: search.strategy == .hybrid)
    }

    /// The config with every default filled in and every path absolute, as YAML that
    /// ``parse(_:file:)`` reads back to the same config.
    public var resolvedYAML: String {
        var root: [(Node, Node)] = []
        func add(_ key: String, _ value: Node) { root.append((Node(key), value)) }
        if let name { add("name", text(name)) }
        add("seed", Node(String(seed)))
        add("model", text(model.path))
        add("dataset", text(dataset.path))
        var checkpointPairs: [(Node, Node)] = []
        if let path = checkpoint.path { checkpointPairs.append((Node("path"), text(path.path))) }
        if let recipe = checkpoint.train {
            checkpointPairs.append(
                (
                    Node("train"),
                    mapping([
                        ("epochs", number(recipe.epochs)), ("learning_rate", number(recipe.learningRate)), ("weight_decay", number(recipe.weightDecay)),
                        ("schedule", Node(recipe.schedule.rawValue)), ("warmup_epochs", number(recipe.warmupEpochs)),
                        ("label_smoothing", number(recipe.labelSmoothing)), ("batch_size", number(recipe.batchSize)),
                    ])
                ))
        }
        add("checkpoint", Node(checkpointPairs))
        if !energyModels.isEmpty { add("energy", Node(energyModels.map { (text($0.name), text($0.url.path)) })) }
        add(
            "space",
            mapping([
                ("schemes", Node(space.schemes.map { Node($0.rawValue) }, .implicit, .flow)), ("bits", Node(space.bits.map(number), .implicit, .flow)),
                ("fixed", Node(space.fixed.sorted { $0.key < $1.key }.map { (text($0.key), Node($0.value.description)) })),
            ]))
        add(
            "objectives",
            Node(
                objectives.map { objective -> Node in
                    switch objective {
                    case .accuracy(let split): mapping([("accuracy", text(split))])
                    case .energy(let model): mapping([("energy", text(model))])
                    case .averageBits: Node("average_bits")
                    case .packedBytes: Node("packed_bytes")
                    }
                }))
        var constraintPairs: [(String, Node)] = []
        for constraint in constraints {
            switch constraint {
            case .maxAccuracyDrop(_, let limit): constraintPairs.append(("max_accuracy_drop", number(limit)))
            case .maxEnergy(let model, let pj): constraintPairs.append(("max_energy", mapping([("model", text(model)), ("picojoules", number(pj))])))
            case .maxAverageBits(let bits): constraintPairs.append(("max_average_bits", number(bits)))
            case .maxPackedBytes(let bytes): constraintPairs.append(("max_packed_bytes", number(bytes)))
            }
        }
        if !constraintPairs.isEmpty { add("constraints", mapping(constraintPairs)) }
        var budgetPairs: [(String, Node)] = []
        if let evaluations = budget.evaluations { budgetPairs.append(("evaluations", number(evaluations))) }
        if let wall = budget.wallSeconds { budgetPairs.append(("wall_time", Node("\(wall)s"))) }
        if let grace = budget.graceSeconds { budgetPairs.append(("grace", Node("\(grace)s"))) }
        add("budget", mapping(budgetPairs))
        var searchPairs: [(String, Node)] = [
            ("population", number(search.populationSize)), ("crossover_rate", number(search.crossoverRate)),
            ("mutation_rate", search.mutationRate.map(number) ?? Node("auto")),
            (
                "mutation_mix",
                mapping([
                    ("neighbour", number(search.mutationMix.neighbour)), ("flip_scheme", number(search.mutationMix.flipScheme)),
                    ("resample", number(search.mutationMix.resample)),
                ])
            ),
            ("remating_attempts", number(search.rematingAttempts)),
            ("reference_point", Node((search.referencePoint ?? []).map(number), .implicit, .flow)),
        ]
        if let sensitivity = search.sensitivity { searchPairs.append(("sensitivity", text(sensitivity.path))) }
        if let measure = search.measuredSensitivity {
            var pairs: [(String, Node)] = [("method", Node(measure.method.rawValue)), ("batches", number(measure.batches))]
            if let samples = measure.samples { pairs.append(("samples", number(samples))) }
            searchPairs.append(("sensitivity", mapping(pairs)))
        }
        searchPairs.append(("sensitivity_budgets", Node(search.sensitivityBudgets.map(number), .implicit, .flow)))
        searchPairs.append(("sensitivity_temperature", number(search.sensitivityTemperature)))
        if let seeds = search.knapsackSeeds { searchPairs.append(("knapsack_seeds", number(seeds))) }
        searchPairs.append(("reference", text(search.reference.rawValue)))
        searchPairs.append(("common_random_numbers", Node(search.commonRandomNumbers ? "true" : "false")))
        searchPairs.append(("strategy", Node(search.strategy.rawValue)))
        if let fidelity = search.fidelity {
            searchPairs.append(
                (
                    "fidelity",
                    mapping(
                        [("rungs", Node(fidelity.rungs.map(number), .implicit, .flow)), ("eta", number(fidelity.eta))]
                            + (fidelity.knapsackSeedsAtTop == true ? [("knapsack_seeds", Node("top"))] : []))
                ))
        }
        if let surrogate = search.surrogate {
            searchPairs.append(
                ("surrogate", mapping([
                    ("candidates", number(surrogate.candidates)), ("min_results", number(surrogate.minimumResults)),
                    ("ridge", number(surrogate.ridge)),
                ])))
        }
        add("search", mapping(searchPairs))
        if search.strategy != .nsga2 {
            var gumbelPairs: [(String, Node)] = [("lambdas", Node(gumbel.lambdas.map(number), .implicit, .flow))]
            if let epochs = gumbel.epochs { gumbelPairs.append(("epochs", number(epochs))) }
            if let steps = gumbel.maxSteps { gumbelPairs.append(("max_steps", number(steps))) }
            if let rate = gumbel.learningRate { gumbelPairs.append(("learning_rate", number(rate))) }
            gumbelPairs += [
                ("temperature", Node([number(gumbel.temperatureStart), number(gumbel.temperatureEnd)], .implicit, .flow)),
                ("architecture_learning_rate", number(gumbel.architectureLearningRate)),
                ("hard_sampling", Node(gumbel.hardSampling ? "true" : "false")),
            ]
            add("gumbel", mapping(gumbelPairs))
        }
        var fineTunePairs: [(String, Node)] = [("epochs", number(fineTune.epochs))]
        if let steps = fineTune.maxSteps { fineTunePairs.append(("max_steps", number(steps))) }
        fineTunePairs += [
            ("learning_rate", number(fineTune.learningRate)), ("weight_decay", number(fineTune.weightDecay)), ("batch_size", number(fineTune.batchSize)),
            ("label_smoothing", number(fineTune.labelSmoothing)),
        ]
        if let threads = fineTune.threads { fineTunePairs.append(("threads", number(threads))) }
        add("fine_tune", mapping(fineTunePairs))
        if reseeds > 0 { add("final", mapping([("reseeds", number(reseeds))])) }
        add("retry", mapping([("max_attempts", number(maxAttempts))]))
        add("lease", mapping([("progress_timeout", Node("\(lease.progressTimeout)s")), ("heartbeat_timeout", Node("\(lease.heartbeatTimeout)s"))]))
        // Serialising a tree of plain scalars cannot fail.
        return (try? Yams.serialize(node: Node(root))) ?? ""
    }
}

private func mapping(_ pairs: [(String, Node)]) -> Node { Node(pairs.map { (Node($0.0), $0.1) }) }
private func number(_ value: Int) -> Node { Node(String(value)) }
private func number(_ value: Double) -> Node { Node(value == value.rounded() && abs(value) < 1e15 ? String(format: "%.1f", value) : "\(value)") }

/// A string scalar, quoted when YAML would otherwise read it as something else.
private func text(_ value: String) -> Node {
    let plainIsSafe =
        !value.isEmpty && Int(value) == nil && Double(value) == nil
        && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(value.lowercased())
        && !value.contains(": ") && !value.contains(" #") && !"-?:,[]{}#&*!|>'\"%@`".contains(value.first!)
    return Node(value, .implicit, plainIsSafe ? .plain : .doubleQuoted)
}
