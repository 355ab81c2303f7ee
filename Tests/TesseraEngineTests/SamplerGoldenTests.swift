import Foundation
import Testing
import TesseraModels
import TesseraSampling
import TesseraTensor

/// Three sampler steps with the tiny DiT against the numpy reference: the network and the diffusion
/// process together, Euler without guidance and Heun with guidance 3.
@Suite struct SamplerGoldenTests {
    let file: SafetensorsFile
    let dit: DiT

    init() throws {
        file = try Golden.open("sampler.safetensors")
        let weights = try Golden.open("dit_tiny.safetensors")
        var tensors: [String: Tensor] = [:]
        for name in weights.names where !name.hasPrefix("input.") && !name.hasPrefix("output.") { tensors[name] = try weights.tensor(name) }
        dit = try DiT(config: .tiny, weights: tensors)
    }

    func denoiser() throws -> DenoiserFunction {
        let conditional = Caption(
            tokens: try file.tensor("input.ctx"), length: Int(file.metadata["input.ctx_length"] ?? "") ?? 0, pooled: try file.tensor("input.y"))
        let unconditional = Caption(
            tokens: try file.tensor("input.ctx_null"), length: Int(file.metadata["input.ctx_null_length"] ?? "") ?? 0,
            pooled: try file.tensor("input.y_null"))
        let dit = self.dit
        return DenoiserFunction { latent, time, branch in
            try dit.velocity(latent, time: time, caption: branch == .conditional ? conditional : unconditional, layout: .full)
        }
    }

    @Test func noiseIsTheReferenceNoise() throws {
        let noise = NoiseGenerator(seed: 7, stream: 0).tensor(shape: [2, 4, 6, 4])
        #expect(noise == (try file.tensor("input.noise")), "Philox noise is bit-identical to the reference")
    }

    // Three steps, each a DiT forward (≤ 1e-4 relative, see DiTGoldenTests) times a step of at most 1:
    // errors add up to a few 1e-5; 2e-4 is the bound.
    @Test(arguments: [("euler", Solver.euler, Float(1)), ("heun", Solver.heun, Float(3))])
    func threeStepsMatchTheReference(_ name: String, _ solver: Solver, _ guidance: Float) throws {
        let settings = try SamplerSettings(steps: 3, solver: solver, guidance: guidance, seed: 7)
        let sampler = try Sampler(settings: settings, tokens: 12)
        #expect(relativeError(Tensor(shape: [4], storage: sampler.schedule.times), try file.tensor("output.schedule")) < 1e-7)
        var latents: [Tensor] = [], estimates: [Tensor] = []
        _ = try sampler.sample(shape: [2, 4, 6, 4], denoiser: try denoiser()) { _, _, latent, x0 in
            latents.append(latent)
            estimates.append(try #require(x0))
            return .continue
        }
        #expect(latents.count == 3)
        for step in 1...3 {
            let latentError = relativeError(latents[step - 1], try file.tensor("output.\(name).after_step_\(step)"))
            let estimateError = relativeError(estimates[step - 1], try file.tensor("output.\(name).x0_step_\(step)"))
            #expect(latentError < 2e-4, "\(name) step \(step) latent: \(latentError)")
            #expect(estimateError < 2e-4, "\(name) step \(step) x0: \(estimateError)")
        }
    }

    // Data movement and one blend in float32: 1e-6.
    @Test func refinementStartMatchesTheReference() throws {
        let strength = Double(try file.tensor("sdedit.strength").storage[0])
        let settings = try SamplerSettings(steps: 4, seed: 7, refineStrength: strength)
        let sampler = try Sampler(settings: settings, tokens: Int(file.metadata["sdedit.tokens"] ?? "") ?? 0)
        let x0 = try file.tensor("sdedit.x0")
        let upsampled = Spacetime.upsample(x0, to: (2, 8, 12))
        #expect(relativeError(upsampled, try file.tensor("sdedit.x0_up")) < 1e-6)
        let state = try sampler.refinementState(from: upsampled)
        #expect(state.nextStep == Int(file.metadata["sdedit.start_index"] ?? "") ?? -1)
        #expect(relativeError(state.latent, try file.tensor("sdedit.x")) < 1e-6)
    }
}
