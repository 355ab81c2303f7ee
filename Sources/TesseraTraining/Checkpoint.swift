import Foundation
import TesseraTensor

/// A training checkpoint: the weights, the optimizer's moments and EMA weights, and the step, in one
/// safetensors file written atomically (a kill during the write leaves the previous checkpoint intact).
/// Weights are stored under their own names, so a checkpoint also loads as a model.
public enum Checkpoint {
    public static func save(parameters: [String: Tensor], optimizer: AdamW, metadata: [String: String] = [:], to path: String) throws {
        let state = optimizer.state
        var tensors = state.tensors
        for (name, value) in parameters { tensors[name] = value }
        var meta = metadata
        meta["training.step"] = String(state.step)
        try SafetensorsFile.write(tensors, metadata: meta, to: path)
    }

    /// Loads the weights named in `expected` and restores `optimizer`; returns the weights and metadata.
    public static func load(from path: String, expected: [String: [Int]], optimizer: inout AdamW) throws -> (parameters: [String: Tensor], metadata: [String: String]) {
        let file = try SafetensorsFile(path: path)
        var parameters: [String: Tensor] = [:]
        var state: [String: Tensor] = [:]
        for name in file.names {
            if expected[name] != nil {
                parameters[name] = try file.tensor(name)
            } else if name.hasPrefix("adam.") || name.hasPrefix("ema.") {
                state[name] = try file.tensor(name)
            }
        }
        try SafetensorsFile.check(actual: parameters.mapValues(\.shape), expected: expected, path: path)
        guard let step = Int(file.metadata["training.step"] ?? "") else { throw TrainingError.badCheckpoint("\(path) has no training.step") }
        try optimizer.restore(tensors: state, step: step)
        return (parameters, file.metadata)
    }
}
