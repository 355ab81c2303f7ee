import Foundation
import Testing
import TesseraModels
import TesseraTensor

/// Where a token sits in its frame, as the DiT's fixed position features see it.
@Suite struct FramePositionsTests {
    static func row(_ table: Tensor, _ token: Int) -> [Float] {
        Array(table.storage[(token * table.columns)..<((token + 1) * table.columns)])
    }

    /// The centre of a 3×5 grid and the centre of a 9×15 grid are one place: the same features, in every frame.
    @Test func thePlaceNotTheGridDecides() {
        let small = Spacetime.framePositions(grid: Attention.Grid(frames: 1, height: 3, width: 5), width: 16)
        let large = Spacetime.framePositions(grid: Attention.Grid(frames: 2, height: 9, width: 15), width: 16)
        #expect(small.shape == [15, 16] && large.shape == [270, 16])
        let centre = Self.row(small, 1 * 5 + 2)
        #expect(Self.row(large, 4 * 15 + 7) == centre)
        #expect(Self.row(large, 135 + 4 * 15 + 7) == centre, "the second frame repeats the first")
        // At the centre every angle is 0: sines 0, cosines 1.
        #expect(centre == (0..<8).flatMap { _ in [Float(0), 1] })
    }

    /// Mirrored places differ only in the sign of their sines; rows code y, columns code x.
    @Test func topAndBottomAreTold() {
        let grid = Attention.Grid(frames: 1, height: 4, width: 6)
        let table = Spacetime.framePositions(grid: grid, width: 32)
        let topLeft = Self.row(table, 0), bottomLeft = Self.row(table, 3 * 6), topRight = Self.row(table, 5)
        for k in 0..<8 {
            #expect(abs(topLeft[2 * k] + bottomLeft[2 * k]) < 1e-6 && abs(topLeft[2 * k + 1] - bottomLeft[2 * k + 1]) < 1e-6)
            #expect(topLeft[16 + 2 * k] == bottomLeft[16 + 2 * k], "same column, same x features")
            #expect(topLeft[2 * k] == topRight[2 * k], "same row, same y features")
        }
        // The lowest frequency (a quarter cycle a frame) is monotonic down the frame: it tells top from middle.
        let y = (0..<4).map { Self.row(table, $0 * 6)[0] }
        #expect(y[0] < y[1] && y[1] < y[2] && y[2] < y[3], "\(y)")
        #expect(Set((0..<24).map { Self.row(table, $0) }).count == 24, "every place has its own features")
    }

    /// A clean-latent network's output o gives the velocity (x − o)/t, so the sampler's clean estimate x − t·v is
    /// o itself; below t = 0.05 it divides by 0.05. The skip and the clean prediction together are refused.
    @Test func theCleanPredictionsVelocityLeadsBackToItsOutput() throws {
        var config = DiTConfig.world
        config.prediction = .clean
        for t: Float in [0.05, 0.3, 0.7, 1] {
            let (network, input) = config.outputMap(time: t)
            let x: Float = 0.8, output: Float = -0.3
            let velocity = network * output + input * x
            #expect(abs(x - t * velocity - output) < 1e-6, "t = \(t)")
        }
        #expect(config.outputMap(time: 0.01) == config.outputMap(time: 0.05) && config.outputMap(time: 0.05).input == 20)
        #expect(DiTConfig.world.outputMap(time: 0.7) == (1, 0) && DiTConfig.world.predicts == .velocity)
        config.velocitySkip = true
        #expect(throws: ModelError.self) { try config.validate() }
    }

    /// Above t = ½ the skip's coefficient is the least-squares one, Cov(v, x_t)/Var(x_t) for unit-variance x0
    /// and ε (1 at t = 1); at and below ½ it is 0.
    @Test func theVelocitySkipIsTheLinearPartOfTheVelocityAboveAHalf() {
        #expect(DiTConfig.velocitySkip(time: 0) == 0 && DiTConfig.velocitySkip(time: 0.3) == 0 && DiTConfig.velocitySkip(time: 0.5) == 0)
        #expect(DiTConfig.velocitySkip(time: 1) == 1)
        for t: Float in [0.6, 0.7, 0.95] {
            let covariance = t - (1 - t), variance = (1 - t) * (1 - t) + t * t  // v = ε − x0, x_t = (1 − t)x0 + tε
            #expect(abs(DiTConfig.velocitySkip(time: t) - covariance / variance) < 1e-6)
        }
    }

    /// The config flag: absent in older models' JSON (which load unchanged), and checked against the width.
    @Test func theConfigFlag() throws {
        let old = try JSONDecoder().decode(DiTConfig.self, from: Data(#"""
            {"latentChannels": 4, "patch": [1, 2, 2], "hidden": 32, "depth": 2, "heads": 2, "mlpRatio": 4, "textWidth": 8,
             "ropeDims": [4, 6, 6], "ropeReferenceTokens": 16, "frequencyEmbedding": 256}
            """#.utf8))
        #expect(!old.usesFramePositions)
        #expect(!String(decoding: try JSONEncoder().encode(old), as: UTF8.self).contains("framePositions"), "an old config writes back as it was")
        #expect(!DiTConfig.world.usesFramePositions && !DiTConfig.world.usesVelocitySkip, "the preset is the shipped model's shape")
        #expect(throws: ModelError.self) {
            try DiTConfig(latentChannels: 4, patch: [1, 1, 1], hidden: 6, depth: 1, heads: 1, textWidth: 8, ropeDims: [2, 2, 2], framePositions: true)
        }
        do {
            _ = try DiTConfig(latentChannels: 4, patch: [1, 1, 1], hidden: 6, depth: 1, heads: 1, textWidth: 8, ropeDims: [2, 2, 2], framePositions: true)
        } catch {
            #expect("\(error)".contains("frame positions need hidden 6"), "\(error)")
        }
        #expect(!old.usesLearnedFramePositions && !DiTConfig.world.usesLearnedFramePositions)
        do {
            _ = try DiTConfig(latentChannels: 4, patch: [1, 1, 1], hidden: 8, depth: 1, heads: 1, textWidth: 8, ropeDims: [2, 2, 4],
                              framePositions: true, learnedFramePositions: true)
            Issue.record("fixed and learned frame positions together were accepted")
        } catch {
            #expect("\(error)".contains("framePositions and learnedFramePositions exclude each other"), "\(error)")
        }
        let learned = try DiTConfig(latentChannels: 4, patch: [1, 1, 1], hidden: 8, depth: 1, heads: 1, textWidth: 8, ropeDims: [2, 2, 4], learnedFramePositions: true)
        let decoded = try JSONDecoder().decode(DiTConfig.self, from: JSONEncoder().encode(learned))
        #expect(decoded.usesLearnedFramePositions && decoded.expectedWeights[DiTConfig.framePositionWeight] == [8, 8], "the flag survives model.json")
    }
}
