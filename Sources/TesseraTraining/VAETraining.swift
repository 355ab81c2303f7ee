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
        var gradients: [String: Tensor] = [:]
        var totals: (Float, Float, Float) = (0, 0, 0)
        for (index, video) in batch.enumerated() {
            let (tape, graph, total, reconstruction, kl) = try loss(video, step: step, index: index)
            tape.backward(from: total)
            totals.0 += tape.value(total).storage[0]
            totals.1 += tape.value(reconstruction).storage[0]
            totals.2 += tape.value(kl).storage[0]
            accumulate(&gradients, tape: tape, weights: graph.weights)
        }
        scaleGradients(&gradients, by: 1 / Float(batch.count))
        let norm = optimizer.update(&parameters, gradients: gradients)
        let n = Float(batch.count)
        return StepResult(loss: totals.0 / n, reconstruction: totals.1 / n, kl: totals.2 / n, gradientNorm: norm)
    }
}

