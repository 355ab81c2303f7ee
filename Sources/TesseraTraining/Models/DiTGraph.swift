import TesseraModels
import TesseraTensor

/// The DiT forward of `DiT.forward`, written on a tape so it can be trained. Same weight names, same
/// math (docs/ENGINE.md); a test holds the two to 1e-4 on the golden tiny model.
public struct DiTGraph {
    public let config: DiTConfig
    /// The tape's variable for every weight, by checkpoint name.
    public let weights: [String: Tape.Variable]
    let tape: Tape

    /// Puts every weight on the tape as a parameter.
    public init(tape: Tape, config: DiTConfig, weights: [String: Tensor]) throws {
        self.tape = tape
        self.config = config
        self.weights = try tape.parameters(weights, expected: config.expectedWeights, path: "DiT weights")
    }

    func w(_ name: String) -> Tape.Variable { weights[name]! }

    func linear(_ x: Tape.Variable, _ name: String) -> Tape.Variable {
        tape.linear(x, weight: w(name + ".weight"), bias: weights[name + ".bias"])
    }

    /// The velocity for latent `x [F, H, W, C]` at time `t` (the layout chosen as `DiT.automaticLayout`).
    public func velocity(_ x: Tensor, time: Float, caption: Caption, layout: Attention.Layout? = nil) -> Tape.Variable {
        let t = tape
        let p = config.patch, d = config.hidden, heads = config.heads, dh = config.headWidth
        let grid = config.grid(latent: x.shape)
        let layout = layout ?? DiT.automaticLayout(grid: grid)
        let patch = (p[0], p[1], p[2])

        var h = linear(t.patchify(t.constant(x), patch: patch), "x_embedder")  // [T, D]
        if config.usesFramePositions { h = t.add(h, t.constant(Spacetime.framePositions(grid: grid, width: d))) }
        if config.usesLearnedFramePositions {
            h = t.add(h, t.linear(t.constant(Spacetime.framePositions(grid: grid, width: d)), weight: w(DiTConfig.framePositionWeight)))
        }
        if let features = config.grounding, !caption.grounding.isEmpty {
            let map = Spacetime.groundingMap(grid: grid, objects: caption.grounding, features: features)
            h = t.add(h, t.linear(t.constant(map), weight: w(DiTConfig.groundingWeight)))
        }
        let frequencies = t.constant(Elementwise.timestepEmbedding(time, width: config.frequencyEmbedding).reshaped([1, config.frequencyEmbedding]))
        let pooled = t.constant(caption.pooled.reshaped([1, config.textWidth]))
        let c = t.add(
            linear(t.silu(linear(frequencies, "t_embedder.mlp.0")), "t_embedder.mlp.2"),
            linear(t.silu(linear(pooled, "y_embedder.mlp.0")), "y_embedder.mlp.2"))  // [1, D]
        let siluC = t.silu(c)
        let text = linear(t.constant(caption.tokens), "context_embedder")  // [L, D]
        let rope = Spacetime.ropeTables(
            grid: grid, dims: (config.ropeDims[0], config.ropeDims[1], config.ropeDims[2]), referenceTokens: config.ropeReferenceTokens)
        let selfGroups: [[AttentionGroup]] = switch layout {
        case .full: [AttentionGroup.all(queries: grid.count, keys: grid.count)]
        case .factorized: [AttentionGroup.spatial(grid), AttentionGroup.temporal(grid)]
        case .windowed: fatalError("training uses full or factorized attention")
        }
        let crossGroups = AttentionGroup.all(queries: grid.count, keys: caption.length)

        for i in 0..<config.depth {
            let b = "blocks.\(i)."
            let m = linear(siluC, b + "adaLN_modulation.1")  // [1, 6D]
            func part(_ k: Int) -> Tape.Variable { t.columns(m, k * d, d) }

            let a = t.modulate(t.layerNorm(h), shift: part(0), scale: part(1))
            let qkv = linear(a, b + "attn.qkv")  // [T, 3D]
            let q = t.rope(t.rmsNorm(t.columns(qkv, 0, d), weight: w(b + "attn.q_norm.weight")), heads: heads, cos: rope.cos, sin: rope.sin)
            let k = t.rope(t.rmsNorm(t.columns(qkv, d, d), weight: w(b + "attn.k_norm.weight")), heads: heads, cos: rope.cos, sin: rope.sin)
            var attended = t.columns(qkv, 2 * d, d)
            for groups in selfGroups { attended = t.attention(q: q, k: k, v: attended, heads: heads, groups: groups) }
            h = t.add(h, t.multiplyRows(linear(attended, b + "attn.proj"), part(2)))

            let normed = t.addRows(t.multiplyRows(t.layerNorm(h), w(b + "norm2.weight")), w(b + "norm2.bias"))
            let cq = t.rmsNorm(linear(normed, b + "cross.q"), weight: w(b + "cross.q_norm.weight"))
            let ck = t.rmsNorm(linear(text, b + "cross.k"), weight: w(b + "cross.k_norm.weight"))
            let cv = linear(text, b + "cross.v")
            h = t.add(h, linear(t.attention(q: cq, k: ck, v: cv, heads: heads, groups: crossGroups), b + "cross.proj"))

            let u = t.modulate(t.layerNorm(h), shift: part(3), scale: part(4))
            h = t.add(h, t.multiplyRows(linear(t.gelu(linear(u, b + "mlp.fc1")), b + "mlp.fc2"), part(5)))
        }
        _ = dh
        let final = linear(siluC, "final_layer.adaLN_modulation.1")  // [1, 2D]
        let out = linear(t.modulate(t.layerNorm(h), shift: t.columns(final, 0, d), scale: t.columns(final, d, d)), "final_layer.linear")
        let velocity = t.unpatchify(out, shape: x.shape, patch: patch)
        let (network, input) = config.outputMap(time: time)
        guard network != 1 || input != 0 else { return velocity }
        return t.add(network == 1 ? velocity : t.scale(velocity, by: network), t.constant(Elementwise.map(x) { input * $0 }))
    }
}
