import Foundation

/// Element-by-element definitions of the VAE's kernels (`VideoResample`, `ChannelNorm`), in Double where
/// there is arithmetic. Tests use them as the oracle.
extension ReferenceKernels {
    /// `y[f, r·i + a, r·j + b, c] = x[f, i, j, (a·r + b)·C + c]`.
    public static func depthToSpace(_ x: Tensor, factor r: Int) -> Tensor {
        let (f, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3] / (r * r))
        var y = Tensor(zeros: [f, h * r, w * r, c])
        for t in 0..<f {
            for i in 0..<h {
                for j in 0..<w {
                    for a in 0..<r {
                        for b in 0..<r {
                            for k in 0..<c { y[t, r * i + a, r * j + b, k] = x[t, i, j, (a * r + b) * c + k] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `y[f, i, j, (a·r + b)·C + c] = x[f, r·i + a, r·j + b, c]`.
    public static func spaceToDepth(_ x: Tensor, factor r: Int) -> Tensor {
        let (f, h, w, c) = (x.shape[0], x.shape[1] / r, x.shape[2] / r, x.shape[3])
        var y = Tensor(zeros: [f, h, w, r * r * c])
        for t in 0..<f {
            for i in 0..<h {
                for j in 0..<w {
                    for a in 0..<r {
                        for b in 0..<r {
                            for k in 0..<c { y[t, i, j, (a * r + b) * c + k] = x[t, r * i + a, r * j + b, k] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Frame 0 once when it starts the video, every other frame twice.
    public static func repeatFrames(_ x: Tensor, firstIsVideoStart: Bool) -> Tensor {
        let frame = Array(x.shape.dropFirst()).reduce(1, *)
        var storage: [Float] = []
        for f in 0..<x.shape[0] {
            let values = x.storage[(f * frame)..<((f + 1) * frame)]
            storage += values
            if f > 0 || !firstIsVideoStart { storage += values }
        }
        return Tensor(shape: [storage.count / max(frame, 1)] + Array(x.shape.dropFirst()), storage: storage)
    }

    /// Frame `f ≥ 1`'s channel half `h` (0: `[0, C)`, 1: `[C, 2C)`) is output frame `2f − 1 + h`, and the
    /// video's first frame gives only its first half (output frame 0); a chunk that does not start the video
    /// maps frame `f` half `h` to `2f + h`.
    public static func splitFrames(_ x: Tensor, firstIsVideoStart: Bool) -> Tensor {
        let (f, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3] / 2)
        let frames = firstIsVideoStart ? 2 * f - 1 : 2 * f
        var y = Tensor(zeros: [frames, h, w, c])
        for t in 0..<f {
            for half in 0..<2 {
                if firstIsVideoStart && t == 0 && half == 1 { continue }
                let out = firstIsVideoStart ? max(0, 2 * t - 1 + half) : 2 * t + half
                for i in 0..<h { for j in 0..<w { for k in 0..<c { y[out, i, j, k] = x[t, i, j, half * c + k] } } }
            }
        }
        return y
    }

    /// `silu(x / sqrt(mean_c(x²) + eps) · w)` per pixel, in Double.
    public static func rmsNormSiLU(_ x: Tensor, weight: Tensor, eps: Double = 1e-6) -> Tensor {
        let c = weight.count
        var y = x
        for p in 0..<(x.count / c) {
            var squares = 0.0
            for k in 0..<c { squares += Double(x.storage[p * c + k]) * Double(x.storage[p * c + k]) }
            let inverse = 1 / (squares / Double(c) + eps).squareRoot()
            for k in 0..<c {
                let v = Double(x.storage[p * c + k]) * inverse * Double(weight.storage[k])
                y.storage[p * c + k] = Float(v / (1 + exp(-v)))
            }
        }
        return y
    }
}
