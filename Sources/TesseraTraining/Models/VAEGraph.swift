import TesseraModels
import TesseraTensor

/// Operations of the VAE's resampling steps, with their gradients (each is a permutation or a copy, so its
/// gradient is the inverse permutation or the sum of the copies).
extension Tape {
    /// Pixel patches of `r × r` folded into channels.  `[F, H, W, C]` → `[F, H/r, W/r, r²C]`
    public func spaceToDepth(_ a: Variable, factor r: Int) -> Variable {
        record(VideoResample.spaceToDepth(value(a), factor: r), [a]) { g in [VideoResample.depthToSpace(g, factor: r)] }
    }

    /// The inverse of `spaceToDepth`.
    public func depthToSpace(_ a: Variable, factor r: Int) -> Variable {
        record(VideoResample.depthToSpace(value(a), factor: r), [a]) { g in [VideoResample.spaceToDepth(g, factor: r)] }
    }

    /// Causal temporal upsampling: the first frame once, every other frame twice.
    public func repeatFrames(_ a: Variable) -> Variable {
        let x = value(a)
        return record(VideoResample.repeatFrames(x, firstIsVideoStart: true), [a]) { g in
            let f = x.shape[0], frame = x.count / f
            var dx = Tensor(zeros: x.shape)
            var source = 0
            for i in 0..<f {
                for _ in 0..<(i == 0 ? 1 : 2) {
                    for j in 0..<frame { dx.storage[i * frame + j] += g.storage[source * frame + j] }
                    source += 1
                }
            }
            return [dx]
        }
    }
}

extension Tape {
    /// Causal temporal upsampling from channel halves (`VideoResample.splitFrames`, the video's start).
    public func splitFrames(_ a: Variable) -> Variable {
        let x = value(a)
        return record(VideoResample.splitFrames(x, firstIsVideoStart: true), [a]) { g in
            [VideoResample.splitFramesGradient(g, inputShape: x.shape, firstIsVideoStart: true)]
        }
    }
}

/// The VAE of `TesseraModels.VAE` written on a tape (same weight names and math; a test holds the two
/// together on the golden tiny model), for training.
public struct VAEGraph {
    public let config: VAEConfig
    public let weights: [String: Tape.Variable]
    let tape: Tape

    public init(tape: Tape, config: VAEConfig, weights: [String: Tensor]) throws {
        self.tape = tape
        self.config = config
        self.weights = try tape.parameters(weights, expected: config.expectedWeights, path: "VAE weights")
    }

    func w(_ name: String) -> Tape.Variable { weights[name]! }

    func conv(_ x: Tape.Variable, _ name: String, stride: (Int, Int, Int) = (1, 1, 1)) -> Tape.Variable {
        tape.conv3d(x, weight: w(name + ".weight"), bias: w(name + ".bias"), stride: stride)
    }

    /// Per-pixel RMSNorm over channels, then SiLU.
    func normSiLU(_ x: Tape.Variable, _ weight: String) -> Tape.Variable {
        tape.silu(tape.rmsNorm(x, weight: w(weight), eps: config.eps))
    }

    func blocks(_ x: Tape.Variable, _ prefix: String, level: Int) -> Tape.Variable {
        var h = x
        for j in 0..<config.blocks[level] {
            let b = "\(prefix).levels.\(level).blocks.\(j)"
            let inner = conv(normSiLU(conv(normSiLU(h, b + ".norm1.weight"), b + ".conv1"), b + ".norm2.weight"), b + ".conv2")
            h = tape.add(h, inner)
        }
        return h
    }

    /// Video `[F, H, W, 3]` → the latent's mean and log-variance, `[F', H/16, W/16, C]` each.
    public func encode(_ video: Tape.Variable) -> (mean: Tape.Variable, logVariance: Tape.Variable) {
        var h = conv(tape.spaceToDepth(video, factor: config.patch), "encoder.conv_in")
        for level in 0..<config.levels {
            h = blocks(h, "encoder", level: level)
            if level < config.levels - 1 {
                h = conv(h, "encoder.levels.\(level).down", stride: (config.temporalDown[level] ? 2 : 1, 2, 2))
            }
        }
        let out = conv(normSiLU(h, "encoder.norm_out.weight"), "encoder.conv_out")  // [F', h, w, 2C]
        let shape = tape.value(out).shape, c = config.latentChannels
        let rows = tape.reshape(out, [tape.value(out).count / (2 * c), 2 * c])
        let latentShape = Array(shape.dropLast()) + [c]
        return (tape.reshape(tape.columns(rows, 0, c), latentShape), tape.reshape(tape.columns(rows, c, c), latentShape))
    }

    /// Latent `[F', h, w, C]` → video `[F, H, W, 3]`.
    public func decode(_ latent: Tape.Variable) -> Tape.Variable {
        var h = conv(latent, "decoder.conv_in")
        for level in stride(from: config.levels - 1, through: 0, by: -1) {
            h = blocks(h, "decoder", level: level)
            if level > 0 {
                let up = conv(h, "decoder.levels.\(level).up")
                if config.splitsTime(level: level) {
                    h = tape.depthToSpace(tape.splitFrames(up), factor: 2)
                } else {
                    h = tape.depthToSpace(up, factor: 2)
                    if config.temporalDown[level - 1] { h = tape.repeatFrames(h) }
                }
            }
        }
        return tape.depthToSpace(conv(normSiLU(h, "decoder.norm_out.weight"), "decoder.conv_out"), factor: config.patch)
    }
}
