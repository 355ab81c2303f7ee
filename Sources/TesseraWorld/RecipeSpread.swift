/// Several trainings of one recipe, differing only in their seed, each scored on the same prompts: how far
/// apart the trainings land. A paired comparison of two single trainings counts the prompts' noise only; the
/// spread between trainings is the other half, and the one that decides whether two recipes can be told apart.
public struct RecipeSpread: Sendable, Equatable, Codable {
    /// Each training's mean score over the prompts, in the order given.
    public var means: [Double]
    /// The mean of those means: the recipe's expected score on these prompts.
    public var mean: Double
    /// The sample standard deviation of the trainings' means (nil for one training: one cannot show a spread).
    public var standardDeviation: Double?
    /// `standardDeviation / √trainings`: how well `mean` is known.
    public var standardError: Double?

    /// `scores[i]` are training i's scores, one per prompt; every training scores at least one prompt.
    public init(scores: [[Double]]) {
        precondition(!scores.isEmpty && scores.allSatisfy { !$0.isEmpty }, "a recipe's spread needs at least one training with scores")
        means = scores.map { $0.reduce(0, +) / Double($0.count) }
        mean = means.reduce(0, +) / Double(means.count)
        let deviation = Self.sumOfSquares(means).map { ($0 / Double(means.count - 1)).squareRoot() }
        standardDeviation = deviation
        standardError = deviation.map { $0 / Double(means.count).squareRoot() }
    }

    public var trainings: Int { means.count }

    /// Σ (x − mean)² over `values`, or nil when there are fewer than two.
    static func sumOfSquares(_ values: [Double]) -> Double? {
        guard values.count > 1 else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        return values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
    }

    /// "34.2% over 3 trainings, 30.8–39.1%, seed-to-seed SD 4.2 points (SE of the mean 2.4)".
    public var summary: String {
        var text = String(format: "%.1f%% over %d training%@", mean * 100, trainings, trainings == 1 ? "" : "s")
        if let standardDeviation, let standardError, let high = means.max(), let low = means.min() {
            text += String(format: ", %.1f–%.1f%%, seed-to-seed SD %.1f points (SE of the mean %.1f)",
                           low * 100, high * 100, standardDeviation * 100, standardError * 100)
        }
        return text
    }
}

/// Two recipes' mean scores compared, their trainings' seed-to-seed variance pooled (the two recipes are taken
/// to spread alike, so a side with one training borrows the other side's spread).
public struct RecipeDifference: Sendable, Equatable, Codable {
    /// Candidate mean − baseline mean (score units, 0...1).
    public var meanDifference: Double
    /// The pooled seed-to-seed standard deviation of one training's mean.
    public var pooledStandardDeviation: Double
    /// The difference's standard error: pooled SD × √(1/n₁ + 1/n₂).
    public var standardError: Double
    /// Degrees of freedom of the pooled variance: n₁ + n₂ − 2.
    public var degreesOfFreedom: Int

    /// Nil when the two sides hold fewer than three trainings together: no spread to pool.
    public init?(baseline: RecipeSpread, candidate: RecipeSpread) {
        let freedom = baseline.trainings + candidate.trainings - 2
        guard freedom > 0 else { return nil }
        let squares = (RecipeSpread.sumOfSquares(baseline.means) ?? 0) + (RecipeSpread.sumOfSquares(candidate.means) ?? 0)
        pooledStandardDeviation = (squares / Double(freedom)).squareRoot()
        standardError = pooledStandardDeviation * (1 / Double(baseline.trainings) + 1 / Double(candidate.trainings)).squareRoot()
        meanDifference = candidate.mean - baseline.mean
        degreesOfFreedom = freedom
    }

    /// "−4.2 ± 5.1 points (pooled seed-to-seed SD 5.9, 2 degrees of freedom)".
    public var summary: String {
        String(format: "%+.1f ± %.1f points (pooled seed-to-seed SD %.1f, %d degree%@ of freedom)",
               meanDifference * 100, standardError * 100, pooledStandardDeviation * 100, degreesOfFreedom, degreesOfFreedom == 1 ? "" : "s")
    }
}
