import Foundation
import Testing
import TesseraModels
import TesseraTensor

@testable import TesseraTraining

/// The trainable VAE against the inference VAE, its gradients against finite differences, and its trainer.
@Suite struct VAEGraphTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../TesseraEngineTests/Golden").standardized

    let file: SafetensorsFile
    let config: VAEConfig
    var weights: [String: Tensor] = [:]

    init() throws { try self.init("vae_tiny") }

    static func worst(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.storage, b.storage).map { abs($0 - $1) }.max() ?? 0 / max(1, b.storage.map(abs).max() ?? 0)
    }

    init(_ stem: String) throws {
        file = try SafetensorsFile(path: Self.golden.appendingPathComponent(stem + ".safetensors").path)
        config = try VAEConfig.load(Self.golden.appendingPathComponent(stem + ".json").path)
        for name in file.names where !name.hasPrefix("input.") && !name.hasPrefix("out.") && !name.hasPrefix("output.") {
            weights[name] = try file.tensor(name)
        }
    }

    // The same float32 operations as the inference VAE's whole-video path: equal to 1e-5. Both decoders:
    // frames repeated and frames split from channel halves.
    @Test(arguments: ["vae_tiny", "vae_tiny_split"]) func matchesTheInferenceVAE(_ stem: String) throws {
        let (file, config, weights) = try { let g = try Self(stem); return (g.file, g.config, g.weights) }()
        let vae = try VAE(config: config, weights: weights)
        let video = try file.tensor("input.video"), latent = try file.tensor("input.latent")
        let expected = try vae.encoder.forward(video)
        let tape = Tape()
        let graph = try VAEGraph(tape: tape, config: config, weights: weights)
        let (mean, logVariance) = graph.encode(tape.constant(video))
        #expect(Self.worst(tape.value(mean), expected.mean) < 1e-5)
        #expect(Self.worst(tape.value(logVariance), expected.logVariance) < 1e-5)
        let decoded = tape.value(graph.decode(tape.constant(latent)))
        #expect(Self.worst(decoded, try vae.decoder.forward(latent)) < 1e-5)
    }

    @Test func resamplingGradients() {
        let checks = GradientCheckTests()
        checks.check([GradientCheckTests.random([3, 4, 6, 2], seed: 50)]) { t, v in t.spaceToDepth(v[0], factor: 2) }
        checks.check([GradientCheckTests.random([3, 2, 3, 8], seed: 51)]) { t, v in t.depthToSpace(v[0], factor: 2) }
        checks.check([GradientCheckTests.random([3, 2, 3, 2], seed: 52)]) { t, v in t.repeatFrames(v[0]) }
        checks.check([GradientCheckTests.random([3, 2, 3, 4], seed: 53)]) { t, v in t.splitFrames(v[0]) }
    }

    /// d(loss)/d(weight) of the whole VAE training loss for weights in every kind of layer, with either decoder.
    @Test(arguments: ["vae_tiny", "vae_tiny_split"]) func weightGradientsMatchFiniteDifferences(_ stem: String) throws {
        let (file, config, weights) = try { let g = try Self(stem); return (g.file, g.config, g.weights) }()
        let video = try file.tensor("input.video")
        var settings = AdamW.Settings()
        settings.totalSteps = 10
        let trainer = VAETrainer(config: config, parameters: weights, settings: settings, klWeight: 0.1, seed: 3)
        let (tape, graph, total, _, _) = try trainer.loss(video, step: 0, index: 0)
        tape.backward(from: total)
        let names = ["encoder.conv_in.weight", "encoder.levels.1.down.weight", "encoder.levels.2.blocks.0.norm1.weight",
                     "encoder.conv_out.bias", "decoder.conv_in.weight", "decoder.levels.3.up.weight", "decoder.levels.0.blocks.0.conv2.weight",
                     "decoder.norm_out.weight", "decoder.conv_out.weight"]
        for name in names where weights[name] != nil {
            let analytic = tape.gradient(graph.weights[name]!)!
            let largest = analytic.storage.map(abs).max() ?? 0
            #expect(largest > 1e-7, "\(name): a gradient reaches it")
            let i = analytic.storage.indices.max(by: { abs(analytic.storage[$0]) < abs(analytic.storage[$1]) })!
            var plus = trainer, minus = trainer
            let step: Float = 1e-2
            plus.parameters[name]!.storage[i] += step
            minus.parameters[name]!.storage[i] -= step
            let (tp, _, lp, _, _) = try plus.loss(video, step: 0, index: 0), (tm, _, lm, _, _) = try minus.loss(video, step: 0, index: 0)
            let numeric = (tp.value(lp).storage[0] - tm.value(lm).storage[0]) / (2 * step)
            #expect(abs(numeric - analytic.storage[i]) <= 3e-2 * max(largest, 1e-4), "\(name): analytic \(analytic.storage[i]), numeric \(numeric)")
        }
    }

    /// The tiny VAE learns to reconstruct one smooth clip: its reconstruction error falls by more than half.
    @Test func theTinyVAEOverfitsOneClip() throws {
        var video = try file.tensor("input.video")
        let (f, h, w) = (video.shape[0], video.shape[1], video.shape[2])
        for t in 0..<f { for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            video[t, y, x, c] = 0.8 * sin(Float(x) * 0.2 + Float(c) + Float(t) * 0.1) * cos(Float(y) * 0.15)
        } } } }
        var settings = AdamW.Settings()
        settings.learningRate = 1e-2
        settings.minimumLearningRate = 1e-3
        settings.warmupSteps = 5
        settings.totalSteps = 80
        var trainer = VAETrainer(config: config, parameters: weights, settings: settings, klWeight: 1e-4, seed: 3)
        var errors: [Float] = []
        for _ in 0..<80 { errors.append(try trainer.step([video]).reconstruction) }
        let early = errors.prefix(5).reduce(0, +) / 5, late = errors.suffix(5).reduce(0, +) / 5
        #expect(late < 0.5 * early, "reconstruction MSE of the first 5 steps \(early), of the last 5 \(late)")
    }
}
