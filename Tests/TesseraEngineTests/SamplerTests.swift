// The rectified-flow sampler against analytic denoisers whose exact answers are known
// (docs/ENGINE.md, "Sampler (rectified flow)").

import Foundation
import Testing
import TesseraSampling
import TesseraTensor

@Suite struct SamplerTests {
    // MARK: analytic denoisers and fixtures (nested so nothing clashes with other test files)

    /// Data that is a single point `c`: from `x_t = (1 − t)·c + t·ε`, `ε = (x_t − (1 − t)·c)/t`, so the exact
    /// velocity is `v = ε − c = (x_t − c)/t`. Trajectories are straight lines, so any solver on any schedule
    /// must land on `c`, and every step's x0 estimate `x − t·v` is exactly `c`.
    struct PointMass: Denoiser {
        let c: Tensor
        func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
            Tensor(shape: latent.shape, storage: zip(latent.storage, c.storage).map { ($0 - $1) / time })
        }
    }

    /// Data whose elements are independent `N(μ, σ²)`: `x_t ~ N((1 − t)μ, (1 − t)²σ² + t²)` and
    /// `E[ε − x0 | x_t] = −μ + (t − (1 − t)σ²)/((1 − t)²σ² + t²)·(x_t − (1 − t)μ)`. The exact flow carries a
    /// start `x_1 = z` to `μ + σ·z`, and its velocity is curved, so it tells solvers apart.
    struct Gaussian: Denoiser {
        let mu: Double, sigma: Double
        func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
            let t = Double(time), s2 = sigma * sigma
            let gain = (t - (1 - t) * s2) / ((1 - t) * (1 - t) * s2 + t * t)
            return Tensor(shape: latent.shape, storage: latent.storage.map { Float(-mu + gain * (Double($0) - (1 - t) * mu)) })
        }
    }

    /// Counts calls per branch and returns a fixed velocity per branch, so guidance is checkable by hand.
    final class CountingDenoiser: Denoiser {
        var calls: [GuidanceBranch: Int] = [:]
        let conditional: Float, unconditional: Float, guide: Float
        init(conditional: Float = 0.25, unconditional: Float = -0.5, guide: Float = 0.75) {
            self.conditional = conditional
            self.unconditional = unconditional
            self.guide = guide
        }
        func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
            calls[branch, default: 0] += 1
            let value = switch branch {
            case .conditional: conditional
            case .unconditional: unconditional
            case .guide: guide
            }
            return Tensor(repeating: value, shape: latent.shape)
        }
    }

    /// A deterministic, nonlinear denoiser whose two branches differ, for bit-identical resume checks.
    struct Wobbly: Denoiser {
        func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
            let bias: Float = branch == .conditional ? 0.3 : -0.2
            return Tensor(shape: latent.shape, storage: latent.storage.enumerated().map { i, x in
                sin(x * 1.7 + Float(i % 5)) * time + bias - 0.1 * x
            })
        }
    }

    static let shape = [2, 3, 4, 2]  // [F, H, W, C]
    static let target = Tensor(shape: Self.shape, storage: (0..<48).map { Float(sin(Double($0) * 0.7)) * 1.5 })  // [F, H, W, C]

    /// Largest elementwise absolute difference.
    static func gap(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.storage, b.storage).map { abs($0 - $1) }.max() ?? 0
    }

    // MARK: schedule

    @Test(arguments: [1, 2, 7, 30], [1, 144, 4096, 1_000_000])
    func scheduleEndpointsAndMonotonic(steps: Int, tokens: Int) {
        let schedule = Schedule(steps: steps, tokens: tokens)
        #expect(schedule.times.count == steps + 1)
        #expect(schedule.times.first == 1)
        #expect(schedule.times.last == 0)
        #expect(zip(schedule.times, schedule.times.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func shiftGrowsWithTokensWithinBounds() {
        let shifts = [1, 144, 576, 2304, 9216, 1_000_000].map {
            Schedule.shift(tokens: $0, shiftBase: 1, shiftReferenceTokens: 144)
        }
        #expect(shifts == [1, 1, 2, 4, 8, 16])  // sqrt(T/144), clamped to [1, 16]
        // A larger shift keeps every interior time at higher noise.
        let small = Schedule(steps: 10, tokens: 144), large = Schedule(steps: 10, tokens: 2304)
        #expect(zip(small.times, large.times).dropFirst().dropLast().allSatisfy { $0 < $1 })
        // The formula itself, at one interior point: s = 4, u = 0.7.
        #expect(large.times[3] == Float(4 * 0.7 / (1 + 3 * 0.7)))
        #expect(Schedule(steps: 4, tokens: 144).times == [1, 0.75, 0.5, 0.25, 0])
    }

    /// A pass may start below t = 1: the schedule is scaled into (0, start] and the first latent is
    /// `start·ε`; the default start leaves schedule, noise and fingerprint as they were.
    @Test func aPassCanStartBelowPureNoise() throws {
        let plain = try Sampler(settings: SamplerSettings(steps: 4, seed: 2), tokens: 144)
        let lower = try Sampler(settings: SamplerSettings(steps: 4, seed: 2, startTime: 0.9), tokens: 144)
        #expect(plain.schedule.times == [1, 0.75, 0.5, 0.25, 0])
        #expect(lower.schedule.times == [0.9, Float(0.9 * 0.75), 0.45, Float(0.9 * 0.25), 0])
        let noise = try plain.noiseState(shape: Self.shape).latent, start = try lower.noiseState(shape: Self.shape).latent
        #expect(zip(noise.storage, start.storage).allSatisfy { $1 == Float(0.9) * $0 })
        #expect(plain.settingsHash == (try SamplerSettings(steps: 4, seed: 2, startTime: 1)).fingerprint(tokens: 144))
        #expect(plain.settingsHash != lower.settingsHash)
        #expect(throws: SamplerError.invalidStartTime(0)) { try SamplerSettings(seed: 1, startTime: 0) }
        #expect(throws: SamplerError.invalidStartTime(1.5)) { try SamplerSettings(seed: 1, startTime: 1.5) }
    }

    // MARK: solvers

    @Test(arguments: Solver.allCases, [1, 3, 12])
    func pointMassLandsExactly(solver: Solver, steps: Int) throws {
        for tokens in [144, 9216] {
            let settings = try SamplerSettings(steps: steps, solver: solver, seed: 11)
            var estimates: [Tensor] = []
            let result = try Sampler(settings: settings, tokens: tokens).sample(shape: Self.shape, denoiser: PointMass(c: Self.target)) { _, _, _, x0 in
                estimates.append(try #require(x0))
                return .continue
            }
            #expect(result.isComplete)
            // Float32 error of a few operations on values of size ≤ ~5 (noise plus data): 1e-5 is ~50 ulp.
            #expect(Self.gap(result.latent, Self.target) < 1e-5)
            #expect(estimates.count == steps)
            #expect(estimates.allSatisfy { Self.gap($0, Self.target) < 1e-5 })
            // Every check can fail: a wrong point mass is far away.
            #expect(Self.gap(result.latent, Tensor(zeros: Self.shape)) > 0.5)
        }
    }

    /// Observed order of convergence on the curved Gaussian flow: doubling the steps from 16 to 32 halves
    /// Euler's error (first order) and quarters Heun's (second order, even with its Euler last step, whose
    /// local error is also O(Δ²)). The numpy model of this test gives ratios 1.96 and 4.2; errors are
    /// ≥ 1e-3, far above Float32 rounding, so the ratios are not noise.
    @Test func solversConvergeAtTheirOrder() throws {
        let denoiser = Gaussian(mu: 0.5, sigma: 0.5)
        func error(_ solver: Solver, _ steps: Int) throws -> Float {
            let sampler = try Sampler(settings: SamplerSettings(steps: steps, solver: solver, seed: 5), tokens: 144)
            let start = try sampler.noiseState(shape: Self.shape)  // x_1 = z, [F, H, W, C]
            let exact = Tensor(shape: Self.shape, storage: start.latent.storage.map { 0.5 + 0.5 * $0 })
            return Self.gap(try sampler.run(start, denoiser: denoiser).latent, exact)
        }
        let euler16 = try error(.euler, 16), euler32 = try error(.euler, 32)
        let heun16 = try error(.heun, 16), heun32 = try error(.heun, 32)
        #expect(euler16 / euler32 > 1.6 && euler16 / euler32 < 2.5, "Euler \(euler16) → \(euler32)")
        #expect(heun16 / heun32 > 3.4, "Heun \(heun16) → \(heun32)")
        #expect(heun16 < euler16 / 5, "Heun \(heun16), Euler \(euler16)")
    }

    // MARK: guidance

    @Test(arguments: Solver.allCases, [Float(1), 0, 4.5])
    func guidanceCallsAndFormula(solver: Solver, guidance: Float) throws {
        let steps = 5
        let settings = try SamplerSettings(steps: steps, solver: solver, guidance: guidance, seed: 9)
        let denoiser = CountingDenoiser()
        let sampler = try Sampler(settings: settings, tokens: 144)
        let result = try sampler.sample(shape: Self.shape, denoiser: denoiser)
        let forwards = solver == .euler ? steps : 2 * steps - 1  // Heun's last step is Euler
        #expect(denoiser.calls[.conditional] == forwards)
        #expect(denoiser.calls[.unconditional] == (guidance == 1 ? nil : forwards))
        #expect(denoiser.calls[.guide] == nil)
        // Constant velocity v = v_u + g·(v_c − v_u): every solver integrates it exactly, x_0 = ε − v.
        let v = -0.5 + guidance * (0.25 - -0.5)
        let noise = NoiseGenerator(seed: 9, stream: 0).tensor(shape: Self.shape)  // [F, H, W, C]
        #expect(Self.gap(result.latent, Tensor(shape: Self.shape, storage: noise.storage.map { $0 - v })) < 1e-5)
    }

    /// Guidance applies only at the noise levels of its interval; elsewhere one conditional forward a step.
    @Test func guidanceIntervalLimitsWhereGuidanceApplies() throws {
        let steps = 6, g: Float = 4.5
        let settings = try SamplerSettings(steps: steps, guidance: g, seed: 9, guidanceInterval: 0.5...1)
        let denoiser = CountingDenoiser()
        let sampler = try Sampler(settings: settings, tokens: 144)
        let result = try sampler.sample(shape: Self.shape, denoiser: denoiser)
        let times = sampler.schedule.times
        let guided = (0..<steps).filter { times[$0] >= 0.5 }
        #expect(!guided.isEmpty && guided.count < steps, "the interval must split this schedule: \(times)")
        #expect(denoiser.calls[.conditional] == steps)
        #expect(denoiser.calls[.unconditional] == guided.count)
        // Euler with a velocity constant within each step: x_N = ε − Σ (t_i − t_{i+1})·v_i.
        var shift: Float = 0
        for i in 0..<steps {
            let v: Float = guided.contains(i) ? -0.5 + g * (0.25 - -0.5) : 0.25
            shift += (times[i] - times[i + 1]) * v
        }
        let noise = NoiseGenerator(seed: 9, stream: 0).tensor(shape: Self.shape)  // [F, H, W, C]
        #expect(Self.gap(result.latent, Tensor(shape: Self.shape, storage: noise.storage.map { $0 - shift })) < 1e-5)
        #expect(throws: SamplerError.invalidGuidanceInterval(-0.1, 1)) { try SamplerSettings(seed: 1, guidanceInterval: -0.1...1) }
        #expect(throws: SamplerError.invalidGuidanceInterval(0, 1.5)) { try SamplerSettings(seed: 1, guidanceInterval: 0...1.5) }
    }

    /// Autoguidance adds `(a − 1)·(v_c − v_b)` at every step, beside classifier-free guidance within its
    /// interval, and evaluates the guide only when `a ≠ 1`.
    @Test(arguments: [Float(1), 4.5], [Float(1), 0, 2.5])
    func autoguidanceCallsAndFormula(guidance: Float, autoguidance: Float) throws {
        let steps = 6
        let settings = try SamplerSettings(steps: steps, guidance: guidance, seed: 9, guidanceInterval: 0.5...1, autoguidance: autoguidance)
        let denoiser = CountingDenoiser()
        let sampler = try Sampler(settings: settings, tokens: 144)
        let result = try sampler.sample(shape: Self.shape, denoiser: denoiser)
        let times = sampler.schedule.times
        let guided = guidance == 1 ? [] : (0..<steps).filter { times[$0] >= 0.5 }
        #expect(denoiser.calls[.conditional] == steps)
        #expect(denoiser.calls[.unconditional] == (guided.isEmpty ? nil : guided.count))
        #expect(denoiser.calls[.guide] == (autoguidance == 1 ? nil : steps))
        var shift: Float = 0
        for i in 0..<steps {
            let cfg: Float = guided.contains(i) ? -0.5 + guidance * (0.25 - -0.5) : 0.25
            shift += (times[i] - times[i + 1]) * (cfg + (autoguidance - 1) * (0.25 - 0.75))
        }
        let noise = NoiseGenerator(seed: 9, stream: 0).tensor(shape: Self.shape)  // [F, H, W, C]
        #expect(Self.gap(result.latent, Tensor(shape: Self.shape, storage: noise.storage.map { $0 - shift })) < 1e-5)
        #expect(throws: SamplerError.invalidAutoguidance(-1)) { try SamplerSettings(seed: 1, autoguidance: -1) }
        #expect(throws: SamplerError.self) { try SamplerSettings(seed: 1, autoguidance: .infinity) }
    }

    // MARK: stochastic steps

    /// Ancestral steps keep the marginals of the exact Gaussian flow: 100,000 independent elements sampled
    /// in 200 steps with `η = 1` and `η = 0.5` end with the data's mean and spread (within sampling error and
    /// the schedule's discretization, which at 40 steps is 4% of the spread for the ODE and 8% at `η = 1`),
    /// as the ODE does; and `η = 0` is the Euler pass bit for bit.
    @Test func stochasticStepsKeepTheGaussianMarginals() throws {
        let (mu, sigma) = (0.7, 0.4)
        let shape = [1, 1, 1, 100_000]
        for eta in [0.0, 0.5, 1.0] {
            let sampler = try Sampler(settings: SamplerSettings(steps: 200, seed: 5, stochasticity: eta), tokens: 144)
            let x = try sampler.sample(shape: shape, denoiser: Gaussian(mu: mu, sigma: sigma)).latent.storage.map(Double.init)
            let mean = x.reduce(0, +) / Double(x.count)
            let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
            #expect(abs(mean - mu) < 0.01, "η \(eta): mean \(mean)")
            #expect(abs(sd / sigma - 1) < 0.03, "η \(eta): sd \(sd)")
        }
        let euler = try Sampler(settings: SamplerSettings(steps: 7, seed: 5), tokens: 144).sample(shape: Self.shape, denoiser: Wobbly())
        let zero = try Sampler(settings: SamplerSettings(steps: 7, seed: 5, stochasticity: 0), tokens: 144).sample(shape: Self.shape, denoiser: Wobbly())
        #expect(zero.latent.storage.map(\.bitPattern) == euler.latent.storage.map(\.bitPattern))
        #expect(zero.settingsHash == euler.settingsHash)
    }

    /// A stochastic step is `x + s·((√(1 − ρ²) − 1)·ε + ρ·z)` after the Euler step, with `z` from stream 3 at
    /// the step's offset; the last step (to `t = 0`) adds nothing, so the point mass still lands exactly.
    @Test func stochasticStepFollowsItsFormula() throws {
        let settings = try SamplerSettings(steps: 4, seed: 12, stochasticity: 0.8)
        let sampler = try Sampler(settings: settings, tokens: 144)  // t = 1, 0.75, 0.5, 0.25, 0
        let start = try sampler.noiseState(shape: Self.shape)
        let one = try sampler.run(start, denoiser: Wobbly()) { step, _, _, _ in step == 2 ? .stop : .continue }
        // By hand: step 0 (t = 1 → 0.75, r = 0, ρ = η) then step 1 (t = 0.75 → 0.5).
        var x = start.latent.storage
        let count = x.count
        for i in 0..<2 {
            let t = sampler.schedule.times[i], s = sampler.schedule.times[i + 1]
            let v = try Wobbly().velocity(Tensor(shape: Self.shape, storage: x), time: t, branch: .conditional).storage
            let r = (1 - Double(t)) * Double(s) / ((1 - Double(s)) * Double(t))
            let rho = 0.8 * (1 - r * r).squareRoot()
            let z = NoiseGenerator(seed: 12, stream: 3).fill(count, startingAt: i * count)
            for j in 0..<count {
                let euler = x[j] + (s - t) * v[j]
                let e = euler + (1 - s) * v[j]
                x[j] = euler + s * (Float((1 - rho * rho).squareRoot() - 1) * e + Float(rho) * z[j])
            }
        }
        #expect(Self.gap(one.latent, Tensor(shape: Self.shape, storage: x)) < 1e-6)
        let landed = try sampler.sample(shape: Self.shape, denoiser: PointMass(c: Self.target))
        #expect(Self.gap(landed.latent, Self.target) < 1e-5)
        // Resumed at every step, the same bits; other noise under another η.
        let whole = try sampler.run(start, denoiser: Wobbly())
        for stopAfter in 1..<4 {
            let stopped = try sampler.run(start, denoiser: Wobbly()) { step, _, _, _ in step == stopAfter ? .stop : .continue }
            let resumed = try sampler.run(try SamplerState(serialized: stopped.serialized()), denoiser: Wobbly())
            #expect(resumed.latent.storage.map(\.bitPattern) == whole.latent.storage.map(\.bitPattern), "stopped after \(stopAfter)")
        }
        let otherSampler = try Sampler(settings: SamplerSettings(steps: 4, seed: 12, stochasticity: 0.4), tokens: 144)
        let other = try otherSampler.run(try otherSampler.noiseState(shape: Self.shape), denoiser: Wobbly())
        #expect(Self.gap(other.latent, whole.latent) > 1e-3)
        #expect(throws: SamplerError.settingsMismatch(expected: sampler.settingsHash, found: try Sampler(settings: SamplerSettings(steps: 4, seed: 12), tokens: 144).settingsHash)) {
            try sampler.run(try Sampler(settings: SamplerSettings(steps: 4, seed: 12), tokens: 144).noiseState(shape: Self.shape), denoiser: Wobbly())
        }
        // Within an interval: steps starting outside it are Euler steps, so with [0, 0.6] the first two
        // (t = 1, 0.75) equal the Euler pass's and the third (t = 0.5) does not.
        let limited = try Sampler(settings: SamplerSettings(steps: 4, seed: 12, stochasticity: 0.8, stochasticInterval: 0...0.6), tokens: 144)
        let euler = try Sampler(settings: SamplerSettings(steps: 4, seed: 12), tokens: 144)
        var limitedSteps: [Tensor] = [], eulerSteps: [Tensor] = []
        _ = try limited.run(try limited.noiseState(shape: Self.shape), denoiser: Wobbly()) { _, _, x, _ in limitedSteps.append(x); return .continue }
        _ = try euler.run(try euler.noiseState(shape: Self.shape), denoiser: Wobbly()) { _, _, x, _ in eulerSteps.append(x); return .continue }
        #expect(limitedSteps[1].storage.map(\.bitPattern) == eulerSteps[1].storage.map(\.bitPattern))
        #expect(Self.gap(limitedSteps[2], eulerSteps[2]) > 1e-3)
        #expect(limited.settingsHash != sampler.settingsHash && limited.settingsHash != euler.settingsHash)
        #expect(throws: SamplerError.invalidStochasticInterval(0.2, 1.5)) { try SamplerSettings(seed: 1, stochasticity: 1, stochasticInterval: 0.2...1.5) }
        #expect(throws: SamplerError.invalidStochasticity(1.5)) { try SamplerSettings(seed: 1, stochasticity: 1.5) }
        #expect(throws: SamplerError.self) { try SamplerSettings(seed: 1, stochasticity: .nan) }
        #expect(throws: SamplerError.stochasticNeedsEuler("heun")) { try SamplerSettings(solver: .heun, seed: 1, stochasticity: 0.5) }
    }

    // MARK: refinement

    @Test func refinementStartFollowsSDEdit() throws {
        let settings = try SamplerSettings(steps: 10, seed: 4, refineStrength: 0.6)
        let sampler = try Sampler(settings: settings, tokens: 144)  // s = 1: t_i = 1 − i/10
        let start = try sampler.refinementState(from: Self.target)
        #expect(start.nextStep == 4)  // t_4 = 0.6 ≤ 0.6 is the first
        let t = sampler.schedule.times[4]
        let e = NoiseGenerator(seed: 4, stream: 1).tensor(shape: Self.shape)  // [F, H, W, C]
        let expected = zip(Self.target.storage, e.storage).map { (1 - t) * $0 + t * $1 }
        #expect(start.latent.storage == expected)
        // Refining the point mass's own data returns it: the remaining steps follow a straight line.
        var reported: [Int] = []
        let result = try sampler.refine(Self.target, denoiser: PointMass(c: Self.target)) { step, total, _, _ in
            reported.append(step)
            #expect(total == 10)
            return .continue
        }
        #expect(reported == [5, 6, 7, 8, 9, 10])
        #expect(Self.gap(result.latent, Self.target) < 1e-5)
    }

    @Test func refinementStrengthEdges() throws {
        let full = try Sampler(settings: SamplerSettings(steps: 8, seed: 1, refineStrength: 1), tokens: 144)
        #expect(try full.refinementState(from: Self.target).nextStep == 0)
        let none = try Sampler(settings: SamplerSettings(steps: 8, seed: 1, refineStrength: 0), tokens: 144)
        let unchanged = try none.refine(Self.target, denoiser: CountingDenoiser())
        #expect(unchanged.latent == Self.target)
    }

    // MARK: stop and resume

    @Test func callbackStopsTheRun() throws {
        let denoiser = CountingDenoiser()
        let sampler = try Sampler(settings: SamplerSettings(steps: 10, seed: 2), tokens: 144)
        let state = try sampler.sample(shape: Self.shape, denoiser: denoiser) { step, _, _, _ in step == 3 ? .stop : .continue }
        #expect(state.nextStep == 3)
        #expect(!state.isComplete)
        #expect(denoiser.calls[.conditional] == 3)
    }

    @Test(arguments: Solver.allCases, [Float(1), 3])
    func resumeIsBitIdentical(solver: Solver, guidance: Float) throws {
        for strength in [nil, 0.7] as [Double?] {
            let settings = try SamplerSettings(steps: 9, solver: solver, guidance: guidance, shiftBase: 1.5, seed: 77,
                                               refineStrength: strength)
            let sampler = try Sampler(settings: settings, tokens: 600)
            let start = strength == nil ? try sampler.noiseState(shape: Self.shape) : try sampler.refinementState(from: Self.target)
            let whole = try sampler.run(start, denoiser: Wobbly())
            for stopAfter in (start.nextStep + 1)..<9 {
                let stopped = try sampler.run(start, denoiser: Wobbly()) { step, _, _, _ in step == stopAfter ? .stop : .continue }
                let bytes = stopped.serialized()
                let loaded = try SamplerState(serialized: bytes)
                #expect(loaded == stopped)
                let resumed = try sampler.run(loaded, denoiser: Wobbly())
                #expect(resumed.isComplete)
                #expect(resumed.latent.storage.map(\.bitPattern) == whole.latent.storage.map(\.bitPattern),
                        "\(solver), g \(guidance), strength \(String(describing: strength)), stopped after \(stopAfter)")
            }
        }
    }

    @Test func resumeWithOtherSettingsIsRefused() throws {
        let settings = try SamplerSettings(steps: 6, seed: 1)
        let state = try Sampler(settings: settings, tokens: 144).sample(shape: Self.shape, denoiser: Wobbly()) { _, _, _, _ in .stop }
        let other = try Sampler(settings: SamplerSettings(steps: 6, seed: 2), tokens: 144)
        #expect(throws: SamplerError.settingsMismatch(expected: other.settingsHash, found: state.settingsHash)) {
            try other.run(state, denoiser: Wobbly())
        }
        let otherGrid = try Sampler(settings: settings, tokens: 145)
        #expect(throws: SamplerError.self) { try otherGrid.run(state, denoiser: Wobbly()) }
    }

    /// Every field that changes the result changes the hash.
    @Test func settingsHashCoversEveryField() throws {
        let base = try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144,
                                       seed: 3, refineStrength: 0.5)
        let variants = [
            try SamplerSettings(steps: 21, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .heun, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2.5, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1.1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 256, seed: 3, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 4, refineStrength: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.55),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: nil),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5,
                                guidanceInterval: 0.8...1),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5,
                                autoguidance: 2),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5,
                                stochasticity: 0.5),
            try SamplerSettings(steps: 20, solver: .euler, guidance: 2, shiftBase: 1, shiftReferenceTokens: 144, seed: 3, refineStrength: 0.5,
                                stochasticity: 0.5, stochasticInterval: 0...0.5),
        ]
        let hashes = Set([base.fingerprint(tokens: 144), base.fingerprint(tokens: 145)] + variants.map { $0.fingerprint(tokens: 144) })
        #expect(hashes.count == variants.count + 2)
        // Stable across processes: the same settings always give the same value.
        #expect(base.fingerprint(tokens: 144) == (try SamplerSettings(steps: 20, guidance: 2, seed: 3, refineStrength: 0.5)).fingerprint(tokens: 144))
    }

    @Test func damagedStateBytesAreRefused() throws {
        let sampler = try Sampler(settings: SamplerSettings(steps: 4, seed: 8), tokens: 144)
        let bytes = try sampler.noiseState(shape: Self.shape).serialized()
        #expect(bytes.count == 28 + 8 * 4 + 4 * 48 + 8)
        var flipped = bytes
        flipped[100] ^= 0x01
        for bad in [Array(bytes.dropLast()), Array(bytes.prefix(20)), flipped, [UInt8](repeating: 0, count: 64)] {
            #expect(throws: SamplerError.self) { try SamplerState(serialized: bad) }
        }
    }


    /// A state file is written and read a chunk at a time (a 60 s 1080p latent is 754 MB); a latent of more
    /// than two chunks round-trips bit for bit, the file is exactly `serialized()`, and a cut file is refused.
    @Test func stateFilesRoundTripAcrossChunks() throws {
        let shape = [3, 17, 29, 1500]  // 2.2M values: two whole chunks and part of a third
        let state = SamplerState(
            latent: NoiseGenerator(seed: 2, stream: 0).tensor(shape: shape), nextStep: 3, totalSteps: 9, settingsHash: 0xfeed)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-state-\(UUID().uuidString).tsmp")
        defer { try? FileManager.default.removeItem(at: file) }
        try state.write(to: file)
        #expect(try Data(contentsOf: file) == Data(state.serialized()))
        #expect(try SamplerState(contentsOf: file) == state)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 5_000_000)
        try handle.close()
        #expect(throws: SamplerError.self) { try SamplerState(contentsOf: file) }
    }
    // MARK: validation

    @Test func badSettingsGiveClearErrors() {
        #expect(throws: SamplerError.invalidSteps(0)) { try SamplerSettings(steps: 0, seed: 1) }
        #expect(throws: SamplerError.invalidGuidance(-1)) { try SamplerSettings(guidance: -1, seed: 1) }
        #expect(throws: SamplerError.self) { try SamplerSettings(guidance: .nan, seed: 1) }
        #expect(throws: SamplerError.invalidShiftBase(0)) { try SamplerSettings(shiftBase: 0, seed: 1) }
        #expect(throws: SamplerError.invalidShiftBase(.infinity)) { try SamplerSettings(shiftBase: .infinity, seed: 1) }
        #expect(throws: SamplerError.invalidShiftReferenceTokens(0)) { try SamplerSettings(shiftReferenceTokens: 0, seed: 1) }
        #expect(throws: SamplerError.invalidRefineStrength(1.5)) { try SamplerSettings(seed: 1, refineStrength: 1.5) }
        #expect(throws: SamplerError.invalidTokens(0)) { try Sampler(settings: SamplerSettings(seed: 1), tokens: 0) }
        #expect(SamplerError.invalidSteps(0).description.contains("steps"))
        #expect(SamplerError.invalidRefineStrength(1.5).description.contains("refineStrength"))
    }

    @Test func misuseGivesClearErrors() throws {
        let plain = try Sampler(settings: SamplerSettings(steps: 3, seed: 1), tokens: 144)
        let refining = try Sampler(settings: SamplerSettings(steps: 3, seed: 1, refineStrength: 0.5), tokens: 144)
        #expect(throws: SamplerError.notARefinement) { try plain.refinementState(from: Self.target) }
        #expect(throws: SamplerError.refinementNeedsStartLatent) { try refining.noiseState(shape: Self.shape) }
        #expect(throws: SamplerError.invalidShape([2, 0, 3])) { try plain.noiseState(shape: [2, 0, 3]) }
        let wrongShape = DenoiserFunction { _, _, _ in Tensor(zeros: [1]) }
        #expect(throws: SamplerError.self) { try plain.sample(shape: Self.shape, denoiser: wrongShape) }
        let nan = DenoiserFunction { x, _, _ in Tensor(repeating: .nan, shape: x.shape) }
        #expect(throws: SamplerError.nonFiniteVelocity(time: 1)) { try plain.sample(shape: Self.shape, denoiser: nan) }
    }
}
