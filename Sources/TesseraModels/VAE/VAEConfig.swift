import Foundation

/// The shape of the video compression network (a causal 3D convolutional autoencoder), stored as JSON
/// beside its weights. docs/ENGINE.md ("The VAE") defines every layer; this struct names the sizes.
///
/// Levels run from the finest (index 0, at `1/patch` of the pixel resolution) to the coarsest (at
/// `1/spatialFactor`); each step between levels halves height and width, and halves the frame rate where
/// `temporalDown` says so. The first frame is always compressed alone, so `F = 1 + temporalFactor·k` frames
/// give `1 + k` latent frames.
public struct VAEConfig: Codable, Sendable, Equatable {
    /// Colour channels of a frame (3: RGB in [−1, 1]).
    public var imageChannels: Int
    /// Channels of the latent, `[F', H/spatialFactor, W/spatialFactor, C]` (the DiT's `latentChannels`).
    public var latentChannels: Int
    /// Side of the pixel patches folded into channels at the input (space-to-depth) and unfolded at the
    /// output (depth-to-space): no convolution runs at full resolution.
    public var patch: Int
    /// Width of each level, finest first.
    public var channels: [Int]
    /// Residual blocks per level (the encoder and the decoder each have this many).
    public var blocks: [Int]
    /// Kernel depth in time (1 or 3) of the residual blocks of each level; the encoder's first and the
    /// decoder's last convolution use level 0's, the encoder's last and the decoder's first the top level's.
    public var temporalKernel: [Int]
    /// For each step between level `i` and `i + 1`: whether time is also halved (encoder) or doubled (decoder).
    public var temporalDown: [Bool]
    /// RMSNorm epsilon.
    public var eps: Float
    /// How the decoder doubles the frame rate where `temporalDown` halved it: nil or `.repeatFrames` copies
    /// each frame (the configs before session 16), `.splitChannels` makes each upsampling convolution twice as
    /// wide and takes two distinct frames from its halves, so a latent frame can decode into moving frames.
    public var temporalUpsampling: TemporalUpsampling?

    /// The decoder's temporal upsampling (docs/ENGINE.md, "The VAE").
    public enum TemporalUpsampling: String, Codable, Sendable {
        case repeatFrames = "repeat"
        case splitChannels = "split"
    }

    public init(
        imageChannels: Int = 3, latentChannels: Int, patch: Int, channels: [Int], blocks: [Int], temporalKernel: [Int],
        temporalDown: [Bool], eps: Float = 1e-6, temporalUpsampling: TemporalUpsampling? = nil
    ) throws {
        self.imageChannels = imageChannels
        self.latentChannels = latentChannels
        self.patch = patch
        self.channels = channels
        self.blocks = blocks
        self.temporalKernel = temporalKernel
        self.temporalDown = temporalDown
        self.eps = eps
        self.temporalUpsampling = temporalUpsampling
        try validate()
    }

    /// Checks the numbers fit together; the error says which do not.
    public func validate() throws {
        var problems: [String] = []
        let levels = channels.count
        if levels < 1 || channels.contains(where: { $0 < 1 }) { problems.append("channels must be one or more positive widths, got \(channels)") }
        if blocks.count != levels || blocks.contains(where: { $0 < 0 }) { problems.append("blocks \(blocks) must give a count ≥ 0 for each of the \(levels) levels") }
        if temporalKernel.count != levels || temporalKernel.contains(where: { $0 != 1 && $0 != 3 }) {
            problems.append("temporalKernel \(temporalKernel) must be 1 or 3 for each of the \(levels) levels")
        }
        if temporalDown.count != max(0, levels - 1) { problems.append("temporalDown \(temporalDown) needs one entry per step between levels (\(max(0, levels - 1)))") }
        if imageChannels < 1 || latentChannels < 1 || patch < 1 { problems.append("imageChannels, latentChannels and patch must be positive") }
        if !(eps > 0) { problems.append("eps must be positive") }
        if !problems.isEmpty { throw ModelError.badConfig(problems.joined(separator: "; ")) }
    }

    /// Pixels per latent pixel along each side: `patch · 2^(levels − 1)`.
    public var spatialFactor: Int { patch << (channels.count - 1) }
    /// Frames per latent frame after the first: `2^(halvings)`.
    public var temporalFactor: Int { 1 << temporalDown.filter { $0 }.count }
    /// Number of resolution levels.
    public var levels: Int { channels.count }

    /// Output channels of the decoder's upsampling convolution from level `level` to `level − 1`: four
    /// sub-pixels of the next width, twice that where time doubles by splitting channels.
    public func upChannels(level: Int) -> Int { 4 * channels[level - 1] * (splitsTime(level: level) ? 2 : 1) }

    /// Whether the decoder's upsampling from `level` to `level − 1` doubles time by splitting channels.
    public func splitsTime(level: Int) -> Bool { temporalDown[level - 1] && temporalUpsampling == .splitChannels }

    /// Latent frames for `frames` video frames, or nil when `frames` is not `1 + temporalFactor·k`.
    public func latentFrames(forFrames frames: Int) -> Int? {
        frames >= 1 && (frames - 1) % temporalFactor == 0 ? 1 + (frames - 1) / temporalFactor : nil
    }

    /// Reads a config JSON file.
    public static func load(_ path: String) throws -> VAEConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.badConfig("cannot read \(path)") }
        let config: VAEConfig
        do { config = try JSONDecoder().decode(VAEConfig.self, from: data) } catch { throw ModelError.badConfig("\(path): \(error)") }
        try config.validate()
        return config
    }

    /// Every weight name with its shape (PyTorch `Conv3d` layout `[Co, Ci, kt, kh, kw]`).
    public var expectedWeights: [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        func conv(_ name: String, _ co: Int, _ ci: Int, _ kt: Int) {
            shapes[name + ".weight"] = [co, ci, kt, 3, 3]
            shapes[name + ".bias"] = [co]
        }
        func blocks(_ prefix: String, level: Int) {
            let c = channels[level]
            for j in 0..<self.blocks[level] {
                let b = "\(prefix).levels.\(level).blocks.\(j)"
                shapes[b + ".norm1.weight"] = [c]
                conv(b + ".conv1", c, c, temporalKernel[level])
                shapes[b + ".norm2.weight"] = [c]
                conv(b + ".conv2", c, c, temporalKernel[level])
            }
        }
        let top = levels - 1, pixels = imageChannels * patch * patch
        conv("encoder.conv_in", channels[0], pixels, temporalKernel[0])
        for i in 0..<levels {
            blocks("encoder", level: i)
            if i < top { conv("encoder.levels.\(i).down", channels[i + 1], channels[i], temporalDown[i] ? 3 : 1) }
        }
        shapes["encoder.norm_out.weight"] = [channels[top]]
        conv("encoder.conv_out", 2 * latentChannels, channels[top], temporalKernel[top])
        conv("decoder.conv_in", channels[top], latentChannels, temporalKernel[top])
        for i in stride(from: top, through: 0, by: -1) {
            blocks("decoder", level: i)
            if i > 0 { conv("decoder.levels.\(i).up", upChannels(level: i), channels[i], 1) }
        }
        shapes["decoder.norm_out.weight"] = [channels[0]]
        conv("decoder.conv_out", pixels, channels[0], temporalKernel[0])
        return shapes
    }

    /// Number of weights (parameters) of the encoder and of the decoder.
    public var parameterCounts: (encoder: Int, decoder: Int) {
        var encoder = 0, decoder = 0
        for (name, shape) in expectedWeights {
            if name.hasPrefix("encoder.") { encoder += shape.reduce(1, *) } else { decoder += shape.reduce(1, *) }
        }
        return (encoder, decoder)
    }
}

extension VAEConfig {
    /// Sized for the 1080p budget and for training on this 2-core machine: 16 latent channels (the DiT's
    /// `.small`), 16× spatial (1920x1088 → 68×120 → 2,040 tokens with 2×2 patches), 4× temporal; 2×2 pixel
    /// patches, widths 32/64/96/128 at 1/2, 1/4, 1/8 and 1/16, one residual block at each level but the finest,
    /// kernels in time only at 1/8 and 1/16. 17.0K multiply-adds per decoded pixel (13.1K per encoded one) and
    /// 4.34M parameters (2.09M encoder, 2.25M decoder); docs/ENGINE.md ("The VAE") gives the measured reasons.
    public static let small = try! VAEConfig(
        latentChannels: 16, patch: 2, channels: [32, 64, 96, 128], blocks: [0, 1, 1, 1], temporalKernel: [1, 1, 3, 3],
        temporalDown: [false, true, true])
    /// 8× spatial, 4× temporal, 16 latent channels: the world model's VAE. With the DiT's 4×4 patches
    /// (`DiTConfig.world`), 1920x1088 is again 68×120 = 2,040 tokens per latent frame, but each latent pixel
    /// stands for 8×8×4 pixels instead of 16×16×4, so sharp edges survive (docs/MODEL.md has the comparison).
    /// 2×2 pixel patches, widths 32/64/128 at 1/2, 1/4 and 1/8, one residual block at 1/4 and 1/8, kernels in
    /// time at 1/8: 10.3K multiply-adds per decoded pixel.
    public static let world = try! VAEConfig(
        latentChannels: 16, patch: 2, channels: [32, 64, 128], blocks: [0, 1, 1], temporalKernel: [1, 1, 3],
        temporalDown: [true, true])

    /// A preset by name (`small`, `world`, `tiny`), or nil.
    public static func preset(_ name: String) -> VAEConfig? {
        ["small": small, "world": world, "tiny": tiny][name]
    }

    /// The same structure with a handful of channels, for tests and golden files.
    public static let tiny = try! VAEConfig(
        latentChannels: 4, patch: 2, channels: [4, 8, 8, 12], blocks: [0, 1, 1, 1], temporalKernel: [1, 1, 3, 3],
        temporalDown: [false, true, true])
}
