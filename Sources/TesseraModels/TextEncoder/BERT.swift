import Foundation
import TesseraTensor

/// A BERT encoder (post-LayerNorm, learned absolute positions, exact GELU) over Hugging Face `BertModel`
/// weights: token ids in, one hidden vector per token out. docs/ENGINE.md, "Text encoder", gives the math.
///
/// Letters: `L` tokens, `D` hidden width, `F` feed-forward width, `V` vocabulary.
public final class BERT: @unchecked Sendable {
    public let config: BERTConfig
    let weights: [String: Tensor]

    /// Builds the encoder from weights whose names and shapes must match the config; the known unused
    /// tensors (`BERTConfig.unusedWeights`) may be present and are dropped.
    public init(config: BERTConfig, weights: [String: Tensor], source: String = "BERT weights") throws {
        try config.validate()
        var used = weights
        for name in config.unusedWeights.keys { used.removeValue(forKey: name) }
        try SafetensorsFile.check(actual: used.mapValues(\.shape), expected: config.expectedWeights, path: source)
        self.config = config
        self.weights = used
    }

    /// Loads a safetensors checkpoint, checking every name and shape before converting anything.
    public convenience init(config: BERTConfig, weightsPath: String) throws {
        let file = try SafetensorsFile(path: weightsPath)
        var shapes = file.entries.mapValues(\.shape)
        for (name, shape) in config.unusedWeights where shapes[name] == shape { shapes.removeValue(forKey: name) }
        try SafetensorsFile.check(actual: shapes, expected: config.expectedWeights, path: weightsPath)
        var weights: [String: Tensor] = [:]
        for name in config.expectedWeights.keys { weights[name] = try file.tensor(name) }
        try self.init(config: config, weights: weights, source: weightsPath)
    }

    func w(_ name: String) -> Tensor { weights[name]! }

    func linear(_ x: Tensor, _ name: String) -> Tensor {
        Linear.forward(x, weight: w(name + ".weight"), bias: w(name + ".bias"))
    }

    func layerNorm(_ x: Tensor, _ name: String) -> Tensor {
        Elementwise.layerNorm(x, weight: w(name + ".weight"), bias: w(name + ".bias"), eps: Float(config.layerNormEps))
    }

    /// The last hidden state for one sequence of token ids (every token attends to every token: a single
    /// unpadded sequence needs no attention mask).  → `[L, D]`
    public func forward(_ ids: [Int]) throws -> Tensor {
        try forward(ids, keepLayerOutputs: false).tokens
    }

    /// The forward pass, with the embedding output and each layer's output for tests.
    public func forward(_ ids: [Int], keepLayerOutputs: Bool) throws -> (tokens: Tensor, embeddings: Tensor, layerOutputs: [Tensor]) {
        let d = config.hidden, n = ids.count
        guard (1...config.maxPositions).contains(n) else {
            throw ModelError.badInput("\(n) tokens; this BERT takes 1 to \(config.maxPositions)")
        }
        if let bad = ids.first(where: { !(0..<config.vocabSize).contains($0) }) {
            throw ModelError.badInput("token id \(bad) outside the vocabulary of \(config.vocabSize)")
        }

        // Embeddings: word row + position row + token-type-0 row, then LayerNorm.
        var x = Tensor(zeros: [n, d])  // [L, D]
        let word = w("embeddings.word_embeddings.weight"), position = w("embeddings.position_embeddings.weight")
        let type0 = w("embeddings.token_type_embeddings.weight")
        for (row, id) in ids.enumerated() {
            for c in 0..<d {
                x.storage[row * d + c] = word.storage[id * d + c] + position.storage[row * d + c] + type0.storage[c]
            }
        }
        x = layerNorm(x, "embeddings.LayerNorm")  // [L, D]
        let embeddings = x
        var layerOutputs: [Tensor] = []

        for i in 0..<config.layers {
            let l = "encoder.layer.\(i)."
            let q = linear(x, l + "attention.self.query")  // [L, D]
            let k = linear(x, l + "attention.self.key")  // [L, D]
            let v = linear(x, l + "attention.self.value")  // [L, D]
            let attended = Attention.attend(q: q, k: k, v: v, heads: config.heads)  // [L, D]
            x = layerNorm(Elementwise.addScaled(x, linear(attended, l + "attention.output.dense")), l + "attention.output.LayerNorm")
            let hiddenF = Elementwise.geluExact(linear(x, l + "intermediate.dense"))  // [L, F]
            x = layerNorm(Elementwise.addScaled(x, linear(hiddenF, l + "output.dense")), l + "output.LayerNorm")  // [L, D]
            if keepLayerOutputs { layerOutputs.append(x) }
        }
        return (x, embeddings, layerOutputs)
    }
}
