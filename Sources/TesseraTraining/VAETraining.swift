import Foundation
import TesseraModels
import TesseraTensor

/// Training of the VAE: reconstruction (mean squared error in [−1, 1] pixels) plus a light KL term towards
/// N(0, 1) on the reparameterized latent `z = μ + exp(½·logσ²)·ε`, which keeps latents O(1) for the DiT.
public struct VAETrainer {
    public let config: VAEConfig
    public var parameters: [String: Tensor]
    public var optimizer: AdamW
    /// Weight of the KL term against the pixel MSE.
    public var klWeight: Float
    /// Seeds ε: step `s`, sample `i` draw from a stream keyed by both, so a resumed run draws the same.
    public var seed: UInt64

    public init(config: VAEConfig, parameters: [String: Tensor], settings: AdamW.Settings, klWeight: Float = 1e-4, seed: UInt64) {
        self.config = config
        self.parameters = parameters
        self.optimizer = AdamW(settings: settings, parameters: parameters)
        self.klWeight = klWeight
        self.seed = seed
    }

    /// Starting weights: the model's random weights, except that the log-variance half of `encoder.conv_out`
    /// starts near `logVariance` (bias) with small weights. Started at σ ≈ 1 (log-variance ≈ 0), the
    /// reparameterization noise drowns the young latent and the decoder learns only the mean picture — the
    /// first run lost colour that way; started at σ ≈ 0.05 the latent carries the picture from the first step.
    public static func initialWeights(_ config: VAEConfig, seed: UInt64, logVariance: Float = -6) -> [String: Tensor] {
        var weights = VAE.randomWeights(config, seed: seed)
        let c = config.latentChannels
        var bias = weights["encoder.conv_out.bias"]!, weight = weights["encoder.conv_out.weight"]!
        let perChannel = weight.count / (2 * c)
        for o in c..<(2 * c) {
            bias.storage[o] = logVariance
            for i in (o * perChannel)..<((o + 1) * perChannel) { weight.storage[i] *= 0.1 }
        }
        weights["encoder.conv_out.bias"] = bias
        weights["encoder.conv_out.weight"] = weight
        return weights
    }

    /// What one step measured.
    public struct StepResult: Sendable {
        public var loss: Float
        public var reconstruction: Float
        public var kl: Float
        public var gradientNorm: Float
        /// PSNR of the reconstruction in dB (peak-to-peak 2 for [−1, 1] pixels).
        public var psnr: Float { 10 * log10(4 / max(reconstruction, 1e-12)) }
    }

    func loss(_ video: Tensor, step: Int, index: Int) throws -> (Tape, VAEGraph, Tape.Variable, Tape.Variable, Tape.Variable) {
        let tape = Tape()
        let graph = try VAEGraph(tape: tape, config: config, weights: parameters)
        let x = tape.constant(video)
        let (mean, logVariance) = graph.encode(x)
        let noise = NoiseGenerator(seed: seed &+ UInt64(step) &* 1_000_003 &+ UInt64(index) &* 7919, stream: 31).tensor(shape: tape.value(mean).shape)
        let z = tape.add(mean, tape.multiply(tape.exponential(logVariance, scale: 0.5), tape.constant(noise)))
        let reconstruction = tape.meanSquaredError(graph.decode(z), x)
        // KL(N(μ, σ²) ‖ N(0, 1)) per latent value: ½(μ² + σ² − 1 − log σ²).
        let ones = tape.constant(Tensor(repeating: -1, shape: tape.value(mean).shape))
        let terms = tape.add(tape.add(tape.multiply(mean, mean), tape.exponential(logVariance)), tape.add(ones, tape.scale(logVariance, by: -1)))
        let kl = tape.scale(tape.mean(terms), by: 0.5)
        let total = tape.add(reconstruction, tape.scale(kl, by: klWeight))
        return (tape, graph, total, reconstruction, kl)
    }

    /// One optimizer step on a batch of videos `[F, H, W, 3]` (gradients averaged).
    @discardableResult
    public mutating func step(_ batch: [Tensor]) throws -> StepResult {
        precondition(!batch.isEmpty, "an empty batch")
        let step = optimizer.step
        let (gradients, losses) = try batchGradients(batch.count) { index in
            let (tape, graph, total, reconstruction, kl) = try loss(batch[index], step: step, index: index)
            tape.backward(from: total)
            return SampleGradients(
                gradients: TesseraTraining.gradients(on: tape, weights: graph.weights),
                losses: [total, reconstruction, kl].map { tape.value($0).storage[0] })
        }
        let norm = optimizer.update(&parameters, gradients: gradients)
        return StepResult(loss: losses[0], reconstruction: losses[1], kl: losses[2], gradientNorm: norm)
    }
}

