// What a sampling run is asked to do, checked once at construction so the sampler itself never meets a
// nonsensical value.

/// Settings of one sampling pass (a prototype pass from noise, or a refinement pass).
///
/// Schedule parameters are `Double` because the schedule is computed in double precision (as the reference
/// does); `guidance` is `Float` because it enters the Float32 velocity arithmetic directly.
public struct SamplerSettings: Sendable, Hashable {
    /// Number of steps `N` of the full schedule. Default 30: enough for a rectified-flow model with Euler
    /// (SD3 ships 28), and a refinement runs only the tail of it.
    public let steps: Int
    /// The ODE solver. Default `.euler`: one forward per step.
    public let solver: Solver
    /// Classifier-free guidance scale `g` in `v = v_u + g·(v_c − v_u)`. Default 1: guidance off, one forward
    /// per velocity, which is also right for a model trained without caption dropout.
    public let guidance: Float
    /// `shiftBase` of the schedule shift. Default 1 (docs/ENGINE.md).
    public let shiftBase: Double
    /// `shiftReferenceTokens` of the schedule shift: the token count at which the shift is `shiftBase`.
    /// Default 144 (docs/ENGINE.md).
    public let shiftReferenceTokens: Int
    /// Seed of all noise in the pass (stream 0 for initial noise, stream 1 for refinement noise).
    public let seed: UInt64
    /// SDEdit strength: `nil` for a pass from pure noise; otherwise the pass refines an upsampled clean
    /// latent, starting at the first schedule time `t_k ≤ refineStrength`. Must lie in [0, 1].
    public let refineStrength: Double?
    /// The noise level a pass from noise starts at, `t_0`, in (0, 1]. Default 1. Below 1 the schedule is
    /// scaled into (0, startTime] and the starting latent is `startTime·ε`: the clean latent's share at
    /// that level is taken as its mean, zero. For a network that was rarely trained at t ≈ 1 (logit-normal
    /// times put 0.03% of training above 0.97), the first step then falls where it has learned something.
    public let startTime: Double
    /// The noise levels at which guidance applies, within [0, 1]. Default all of them. Outside the interval
    /// the velocity is the conditional one alone (one forward), as in "Applying guidance in a limited
    /// interval" (Kynkäänniemi et al., 2024): an interval at the top of the schedule lets the caption steer
    /// the layout without amplifying every later fluctuation.
    public let guidanceInterval: ClosedRange<Double>
    /// Autoguidance weight `a` ("Guiding a diffusion model with a bad version of itself", Karras et al., 2024):
    /// the velocity gains `(a − 1)·(v_c − v_b)`, where `v_b` is the conditional velocity of a weaker network
    /// trained like the model (`GuidanceBranch.guide`), so the sample moves away from the errors the two share
    /// and the weaker one makes more of. Default 1: off, no guide evaluated. Applies at every step, beside
    /// classifier-free guidance.
    public let autoguidance: Float
    /// Stochasticity `η` in [0, 1] of an Euler pass (default 0: the deterministic ODE). Each step from `t` to
    /// `s` writes the clean estimate `x0 = x − t·v` and the noise estimate `ε = x + (1 − t)·v` back as
    /// `x = (1 − s)·x0 + s·(√(1 − ρ²)·ε + ρ·z)`, with fresh noise `z` (stream 3, offset by the step) and
    /// `ρ = η·√(1 − r²)`, `r = (1 − t)·s / ((1 − s)·t)`: `η = 1` is the ancestral (DDPM-posterior) step of the
    /// rectified-flow path, `η = 0` is exactly the Euler step. Noise put back at every step keeps the sample
    /// from committing to what the first steps misread in the initial noise.
    public let stochasticity: Double
    /// The noise levels at which steps are stochastic: a step whose starting level `t_i` lies in it (default
    /// all of them); elsewhere the step is the Euler step.
    public let stochasticInterval: ClosedRange<Double>

    /// Checks every value; throws `SamplerError` naming the first bad field.
    public init(
        steps: Int = 30,
        solver: Solver = .euler,
        guidance: Float = 1,
        shiftBase: Double = 1,
        shiftReferenceTokens: Int = 144,
        seed: UInt64,
        refineStrength: Double? = nil,
        startTime: Double = 1,
        guidanceInterval: ClosedRange<Double> = 0...1,
        autoguidance: Float = 1,
        stochasticity: Double = 0,
        stochasticInterval: ClosedRange<Double> = 0...1
    ) throws {
        guard steps >= 1, steps <= Int(UInt32.max) else { throw SamplerError.invalidSteps(steps) }
        guard guidance.isFinite, guidance >= 0 else { throw SamplerError.invalidGuidance(guidance) }
        guard shiftBase.isFinite, shiftBase > 0 else { throw SamplerError.invalidShiftBase(shiftBase) }
        guard shiftReferenceTokens >= 1 else { throw SamplerError.invalidShiftReferenceTokens(shiftReferenceTokens) }
        if let strength = refineStrength, !(strength >= 0 && strength <= 1) {  // also rejects NaN
            throw SamplerError.invalidRefineStrength(strength)
        }
        guard startTime > 0 && startTime <= 1 else { throw SamplerError.invalidStartTime(startTime) }
        guard guidanceInterval.lowerBound >= 0, guidanceInterval.upperBound <= 1 else {  // (NaN cannot form a range)
            throw SamplerError.invalidGuidanceInterval(guidanceInterval.lowerBound, guidanceInterval.upperBound)
        }
        guard autoguidance.isFinite, autoguidance >= 0 else { throw SamplerError.invalidAutoguidance(autoguidance) }
        guard stochasticity >= 0 && stochasticity <= 1 else { throw SamplerError.invalidStochasticity(stochasticity) }  // (rejects NaN)
        guard stochasticInterval.lowerBound >= 0, stochasticInterval.upperBound <= 1 else {
            throw SamplerError.invalidStochasticInterval(stochasticInterval.lowerBound, stochasticInterval.upperBound)
        }
        guard stochasticity == 0 || solver == .euler else { throw SamplerError.stochasticNeedsEuler(solver.rawValue) }
        self.steps = steps
        self.solver = solver
        self.guidance = guidance
        self.shiftBase = shiftBase
        self.shiftReferenceTokens = shiftReferenceTokens
        self.seed = seed
        self.refineStrength = refineStrength
        self.startTime = startTime
        self.guidanceInterval = guidanceInterval
        self.autoguidance = autoguidance
        self.stochasticity = stochasticity
        self.stochasticInterval = stochasticInterval
    }

    /// The guidance scale at noise level `t`: `guidance` inside `guidanceInterval`, 1 (none) outside.
    public func guidance(at t: Float) -> Float {
        guidanceInterval.contains(Double(t)) ? guidance : 1
    }

    /// A stable 64-bit fingerprint of everything that decides the result of a pass: these settings and the
    /// token count (which shapes the schedule).
    ///
    /// FNV-1a over a fixed little-endian encoding, never Swift's `Hasher`, which is seeded per process and
    /// so would reject every state saved by another process. It guards against mistakes, not attackers.
    /// The leading tag names the sampling math; change it whenever the solver, schedule or noise definition
    /// changes, so states saved under the old math are refused.
    public func fingerprint(tokens: Int) -> UInt64 {
        var hash = FNV1a64()
        hash.add(Array("tessera.sampler.v1".utf8))
        hash.add(UInt64(steps))
        hash.add(solver.hashTag)
        hash.add(guidance.bitPattern)
        hash.add(shiftBase.bitPattern)
        hash.add(UInt64(shiftReferenceTokens))
        hash.add(seed)
        hash.add(UInt8(refineStrength == nil ? 0 : 1))
        hash.add(refineStrength?.bitPattern ?? 0)
        hash.add(UInt64(tokens))
        if startTime != 1 { hash.add(startTime.bitPattern) }  // (1 leaves earlier fingerprints as they were)
        if guidanceInterval != 0...1 {  // (likewise)
            hash.add(Array("|guidance-interval".utf8))
            hash.add(guidanceInterval.lowerBound.bitPattern)
            hash.add(guidanceInterval.upperBound.bitPattern)
        }
        if autoguidance != 1 {  // (likewise)
            hash.add(Array("|autoguidance".utf8))
            hash.add(autoguidance.bitPattern)
        }
        if stochasticity != 0 {  // (likewise)
            hash.add(Array("|stochasticity".utf8))
            hash.add(stochasticity.bitPattern)
            if stochasticInterval != 0...1 {
                hash.add(stochasticInterval.lowerBound.bitPattern)
                hash.add(stochasticInterval.upperBound.bitPattern)
            }
        }
        return hash.value
    }
}

/// The 64-bit Fowler–Noll–Vo 1a hash: tiny, stable across platforms, and fast enough to checksum a latent.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    public mutating func add(_ bytes: [UInt8]) {
        for byte in bytes { add(byte) }
    }

    /// Adds the integer's little-endian bytes, so the hash is the same on every host.
    public mutating func add<T: FixedWidthInteger & UnsignedInteger>(_ integer: T) {
        var v = integer
        for _ in 0..<(T.bitWidth / 8) {
            add(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }
}

extension FNV1a64 {
    /// Adds raw bytes (a file's contents).
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var v = value
        for byte in bytes { v = (v ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        self = FNV1a64(value: v)
    }

    init(value: UInt64) { self.value = value }

    /// The value as 16 hexadecimal digits.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
