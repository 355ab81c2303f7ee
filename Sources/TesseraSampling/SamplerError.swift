// Everything that can go wrong in sampling, as one typed error whose description names the field or value
// at fault, so a failed render job says what to fix.

/// Why sampler settings, a sampler state or a sampling run were rejected.
public enum SamplerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `steps` must be at least 1.
    case invalidSteps(Int)
    /// `guidance` must be finite and non-negative.
    case invalidGuidance(Float)
    /// `shiftBase` must be finite and positive.
    case invalidShiftBase(Double)
    /// `shiftReferenceTokens` must be at least 1.
    case invalidShiftReferenceTokens(Int)
    /// `refineStrength` must lie in [0, 1].
    case invalidRefineStrength(Double)
    /// `startTime` must lie in (0, 1].
    case invalidStartTime(Double)
    /// `guidanceInterval` must lie within [0, 1].
    case invalidGuidanceInterval(Double, Double)
    /// `autoguidance` must be finite and ≥ 0.
    case invalidAutoguidance(Float)
    /// `stochasticity` must lie in [0, 1].
    case invalidStochasticity(Double)
    /// `stochasticInterval` must lie within [0, 1].
    case invalidStochasticInterval(Double, Double)
    /// Only the Euler solver takes stochastic steps.
    case stochasticNeedsEuler(String)
    /// The token count given to the sampler must be at least 1.
    case invalidTokens(Int)
    /// A latent shape with no dimensions or a dimension below 1.
    case invalidShape([Int])
    /// A refinement was started but the settings have no `refineStrength`.
    case notARefinement
    /// A run from pure noise was started but the settings describe a refinement.
    case refinementNeedsStartLatent
    /// A saved state belongs to other settings (or another token count).
    case settingsMismatch(expected: UInt64, found: UInt64)
    /// A saved state's step index or step count does not fit these settings.
    case stepOutOfRange(next: Int, total: Int)
    /// The denoiser returned a velocity of the wrong shape.
    case velocityShape(expected: [Int], got: [Int], time: Float)
    /// The denoiser returned NaN or infinity.
    case nonFiniteVelocity(time: Float)
    /// Saved state bytes could not be read; the reason says where.
    case corruptState(String)

    /// A sentence naming the offending field and value.
    public var description: String {
        switch self {
        case .invalidSteps(let n):
            "sampler steps must be at least 1, got \(n)"
        case .invalidGuidance(let g):
            "sampler guidance must be finite and ≥ 0 (1 disables classifier-free guidance), got \(g)"
        case .invalidShiftBase(let s):
            "sampler shiftBase must be finite and > 0, got \(s)"
        case .invalidShiftReferenceTokens(let n):
            "sampler shiftReferenceTokens must be at least 1, got \(n)"
        case .invalidRefineStrength(let s):
            "sampler refineStrength must lie in [0, 1], got \(s)"
        case .invalidStartTime(let t):
            "sampler startTime must lie in (0, 1], got \(t)"
        case .invalidGuidanceInterval(let low, let high):
            "sampler guidanceInterval must lie within [0, 1], got \(low)...\(high)"
        case .invalidAutoguidance(let a):
            "sampler autoguidance must be finite and ≥ 0 (1 disables it), got \(a)"
        case .invalidStochasticity(let eta):
            "sampler stochasticity must lie in [0, 1] (0 is the deterministic ODE), got \(eta)"
        case .invalidStochasticInterval(let low, let high):
            "sampler stochasticInterval must lie within [0, 1], got \(low)...\(high)"
        case .stochasticNeedsEuler(let solver):
            "sampler stochasticity needs the euler solver, not \(solver)"
        case .invalidTokens(let n):
            "sampler token count must be at least 1, got \(n)"
        case .invalidShape(let shape):
            "latent shape must have dimensions of at least 1, got \(shape)"
        case .notARefinement:
            "a refinement needs settings with refineStrength set"
        case .refinementNeedsStartLatent:
            "settings with refineStrength describe a refinement: start it from the upsampled latent, not from noise"
        case .settingsMismatch(let expected, let found):
            "saved sampler state was made with other settings (hash \(hex(found)), these settings hash to \(hex(expected)))"
        case .stepOutOfRange(let next, let total):
            "saved sampler state is at step \(next) of \(total), which these settings cannot continue"
        case .velocityShape(let expected, let got, let time):
            "denoiser returned a velocity of shape \(got) for a latent of shape \(expected) at t = \(time)"
        case .nonFiniteVelocity(let time):
            "denoiser returned a non-finite velocity at t = \(time)"
        case .corruptState(let reason):
            "saved sampler state is unreadable: \(reason)"
        }
    }
}

private func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}
