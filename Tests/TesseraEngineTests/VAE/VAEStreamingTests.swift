import Foundation
import Testing
@testable import TesseraModels
@testable import TesseraTensor

/// Streaming, tiling, causality and frame counts, on the tiny preset with random weights (same structure as
/// the small preset: 16× spatial, 4× temporal, temporal kernels at 1/8 and 1/16).
@Suite struct VAEStreamingTests {
    let vae: VAE
    init() throws { vae = try VAE(config: .tiny, weights: VAE.randomWeights(.tiny, seed: 5)) }

    func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var x = NoiseGenerator(seed: seed, stream: 0).tensor(shape: shape)
        for i in x.storage.indices { x.storage[i] *= scale }
        return x
    }

    func frames(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let frame = x.count / x.shape[0]
        return Tensor(shape: [range.count] + Array(x.shape.dropFirst()), storage: Array(x.storage[(range.lowerBound * frame)..<(range.upperBound * frame)]))
    }

    func stack(_ frames: [Tensor]) -> Tensor {
        Tensor(shape: [frames.count] + frames[0].shape, storage: frames.flatMap(\.storage))
    }

    func decodeStreamed(_ latent: Tensor, tile: TileSettings) throws -> Tensor {
        var out: [Tensor] = []
        try vae.decoder.decode(latent: latent, tile: tile, clamp: false) { out.append($0) }
        return stack(out)
    }

    // Streamed and whole decoding do the same arithmetic on different chunks; products below the BLAS
    // threshold take the plain loop, so sums could be ordered differently: float32 rounding at most. Measured
    // bit-identical here; bound 1e-5.
    // Also with the decoder that splits channels into frames: a streamed chunk of one frame must know whether
    // it starts the video (one frame) or not (two).
    @Test(arguments: [VAEConfig.TemporalUpsampling.repeatFrames, .splitChannels])
    func streamedDecodingEqualsWholeDecoding(_ upsampling: VAEConfig.TemporalUpsampling) throws {
        var config = VAEConfig.tiny
        config.temporalUpsampling = upsampling
        let vae = try VAE(config: config, weights: VAE.randomWeights(config, seed: 5))
        let latent = random([3, 3, 4, 4], seed: 1)  // [F', h, w, C]
        let whole = try vae.decoder.forward(latent)  // [9, 48, 64, 3]
        #expect(whole.shape == [9, 48, 64, 3])
        var out: [Tensor] = []
        try vae.decoder.decode(latent: latent, tile: .none, clamp: false) { out.append($0) }
        let error = relativeError(stack(out), whole)
        #expect(error < 1e-5, "error \(error)")
    }

    @Test func streamedEncodingEqualsWholeEncoding() throws {
        let video = random([9, 48, 64, 3], seed: 2, scale: 0.5)  // [F, H, W, 3]
        let whole = try vae.encoder.encode(video)  // [3, 3, 4, 4]
        let stream = try vae.encoder.stream(height: 48, width: 64)
        var latents: [Tensor] = []
        for f in 0..<9 {
            let latent = try stream.push(frames(video, f..<(f + 1)))
            #expect((latent != nil) == (f % 4 == 0), "frame \(f) completes a latent frame only at 0, 4, 8")
            if let latent { latents.append(latent) }
        }
        try stream.finish()
        let error = relativeError(stack(latents), whole)
        #expect(error < 1e-5, "error \(error)")
    }

    // The decoder's reach is 6.4 latent pixels (`decoderReach`: 4 convolutions of radius 1 at 1/16, 3 at 1/8, 3 at
    // 1/4, 1 at 1/2): with margin 7 every blended pixel is exact in each tile that weighs it, so tiled equals untiled up to
    // float32 rounding (measured 3.2e-6, from the blend weights; bound 1e-5). Three tiles per axis overlap in
    // places (triple overlaps exercise the normalization). With margin 1 the same tiles differ by 0.076.
    @Test func seamlessTiledDecodingEqualsUntiled() throws {
        #expect(abs(VAEConfig.tiny.decoderReach - 6.375) < 1e-9 && VAEConfig.small.decoderReach == VAEConfig.tiny.decoderReach)
        let latent = random([2, 30, 30, 4], seed: 3)
        let tile = try TileSettings.seamless(reach: VAEConfig.tiny.decoderReach, size: 22)
        #expect(tile.margin == 7 && tile.overlap == 16)
        #expect(TilePlan(height: 30, width: 30, settings: tile, scale: 16).tiles.count == 9)
        let untiled = try decodeStreamed(latent, tile: .none)
        let error = relativeError(try decodeStreamed(latent, tile: tile), untiled)
        #expect(error < 1e-5, "error \(error)")
        // The same tiles with a margin of 1 show their borders: the check can fail.
        let seams = relativeError(try decodeStreamed(latent, tile: try TileSettings(height: 22, width: 22, overlap: 16, margin: 1)), untiled)
        #expect(seams > 1e-3, "margin 1: error \(seams)")
    }

    // The encoder's reach is 5.5 latent pixels: margin 6 makes tiled encoding exact up to rounding.
    @Test func seamlessTiledEncodingEqualsUntiled() throws {
        #expect(abs(VAEConfig.tiny.encoderReach - 5.5) < 1e-9 && VAEConfig.small.encoderReach == VAEConfig.tiny.encoderReach)
        let video = random([5, 320, 320, 3], seed: 6, scale: 0.5)
        func encode(_ tile: TileSettings) throws -> Tensor {
            let stream = try vae.encoder.stream(height: 320, width: 320, tile: tile)
            var out: [Tensor] = []
            for f in 0..<5 { if let latent = try stream.push(frames(video, f..<(f + 1))) { out.append(latent) } }
            try stream.finish()
            return stack(out)
        }
        let untiled = try encode(.none)
        #expect(relativeError(untiled, try vae.encoder.encode(video)) < 1e-5)
        let tile = try TileSettings.seamless(reach: VAEConfig.tiny.encoderReach, size: 16)
        #expect(tile.margin == 6)
        let error = relativeError(try encode(tile), untiled)
        #expect(error < 1e-5, "error \(error)")
    }

    // Exact equality: earlier frames go through the same products whatever comes after them.
    @Test func changingAFrameChangesNoEarlierLatentFrame() throws {
        let video = random([9, 32, 32, 3], seed: 7, scale: 0.5)
        let latent = try vae.encoder.encode(video)  // [3, 2, 2, 4]
        for (frame, firstChanged) in [(0, 0), (1, 1), (4, 1), (5, 2), (8, 2)] {
            var changed = video
            let size = video.count / 9
            for i in (frame * size)..<((frame + 1) * size) { changed.storage[i] += 0.5 }
            let other = try vae.encoder.encode(changed)
            #expect(frames(other, 0..<firstChanged) == frames(latent, 0..<firstChanged), "frame \(frame) changes no latent frame before \(firstChanged)")
            #expect(frames(other, firstChanged..<(firstChanged + 1)) != frames(latent, firstChanged..<(firstChanged + 1)), "frame \(frame) changes latent frame \(firstChanged)")
        }
    }

    @Test func changingALatentFrameChangesNoEarlierVideoFrame() throws {
        let latent = random([3, 2, 2, 4], seed: 8)
        let video = try vae.decoder.forward(latent)  // [9, 32, 32, 3]
        for (latentFrame, firstChanged) in [(0, 0), (1, 1), (2, 5)] {
            var changed = latent
            let size = latent.count / 3
            for i in (latentFrame * size)..<((latentFrame + 1) * size) { changed.storage[i] += 0.5 }
            let other = try vae.decoder.forward(changed)
            #expect(frames(other, 0..<firstChanged) == frames(video, 0..<firstChanged))
            #expect(frames(other, firstChanged..<9) != frames(video, firstChanged..<9))
        }
    }

    @Test func videoLengthsAre4kPlus1AndOtherwiseAClearError() throws {
        for count in [1, 5, 9] {
            let latent = try vae.encoder.encode(random([count, 16, 16, 3], seed: 9, scale: 0.5))
            #expect(latent.shape == [1 + (count - 1) / 4, 1, 1, 4])
            #expect(try vae.decoder.forward(latent).shape == [count, 16, 16, 3])
        }
        for count in [2, 4, 6, 8] {
            #expect {
                _ = try vae.encoder.encode(random([count, 16, 16, 3], seed: 9))
            } throws: { "\($0)".contains("\(count) frames: the VAE takes 1 + 4·k frames") }
        }
        let stream = try vae.encoder.stream(height: 16, width: 16)
        for _ in 0..<6 { _ = try stream.push(random([16, 16, 3], seed: 10)) }
        #expect(throws: ModelError.self) { try stream.finish() }
        #expect { _ = try vae.encoder.encode(random([1, 40, 32, 3], seed: 11)) } throws: { "\($0)".contains("multiples of 16") }
        #expect(throws: ModelError.self) { _ = try vae.decoder.forward(random([1, 2, 2, 3], seed: 12)) }
        #expect(throws: ModelError.self) { try vae.decoder.decode(latent: random([1, 2, 2, 3], seed: 12)) { _ in } }
        #expect(throws: ModelError.self) { _ = try TileSettings(height: 8, width: 8, overlap: 4, margin: 2) }
    }

    // The decoder keeps, per tile, the last 2 input frames of each temporal convolution (conv_in, both of each
    // residual block's at 1/16 and 1/8): a fixed number of floats after the first pushes.
    @Test func theStreamingDecoderHoldsTheSameStateWhateverTheLength() throws {
        for tile in [TileSettings.none, try TileSettings(height: 6, width: 6, overlap: 2)] {
            let stream = try VAEDecoderStream(decoder: vae.decoder, height: 8, width: 10, tile: tile)
            var counts: [Int] = []
            for f in 0..<6 {
                var made = 0
                try stream.push(random([1, 8, 10, 4], seed: UInt64(20 + f))) { frame in
                    #expect(frame.shape == [128, 160, 3])
                    #expect(frame.storage.allSatisfy { abs($0) <= 1 }, "clamped to [-1, 1]")
                    made += 1
                }
                #expect(made == (f == 0 ? 1 : 4))
                counts.append(stream.stateFloatCount)
            }
            #expect(Set(counts.dropFirst()).count == 1, "state after each latent frame: \(counts)")
            if tile == .none {
                // conv_in (4 channels in) and 2 convolutions of 12 at 8×10; 2 convolutions of 8 at 16×20; 2 frames each.
                let expected: Int = 2 * (80 * 28 + 320 * 16)
                #expect(counts.last == expected)
            }
        }
    }

    @Test func theStreamingEncoderHoldsTheSameStateWhateverTheLength() throws {
        let stream = try vae.encoder.stream(height: 64, width: 64, tile: try TileSettings(height: 3, width: 3, overlap: 1))
        var counts: [Int] = []
        for f in 0..<13 {
            _ = try stream.push(random([64, 64, 3], seed: UInt64(40 + f)))
            counts.append(stream.stateFloatCount)
        }
        #expect(Set(counts.dropFirst(4)).count == 1, "state after each frame: \(counts)")
    }

    @Test func tilesCoverTheFrameWithTheOverlapAndWeightsSumToOne() throws {
        for (length, tile, overlap, margin) in [(68, 72, 16, 7), (120, 72, 16, 7), (68, 48, 4, 1), (30, 22, 16, 7), (9, 4, 1, 0), (5, 8, 2, 0), (17, 6, 0, 0)] {
            let ranges = TilePlan.axis(length: length, tile: tile, overlap: overlap)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == length)
            #expect(ranges.allSatisfy { $0.count <= tile })
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound - b.lowerBound >= overlap) }
            let weights = TilePlan.weights(ranges, length: length, margin: margin, scale: 4)
            var total = [Float](repeating: 0, count: length * 4)
            for (range, w) in zip(ranges, weights) { for (k, v) in w.enumerated() { total[range.lowerBound * 4 + k] += v } }
            #expect(total.allSatisfy { abs($0 - 1) < 1e-6 }, "\(length), \(tile), \(overlap), \(margin)")
        }
        // 1920x1088 and 1088x1920 with the standard settings: 2 tiles of 68×68 latent pixels.
        #expect(TileSettings.standard == (try TileSettings(height: 72, width: 72, overlap: 16, margin: 7)))
        for (h, w) in [(68, 120), (120, 68)] {
            let plan = TilePlan(height: h, width: w, settings: .standard, scale: 16)
            #expect(plan.tiles.count == 2 && plan.tiles.allSatisfy { $0.rows.count == 68 && $0.columns.count == 68 })
        }
    }
}
