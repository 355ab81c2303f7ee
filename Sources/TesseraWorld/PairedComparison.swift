// Two models' scores on the same prompts, compared prompt by prompt. Prompt sets are small (50) and prompts
// differ far more from each other than two models differ on one prompt, so the paired difference is the
// number to read: its mean, its standard error, and how many prompts went each way.

import Foundation

/// A candidate's scores against a baseline's on the same prompts, in the same order.
public struct PairedComparison: Sendable, Equatable, Codable {
    public var prompts: Int
    public var baselineMean: Double
    public var candidateMean: Double
    /// Mean of candidate − baseline over the prompts (score units, 0...1).
    public var meanDifference: Double
    /// The standard error of that mean: the differences' sample standard deviation over √n (0 for one prompt).
    public var standardError: Double
    /// Prompts the candidate scores higher, lower and the same on.
    public var better: Int
    public var worse: Int
    public var equal: Int

    /// Compares two equally long, non-empty lists of scores.
    public init(baseline: [Double], candidate: [Double]) {
        precondition(!baseline.isEmpty && baseline.count == candidate.count, "paired scores need two equally long, non-empty lists")
        let n = Double(baseline.count)
        let differences = zip(candidate, baseline).map { $0 - $1 }
        let mean = differences.reduce(0, +) / n
        let variance = baseline.count < 2 ? 0 : differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        prompts = baseline.count
        baselineMean = baseline.reduce(0, +) / n
        candidateMean = candidate.reduce(0, +) / n
        meanDifference = mean
        standardError = (variance / n).squareRoot()
        better = differences.filter { $0 > Self.tolerance }.count
        worse = differences.filter { $0 < -Self.tolerance }.count
        equal = prompts - better - worse
    }

    /// Scores closer than this are the same (they are shares of at most a few dozen facts).
    public static let tolerance = 1e-9

    /// "+2.7 ± 2.3 points (16 better, 14 worse, 20 equal)".
    public var summary: String {
        String(format: "%+.1f ± %.1f points (%d better, %d worse, %d equal)", meanDifference * 100, standardError * 100, better, worse, equal)
    }
}
