import Foundation

/// The shape of a BERT encoder, read from the Hugging Face `config.json` beside its weights (snake_case keys).
public struct BERTConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var intermediate: Int
    /// Rows of the position table: the longest input the model can take.
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEps: Double
    /// `"gelu"` (the exact, erf form) is the only activation this engine runs.
    public var hiddenAct: String
    /// `"absolute"` (learned position rows) is the only kind this engine runs.
    public var positionEmbeddingType: String

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hidden = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
        case intermediate = "intermediate_size", maxPositions = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act", positionEmbeddingType = "position_embedding_type"
    }

    public init(
        vocabSize: Int, hidden: Int, layers: Int, heads: Int, intermediate: Int, maxPositions: Int = 512, typeVocabSize: Int = 2,
        layerNormEps: Double = 1e-12, hiddenAct: String = "gelu", positionEmbeddingType: String = "absolute"
    ) throws {
        self.vocabSize = vocabSize
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.intermediate = intermediate
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
        self.positionEmbeddingType = positionEmbeddingType
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            vocabSize: c.decode(Int.self, forKey: .vocabSize), hidden: c.decode(Int.self, forKey: .hidden),
            layers: c.decode(Int.self, forKey: .layers), heads: c.decode(Int.self, forKey: .heads),
            intermediate: c.decode(Int.self, forKey: .intermediate),
            maxPositions: c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 512,
            typeVocabSize: c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2,
            layerNormEps: c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-12,
            hiddenAct: c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu",
            positionEmbeddingType: c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute")
    }

    /// Checks the numbers fit together and the model is one this engine runs; the error says what does not.
    public func validate() throws {
        var problems: [String] = []
        if hidden < 1 || heads < 1 || hidden % heads != 0 { problems.append("hidden_size \(hidden) must be a positive multiple of num_attention_heads \(heads)") }
        if vocabSize < 1 || layers < 1 || intermediate < 1 || maxPositions < 2 || typeVocabSize < 1 {
            problems.append("vocab_size, num_hidden_layers, intermediate_size, type_vocab_size must be positive and max_position_embeddings at least 2")
        }
        if hiddenAct != "gelu" { problems.append("hidden_act \"\(hiddenAct)\" is not supported (only the exact \"gelu\")") }
        if positionEmbeddingType != "absolute" { problems.append("position_embedding_type \"\(positionEmbeddingType)\" is not supported (only \"absolute\")") }
        if !(layerNormEps > 0) { problems.append("layer_norm_eps must be positive") }
        if !problems.isEmpty { throw ModelError.badConfig(problems.joined(separator: "; ")) }
    }

    public var headWidth: Int { hidden / heads }

    /// Reads a `config.json`.
    public static func load(_ path: String) throws -> BERTConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw TextEncoderError.missingFile(path) }
        do { return try JSONDecoder().decode(BERTConfig.self, from: data) } catch let error as ModelError {
            throw TextEncoderError.corruptFile(path, "\(error)")
        } catch {
            throw TextEncoderError.corruptFile(path, "not a BERT config.json (\(error))")
        }
    }

    /// Every weight the forward pass reads, with its shape (Hugging Face `BertModel` names).
    public var expectedWeights: [String: [Int]] {
        let d = hidden, f = intermediate
        var shapes: [String: [Int]] = [
            "embeddings.word_embeddings.weight": [vocabSize, d],
            "embeddings.position_embeddings.weight": [maxPositions, d],
            "embeddings.token_type_embeddings.weight": [typeVocabSize, d],
            "embeddings.LayerNorm.weight": [d], "embeddings.LayerNorm.bias": [d],
        ]
        for i in 0..<layers {
            let l = "encoder.layer.\(i)."
            for name in ["query", "key", "value"] {
                shapes[l + "attention.self.\(name).weight"] = [d, d]
                shapes[l + "attention.self.\(name).bias"] = [d]
            }
            shapes[l + "attention.output.dense.weight"] = [d, d]
            shapes[l + "attention.output.dense.bias"] = [d]
            shapes[l + "attention.output.LayerNorm.weight"] = [d]
            shapes[l + "attention.output.LayerNorm.bias"] = [d]
            shapes[l + "intermediate.dense.weight"] = [f, d]
            shapes[l + "intermediate.dense.bias"] = [f]
            shapes[l + "output.dense.weight"] = [d, f]
            shapes[l + "output.dense.bias"] = [d]
            shapes[l + "output.LayerNorm.weight"] = [d]
            shapes[l + "output.LayerNorm.bias"] = [d]
        }
        return shapes
    }

    /// Tensors a `BertModel` checkpoint may also hold that the encoder does not use: the position-id buffer
    /// and the `[CLS]` pooler (sentence-transformers mean-pools instead). Allowed, never loaded.
    public var unusedWeights: [String: [Int]] {
        ["embeddings.position_ids": [1, maxPositions], "pooler.dense.weight": [hidden, hidden], "pooler.dense.bias": [hidden]]
    }
}

extension BERTConfig {
    /// all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads of 32, 1536-wide feed-forward, uncased 30,522-token vocabulary.
    public static let miniLML6 = try! BERTConfig(vocabSize: 30_522, hidden: 384, layers: 6, heads: 12, intermediate: 1536)
}
