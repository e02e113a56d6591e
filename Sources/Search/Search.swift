// Search
//
// The multi-objective evolutionary search: typed per-layer genes, steady-state NSGA-II with constrained
// domination, duplicate elimination and hypervolume. Pure and seeded; no I/O.
//
// Files:
//   Genome.swift                     genes and the space they are drawn from (GenomeSpace)
//   Variation.swift                  crossover and mutation that keep genes valid
//   Sensitivity.swift                per-layer sensitivity: seeds at cost budgets, mutation weights
//   Fitness.swift                    objective vectors, constraint violation, (constrained) domination
//   ParetoRanking.swift              non-dominated sort and crowding distance
//   Hypervolume.swift                exact hypervolume (2-D sweep, slicing above)
//   Objectives.swift                 which metrics are optimised or constrained (pure data)
//   SteadyStateNSGA2.swift           the algorithm: ask / tell, population, archive, dedup
//   SteadyStateNSGA2+Seeding.swift   the initial population
