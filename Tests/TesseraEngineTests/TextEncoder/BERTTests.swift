import Foundation
import Testing
@testable import TesseraModels
@testable import TesseraTensor

/// A 2-layer BERT with random weights against the float64 reference (reference/minilm_reference.py):
/// checks the forward at every level without the real model.
@Suite struct BERTTinyGoldenTests {
    let file: SafetensorsFile
    let config: BERTConfig
    let ids: [Int]

    init() throws {
        file = try SafetensorsFile(path: MiniLMGolden.folder.appendingPathComponent("bert_tiny.safetensors").path)
        config = try BERTConfig.load(MiniLMGolden.folder.appendingPathComponent("bert_tiny.json").path)
        ids = Golden.ints(file.metadata["input.ids"])
    }

    func weights() throws -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        for name in file.names where !name.hasPrefix("output.") { weights[name] = try file.tensor(name) }
        return weights
    }

    // Inner sizes ≤ 32, O(1) activations after each LayerNorm, float32 against float64: measured ~1e-6;
    // 1e-5 is the bound (one ulp of the largest values is 5e-7).
    @Test func forwardMatchesTheReferenceAtEveryLevel() throws {
        let bert = try BERT(config: config, weights: weights())
        let out = try bert.forward(ids, keepLayerOutputs: true)
        #expect(maxDifference(out.embeddings, try file.tensor("output.embeddings")) < 1e-5)
        #expect(maxDifference(out.layerOutputs[0], try file.tensor("output.layer0")) < 1e-5)
        #expect(maxDifference(out.layerOutputs[1], try file.tensor("output.layer1")) < 1e-5)
        #expect(maxDifference(out.tokens, try file.tensor("output.layer1")) < 1e-5)
        #expect(maxDifference(TextEncoder.meanPooledNormalized(out.tokens), try file.tensor("output.pooled")) < 1e-6)
    }

    @Test func aPerturbedWeightFailsTheComparison() throws {
        var changed = try weights()
        changed["encoder.layer.1.intermediate.dense.weight"]!.storage[7] += 0.01
        let out = try BERT(config: config, weights: changed).forward(ids)
        #expect(maxDifference(out, try file.tensor("output.layer1")) > 1e-5)
    }

    @Test func missingExtraAndMisshapedWeightsAreNamed() throws {
        var broken = try weights()
        broken.removeValue(forKey: "encoder.layer.0.attention.self.key.bias")
        broken["encoder.layer.9.output.dense.weight"] = Tensor(zeros: [1])
        broken["embeddings.position_embeddings.weight"] = Tensor(zeros: [3, 16])
        #expect {
            _ = try BERT(config: config, weights: broken)
        } throws: { error in
            let text = "\(error)"
            return text.contains("missing encoder.layer.0.attention.self.key.bias") && text.contains("unexpected encoder.layer.9.output.dense.weight")
                && text.contains("embeddings.position_embeddings.weight is [3, 16], expected [12, 16]")
        }
    }

    @Test func badInputsAreRefused() throws {
        let bert = try BERT(config: config, weights: weights())
        #expect(throws: ModelError.self) { try bert.forward([]) }
        #expect(throws: ModelError.self) { try bert.forward([1, 20]) }  // vocabulary is 20
        #expect(throws: ModelError.self) { try bert.forward(Array(repeating: 1, count: 13)) }  // 12 positions
    }

    @Test func configsOutsideTheEngineAreRefused() {
        #expect(throws: ModelError.self) { try BERTConfig(vocabSize: 10, hidden: 16, layers: 1, heads: 3, intermediate: 8) }
        #expect(throws: ModelError.self) { try BERTConfig(vocabSize: 10, hidden: 16, layers: 1, heads: 4, intermediate: 8, hiddenAct: "relu") }
        #expect(throws: ModelError.self) {
            try BERTConfig(vocabSize: 10, hidden: 16, layers: 1, heads: 4, intermediate: 8, positionEmbeddingType: "relative_key")
        }
    }
}
