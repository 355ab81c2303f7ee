import Foundation
import TesseraTensor

/// A caption as the DiT sees it: token embeddings for cross-attention and the pooled embedding for adaLN.
public struct Caption: Sendable {
    /// `[L, E]` token embeddings (rows past `length` are padding).
    public var tokens: Tensor
    /// How many rows of `tokens` are real.
    public var length: Int
    /// `[E]` pooled, normalized sentence embedding.
    public var pooled: Tensor

    public init(tokens: Tensor, length: Int, pooled: Tensor) {
        self.tokens = tokens
        self.length = length
        self.pooled = pooled
    }
}

/// The diffusion transformer of docs/ENGINE.md: spacetime patches in, velocity out, for any grid.
public final class DiT: @unchecked Sendable {
    public let config: DiTConfig
    let weights: [String: Tensor]

    /// Builds the network from weights whose names and shapes must match the config exactly.
    public init(config: DiTConfig, weights: [String: Tensor]) throws {
        try config.validate()
        try SafetensorsFile.check(actual: weights.mapValues(\.shape), expected: config.expectedWeights, path: "DiT weights")
        self.config = config
        self.weights = weights
    }

    /// Loads `config.json`-style JSON and a safetensors file.
    public convenience init(configPath: String, weightsPath: String) throws {
        let config = try DiTConfig.load(configPath)
        let file = try SafetensorsFile(path: weightsPath)
        try file.check(expected: config.expectedWeights)
        var weights: [String: Tensor] = [:]
        for name in file.names { weights[name] = try file.tensor(name) }
        try self.init(config: config, weights: weights)
    }

    func w(_ name: String) -> Tensor { weights[name]! }

    func linear(_ x: Tensor, _ name: String) -> Tensor {
        Linear.forward(x, weight: w(name + ".weight"), bias: weights[name + ".bias"])
    }

    /// The conditioning vector `c = mlp_t(timestep) + mlp_y(pooled)`.  → `[D]`
    public func conditioning(time: Float, pooled: Tensor) -> Tensor {
        let t = Elementwise.timestepEmbedding(time, width: config.frequencyEmbedding).reshaped([1, config.frequencyEmbedding])
        let te = linear(Elementwise.silu(linear(t, "t_embedder.mlp.0")), "t_embedder.mlp.2")  // [1, D]
        let ye = linear(Elementwise.silu(linear(pooled.reshaped([1, config.textWidth]), "y_embedder.mlp.0")), "y_embedder.mlp.2")
        return Elementwise.addScaled(te, ye).reshaped([config.hidden])
    }

    /// Chooses the self-attention layout: all tokens while the grid is small, spatial-then-temporal above.
    public static func automaticLayout(grid: Attention.Grid, fullLimit: Int = 4096) -> Attention.Layout {
        grid.count <= fullLimit || grid.frames == 1 ? .full : .factorized
    }

    /// The velocity for latent `x [F, H, W, C]` at time `t`.  → `[F, H, W, C]`
    public func velocity(_ x: Tensor, time: Float, caption: Caption, layout: Attention.Layout? = nil) throws -> Tensor {
        try forward(x, time: time, caption: caption, layout: layout).velocity
    }

    /// The forward pass, with intermediates tests compare against the reference.
    public func forward(_ x: Tensor, time: Float, caption: Caption, layout: Attention.Layout? = nil, keepBlockOutputs: Bool = false)
        throws -> (velocity: Tensor, conditioning: Tensor, blockOutputs: [Tensor])
    {
        let p = config.patch
        guard x.rank == 4, x.shape[3] == config.latentChannels, x.shape[0] % p[0] == 0, x.shape[1] % p[1] == 0, x.shape[2] % p[2] == 0 else {
            throw ModelError.badInput("latent \(x.shape) must be [F, H, W, \(config.latentChannels)] divisible by patch \(p)")
        }
        guard caption.tokens.rank == 2, caption.tokens.shape[1] == config.textWidth, caption.pooled.count == config.textWidth,
            (0...caption.tokens.shape[0]).contains(caption.length)
        else { throw ModelError.badInput("caption tokens \(caption.tokens.shape) / pooled \(caption.pooled.shape) for text width \(config.textWidth)") }
        let grid = Attention.Grid(frames: x.shape[0] / p[0], height: x.shape[1] / p[1], width: x.shape[2] / p[2])
        let layout = layout ?? Self.automaticLayout(grid: grid)
        let d = config.hidden, heads = config.heads

        var h = linear(Spacetime.patchify(x, patch: (p[0], p[1], p[2])), "x_embedder")  // [T, D]
        let c = conditioning(time: time, pooled: caption.pooled)  // [D]
        let siluC = Elementwise.silu(c).reshaped([1, d])
        let text = linear(caption.tokens, "context_embedder")  // [L, D]
        let rope = Spacetime.ropeTables(
            grid: grid, dims: (config.ropeDims[0], config.ropeDims[1], config.ropeDims[2]), referenceTokens: config.ropeReferenceTokens)
        var blockOutputs: [Tensor] = []

        for i in 0..<config.depth {
            let b = "blocks.\(i)."
            let m = linear(siluC, b + "adaLN_modulation.1").storage  // [6D]
            func part(_ k: Int) -> Tensor { Tensor(shape: [d], storage: Array(m[(k * d)..<((k + 1) * d)])) }

            // Self-attention with QK-norm and rotary positions.
            let a = Elementwise.modulate(Elementwise.layerNorm(h), shift: part(0), scale: part(1))
            let qkv = linear(a, b + "attn.qkv")  // [T, 3D]
            var (q, k, v) = split3(qkv, d)  // each [T, D]
            q = Spacetime.applyRope(Elementwise.rmsNorm(q, weight: w(b + "attn.q_norm.weight")), heads: heads, cos: rope.cos, sin: rope.sin)
            k = Spacetime.applyRope(Elementwise.rmsNorm(k, weight: w(b + "attn.k_norm.weight")), heads: heads, cos: rope.cos, sin: rope.sin)
            let attended = Attention.selfAttention(q: q, k: k, v: v, heads: heads, grid: grid, layout: layout)
            h = Elementwise.addScaled(h, linear(attended, b + "attn.proj"), gate: part(2))

            // Cross-attention to the caption.
            let normed = Elementwise.layerNorm(h, weight: w(b + "norm2.weight"), bias: w(b + "norm2.bias"))
            let cq = Elementwise.rmsNorm(linear(normed, b + "cross.q"), weight: w(b + "cross.q_norm.weight"))
            let ck = Elementwise.rmsNorm(linear(text, b + "cross.k"), weight: w(b + "cross.k_norm.weight"))
            let cv = linear(text, b + "cross.v")
            let crossed = Attention.attend(q: cq, k: ck, v: cv, heads: heads, keyLength: caption.length)
            h = Elementwise.addScaled(h, linear(crossed, b + "cross.proj"))

            // MLP, a chunk of tokens at a time so the 4D-wide hidden layer stays small.
            let u = Elementwise.modulate(Elementwise.layerNorm(h), shift: part(3), scale: part(4))
            h = Elementwise.addScaled(h, mlp(u, prefix: b), gate: part(5))
            if keepBlockOutputs { blockOutputs.append(h) }
        }

        let final = linear(siluC, "final_layer.adaLN_modulation.1").storage  // [2D]
        let shift = Tensor(shape: [d], storage: Array(final[0..<d])), scale = Tensor(shape: [d], storage: Array(final[d..<(2 * d)]))
        let out = linear(Elementwise.modulate(Elementwise.layerNorm(h), shift: shift, scale: scale), "final_layer.linear")  // [T, P]
        return (Spacetime.unpatchify(out, shape: x.shape, patch: (p[0], p[1], p[2])), c, blockOutputs)
    }

    /// Tokens per MLP chunk: bounds the `[chunk, mlpRatio·D]` hidden activations.
    static let mlpChunk = 4096

    func mlp(_ u: Tensor, prefix b: String) -> Tensor {
        let d = config.hidden, tokens = u.rows
        if tokens <= Self.mlpChunk {
            return linear(Elementwise.gelu(linear(u, b + "mlp.fc1")), b + "mlp.fc2")
        }
        var out = Tensor(zeros: [tokens, d])
        var start = 0
        while start < tokens {
            let n = min(Self.mlpChunk, tokens - start)
            let chunk = Tensor(shape: [n, d], storage: Array(u.storage[(start * d)..<((start + n) * d)]))
            let y = linear(Elementwise.gelu(linear(chunk, b + "mlp.fc1")), b + "mlp.fc2")
            out.storage.replaceSubrange((start * d)..<((start + n) * d), with: y.storage)
            start += n
        }
        return out
    }

    func split3(_ qkv: Tensor, _ d: Int) -> (Tensor, Tensor, Tensor) {
        let t = qkv.rows
        var parts = [Tensor(zeros: [t, d]), Tensor(zeros: [t, d]), Tensor(zeros: [t, d])]
        for p in 0..<3 {
            parts[p].storage.withUnsafeMutableBufferPointer { out in
                qkv.storage.withUnsafeBufferPointer { source in
                    for row in 0..<t {
                        (out.baseAddress! + row * d).update(from: source.baseAddress! + row * 3 * d + p * d, count: d)
                    }
                }
            }
        }
        return (parts[0], parts[1], parts[2])
    }
}
