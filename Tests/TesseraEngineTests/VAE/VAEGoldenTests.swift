import Foundation
import Testing
@testable import TesseraModels
@testable import TesseraTensor

/// The tiny VAE against reference/vae_reference.py (float64 numpy): every stage alone on the reference's
/// own input to it, then the whole encoder and decoder, and a 1-frame video — for the decoder that repeats
/// frames (`vae_tiny`) and the one that splits channels into frames (`vae_tiny_split`).
@Suite struct VAEGoldenTests {
    var file: SafetensorsFile
    var config: VAEConfig

    /// The golden pairs: frame repetition, and channel halves as frames.
    static let goldens = ["vae_tiny", "vae_tiny_split"]

    init() throws { try self.init("vae_tiny") }

    init(_ stem: String) throws {
        file = try Golden.open(stem + ".safetensors")
        config = try VAEConfig.load(Golden.folder.appendingPathComponent(stem + ".json").path)
    }

    func weights() throws -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        for name in file.names where !name.hasPrefix("input.") && !name.hasPrefix("out.") && !name.hasPrefix("output.") {
            weights[name] = try file.tensor(name)
        }
        return weights
    }

    func stages(_ key: String) -> [String] { (file.metadata[key] ?? "").split(separator: ",").map(String.init) }

    // Tolerance for every comparison here: 1e-5 of the reference's largest magnitude (at least 1). Each stage is
    // float32 sums of at most 12·27 = 324 products of O(1) values plus a per-pixel norm and SiLU: measured
    // ≤ 4.9e-7 per stage and ≤ 7.5e-7 through the whole encoder or decoder. A wrong reading (flipped kernel,
    // wrong sub-pixel order, norm over the wrong axis, first frame repeated twice) moves outputs by 1e-2 or
    // more, and one weight changed by 0.05 by 1.0e-2 (aPerturbedWeightFailsTheComparison).
    static let tolerance: Float = 1e-5

    @Test func tinyPresetMatchesTheGoldenConfig() throws {
        #expect(config == VAEConfig.tiny)
        var split = VAEConfig.tiny
        split.temporalUpsampling = .splitChannels
        #expect(try Self("vae_tiny_split").config == split)
    }

    @Test func theSplitDecoderMakesDistinctFramesAndTheRepeatingOneCopies() throws {
        // The world preset's shape: time doubles twice on the way up and no kernel in time below the top.
        var config = VAEConfig.world
        config.channels = [4, 8, 8]
        config.latentChannels = 4
        let latent = NoiseGenerator(seed: 9, stream: 0).tensor(shape: [2, 2, 3, 4])
        let repeated = try VAE(config: config, weights: VAE.randomWeights(config, seed: 1)).decoder.forward(latent)
        config.temporalUpsampling = .splitChannels
        #expect(config.expectedWeights["decoder.levels.2.up.weight"] == [64, 8, 1, 3, 3])
        let split = try VAE(config: config, weights: VAE.randomWeights(config, seed: 1)).decoder.forward(latent)
        #expect(repeated.shape == [5, 16, 24, 3] && split.shape == [5, 16, 24, 3])
        let frame = 16 * 24 * 3
        func pixels(_ video: Tensor, _ f: Int) -> ArraySlice<Float> { video.storage[(f * frame)..<((f + 1) * frame)] }
        #expect(pixels(repeated, 1) == pixels(repeated, 4), "repetition: a latent frame's four frames are copies")
        for f in 1..<4 { #expect(pixels(split, f) != pixels(split, f + 1), "split: frame \(f) and \(f + 1) differ") }
    }

    @Test(arguments: goldens) func everyEncoderStageMatchesTheReference(_ stem: String) throws {
        let golden = try Self(stem), file = golden.file
        let vae = try VAE(config: golden.config, weights: golden.weights())
        let names = golden.stages("encoder.stages")
        #expect(names == vae.encoder.stageNames)
        var input = try file.tensor("input.video")
        for name in names {
            let expected = try file.tensor("out." + name)
            let out = try #require(vae.encoder.stage(name, input))
            let error = relativeError(out, expected)
            #expect(error < Self.tolerance, "\(name): error \(error)")
            input = expected
        }
    }

    @Test(arguments: goldens) func everyDecoderStageMatchesTheReference(_ stem: String) throws {
        let golden = try Self(stem), file = golden.file
        let vae = try VAE(config: golden.config, weights: golden.weights())
        let names = golden.stages("decoder.stages")
        #expect(names == vae.decoder.stageNames)
        var input = try file.tensor("input.latent")
        for name in names {
            let expected = try file.tensor("out." + name)
            let out = try #require(vae.decoder.stage(name, input))
            let error = relativeError(out, expected)
            #expect(error < Self.tolerance, "\(name): error \(error)")
            input = expected
        }
    }

    @Test(arguments: goldens) func wholeEncoderAndDecoderMatchTheReference(_ stem: String) throws {
        let golden = try Self(stem), file = golden.file
        let vae = try VAE(config: golden.config, weights: golden.weights())
        let (mean, logVariance) = try vae.encoder.forward(try file.tensor("input.video"))
        #expect(relativeError(mean, try file.tensor("output.mean")) < Self.tolerance)
        #expect(relativeError(logVariance, try file.tensor("output.logvar")) < Self.tolerance)
        let video = try vae.decoder.forward(try file.tensor("input.latent"))
        #expect(relativeError(video, try file.tensor("output.video")) < Self.tolerance)
    }

    @Test(arguments: goldens) func anImageIsAOneFrameVideo(_ stem: String) throws {
        let golden = try Self(stem), file = golden.file
        let vae = try VAE(config: golden.config, weights: golden.weights())
        let video = try file.tensor("input.video"), latent = try file.tensor("input.latent")
        let image = Tensor(shape: [1] + Array(video.shape.dropFirst()), storage: Array(video.storage[0..<(video.count / video.shape[0])]))
        let mean = try vae.encoder.encode(image)
        #expect(mean.shape == [1, 2, 2, 4])
        #expect(relativeError(mean, try file.tensor("output.image_mean")) < Self.tolerance)
        let first = Tensor(shape: [1] + Array(latent.shape.dropFirst()), storage: Array(latent.storage[0..<(latent.count / latent.shape[0])]))
        let decoded = try vae.decoder.forward(first)
        #expect(decoded.shape == [1, 32, 48, 3])
        #expect(relativeError(decoded, try file.tensor("output.image")) < Self.tolerance)
    }

    @Test func aPerturbedWeightFailsTheComparison() throws {
        var changed = try weights()
        changed["decoder.levels.2.blocks.0.conv1.weight"]!.storage[7] += 0.05
        changed["encoder.levels.1.blocks.0.conv2.weight"]!.storage[3] += 0.05
        let vae = try VAE(config: config, weights: changed)
        let video = try vae.decoder.forward(try file.tensor("input.latent"))
        let decoderError = relativeError(video, try file.tensor("output.video"))
        #expect(decoderError > Self.tolerance, "the decoder comparison notices one changed weight (error \(decoderError))")
        let mean = try vae.encoder.encode(try file.tensor("input.video"))
        let encoderError = relativeError(mean, try file.tensor("output.mean"))
        #expect(encoderError > Self.tolerance, "the encoder comparison notices one changed weight (error \(encoderError))")
    }

    @Test func missingExtraAndMisshapedWeightsAreNamed() throws {
        var broken = try weights()
        broken.removeValue(forKey: "decoder.levels.1.up.bias")
        broken["encoder.levels.9.unknown"] = Tensor(zeros: [1])
        broken["encoder.conv_in.weight"] = Tensor(zeros: [4, 12, 3, 3, 3])
        #expect {
            _ = try VAE(config: config, weights: broken)
        } throws: { error in
            let text = "\(error)"
            return text.contains("missing decoder.levels.1.up.bias") && text.contains("unexpected encoder.levels.9.unknown")
                && text.contains("encoder.conv_in.weight is [4, 12, 3, 3, 3], expected [4, 12, 1, 3, 3]")
        }
    }

    @Test func loadsFromConfigAndSafetensorsFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vae-\(UUID().uuidString).safetensors").path
        defer { unlink(path) }
        try SafetensorsFile.write(try weights(), to: path)
        let vae = try VAE(configPath: Golden.folder.appendingPathComponent("vae_tiny.json").path, weightsPath: path)
        #expect(vae.config == config)
        #expect(relativeError(try vae.decoder.forward(try file.tensor("input.latent")), try file.tensor("output.video")) < Self.tolerance)
    }
}
