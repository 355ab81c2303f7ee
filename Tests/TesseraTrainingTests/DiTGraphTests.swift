import Foundation
import Testing
import TesseraModels
import TesseraTensor

@testable import TesseraTraining

/// The trainable DiT against the inference DiT, and its gradients against finite differences.
@Suite struct DiTGraphTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../TesseraEngineTests/Golden").standardized

    let file: SafetensorsFile
    let config: DiTConfig
    var weights: [String: Tensor] = [:]
    let caption: Caption
    let x: Tensor
    let time: Float

    init() throws {
        file = try SafetensorsFile(path: Self.golden.appendingPathComponent("dit_tiny.safetensors").path)
        config = try DiTConfig.load(Self.golden.appendingPathComponent("dit_tiny.json").path)
        for name in file.names where !name.hasPrefix("input.") && !name.hasPrefix("output.") { weights[name] = try file.tensor(name) }
        caption = Caption(tokens: try file.tensor("input.ctx"), length: Int(file.metadata["input.ctx_length"] ?? "") ?? 0, pooled: try file.tensor("input.y"))
        x = try file.tensor("input.x")
        time = try file.tensor("input.t").storage[0]
    }

    // Same float32 operations in a different order (the inference path folds gates into weights and
    // fuses norms): differences of a few ulps of O(1) values, far below 1e-4.
    @Test(arguments: ["full", "factorized"])
    func matchesTheInferenceForward(_ layoutName: String) throws {
        let layout: Attention.Layout = layoutName == "full" ? .full : .factorized
        let expected = try DiT(config: config, weights: weights).velocity(x, time: time, caption: caption, layout: layout)
        let tape = Tape()
        let graph = try DiTGraph(tape: tape, config: config, weights: weights)
        let actual = tape.value(graph.velocity(x, time: time, caption: caption, layout: layout))
        let scale = max(1, expected.storage.map(abs).max() ?? 0)
        let worst = zip(actual.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / scale < 1e-4, "worst difference \(worst)")
    }

    /// The inference and tape velocities (full layout) for `changed`, and their worst difference relative to the scale.
    func bothPaths(_ changed: DiTConfig, weights: [String: Tensor]? = nil, caption: Caption? = nil) throws -> (inference: Tensor, worst: Float) {
        let weights = weights ?? self.weights, caption = caption ?? self.caption
        let expected = try DiT(config: changed, weights: weights).velocity(x, time: time, caption: caption, layout: .full)
        let tape = Tape()
        let actual = tape.value(try DiTGraph(tape: tape, config: changed, weights: weights).velocity(x, time: time, caption: caption, layout: .full))
        let scale = max(1, expected.storage.map(abs).max() ?? 0)
        return (expected, (zip(actual.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0) / scale)
    }

    /// With frame positions (fixed features added to the patch embedding) both paths still agree, and the
    /// features change the output: the same weights, the same latent, another velocity.
    @Test func framePositionsMatchTheInferenceForward() throws {
        var placed = config
        placed.framePositions = true
        let (expected, worst) = try bothPaths(placed)
        #expect(worst < 1e-4, "worst relative difference \(worst)")
        let without = try DiT(config: config, weights: weights).velocity(x, time: time, caption: caption, layout: .full)
        let change = zip(without.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-3, "frame positions changed the velocity by at most \(change)")
    }

    /// Learned frame positions: with the matrix at zero the network is the plain one, bit for bit; with a random
    /// matrix both paths agree, the velocity changes, and the matrix's gradient matches central differences.
    @Test func learnedFramePositionsMatchTheInferenceForwardAndDifferences() throws {
        var placed = config
        placed.learnedFramePositions = true
        try placed.validate()
        let d = config.hidden
        #expect(placed.expectedWeights[DiTConfig.framePositionWeight] == [d, d] && config.expectedWeights[DiTConfig.framePositionWeight] == nil)
        var zero = weights
        zero[DiTConfig.framePositionWeight] = Tensor(zeros: [d, d])
        let plain = try DiT(config: config, weights: weights).velocity(x, time: time, caption: caption, layout: .full)
        let (atZero, _) = try bothPaths(placed, weights: zero)
        #expect(atZero.storage == plain.storage, "a zero matrix leaves the network as it was")
        var learned = weights
        learned[DiTConfig.framePositionWeight] = Tensor(shape: [d, d], storage: NoiseGenerator(seed: 5, stream: 2).tensor(shape: [d, d]).storage.map { $0 * 0.1 })
        let (expected, worst) = try bothPaths(placed, weights: learned)
        #expect(worst < 1e-4, "worst relative difference \(worst)")
        let change = zip(plain.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-3, "learned frame positions changed the velocity by at most \(change)")

        for start in [zero, learned] {
            let (largest, worstGradient) = try gradientCheck(DiTConfig.framePositionWeight, config: placed, weights: start, layout: .full)
            #expect(largest > 1e-5, "a gradient reaches the matrix, even at zero")
            #expect(worstGradient < 3e-2, "worst relative gradient error \(worstGradient)")
        }
    }

    /// Grounded objects: with the matrix at zero the network is the plain one, bit for bit; with a random matrix
    /// both paths agree, the velocity changes where a box lies and only in the frame it names, and the matrix's
    /// gradient matches central differences (also from zero, where training starts).
    @Test func groundedObjectsMatchTheInferenceForwardAndDifferences() throws {
        var grounded = config
        grounded.grounding = 3
        try grounded.validate()
        let d = config.hidden
        #expect(grounded.expectedWeights[DiTConfig.groundingWeight] == [d, 3] && config.expectedWeights[DiTConfig.groundingWeight] == nil)
        var withObjects = caption
        withObjects.grounding = [
            GroundedObject(features: [1, 0, 1], box: [0, 0, 0.6, 0.5]), GroundedObject(features: [1, 1, 0], box: [0.3, 0.4, 1, 1]),
        ]
        var zero = weights
        zero[DiTConfig.groundingWeight] = Tensor(zeros: [d, 3])
        let plain = try DiT(config: config, weights: weights).velocity(x, time: time, caption: caption, layout: .full)
        let (atZero, _) = try bothPaths(grounded, weights: zero, caption: withObjects)
        #expect(atZero.storage == plain.storage, "a zero matrix leaves the network as it was")
        var learned = weights
        learned[DiTConfig.groundingWeight] = Tensor(shape: [d, 3], storage: NoiseGenerator(seed: 5, stream: 3).tensor(shape: [d, 3]).storage.map { $0 * 0.3 })
        let (expected, worst) = try bothPaths(grounded, weights: learned, caption: withObjects)
        #expect(worst < 1e-4, "worst relative difference \(worst)")
        let change = zip(plain.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-3, "grounded objects changed the velocity by at most \(change)")
        // Objects of a frame the latent does not hold add nothing, and neither does a caption without objects.
        let elsewhere = try DiT(config: grounded, weights: learned).velocity(x, time: time, caption: withObjects.window(startingAt: x.shape[0]), layout: .full)
        #expect(elsewhere.storage == plain.storage)
        #expect(try DiT(config: grounded, weights: learned).velocity(x, time: time, caption: caption, layout: .full).storage == plain.storage)
        // Features of the wrong count are refused, naming them.
        var odd = withObjects
        odd.grounding[0].features = [1, 0]
        #expect(throws: ModelError.self) { try DiT(config: grounded, weights: learned).velocity(x, time: time, caption: odd) }

        for start in [zero, learned] {
            let (largest, worstGradient) = try gradientCheck(DiTConfig.groundingWeight, config: grounded, weights: start, layout: .full, caption: withObjects)
            #expect(largest > 1e-5, "a gradient reaches the matrix, even at zero")
            #expect(worstGradient < 3e-2, "worst relative gradient error \(worstGradient)")
        }
    }

    /// The largest |d(MSE)/d(name)| on the tape, and the worst difference from central differences over the
    /// element with the largest gradient and two others, relative to that largest (at least 1e-4).
    func gradientCheck(_ name: String, config: DiTConfig, weights: [String: Tensor], layout: Attention.Layout, caption: Caption? = nil)
        throws -> (largest: Float, worst: Float)
    {
        let caption = caption ?? self.caption
        let target = NoiseGenerator(seed: 3, stream: 1).tensor(shape: x.shape)
        func loss(_ weights: [String: Tensor]) throws -> (Tape, DiTGraph, Tape.Variable) {
            let tape = Tape()
            let graph = try DiTGraph(tape: tape, config: config, weights: weights)
            return (tape, graph, tape.meanSquaredError(graph.velocity(x, time: time, caption: caption, layout: layout), tape.constant(target)))
        }
        let (tape, graph, total) = try loss(weights)
        tape.backward(from: total)
        let analytic = tape.gradient(graph.weights[name]!)!
        let largest = analytic.storage.map(abs).max() ?? 0
        var worst: Float = 0
        for sample in 0..<3 {
            let i = sample == 0 ? analytic.storage.indices.max(by: { abs(analytic.storage[$0]) < abs(analytic.storage[$1]) })! : (sample * 7919) % analytic.count
            var plus = weights, minus = weights
            let step: Float = 1e-2
            plus[name]!.storage[i] += step
            minus[name]!.storage[i] -= step
            let (tp, _, lp) = try loss(plus), (tm, _, lm) = try loss(minus)
            let numeric = (tp.value(lp).storage[0] - tm.value(lm).storage[0]) / (2 * step)
            worst = max(worst, abs(numeric - analytic.storage[i]) / max(largest, 1e-4))
        }
        return (largest, worst)
    }

    /// With the velocity skip, or with the clean prediction, both paths agree, and the output is exactly the
    /// plain network's output mapped by `outputMap`: plain + s(t)·x, or (x − plain)/t.
    @Test(arguments: ["velocity skip", "clean prediction"])
    func theOutputMapMatchesTheInferenceForward(_ variant: String) throws {
        var changed = config
        if variant == "velocity skip" { changed.velocitySkip = true } else { changed.prediction = .clean }
        let (expected, worstPath) = try bothPaths(changed)
        #expect(worstPath < 1e-4, "worst relative difference \(worstPath)")
        let plain = try DiT(config: config, weights: weights).velocity(x, time: time, caption: caption, layout: .full)
        let (network, input) = changed.outputMap(time: time)
        let expectedMap: (Float, Float) = variant == "velocity skip" ? (1, DiTConfig.velocitySkip(time: time)) : (-1 / time, 1 / time)
        #expect(network == expectedMap.0 && input == expectedMap.1 && input != 0)
        let worst = zip(zip(expected.storage, plain.storage), x.storage).map { abs($0.0 - network * $0.1 - input * $1) }.max() ?? 1
        #expect(worst < 1e-4, "velocity − (network·plain + input·x): \(worst)")
    }

    /// d(MSE)/d(weight) for a sample of weights in every kind of layer, against central differences.
    @Test func weightGradientsMatchFiniteDifferences() throws {
        let names = ["x_embedder.weight", "t_embedder.mlp.0.weight", "y_embedder.mlp.2.bias", "context_embedder.weight",
                     "blocks.0.adaLN_modulation.1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.q_norm.weight",
                     "blocks.1.attn.k_norm.weight", "blocks.1.norm2.bias", "blocks.0.cross.q.weight", "blocks.1.cross.k_norm.weight",
                     "blocks.1.cross.v.weight", "blocks.0.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "final_layer.adaLN_modulation.1.weight",
                     "final_layer.linear.weight"]
        for name in names {
            let (largest, worst) = try gradientCheck(name, config: config, weights: weights, layout: .factorized)
            #expect(largest > 1e-5, "\(name): a gradient reaches it")
            #expect(worst < 3e-2, "\(name): worst relative gradient error \(worst)")
        }
    }
}
