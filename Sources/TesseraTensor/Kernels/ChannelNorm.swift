import Foundation

/// The VAE's normalization: RMSNorm over the channels of each pixel of channels-last video `[F, H, W, C]`,
/// fused with the SiLU that always follows it. Per pixel (not per frame or group), so it is causal in time
/// and exact under spatial tiling.
public enum ChannelNorm {
    /// `silu(x / sqrt(mean_c(x²) + eps) · w)` for every pixel; `w [C]`.
    public static func rmsNormSiLU(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
        let c = weight.count
        precondition(x.shape.last == c, "rmsNormSiLU: \(x.shape) with weight \(weight.shape)")
        var y = Tensor(uninitialized: x.shape)  // [F, H, W, C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                weight.storage.withUnsafeBufferPointer { ws in
                    let xp = xs.baseAddress!, yp = ys.baseAddress!, wp = ws.baseAddress!
                    let pixels = x.count / max(c, 1)
                    // Chunks of 4,096 pixels: the per-pixel work is small, so small chunks would cost more in
                    // scheduling than they save.
                    let chunk = 4096
                    Compute.parallel((pixels + chunk - 1) / chunk) { part in
                        for p in (part * chunk)..<min(pixels, (part + 1) * chunk) {
                            let r = xp + p * c, o = yp + p * c
                            let inverse = 1 / (FastMath.sumOfSquares(r, count: c) / Float(c) + eps).squareRoot()
                            for k in 0..<c {
                                let v = r[k] * inverse * wp[k]
                                o[k] = v / (1 + FastMath.exp(-v))
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}
