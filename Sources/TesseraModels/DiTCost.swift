import TesseraTensor

extension DiT {
    /// Floating-point operations of one forward pass (a multiply-add counts 2), by part: what the
    /// benchmark divides by time to report GFLOP/s. Element-wise work (norms, activations, RoPE) is left
    /// out: it is memory-bound and small next to the products.
    public static func flops(config: DiTConfig, grid: Attention.Grid, textLength: Int, layout: Attention.Layout)
        -> (linear: Double, attention: Double)
    {
        let t = Double(grid.count), d = Double(config.hidden), l = Double(textLength)
        let p = Double(config.patchVolume), e = Double(config.textWidth), r = Double(config.mlpRatio)
        var linear = 2 * t * p * d + 2 * l * e * d + 2 * t * d * p  // embed, caption, final
        var attention = 0.0
        for _ in 0..<config.depth {
            linear += 2 * t * d * 3 * d + 2 * t * d * d  // qkv, proj
            linear += 2 * t * d * d * 2 + 2 * l * d * d * 2  // cross q, proj; cross k, v
            linear += 2 * 2 * t * d * r * d  // mlp
            attention += 4 * t * l * d  // cross-attention scores and values
            switch layout {
            case .full:
                attention += 4 * t * t * d
            case .factorized:
                let plane = Double(grid.height * grid.width), frames = Double(grid.frames)
                attention += 4 * t * plane * d + 4 * t * frames * d
            case .windowed(let wt, let wh, let ww):
                let window = Double(min(wt, grid.frames) * min(wh, grid.height) * min(ww, grid.width))
                attention += 4 * t * window * d
            }
        }
        return (linear, attention)
    }
}
