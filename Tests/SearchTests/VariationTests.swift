import QuantConfig
import Search
import Seeding
import Testing

struct VariationTests {
    let space = Fixtures.spikformerSpace()

    @Test func childrenStayInTheSpaceAndKeepPins() {
        var rng = SeededGenerator(seed: 1)
        let variation = Variation(crossoverRate: 0.9, mix: MutationMix(neighbour: 1, flipScheme: 1, resample: 1))
        let head = space.space.layers.firstIndex(of: "head")!
        for _ in 0..<2000 {
            let a = space.randomGenome(using: &rng)
            let b = space.randomGenome(using: &rng)
            let child = variation.child(of: a, and: b, in: space, using: &rng)
            #expect(space.contains(child))
            #expect(child.genes[head] == .uniform(8))
            #expect(child != a && child != b, "a child is never a clone of a parent")
        }
    }

    @Test func crossoverTakesEachGeneFromAParent() {
        var rng = SeededGenerator(seed: 2)
        let variation = Variation()
        for _ in 0..<200 {
            let a = space.randomGenome(using: &rng)
            let b = space.randomGenome(using: &rng)
            let child = variation.crossover(a, b, in: space, using: &rng)
            for layer in 0..<space.layerCount {
                #expect(child.genes[layer] == a.genes[layer] || child.genes[layer] == b.genes[layer])
            }
        }
    }

    @Test func neighbourMutationMovesToAnAdjacentAllowedWidth() {
        var rng = SeededGenerator(seed: 3)
        let variation = Variation(mix: MutationMix(neighbour: 1, flipScheme: 0, resample: 0))
        let widths = QuantizationSpace.defaultBits
        for _ in 0..<1000 {
            let layer = space.freeLayers.randomElement(using: &rng)!
            let gene = space.choices[layer].randomElement(using: &rng)!
            let mutated = variation.mutatedGene(gene, layer: layer, in: space, using: &rng)
            #expect(mutated.scheme == gene.scheme)
            let from = widths.firstIndex(of: gene.bits)!
            let to = widths.firstIndex(of: mutated.bits)!
            #expect(abs(from - to) == 1, "\(gene) → \(mutated)")
        }
    }

    @Test func schemeFlipKeepsTheWidthWhenAllowed() {
        var rng = SeededGenerator(seed: 4)
        let variation = Variation(mix: MutationMix(neighbour: 0, flipScheme: 1, resample: 0))
        for _ in 0..<500 {
            let layer = space.freeLayers.randomElement(using: &rng)!
            let gene = space.choices[layer].randomElement(using: &rng)!
            let mutated = variation.mutatedGene(gene, layer: layer, in: space, using: &rng)
            #expect(mutated.scheme != gene.scheme && mutated.bits == gene.bits)
        }
        // Where the other scheme lacks the width, the nearest allowed width is used.
        let uneven = try! GenomeSpace(
            QuantizationSpace(layers: ["x", "y"], schemes: [.uniform], bits: [2, 8], fixed: [:]))
        #expect(variation.mutatedGene(.uniform(2), layer: 0, in: uneven, using: &rng) == .uniform(8), "one scheme: falls back to resampling")
    }

    @Test func aboutOneMutationPerChildByDefault() {
        var rng = SeededGenerator(seed: 5)
        let variation = Variation()
        var total = 0
        let trials = 20000
        for _ in 0..<trials {
            var genome = space.randomGenome(using: &rng)
            total += variation.mutate(&genome, in: space, using: &rng)
        }
        let mean = Double(total) / Double(trials)
        #expect(abs(mean - 1) < 0.05, "mean mutations per child \(mean)")
    }

    @Test func weightsSteerWhichLayersAndChoicesMutate() {
        var rng = SeededGenerator(seed: 6)
        var weights = MutationWeights.uniform(for: space)
        let frozen = space.freeLayers[0]
        let favoured = space.freeLayers[1]
        weights.layers[frozen] = 0
        // Resampling on `favoured` may only pick u3.
        weights.choices[favoured] = space.choices[favoured].map { $0 == .uniform(3) ? 1 : 0 }
        let variation = Variation(mix: MutationMix(neighbour: 0, flipScheme: 0, resample: 1), weights: weights)
        #expect(variation.layerProbabilities(in: space)[0] == 0)
        for _ in 0..<3000 {
            var genome = space.baselineGenome(.uniform(8))
            variation.mutate(&genome, in: space, using: &rng)
            #expect(genome.genes[frozen] == .uniform(8))
            #expect(genome.genes[favoured] == .uniform(8) || genome.genes[favoured] == .uniform(3))
        }
    }
}

extension GenomeSpace {
    func baselineGenome(_ choice: LayerQuantization) -> Genome {
        SteadyStateNSGA2.baseline(choice, in: self)!
    }
}
