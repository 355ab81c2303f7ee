import Foundation
import TesseraModels
import TesseraSampling
import TesseraTensor

/// One training example for the DiT: a clean latent and its caption's encoding, and optionally how much
/// each latent cell's error counts.
public struct FlowSample: Sendable {
    public var latent: Tensor
    public var caption: Caption
    /// `[F', H', W']` weights of the latent's cells (shared by their channels) in the loss, mean 1 so the loss
    /// keeps its scale; nil weighs every cell alike.
    public var weights: Tensor?
    public init(latent: Tensor, caption: Caption, weights: Tensor? = nil) {
        precondition(weights.map { $0.count > 0 && latent.count % $0.count == 0 } ?? true, "FlowSample: weights \(weights!.shape) for a latent \(latent.shape)")
        self.latent = latent
        self.caption = caption
        self.weights = weights
    }

    /// Loss weights from a `[F', H', W']` mask of 0/1 cells (`SceneRenderer.objectCells`): `weight` for the
    /// cells of the mask, 1 for the rest, scaled to mean 1. A mask with no cells weighs all alike.
    public static func weights(mask: Tensor, weight: Float) -> Tensor {
        precondition(weight > 0, "a cell weight must be positive")
        var raw = Elementwise.map(mask) { 1 + (weight - 1) * $0 }
        let mean = raw.storage.reduce(0, +) / Float(max(1, raw.count))
        for i in 0..<raw.count { raw.storage[i] /= mean }
        return raw
    }
}

/// Rectified-flow training of the DiT (docs/ENGINE.md): `x_t = (1−t)·x0 + t·ε`, the network predicts
/// `v = ε − x0`, the loss is their mean squared difference; `t` is logit-normal (`σ(n)`, `n ~ N(0, 1)`),
/// and the caption is replaced by the empty caption's encoding with probability `dropCaption`, so the one
/// model also gives the unconditional velocity classifier-free guidance needs.
public struct FlowMatchingTrainer {
    public let config: DiTConfig
    public var parameters: [String: Tensor]
    public var optimizer: AdamW
    /// The empty caption's encoding (the unconditional branch).
    public var emptyCaption: Caption
    public var dropCaption: Float = 0.1
    /// Share of the samples of more than one latent frame trained with factorized attention (within each
    /// frame, then across frames) instead of attention over all tokens: renders switch to the factorized
    /// layout above `DiT.automaticLayout`'s limit (long prototypes, every full-resolution pass), so the
    /// network learns both.
    public var factorizedShare: Float = 0
    /// Shift each sample's t toward noise as the sampler shifts its schedule for the sample's token count
    /// (`Schedule.shift`): `t = s·u / (1 + (s − 1)·u)` with `u` logit-normal. The sampler spends its steps on
    /// those levels, and near t = 1 is where the caption decides the picture (below, the noisy latent shows
    /// the background and the objects by itself), so training at the levels the sampler visits is what
    /// teaches the network to read its caption.
    public var shiftTimes = false
    /// Share of the samples whose t is drawn uniformly from [0.85, 1] instead (no shift). Logit-normal times
    /// almost never reach t ≈ 1 (0.16% above 0.95 for a still image), yet every render starts there, from
    /// pure noise: a network never taught to predict the clean mean from noise alone turns the starting noise
    /// into confetti (docs/MODEL.md, session 7).
    public var highNoiseShare: Float = 0
    /// The lower end of the high-noise draws.
    public static let highNoiseFloor: Float = 0.85
    /// Share of the samples trained with `maskRatio` of their tokens hidden — masked latent modelling, after
    /// MDT (Gao et al., 2023), in its simplest form: a hidden token's noisy latent patch is replaced by zeros
    /// (so its embedding is the patch embedding's bias alone, one learned "hidden" vector) and its target is
    /// `−x0`, the part of the velocity its context can predict (its own noise it never sees). Filling a token
    /// from the others teaches how the parts of one object and one scene go together — where plain
    /// denoising lets every token lean on its own noisy input, and the renders' tokens each decide for
    /// themselves (docs/MODEL.md, sessions 8 and 29). Renders hide nothing; the network is unchanged.
    public var maskShare: Float = 0
    /// The share of a masked sample's tokens hidden (MDT found 0.3 best); at least one token is hidden and
    /// one seen.
    public var maskRatio: Float = 0.3
    /// The renders' sampler settings, whose shift `shiftTimes` follows.
    static let samplerDefaults = try! SamplerSettings(seed: 0)
    /// Seeds the noise and times: step `s` draws from streams keyed by (seed, s), so a resumed run draws
    /// what an uninterrupted one would.
    public var seed: UInt64

    public init(config: DiTConfig, parameters: [String: Tensor], settings: AdamW.Settings, emptyCaption: Caption, seed: UInt64) {
        self.config = config
        self.parameters = parameters
        self.optimizer = AdamW(settings: settings, parameters: parameters)
        self.emptyCaption = emptyCaption
        self.seed = seed
    }

    /// The seed of (step, sample)'s draws, each kind from a stream of its own.
    func drawKey(step: Int, sample: Int) -> UInt64 { seed &+ UInt64(step) &* 1_000_003 &+ UInt64(sample) &* 7919 }

    /// A normal draw made uniform (Φ of a normal is uniform), for the coin flips.
    func uniform(_ normal: Float) -> Double { 0.5 * (1 + erf(Double(normal) / 2.0.squareRoot())) }

    /// Deterministic draws for (step, sample): ε, t, whether the caption is dropped and whether the sample
    /// is trained with factorized attention.
    func draws(step: Int, sample: Int, shape: [Int]) -> (noise: Tensor, time: Float, drop: Bool, factorized: Bool) {
        let key = drawKey(step: step, sample: sample)
        let noise = NoiseGenerator(seed: key, stream: 21).tensor(shape: shape)
        let (n, u) = NoiseGenerator(seed: key, stream: 22).pair(0)
        var time = 1 / (1 + Foundation.exp(-n))
        if shiftTimes {
            let tokens = config.grid(latent: shape).count
            let sampler = Self.samplerDefaults
            let s = Float(Schedule.shift(tokens: tokens, shiftBase: sampler.shiftBase, shiftReferenceTokens: sampler.shiftReferenceTokens))
            time = s * time / (1 + (s - 1) * time)
        }
        if highNoiseShare > 0 {
            let (coin, level) = NoiseGenerator(seed: key, stream: 24).pair(0)
            if uniform(coin) < Double(highNoiseShare) {
                time = Self.highNoiseFloor + (1 - Self.highNoiseFloor) * Float(uniform(level))
            }
        }
        let (f, _) = NoiseGenerator(seed: key, stream: 23).pair(0)
        let factorized = config.grid(latent: shape).frames > 1 && uniform(f) < Double(factorizedShare)
        return (noise, time, uniform(u) < Double(dropCaption), factorized)
    }

    /// Which tokens of (step, sample) are hidden, in grid order (frame, row, column of patches); nil when
    /// the sample is trained whole. Drawn from streams of their own, so `maskShare = 0` leaves every other
    /// draw as it was.
    func hiddenTokens(step: Int, sample: Int, shape: [Int]) -> [Bool]? {
        guard maskShare > 0 else { return nil }
        let tokens = config.grid(latent: shape).count
        guard tokens > 1 else { return nil }
        let key = drawKey(step: step, sample: sample)
        let (coin, _) = NoiseGenerator(seed: key, stream: 25).pair(0)
        guard uniform(coin) < Double(maskShare) else { return nil }
        let count = min(tokens - 1, max(1, Int((maskRatio * Float(tokens)).rounded())))
        // The `count` tokens with the smallest draws: a uniformly random subset of that size.
        let order = NoiseGenerator(seed: key, stream: 26).tensor(shape: [tokens]).storage
        let hidden = (0..<tokens).sorted { (order[$0], $0) < (order[$1], $1) }.prefix(count)
        var mask = [Bool](repeating: false, count: tokens)
        for token in hidden { mask[token] = true }
        return mask
    }

    /// The network's input `x_t = (1−t)·x0 + t·ε` and target `ε − x0` for a latent `[F, H, W, C]`; on the
    /// `hidden` tokens the input is zero and the target `−x0`.
    func inputAndTarget(_ x0: Tensor, noise: Tensor, time: Float, hidden: [Bool]?) -> (input: Tensor, target: Tensor) {
        var xt = x0, target = x0
        for i in 0..<x0.count {
            xt.storage[i] = (1 - time) * x0.storage[i] + time * noise.storage[i]
            target.storage[i] = noise.storage[i] - x0.storage[i]
        }
        guard let hidden else { return (xt, target) }
        let p = config.patch, (frames, height, width, channels) = (x0.shape[0], x0.shape[1], x0.shape[2], x0.shape[3])
        let grid = config.grid(latent: x0.shape), (rows, columns) = (grid.height, grid.width)
        for f in 0..<frames {
            for y in 0..<height {
                for x in 0..<width where hidden[((f / p[0]) * rows + y / p[1]) * columns + x / p[2]] {
                    let start = ((f * height + y) * width + x) * channels
                    for i in start..<(start + channels) {
                        xt.storage[i] = 0
                        target.storage[i] = -x0.storage[i]
                    }
                }
            }
        }
        return (xt, target)
    }

    /// The loss of one sample, on a fresh tape.
    func loss(_ sample: FlowSample, step: Int, index: Int) throws -> (Tape, DiTGraph, Tape.Variable) {
        let x0 = sample.latent
        let (noise, time, drop, factorized) = draws(step: step, sample: index, shape: x0.shape)
        let (xt, target) = inputAndTarget(x0, noise: noise, time: time, hidden: hiddenTokens(step: step, sample: index, shape: x0.shape))
        let tape = Tape()
        let graph = try DiTGraph(tape: tape, config: config, weights: parameters)
        let velocity = graph.velocity(xt, time: time, caption: drop ? emptyCaption : sample.caption, layout: factorized ? .factorized : nil)
        return (tape, graph, tape.meanSquaredError(velocity, tape.constant(target), weights: sample.weights))
    }

    /// One optimizer step on a batch (gradients averaged over its samples); returns the mean loss and the
    /// gradient norm before clipping.
    @discardableResult
    public mutating func step(_ batch: [FlowSample]) throws -> (loss: Float, gradientNorm: Float) {
        let result = try step(batch, alongside: [SideJob<Void>]())
        return (result.loss, result.gradientNorm)
    }

    /// `step`, with `side` jobs run in the same pool as the batch's samples (the next step's clips): their
    /// results, in order. The step's bits do not depend on them.
    public mutating func step<Side>(_ batch: [FlowSample], alongside side: [SideJob<Side>]) throws -> (loss: Float, gradientNorm: Float, side: [Side]) {
        precondition(!batch.isEmpty, "an empty batch")
        let step = optimizer.step
        let (gradients, losses, sideResults) = try batchGradients(batch.count, cost: { batch[$0].latent.count }, side: side) { index in
            let (tape, graph, loss) = try loss(batch[index], step: step, index: index)
            tape.backward(from: loss)
            return SampleGradients(gradients: TesseraTraining.gradients(on: tape, weights: graph.weights), losses: [tape.value(loss).storage[0]])
        }
        let norm = optimizer.update(&parameters, gradients: gradients)
        return (losses[0], norm, sideResults)
    }
}
