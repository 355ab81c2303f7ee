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
    /// The caption's objects placed on the frame, for a DiT with `DiTConfig.grounding` (empty: none; a DiT
    /// without grounding ignores them).
    public var grounding: [GroundedObject]

    public init(tokens: Tensor, length: Int, pooled: Tensor, grounding: [GroundedObject] = []) {
        self.tokens = tokens
        self.length = length
        self.pooled = pooled
        self.grounding = grounding
    }

    /// The caption as a window of latent frames starting at `first` sees it: grounded objects' frames
    /// counted from the window's start.
    public func window(startingAt first: Int) -> Caption {
        var copy = self
        for i in copy.grounding.indices { copy.grounding[i].frame -= first }
        return copy
    }
}

/// The diffusion transformer of docs/ENGINE.md: spacetime patches in, velocity out, for any grid.
public final class DiT: @unchecked Sendable {
    public let config: DiTConfig
    /// In the file's precision: a float16 model stays float16 in memory (`WeightSet`).
    let weights: WeightSet

    /// Builds the network from weights whose names and shapes must match the config exactly.
    public init(config: DiTConfig, weights: WeightSet) throws {
        try config.validate()
        try SafetensorsFile.check(actual: weights.shapes, expected: config.expectedWeights, path: "DiT weights")
        self.config = config
        self.weights = weights
    }

    /// Builds the network from Float32 weights.
    public convenience init(config: DiTConfig, weights: [String: Tensor]) throws {
        try self.init(config: config, weights: WeightSet(weights))
    }

    /// Loads `config.json`-style JSON and a safetensors file, keeping the file's precision.
    public convenience init(configPath: String, weightsPath: String) throws {
        let config = try DiTConfig.load(configPath)
        try self.init(config: config, weights: SafetensorsFile.weightSet(at: weightsPath, expected: config.expectedWeights))
    }

    /// Bytes the weights hold in memory.
    public var weightBytes: Int { weights.byteCount }

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
        if let features = config.grounding, let odd = caption.grounding.first(where: { $0.features.count != features }) {
            throw ModelError.badInput("a grounded object has \(odd.features.count) features; this DiT takes \(features)")
        }
        let grid = config.grid(latent: x.shape)
        let layout = layout ?? Self.automaticLayout(grid: grid)
        let d = config.hidden, heads = config.heads

        var h = linear(Spacetime.patchify(x, patch: (p[0], p[1], p[2])), "x_embedder")  // [T, D]
        if config.usesFramePositions { h = Elementwise.addScaled(h, Spacetime.framePositions(grid: grid, width: d)) }
        if config.usesLearnedFramePositions {
            Linear.forward(Spacetime.framePositions(grid: grid, width: d), weight: w(DiTConfig.framePositionWeight), bias: nil, into: &h, accumulate: true)
        }
        if let features = config.grounding, !caption.grounding.isEmpty {
            let map = Spacetime.groundingMap(grid: grid, objects: caption.grounding, features: features)
            Linear.forward(map, weight: w(DiTConfig.groundingWeight), bias: nil, into: &h, accumulate: true)
        }
        let c = conditioning(time: time, pooled: caption.pooled)  // [D]
        let siluC = Elementwise.silu(c).reshaped([1, d])
        let text = linear(caption.tokens, "context_embedder")  // [L, D]
        let rope = Spacetime.ropeTables(
            grid: grid, dims: (config.ropeDims[0], config.ropeDims[1], config.ropeDims[2]), referenceTokens: config.ropeReferenceTokens)
        var blockOutputs: [Tensor] = []

        // Buffers reused by every block; the residual stream `h` is updated in place.
        let tokens = h.rows
        var normed = Tensor(uninitialized: [tokens, d])
        var qkv = Tensor(uninitialized: [tokens, 3 * d])
        var attended = Tensor(uninitialized: [tokens, d])
        var hidden = Tensor(uninitialized: [min(tokens, Self.mlpChunk), config.mlpRatio * d])

        for i in 0..<config.depth {
            let b = "blocks.\(i)."
            // adaLN-Zero: shift, scale and gate for attention, then for the MLP.
            let m = linear(siluC, b + "adaLN_modulation.1").storage  // [6D]
            func part(_ k: Int) -> [Float] { Array(m[(k * d)..<((k + 1) * d)]) }
            func onePlus(_ k: Int) -> [Float] { part(k).map { 1 + $0 } }

            // Self-attention with QK-norm and rotary positions; the gate is folded into the output projection.
            Elementwise.layerNorm(h, multiplier: onePlus(1), offset: part(0), into: &normed)
            Linear.forward(normed, weight: w(b + "attn.qkv.weight"), bias: w(b + "attn.qkv.bias"), into: &qkv)  // [T, 3D]
            Spacetime.normalizeAndRotate(&qkv, columns: 0, width: d, heads: heads, weight: w(b + "attn.q_norm.weight"), cos: rope.cos, sin: rope.sin)
            Spacetime.normalizeAndRotate(&qkv, columns: d, width: d, heads: heads, weight: w(b + "attn.k_norm.weight"), cos: rope.cos, sin: rope.sin)
            Attention.selfAttention(qkv: qkv, heads: heads, grid: grid, layout: layout, into: &attended, scratch: &normed)
            let (projection, projectionBias) = gated(b + "attn.proj", by: part(2))
            Linear.forward(attended, weight: projection, bias: projectionBias, into: &h, accumulate: true)

            // Cross-attention to the caption (the query in `attended`, the result back in `normed`).
            Elementwise.layerNorm(h, multiplier: w(b + "norm2.weight").storage, offset: w(b + "norm2.bias").storage, into: &normed)
            Linear.forward(normed, weight: w(b + "cross.q.weight"), bias: w(b + "cross.q.bias"), into: &attended)
            Elementwise.rmsNorm(&attended, weight: w(b + "cross.q_norm.weight"))
            let ck = Elementwise.rmsNorm(linear(text, b + "cross.k"), weight: w(b + "cross.k_norm.weight"))
            let cv = linear(text, b + "cross.v")
            Attention.attend(q: attended, k: ck, v: cv, heads: heads, keyLength: caption.length, into: &normed)
            Linear.forward(normed, weight: w(b + "cross.proj.weight"), bias: w(b + "cross.proj.bias"), into: &h, accumulate: true)

            // MLP, a chunk of tokens at a time so the 4D-wide hidden layer stays small; gate folded into fc2.
            Elementwise.layerNorm(h, multiplier: onePlus(4), offset: part(3), into: &normed)
            let (fc2, fc2Bias) = gated(b + "mlp.fc2", by: part(5))
            mlp(normed, fc1: b + "mlp.fc1", fc2: fc2, fc2Bias: fc2Bias, hidden: &hidden, into: &h)
            if keepBlockOutputs { blockOutputs.append(h) }
        }

        let final = linear(siluC, "final_layer.adaLN_modulation.1").storage  // [2D]
        Elementwise.layerNorm(h, multiplier: final[d..<(2 * d)].map { 1 + $0 }, offset: Array(final[0..<d]), into: &normed)
        let out = linear(normed, "final_layer.linear")  // [T, P]
        var velocity = Spacetime.unpatchify(out, shape: x.shape, patch: (p[0], p[1], p[2]))
        let (network, input) = config.outputMap(time: time)
        if network != 1 || input != 0 {
            velocity.storage.withUnsafeMutableBufferPointer { vs in
                x.storage.withUnsafeBufferPointer { xs in for i in vs.indices { vs[i] = network * vs[i] + input * xs[i] } }
            }
        }
        return (velocity, c, blockOutputs)
    }

    /// A linear layer whose output is multiplied by a per-output `gate`: `gate ⊙ (x·wᵀ + b)` is
    /// `x·(diag(gate)·w)ᵀ + gate ⊙ b`, so the gate costs one pass over the weight instead of one over
    /// the activations.
    func gated(_ name: String, by gate: [Float]) -> (weight: Tensor, bias: Tensor) {
        var weight = w(name + ".weight"), bias = w(name + ".bias")
        let inputs = weight.shape[1]
        weight.storage.withUnsafeMutableBufferPointer { ws in
            for (o, g) in gate.enumerated() { FastMath.scale(ws.baseAddress! + o * inputs, count: inputs, by: g) }
        }
        for (o, g) in gate.enumerated() { bias.storage[o] *= g }
        return (weight, bias)
    }

    /// Tokens per MLP chunk: bounds the `[chunk, mlpRatio·D]` hidden activations.
    static let mlpChunk = 2048

    /// `out += fc2(gelu(fc1(u)))`, `mlpChunk` rows at a time through the `hidden` buffer.
    func mlp(_ u: Tensor, fc1: String, fc2: Tensor, fc2Bias: Tensor, hidden: inout Tensor, into out: inout Tensor) {
        let d = config.hidden, width = hidden.columns, tokens = u.rows
        let fc1Weight = w(fc1 + ".weight"), fc1Bias = w(fc1 + ".bias")
        u.storage.withUnsafeBufferPointer { us in
            hidden.storage.withUnsafeMutableBufferPointer { hs in
                out.storage.withUnsafeMutableBufferPointer { os in
                    var start = 0
                    while start < tokens {
                        let n = min(Self.mlpChunk, tokens - start)
                        Linear.apply(us.baseAddress! + start * d, rows: n, weight: fc1Weight, bias: fc1Bias, to: hs.baseAddress!, accumulate: false)
                        Elementwise.gelu(hs.baseAddress!, count: n * width)
                        Linear.apply(hs.baseAddress!, rows: n, weight: fc2, bias: fc2Bias, to: os.baseAddress! + start * d, accumulate: true)
                        start += n
                    }
                }
            }
        }
    }
}

extension DiTConfig {
    /// The token grid of a latent `[F, H, W, …]`: its sides divided by the patch's.
    public func grid(latent shape: [Int]) -> Attention.Grid {
        Attention.Grid(frames: shape[0] / patch[0], height: shape[1] / patch[1], width: shape[2] / patch[2])
    }
}
