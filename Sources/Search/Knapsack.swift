/// The multiple-choice knapsack: pick exactly one choice per group so that the total cost stays
/// within a budget and the total value (a predicted loss) is as small as possible.
///
/// Assigning a width and scheme to every layer under an energy budget, minimising the summed
/// per-layer sensitivity, is exactly this problem (HAWQ-V3 states it as an integer program).
/// Dynamic programming over (group, budget) with integer costs is exact and, for a model's 10–50
/// layers × ~12 choices and a budget resolution of a few thousand units, takes milliseconds.
public enum MultipleChoiceKnapsack {
    /// The choice per group minimising Σ values subject to Σ costs ≤ `budget`.
    ///
    /// - Parameters:
    ///   - values: per group, the value of each choice (finite).
    ///   - costs: per group, the non-negative integer cost of each choice (same shape as `values`).
    ///   - budget: the largest total cost allowed (≥ 0).
    /// - Returns: the chosen index per group, or nil when even the cheapest choices exceed the budget.
    ///   Among solutions of equal value the one with the smaller total cost wins.
    /// - Complexity: O(groups × budget × choices) time, O(groups × budget) memory.
    public static func minimize(values: [[Double]], costs: [[Int]], budget: Int) -> [Int]? {
        precondition(values.count == costs.count, "values and costs must have one entry per group")
        precondition(budget >= 0, "budget must be non-negative")
        for (v, c) in zip(values, costs) {
            precondition(!v.isEmpty && v.count == c.count, "each group needs at least one choice, with a value and a cost")
            precondition(c.allSatisfy { $0 >= 0 }, "costs must be non-negative")
        }
        let width = budget + 1
        // best[b]: the least value of the groups so far with total cost exactly b (∞ if unreachable).
        var best = [Double](repeating: .infinity, count: width)
        best[0] = 0
        var picks = [[Int32]]()  // per group: the choice taken to reach each total
        picks.reserveCapacity(values.count)
        for (groupValues, groupCosts) in zip(values, costs) {
            var next = [Double](repeating: .infinity, count: width)
            var pick = [Int32](repeating: -1, count: width)
            for total in 0..<width where best[total].isFinite {
                for (choice, cost) in groupCosts.enumerated() {
                    let reached = total + cost
                    guard reached < width else { continue }
                    let value = best[total] + groupValues[choice]
                    if value < next[reached] {
                        next[reached] = value
                        pick[reached] = Int32(choice)
                    }
                }
            }
            best = next
            picks.append(pick)
        }
        // The least value over all reachable totals; ties go to the smaller total.
        var end = -1
        for total in 0..<width where best[total].isFinite {
            if end < 0 || best[total] < best[end] { end = total }
        }
        guard end >= 0 else { return nil }
        var chosen = [Int](repeating: 0, count: values.count)
        var total = end
        for group in stride(from: values.count - 1, through: 0, by: -1) {
            let choice = Int(picks[group][total])
            chosen[group] = choice
            total -= costs[group][choice]
        }
        return chosen
    }
}
