import Foundation

/// What a diffusion transformer's output stands for.
public enum DiTPrediction: String, Codable, Sendable, CaseIterable {
    /// The velocity `ε − x0` itself.
    case velocity
    /// The clean latent `x0`; the velocity is derived from it and the noisy latent (`DiTConfig.outputMap`).
    case clean
}

/// The shape of a diffusion transformer, stored as JSON beside its weights (docs/ENGINE.md).
public struct DiTConfig: Codable, Sendable, Equatable {
    public var latentChannels: Int
    /// Patch size in (frames, rows, columns) of the latent.
    public var patch: [Int]
    public var hidden: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Int
    /// Width of the caption embeddings (384 for all-MiniLM-L6-v2).
    public var textWidth: Int
    /// How each head's width is split between time, height and width rotary positions.
    public var ropeDims: [Int]
    /// Short-side token count that normalized spatial positions span.
    public var ropeReferenceTokens: Double
    public var frequencyEmbedding: Int
    /// Adds `Spacetime.framePositions` (where a token sits in its frame, as fractions of height and width) to
    /// the patch embedding. Absent or false: rotary positions alone, as every model before session 13.
    public var framePositions: Bool?
    /// Passes the same frame-position features through a learned matrix `pos_embedder.weight` (zero at the start)
    /// before adding them to the patch embedding, so the network chooses how much of its residual stream says
    /// where a token is (docs/ENGINE.md, "Frame positions"; session 28). Absent or false: no such weight.
    public var learnedFramePositions: Bool?
    /// The velocity is the network's output plus `velocitySkip(time:)·x_t`, the part of the velocity that is
    /// linear in the noisy latent (docs/ENGINE.md, "Velocity skip"). Absent or false: the network's output alone,
    /// as every model before session 13.
    public var velocitySkip: Bool?
    /// What the network's output is: the velocity (absent, as every model before session 14) or the clean latent,
    /// turned into the velocity `(x_t − x̂0)/max(t, cleanTimeFloor)` (docs/ENGINE.md, "Clean prediction").
    public var prediction: DiTPrediction?
    /// How many attribute features a grounded object carries (`GroundedObject`, `Caption.grounding`): the
    /// matrix `grounding.weight [hidden, grounding]` adds each object's features to the tokens its box covers
    /// (docs/ENGINE.md, "Grounded objects"; session 36). Absent: captions alone, as every model before.
    public var grounding: Int?

    public init(
        latentChannels: Int, patch: [Int], hidden: Int, depth: Int, heads: Int, mlpRatio: Int = 4, textWidth: Int = 384,
        ropeDims: [Int], ropeReferenceTokens: Double = 16, frequencyEmbedding: Int = 256, framePositions: Bool? = nil,
        learnedFramePositions: Bool? = nil, velocitySkip: Bool? = nil, prediction: DiTPrediction? = nil,
        grounding: Int? = nil
    ) throws {
        self.latentChannels = latentChannels
        self.patch = patch
        self.hidden = hidden
        self.depth = depth
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.textWidth = textWidth
        self.ropeDims = ropeDims
        self.ropeReferenceTokens = ropeReferenceTokens
        self.frequencyEmbedding = frequencyEmbedding
        self.framePositions = framePositions
        self.learnedFramePositions = learnedFramePositions
        self.velocitySkip = velocitySkip
        self.prediction = prediction
        self.grounding = grounding
        try validate()
    }

    /// Checks the numbers fit together; the error says which do not.
    public func validate() throws {
        var problems: [String] = []
        if patch.count != 3 || patch.contains(where: { $0 < 1 }) { problems.append("patch must be three positive sizes, got \(patch)") }
        if hidden < 1 || heads < 1 || hidden % heads != 0 { problems.append("hidden \(hidden) must be a positive multiple of heads \(heads)") }
        if ropeDims.count != 3 || ropeDims.contains(where: { $0 < 0 || $0 % 2 != 0 }) || (heads > 0 && ropeDims.reduce(0, +) != hidden / max(heads, 1)) {
            problems.append("ropeDims \(ropeDims) must be three even widths summing to the head width \(hidden / max(heads, 1))")
        }
        if latentChannels < 1 || depth < 1 || mlpRatio < 1 || textWidth < 1 { problems.append("channels, depth, mlpRatio and textWidth must be positive") }
        if frequencyEmbedding < 2 || frequencyEmbedding % 2 != 0 { problems.append("frequencyEmbedding must be even") }
        if (usesFramePositions || usesLearnedFramePositions) && (hidden % 4 != 0 || hidden < 8) {
            problems.append("frame positions need hidden \(hidden) to be a multiple of 4, at least 8")
        }
        if usesFramePositions && usesLearnedFramePositions { problems.append("framePositions and learnedFramePositions exclude each other") }
        if let grounding, grounding < 1 { problems.append("grounding must be a positive feature count, got \(grounding)") }
        if usesVelocitySkip && predicts == .clean { problems.append("the velocity skip and the clean prediction exclude each other") }
        if !problems.isEmpty { throw ModelError.badConfig(problems.joined(separator: "; ")) }
    }

    public var headWidth: Int { hidden / heads }
    /// The learned frame positions' matrix, `[hidden, hidden]`: features in, residual stream out.
    public static let framePositionWeight = "pos_embedder.weight"
    /// The grounded objects' matrix, `[hidden, grounding]`: attribute features in, residual stream out.
    public static let groundingWeight = "grounding.weight"
    public var usesFramePositions: Bool { framePositions ?? false }
    public var usesLearnedFramePositions: Bool { learnedFramePositions ?? false }
    public var usesVelocitySkip: Bool { velocitySkip ?? false }
    public var predicts: DiTPrediction { prediction ?? .velocity }

    /// The velocity is `network·output + input·x_t` at time `t`: (1, 0) for a velocity network, (1, s(t)) with
    /// the velocity skip, (−1/t', 1/t') with t' = max(t, `cleanTimeFloor`) for a clean-latent network — one map,
    /// used by the inference forward and the training graph alike.
    public func outputMap(time t: Float) -> (network: Float, input: Float) {
        switch predicts {
        case .clean:
            let floor = max(t, Self.cleanTimeFloor)
            return (-1 / floor, 1 / floor)
        case .velocity:
            return (1, usesVelocitySkip ? Self.velocitySkip(time: t) : 0)
        }
    }

    /// Below this time a clean-latent network's velocity divides by it instead of by t, so the velocity and
    /// its loss stay bounded as t → 0 (the weight on the clean latent's error is at most 1/0.05² = 400).
    public static let cleanTimeFloor: Float = 0.05

    /// `s(t) = (2t − 1)/((1 − t)² + t²)` above `t = ½`, 0 below: above ½, the least-squares coefficient of the
    /// velocity `v = ε − x0` on the noisy latent `x_t = (1 − t)·x0 + t·ε` for unit-variance data and noise
    /// (1 at t = 1, where `v = x_t − x0`). Below ½ the data is far from white noise to the network — it can
    /// tell the noise from the picture — and the full coefficient (−1 at t = 0) trained worse (docs/MODEL.md,
    /// session 13), so the network's output is the velocity there, as before.
    public static func velocitySkip(time t: Float) -> Float {
        t <= 0.5 ? 0 : (2 * t - 1) / ((1 - t) * (1 - t) + t * t)
    }
    public var patchVolume: Int { patch.reduce(1, *) * latentChannels }

    /// Reads a config JSON file.
    public static func load(_ path: String) throws -> DiTConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.badConfig("cannot read \(path)") }
        let config: DiTConfig
        do { config = try JSONDecoder().decode(DiTConfig.self, from: data) } catch { throw ModelError.badConfig("\(path): \(error)") }
        try config.validate()
        return config
    }

    /// Every weight name with its shape, as the checkpoint must hold them.
    public var expectedWeights: [String: [Int]] {
        let d = hidden, e = textWidth, dh = headWidth
        var shapes: [String: [Int]] = [
            "x_embedder.weight": [d, patchVolume], "x_embedder.bias": [d],
            "t_embedder.mlp.0.weight": [d, frequencyEmbedding], "t_embedder.mlp.0.bias": [d],
            "t_embedder.mlp.2.weight": [d, d], "t_embedder.mlp.2.bias": [d],
            "y_embedder.mlp.0.weight": [d, e], "y_embedder.mlp.0.bias": [d],
            "y_embedder.mlp.2.weight": [d, d], "y_embedder.mlp.2.bias": [d],
            "context_embedder.weight": [d, e], "context_embedder.bias": [d],
            "final_layer.adaLN_modulation.1.weight": [2 * d, d], "final_layer.adaLN_modulation.1.bias": [2 * d],
            "final_layer.linear.weight": [patchVolume, d], "final_layer.linear.bias": [patchVolume],
        ]
        if usesLearnedFramePositions { shapes[Self.framePositionWeight] = [d, d] }
        if let grounding { shapes[Self.groundingWeight] = [d, grounding] }
        for i in 0..<depth {
            let b = "blocks.\(i)."
            shapes[b + "adaLN_modulation.1.weight"] = [6 * d, d]
            shapes[b + "adaLN_modulation.1.bias"] = [6 * d]
            shapes[b + "attn.qkv.weight"] = [3 * d, d]
            shapes[b + "attn.qkv.bias"] = [3 * d]
            shapes[b + "attn.q_norm.weight"] = [dh]
            shapes[b + "attn.k_norm.weight"] = [dh]
            shapes[b + "attn.proj.weight"] = [d, d]
            shapes[b + "attn.proj.bias"] = [d]
            shapes[b + "norm2.weight"] = [d]
            shapes[b + "norm2.bias"] = [d]
            for name in ["q", "k", "v", "proj"] {
                shapes[b + "cross.\(name).weight"] = [d, d]
                shapes[b + "cross.\(name).bias"] = [d]
            }
            shapes[b + "cross.q_norm.weight"] = [dh]
            shapes[b + "cross.k_norm.weight"] = [dh]
            shapes[b + "mlp.fc1.weight"] = [mlpRatio * d, d]
            shapes[b + "mlp.fc1.bias"] = [mlpRatio * d]
            shapes[b + "mlp.fc2.weight"] = [d, mlpRatio * d]
            shapes[b + "mlp.fc2.bias"] = [d]
        }
        return shapes
    }
}

extension DiTConfig {
    /// Sized to train on this 2-core machine: 16 latent channels, 384 wide, 8 blocks of 6 heads.
    public static let small = try! DiTConfig(
        latentChannels: 16, patch: [1, 2, 2], hidden: 384, depth: 8, heads: 6, ropeDims: [16, 24, 24])
    /// The default model's shape, trained on this machine (docs/MODEL.md): 256 wide, 6 blocks of 4 heads,
    /// 4×4 patches of the world VAE's 8× latent (one token per 32×32 pixels); about 9.1M parameters (18 MB
    /// in float16).
    public static let world = try! DiTConfig(
        latentChannels: 16, patch: [1, 4, 4], hidden: 256, depth: 6, heads: 4, ropeDims: [16, 24, 24])
    /// The smallest useful shape, for tests and golden files.
    public static let tiny = try! DiTConfig(
        latentChannels: 4, patch: [1, 2, 2], hidden: 32, depth: 2, heads: 2, textWidth: 8, ropeDims: [4, 6, 6])
}

/// Why a model could not be built or run.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    case badConfig(String)
    case badInput(String)

    public var description: String {
        switch self {
        case .badConfig(let message): return "bad model config: \(message)"
        case .badInput(let message): return "bad model input: \(message)"
        }
    }
}
