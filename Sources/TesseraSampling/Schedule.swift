// The shifted rectified-flow schedule (docs/ENGINE.md, "Sampler (rectified flow)").
//
// Computed in double precision and rounded to Float32 once, the way the numpy reference computes it, so
// the Swift and reference times are identical and golden comparisons measure only the solver's error.

import Foundation

/// Noise levels `t_0 = 1 > t_1 > … > t_N = 0` for `N` steps, shifted toward high noise for large grids.
public struct Schedule: Sendable, Equatable {
    /// The shift `s = clamp(shiftBase·sqrt(T / shiftReferenceTokens), 1, 16)`.
    public let shift: Double
    /// `N + 1` noise levels, rounded to Float32; these are the times the denoiser sees and the solver uses.
    public let times: [Float]
    /// The same levels before rounding, so a refinement strength is compared exactly as the reference does.
    public let exactTimes: [Double]

    /// Number of steps `N`.
    public var steps: Int { times.count - 1 }

    /// The largest shift: past it, extra tokens no longer move the schedule (very large grids would
    /// otherwise spend almost every step at t ≈ 1).
    public static let maximumShift = 16.0

    /// The schedule for `steps` steps over a grid of `tokens` tokens.
    ///
    /// Arguments are checked by `SamplerSettings` and `Sampler`; here they are preconditions.
    /// `start` < 1 scales every level by it, so the schedule runs from `start` to 0.
    public init(steps: Int, tokens: Int, shiftBase: Double = 1, shiftReferenceTokens: Int = 144, start: Double = 1) {
        precondition(steps >= 1 && tokens >= 1 && shiftBase > 0 && shiftReferenceTokens >= 1 && start > 0 && start <= 1,
                     "bad schedule arguments: steps \(steps), tokens \(tokens), shiftBase \(shiftBase), reference \(shiftReferenceTokens), start \(start)")
        let s = Self.shift(tokens: tokens, shiftBase: shiftBase, shiftReferenceTokens: shiftReferenceTokens)
        var exact = [Double]()
        exact.reserveCapacity(steps + 1)
        for i in 0...steps {
            let u = 1.0 - Double(i) / Double(steps)
            let t = s * u / (1.0 + (s - 1.0) * u)
            exact.append(start == 1 ? t : start * t)
        }
        // u_0 = 1 and u_N = 0 already give exactly 1 and 0; pinning them documents the contract.
        exact[0] = start
        exact[steps] = 0
        shift = s
        exactTimes = exact
        times = exact.map { Float($0) }
    }

    /// `clamp(shiftBase·sqrt(tokens / shiftReferenceTokens), 1, 16)`: more tokens, more time at high noise.
    public static func shift(tokens: Int, shiftBase: Double, shiftReferenceTokens: Int) -> Double {
        let raw = shiftBase * (Double(tokens) / Double(shiftReferenceTokens)).squareRoot()
        return min(max(raw, 1.0), maximumShift)
    }

    /// The first index `k` with `t_k ≤ strength`, the step where a refinement (SDEdit) starts.
    ///
    /// Always exists because `t_N = 0`; a strength of 1 or more gives 0, a strength below `t_{N−1}` gives
    /// `N` (no steps: the upsampled latent is returned unchanged).
    public func firstIndex(atOrBelow strength: Double) -> Int {
        exactTimes.firstIndex { $0 <= strength } ?? steps
    }
}
