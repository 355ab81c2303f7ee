import Foundation
import Testing
@testable import TesseraModels
@testable import TesseraTensor

/// Golden files written by the pinned numpy reference (reference/engine_reference.py), which computes in
/// float64 from docs/ENGINE.md. Each comparison states its tolerance and why.
enum Golden {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func open(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: folder.appendingPathComponent(name).path)
    }

    static func ints(_ text: String?) -> [Int] {
        (text ?? "").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
}

/// Largest absolute difference relative to the reference's largest magnitude (at least 1).
func relativeError(_ actual: Tensor, _ expected: Tensor) -> Float {
    precondition(actual.shape == expected.shape, "shapes \(actual.shape) vs \(expected.shape)")
    let scale = max(1, expected.storage.map(abs).max() ?? 1)
    return (zip(actual.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0) / scale
}

@Suite struct KernelGoldenTests {
    let file: SafetensorsFile
    init() throws { file = try Golden.open("kernels.safetensors") }

    func t(_ name: String) throws -> Tensor { try file.tensor(name) }

    // Row statistics over ≤ 32 float32 values of O(1): error ~1e-6.
    @Test func normalization() throws {
        #expect(relativeError(Elementwise.layerNorm(try t("layer_norm.x"), weight: try t("layer_norm.w"), bias: try t("layer_norm.b")), try t("layer_norm.out")) < 1e-5)
        #expect(relativeError(Elementwise.layerNorm(try t("layer_norm.x")), try t("layer_norm_plain.out")) < 1e-5)
        #expect(relativeError(Elementwise.rmsNorm(try t("rms_norm.x"), weight: try t("rms_norm.w")), try t("rms_norm.out")) < 1e-5)
    }

    // Element-wise float32 transcendental functions: a few ulps.
    @Test func activations() throws {
        #expect(relativeError(Elementwise.gelu(try t("gelu.x")), try t("gelu.out")) < 1e-6)
        #expect(relativeError(Elementwise.silu(try t("silu.x")), try t("silu.out")) < 1e-6)
        // Softmax rows with logits near ±1000: numpy's own float32 softmax is 4.6e-6 off the float64 answer
        // on them (rounding of the exponentials and their sum), so 1e-5.
        let softmaxError = relativeError(Elementwise.softmax(try t("softmax.x")), try t("softmax.out"))
        #expect(softmaxError < 1e-5, "softmax error \(softmaxError)")
        #expect(relativeError(Elementwise.modulate(try t("modulate.x"), shift: try t("modulate.shift"), scale: try t("modulate.scale")), try t("modulate.out")) < 1e-6)
    }

    // Computed in double then rounded, like the reference: exact up to the final rounding.
    @Test func timestepEmbedding() throws {
        let times = try t("timestep_embedding.t").storage
        let expected = try t("timestep_embedding.out")
        for (i, time) in times.enumerated() {
            let row = Tensor(shape: [256], storage: Array(expected.storage[(i * 256)..<((i + 1) * 256)]))
            #expect(relativeError(Elementwise.timestepEmbedding(time), row) < 1e-6, "t = \(time)")
        }
    }

    // Pure data movement: exact.
    @Test func patches() throws {
        for name in ["p122", "p222"] {
            let patch = Golden.ints(file.metadata["patchify.\(name).patch"])
            let x = try t("patchify.\(name).x")
            #expect(Spacetime.patchify(x, patch: (patch[0], patch[1], patch[2])) == (try t("patchify.\(name).out")))
            let expected = try t("unpatchify.\(name).out")
            #expect(Spacetime.unpatchify(try t("unpatchify.\(name).tokens"), shape: expected.shape, patch: (patch[0], patch[1], patch[2])) == expected)
        }
    }

    // Angles are computed in double; the rotation is two float32 products: ~1e-6.
    @Test func rope() throws {
        let grid = Golden.ints(file.metadata["rope.grid"]), dims = Golden.ints(file.metadata["rope.dims"])
        let heads = Int(file.metadata["rope.heads"] ?? "") ?? 0
        let tables = Spacetime.ropeTables(
            grid: .init(frames: grid[0], height: grid[1], width: grid[2]), dims: (dims[0], dims[1], dims[2]),
            referenceTokens: Double(file.metadata["rope.reference_tokens"] ?? "") ?? 0)
        #expect(relativeError(Spacetime.applyRope(try t("rope.x"), heads: heads, cos: tables.cos, sin: tables.sin), try t("rope.out")) < 1e-5)
    }

    // Two-point interpolation per axis: ~1e-6.
    @Test func upsample() throws {
        for name in ["hw", "time", "all"] {
            let expected = try t("upsample.\(name).out")
            let out = Spacetime.upsample(try t("upsample.\(name).x"), to: (expected.shape[0], expected.shape[1], expected.shape[2]))
            #expect(relativeError(out, expected) < 1e-6, "\(name)")
        }
    }

    // Sums of up to 81 products of O(1) values in float32: ~1e-6 relative.
    @Test(arguments: ["k333.s111", "k333.s122", "k333.s222", "k133.s111", "k311.s111"])
    func conv3d(_ name: String) throws {
        let kernel = String(name.prefix(4))
        let stride = Golden.ints(file.metadata["conv3d.\(name).stride"])
        let out = Conv3D.forward(try t("conv3d.x"), weight: try t("conv3d.\(kernel).w"), bias: try t("conv3d.\(kernel).b"), stride: (stride[0], stride[1], stride[2]))
        #expect(relativeError(out, try t("conv3d.\(name).out")) < 1e-5)
        #expect(relativeError(ReferenceKernels.conv3d(try t("conv3d.x"), weight: try t("conv3d.\(kernel).w"), bias: try t("conv3d.\(kernel).b"), stride: (stride[0], stride[1], stride[2])), try t("conv3d.\(name).out")) < 1e-6)
    }

    // Softmax-weighted averages: ~1e-6.
    @Test func attention() throws {
        #expect(relativeError(Attention.attend(q: try t("attention.full.q"), k: try t("attention.full.k"), v: try t("attention.full.v"), heads: 2), try t("attention.full.out")) < 1e-5)
        #expect(relativeError(Attention.attend(q: try t("attention.masked.q"), k: try t("attention.masked.k"), v: try t("attention.masked.v"), heads: 2, keyLength: 5), try t("attention.masked.out")) < 1e-5)
        let g = Golden.ints(file.metadata["attention.grid.grid"])
        let grid = Attention.Grid(frames: g[0], height: g[1], width: g[2])
        let (q, k, v) = (try t("attention.grid.q"), try t("attention.grid.k"), try t("attention.grid.v"))
        let layouts: [(String, Attention.Layout)] = [
            ("full", .full), ("factorized", .factorized),
            ("windowed_1_2_2", .windowed(frames: 1, height: 2, width: 2)), ("windowed_2_2_3", .windowed(frames: 2, height: 2, width: 3)),
        ]
        for (name, layout) in layouts {
            let out = Attention.selfAttention(q: q, k: k, v: v, heads: 2, grid: grid, layout: layout)
            #expect(relativeError(out, try t("attention.grid.\(name).out")) < 1e-5, "\(name)")
        }
    }
}

@Suite struct DiTGoldenTests {
    let file: SafetensorsFile
    let config: DiTConfig

    init() throws {
        file = try Golden.open("dit_tiny.safetensors")
        config = try DiTConfig.load(Golden.folder.appendingPathComponent("dit_tiny.json").path)
    }

    func weights() throws -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        for name in file.names where !name.hasPrefix("input.") && !name.hasPrefix("output.") { weights[name] = try file.tensor(name) }
        return weights
    }

    func caption() throws -> Caption {
        Caption(tokens: try file.tensor("input.ctx"), length: Int(file.metadata["input.ctx_length"] ?? "") ?? 0, pooled: try file.tensor("input.y"))
    }

    @Test func tinyPresetMatchesTheGoldenConfig() {
        #expect(config == DiTConfig.tiny)
    }

    // Two blocks of float32 matrix products (inner sizes ≤ 256) and softmaxes against a float64 reference:
    // errors compound to ~1e-5 of the output scale; 1e-4 is the bound.
    @Test func forwardMatchesTheReferenceAtEveryLevel() throws {
        let dit = try DiT(config: config, weights: weights())
        let x = try file.tensor("input.x"), time = try file.tensor("input.t").storage[0]
        let out = try dit.forward(x, time: time, caption: caption(), layout: .full, keepBlockOutputs: true)
        #expect(relativeError(out.conditioning, try file.tensor("output.c")) < 1e-5)
        #expect(relativeError(out.blockOutputs[0], try file.tensor("output.block0.out")) < 1e-4)
        #expect(relativeError(out.blockOutputs[1], try file.tensor("output.block1.out")) < 1e-4)
        #expect(relativeError(out.velocity, try file.tensor("output.velocity")) < 1e-4)
        let factorized = try dit.velocity(x, time: time, caption: caption(), layout: .factorized)
        #expect(relativeError(factorized, try file.tensor("output.velocity_factorized")) < 1e-4)
        let windowed = try dit.velocity(x, time: time, caption: caption(), layout: .windowed(frames: 1, height: 2, width: 2))
        #expect(relativeError(windowed, try file.tensor("output.velocity_windowed_1_2_2")) < 1e-4)
    }

    /// The full-layout velocity with `change` applied to the config, and the golden output `name`.
    func variant(_ change: (inout DiTConfig) -> Void, golden name: String) throws -> (velocity: Tensor, expected: Tensor) {
        var changed = config
        change(&changed)
        let x = try file.tensor("input.x"), time = try file.tensor("input.t").storage[0]
        return (try DiT(config: changed, weights: weights()).velocity(x, time: time, caption: caption(), layout: .full), try file.tensor(name))
    }

    // Frame positions (fixed features added to the patch embedding, written in the reference from
    // docs/ENGINE.md alone), the velocity skip (the velocity's linear part in x_t added to the output) and the
    // clean prediction (the output is x0, the velocity (x_t − x0)/t), each against the reference with the
    // same error budget; without them the output is far off.
    @Test(arguments: ["frame_positions", "velocity_skip", "clean_prediction"])
    func optionalPartsMatchTheReference(_ part: String) throws {
        let change: (inout DiTConfig) -> Void = switch part {
        case "frame_positions": { $0.framePositions = true }
        case "velocity_skip": { $0.velocitySkip = true }
        default: { $0.prediction = .clean }
        }
        let (velocity, expected) = try variant(change, golden: "output.velocity_" + part)
        #expect(relativeError(velocity, expected) < 1e-4)
        #expect(relativeError(try file.tensor("output.velocity"), expected) > 1e-2, "the golden differs from the plain forward")
    }

    @Test func aPerturbedWeightFailsTheComparison() throws {
        var changed = try weights()
        changed["blocks.1.mlp.fc2.weight"]!.storage[5] += 0.05
        let dit = try DiT(config: config, weights: changed)
        let x = try file.tensor("input.x"), time = try file.tensor("input.t").storage[0]
        let velocity = try dit.velocity(x, time: time, caption: caption(), layout: .full)
        #expect(relativeError(velocity, try file.tensor("output.velocity")) > 1e-4, "the golden comparison notices one changed weight")
    }

    @Test func missingExtraAndMisshapedWeightsAreNamed() throws {
        var broken = try weights()
        broken.removeValue(forKey: "blocks.0.attn.qkv.bias")
        broken["blocks.7.unknown"] = Tensor(zeros: [1])
        broken["final_layer.linear.weight"] = Tensor(zeros: [3, 3])
        #expect {
            _ = try DiT(config: config, weights: broken)
        } throws: { error in
            let text = "\(error)"
            return text.contains("missing blocks.0.attn.qkv.bias") && text.contains("unexpected blocks.7.unknown")
                && text.contains("final_layer.linear.weight is [3, 3], expected [16, 32]")
        }
    }

    @Test func safetensorsRoundTripsAndLoadsFromDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dit-\(UUID().uuidString).safetensors").path
        defer { unlink(path) }
        let original = try weights()
        try SafetensorsFile.write(original, metadata: ["format": "tessera"], to: path)
        let reread = try SafetensorsFile(path: path)
        #expect(reread.metadata["format"] == "tessera")
        for name in original.keys { #expect(try reread.tensor(name) == original[name]!) }
        let dit = try DiT(configPath: Golden.folder.appendingPathComponent("dit_tiny.json").path, weightsPath: path)
        #expect(dit.config == config)
    }

    // A float16 file (how models ship) stays float16 in memory and gives exactly the forward of the same
    // file widened to Float32 at load: widening a float16 is exact.
    @Test func aFloat16ModelKeepsHalfTheBytesAndTheSameForward() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dit16-\(UUID().uuidString).safetensors").path
        defer { unlink(path) }
        try SafetensorsFile.write(try weights(), to: path, halfPrecision: true)
        let configPath = Golden.folder.appendingPathComponent("dit_tiny.json").path
        let half = try DiT(configPath: configPath, weightsPath: path)
        let widened = try DiT(config: config, weights: SafetensorsFile.weights(at: path, expected: config.expectedWeights))
        #expect(half.weightBytes * 2 == widened.weightBytes)
        #expect(half.weightBytes == config.expectedWeights.values.reduce(0) { $0 + 2 * $1.reduce(1, *) })
        let x = try file.tensor("input.x"), time = try file.tensor("input.t").storage[0]
        let a = try half.velocity(x, time: time, caption: caption(), layout: .full)
        let b = try widened.velocity(x, time: time, caption: caption(), layout: .full)
        #expect(a == b)
        // And it is a float16 model: its forward differs (slightly) from the float32 one.
        let full = try DiT(config: config, weights: weights()).velocity(x, time: time, caption: caption(), layout: .full)
        #expect(a != full && relativeError(a, full) < 1e-2)
    }
}
