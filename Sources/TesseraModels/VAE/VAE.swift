import Foundation
import TesseraTensor

/// The video compression network of docs/ENGINE.md ("The VAE"): a causal 3D convolutional autoencoder.
/// Video is channels-last RGB in [−1, 1], `[F, H, W, 3]`; the latent is `[F', H/16, W/16, C]` (the DiT's input
/// layout) with `F' = 1 + (F − 1)/4`: the first frame alone, then each group of 4 frames.
public final class VAE: Sendable {
    /// The sizes the weights were checked against.
    public let config: VAEConfig
    /// Video → latent.
    public let encoder: VAEEncoder
    /// Latent → video.
    public let decoder: VAEDecoder

    /// Builds both halves from weights whose names and shapes must match the config exactly.
    public init(config: VAEConfig, weights: [String: Tensor]) throws {
        try config.validate()
        try SafetensorsFile.check(actual: weights.mapValues(\.shape), expected: config.expectedWeights, path: "VAE weights")
        self.config = config
        encoder = VAEEncoder(config: config, pipeline: .encoder(config) { weights[$0]! })
        decoder = VAEDecoder(config: config, pipeline: .decoder(config) { weights[$0]! })
    }

    /// Loads a config JSON file and a safetensors file.
    public convenience init(configPath: String, weightsPath: String) throws {
        let config = try VAEConfig.load(configPath)
        try self.init(config: config, weights: SafetensorsFile.weights(at: weightsPath, expected: config.expectedWeights))
    }

    /// Deterministic random weights (Philox, 1/sqrt(fan-in) scale, biases ×0.1, norm weights 1): what the
    /// benchmark and the untrained pipeline run.
    public static func randomWeights(_ config: VAEConfig, seed: UInt64 = 2026) -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in config.expectedWeights.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            if name.contains("norm") {
                weights[name] = Tensor(repeating: 1, shape: shape)
            } else {
                let fanIn = shape.count == 5 ? shape[1...].reduce(1, *) : 1
                let scale = Float(1 / Double(fanIn).squareRoot()) * (name.hasSuffix("bias") ? 0.1 : 1)
                weights[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: seed, stream: 4).fill(count, startingAt: offset).map { $0 * scale })
            }
            offset += count
        }
        return weights
    }
}

/// Why a video or latent was refused: wrong rank, channels, size or frame count.
func checkVideo(_ x: Tensor, channels: Int, multiple: Int, what: String) throws {
    guard x.rank == 4, x.shape[3] == channels, x.shape[0] >= 1, x.shape[1] >= 1, x.shape[2] >= 1,
        x.shape[1] % multiple == 0, x.shape[2] % multiple == 0
    else {
        throw ModelError.badInput("\(what) \(x.shape) must be [F, H, W, \(channels)] with H and W multiples of \(multiple)")
    }
}

/// Video `[F, H, W, 3]` → latent `[F', H/16, W/16, C]`.
public struct VAEEncoder: Sendable {
    /// The network's sizes.
    public let config: VAEConfig
    let pipeline: VAEPipeline

    /// The names of the stages whose outputs `forward(_:observe:)` reports, in order.
    public var stageNames: [String] { pipeline.stages.map(\.name) }

    /// The whole video at once (tests, training): the latent mean and log-variance, `[F', h, w, C]` each.
    /// `F` must be `1 + 4k`. `observe` sees each stage's output.
    public func forward(_ video: Tensor, observe: ((String, Tensor) -> Void)? = nil) throws -> (mean: Tensor, logVariance: Tensor) {
        try checkVideo(video, channels: config.imageChannels, multiple: config.spatialFactor, what: "video")
        try checkFrames(video.shape[0])
        var state = pipeline.freshState()
        var out: Tensor?
        pipeline.push(video, state: &state, framewise: false, observe: observe) { out = $0 }
        return Self.split(out!, channels: config.latentChannels)
    }

    /// The latent of a whole video: the mean (what the DiT sees).  → `[F', h, w, C]`
    public func encode(_ video: Tensor) throws -> Tensor { try forward(video).mean }

    /// One stage alone on a whole video (per-layer checks): `input` is what the stage before it made.
    public func stage(_ name: String, _ input: Tensor) -> Tensor? { runStage(pipeline, name, input) }

    /// A stream that takes frames one at a time and gives a latent frame for frame 0 and for every 4th after.
    public func stream(height: Int, width: Int, tile: TileSettings = .none) throws -> VAEEncoderStream {
        try VAEEncoderStream(encoder: self, height: height, width: width, tile: tile)
    }

    func checkFrames(_ frames: Int) throws {
        guard config.latentFrames(forFrames: frames) != nil else {
            throw ModelError.badInput("\(frames) frames: the VAE takes 1 + \(config.temporalFactor)·k frames (1, \(1 + config.temporalFactor), \(1 + 2 * config.temporalFactor), …)")
        }
    }

    /// conv_out's `2C` channels: the mean first, then the log-variance.
    static func split(_ x: Tensor, channels c: Int) -> (mean: Tensor, logVariance: Tensor) {
        let pixels = x.count / (2 * c)
        var mean = Tensor(uninitialized: Array(x.shape.dropLast()) + [c])  // [F', h, w, C]
        var logVariance = Tensor(uninitialized: Array(x.shape.dropLast()) + [c])
        for p in 0..<pixels {
            for k in 0..<c {
                mean.storage[p * c + k] = x.storage[p * 2 * c + k]
                logVariance.storage[p * c + k] = x.storage[p * 2 * c + c + k]
            }
        }
        return (mean, logVariance)
    }
}

/// Latent `[F', h, w, C]` → video `[1 + 4(F' − 1), 16h, 16w, 3]`.
public struct VAEDecoder: Sendable {
    /// The network's sizes.
    public let config: VAEConfig
    let pipeline: VAEPipeline

    /// The names of the stages whose outputs `forward(_:observe:)` reports, in order.
    public var stageNames: [String] { pipeline.stages.map(\.name) }

    /// The whole latent at once (tests, training): raw output, not clamped.  → `[F, H, W, 3]`
    public func forward(_ latent: Tensor, observe: ((String, Tensor) -> Void)? = nil) throws -> Tensor {
        try checkVideo(latent, channels: config.latentChannels, multiple: 1, what: "latent")
        var state = pipeline.freshState()
        var out: Tensor?
        pipeline.push(latent, state: &state, framewise: false, observe: observe) { out = $0 }
        return out!
    }

    /// One stage alone on a whole video (per-layer checks): `input` is what the stage before it made.
    public func stage(_ name: String, _ input: Tensor) -> Tensor? { runStage(pipeline, name, input) }

    /// Streamed, tiled decoding: one latent frame at a time, each spatial tile with its own causal caches,
    /// tiles blended into the frames of that latent frame, and each frame `[H, W, 3]` handed to `sink` as
    /// soon as it is complete (1 frame for the first latent frame, 4 for each after). Memory depends on the
    /// tile size and the frame size, never on the number of frames. Values are clamped to [−1, 1] unless
    /// `clamp` is false.
    public func decode(latent: Tensor, tile: TileSettings = .standard, clamp: Bool = true, sink: (Tensor) throws -> Void) throws {
        try checkVideo(latent, channels: config.latentChannels, multiple: 1, what: "latent")
        let stream = try VAEDecoderStream(decoder: self, height: latent.shape[1], width: latent.shape[2], tile: tile, clamp: clamp)
        let frame = latent.count / latent.shape[0]
        for f in 0..<latent.shape[0] {
            let one = Tensor(shape: [1] + Array(latent.shape.dropFirst()), storage: Array(latent.storage[(f * frame)..<((f + 1) * frame)]))
            try stream.push(one, sink: sink)
        }
    }
}

func runStage(_ pipeline: VAEPipeline, _ name: String, _ input: Tensor) -> Tensor? {
    guard let stage = pipeline.stages.first(where: { $0.name == name }) else { return nil }
    let single = VAEPipeline(stages: [stage])
    var state = single.freshState()
    var out: Tensor?
    single.push(input, state: &state, framewise: false) { out = $0 }
    return out
}
