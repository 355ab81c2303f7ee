// The rectified-flow sampler: noise or an SDEdit start in, a clean latent out, one step at a time, with a
// callback after each step for progress, previews and cancellation, and a state that can be saved and
// resumed bit-identically (docs/ENGINE.md, "Sampler (rectified flow)").

import TesseraTensor

/// What the sampler should do after a step.
public enum StepDecision: Sendable, Hashable {
    /// Go on to the next step.
    case `continue`
    /// Stop now and return the state after this step, which `Sampler.run` can later resume.
    case stop
}

/// Called after each completed step with `step` (steps completed so far in the full schedule, 1…N, so a
/// refinement starting at index k reports k + 1 first), `totalSteps` (N), the latent after the step, and
/// the clean estimate `x0 = x − t·v` from the step's starting latent, time and guided velocity — `nil` when
/// the run was asked for no estimates (a full-resolution pass, where it would be one more latent in memory).
public typealias StepCallback = (_ step: Int, _ totalSteps: Int, _ latent: Tensor, _ x0Estimate: Tensor?) throws -> StepDecision

/// Runs the schedule of `settings` over a grid of `tokens` tokens with any `Denoiser`.
///
/// A value type with no network inside, so one sampler can be shared, and each call names its denoiser.
public struct Sampler: Sendable {
    /// The pass's settings.
    public let settings: SamplerSettings
    /// Tokens `T` of the grid the denoiser sees; only the schedule shift depends on it.
    public let tokens: Int
    /// The noise levels `t_0 … t_N`.
    public let schedule: Schedule
    /// Fingerprint of `settings` and `tokens`, stored in every state this sampler makes and checked on resume.
    public let settingsHash: UInt64

    /// Noise stream of the initial noise of a pass from pure noise.
    public static let initialNoiseStream: UInt32 = 0
    /// Noise stream of the noise added to the upsampled latent of a refinement.
    public static let refinementNoiseStream: UInt32 = 1
    /// Noise stream of the fresh noise of stochastic steps (`SamplerSettings.stochasticity`); step `i` reads
    /// flat indices from `i·count`, so a resumed pass draws the same noise.
    public static let stepNoiseStream: UInt32 = 3

    /// A sampler for `settings` on a grid of `tokens` tokens.
    public init(settings: SamplerSettings, tokens: Int) throws {
        guard tokens >= 1 else { throw SamplerError.invalidTokens(tokens) }
        self.settings = settings
        self.tokens = tokens
        schedule = Schedule(
            steps: settings.steps, tokens: tokens, shiftBase: settings.shiftBase,
            shiftReferenceTokens: settings.shiftReferenceTokens, start: settings.startTime)
        settingsHash = settings.fingerprint(tokens: tokens)
    }

    /// The start of a pass from pure noise: `x = ε` (since `t_0 = 1`) from stream 0, at step 0; `x =
    /// t_0·ε` when the settings start below 1.
    public func noiseState(shape: [Int]) throws -> SamplerState {
        guard settings.refineStrength == nil else { throw SamplerError.refinementNeedsStartLatent }
        try requireValid(shape)
        var noise = NoiseGenerator(seed: settings.seed, stream: Self.initialNoiseStream).tensor(shape: shape)  // [F, H, W, C]
        if settings.startTime != 1 {
            let t0 = schedule.times[0]
            noise.storage.withUnsafeMutableBufferPointer { x in for i in 0..<x.count { x[i] *= t0 } }
        }
        return SamplerState(latent: noise, nextStep: 0, totalSteps: settings.steps, settingsHash: settingsHash)
    }

    /// The start of a refinement (SDEdit) from an already upsampled clean latent `x0_up`: with `k` the first
    /// index where `t_k ≤ refineStrength`, `x = (1 − t_k)·x0_up + t_k·ε` with `ε` from stream 1, at step `k`.
    ///
    /// The noise is made a chunk at a time (it depends only on each element's index), so a long video's
    /// full-resolution latent is not held twice.
    public func refinementState(from upsampled: consuming Tensor) throws -> SamplerState {
        guard let strength = settings.refineStrength else { throw SamplerError.notARefinement }
        try requireValid(upsampled.shape)
        let k = schedule.firstIndex(atOrBelow: strength)
        let t = schedule.times[k]
        let generator = NoiseGenerator(seed: settings.seed, stream: Self.refinementNoiseStream)
        var x = upsampled  // [F, H, W, C]
        let chunk = 1 << 20
        x.storage.withUnsafeMutableBufferPointer { out in
            for start in stride(from: 0, to: out.count, by: chunk) {
                let e = generator.fill(min(chunk, out.count - start), startingAt: start)
                for i in 0..<e.count {
                    out[start + i] = (1 - t) * out[start + i] + t * e[i]
                }
            }
        }
        return SamplerState(latent: x, nextStep: k, totalSteps: settings.steps, settingsHash: settingsHash)
    }

    /// Runs the remaining steps of `state`, calling `onStep` after each. Returns the state after the last
    /// step (`isComplete`, its latent is the clean sample) or after the step at which `onStep` said `.stop`.
    ///
    /// A state saved at any step and resumed here gives a final latent bit-identical to an uninterrupted run,
    /// because a step depends only on the latent, the step index and the settings, all of which the state
    /// holds or fingerprints. `cleanEstimates: false` passes `nil` for the callback's clean estimate.
    public func run<D: Denoiser>(
        _ state: SamplerState, denoiser: D, cleanEstimates: Bool = true, onStep: StepCallback? = nil
    ) throws -> SamplerState {
        guard state.settingsHash == settingsHash else {
            throw SamplerError.settingsMismatch(expected: settingsHash, found: state.settingsHash)
        }
        guard state.totalSteps == settings.steps, (0...settings.steps).contains(state.nextStep) else {
            throw SamplerError.stepOutOfRange(next: state.nextStep, total: state.totalSteps)
        }
        try requireValid(state.latent.shape)
        let velocity = GuidedVelocity(denoiser: denoiser, settings: settings)
        var x = state.latent  // [F, H, W, C]
        for i in state.nextStep..<settings.steps {
            let t = schedule.times[i]
            guard let onStep else {
                let v = try settings.solver.step(&x, from: t, to: schedule.times[i + 1], velocity: velocity)
                renoise(&x, velocity: v, step: i)
                continue
            }
            let start = cleanEstimates ? x : nil  // shares x's storage until the step writes x
            let v = try settings.solver.step(&x, from: t, to: schedule.times[i + 1], velocity: velocity)
            renoise(&x, velocity: v, step: i)
            let x0 = start.map { axpy($0, -t, v) }  // [F, H, W, C]: x − t·v
            if try onStep(i + 1, settings.steps, x, x0) == .stop {
                return SamplerState(latent: x, nextStep: i + 1, totalSteps: settings.steps, settingsHash: settingsHash)
            }
        }
        return SamplerState(latent: x, nextStep: settings.steps, totalSteps: settings.steps, settingsHash: settingsHash)
    }

    /// A whole pass from pure noise: `run(noiseState(shape:), …)`.
    public func sample<D: Denoiser>(shape: [Int], denoiser: D, onStep: StepCallback? = nil) throws -> SamplerState {
        try run(noiseState(shape: shape), denoiser: denoiser, onStep: onStep)
    }

    /// A whole refinement pass: `run(refinementState(from:), …)`.
    public func refine<D: Denoiser>(_ upsampled: Tensor, denoiser: D, onStep: StepCallback? = nil) throws -> SamplerState {
        try run(refinementState(from: upsampled), denoiser: denoiser, onStep: onStep)
    }

    /// The stochastic part of step `i` (nothing when `stochasticity` is 0, the step starts outside
    /// `stochasticInterval` or it ends at `t = 0`): `x` holds the Euler result `(1 − s)·x0 + s·ε`, so
    /// `ε = x + (1 − s)·v`, and a share `ρ` of it is swapped for fresh noise: `x ← x + s·((√(1 − ρ²) − 1)·ε + ρ·z)`.
    /// The noise is made a chunk at a time.
    func renoise(_ x: inout Tensor, velocity v: Tensor, step i: Int) {
        let t = Double(schedule.times[i]), s = Double(schedule.times[i + 1])
        guard settings.stochasticity > 0, s > 0, t > s, settings.stochasticInterval.contains(t) else { return }
        let r = (1 - t) * s / ((1 - s) * t)
        let rho = settings.stochasticity * max(0, 1 - r * r).squareRoot()
        let keep = Float((1 - rho * rho).squareRoot() - 1), fresh = Float(rho), sf = Float(s), toClean = Float(1 - s)
        let generator = NoiseGenerator(seed: settings.seed, stream: Self.stepNoiseStream)
        let count = x.count, chunk = 1 << 20
        x.storage.withUnsafeMutableBufferPointer { out in
            v.storage.withUnsafeBufferPointer { vel in
                for start in stride(from: 0, to: count, by: chunk) {
                    let z = generator.fill(min(chunk, count - start), startingAt: i * count + start)
                    for j in 0..<z.count {
                        let e = out[start + j] + toClean * vel[start + j]  // the noise estimate ε
                        out[start + j] = out[start + j] + sf * (keep * e + fresh * z[j])
                    }
                }
            }
        }
    }

    private func requireValid(_ shape: [Int]) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw SamplerError.invalidShape(shape) }
    }
}
