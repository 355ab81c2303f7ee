import Foundation
import Testing
@testable import TesseraModels

@Suite struct VAEConfigTests {
    @Test func theSmallPresetFitsTheDiTAndTheBudget() {
        let config = VAEConfig.small
        #expect(config.latentChannels == DiTConfig.small.latentChannels)
        #expect(config.spatialFactor == 16 && config.temporalFactor == 4)
        // 1920x1088 → 68×120 latent pixels → 2,040 tokens per latent frame with the DiT's 2×2 patches.
        #expect((1088 / config.spatialFactor / DiTConfig.small.patch[1]) * (1920 / config.spatialFactor / DiTConfig.small.patch[2]) == 2040)
        #expect(config.latentFrames(forFrames: 121) == 31 && config.latentFrames(forFrames: 1) == 1 && config.latentFrames(forFrames: 120) == nil)
        // The figures docs/ENGINE.md quotes.
        #expect(Int(config.macsPerPixel.decoder.rounded()) == 17_046)
        #expect(Int(config.macsPerPixel.encoder.rounded()) == 13_104)
        #expect(config.parameterCounts.encoder == 2_087_904 && config.parameterCounts.decoder == 2_254_252)
    }

    @Test func configsRoundTripThroughJSONAndBadOnesAreNamed() throws {
        let data = try JSONEncoder().encode(VAEConfig.small)
        #expect(try JSONDecoder().decode(VAEConfig.self, from: data) == VAEConfig.small)
        #expect {
            _ = try VAEConfig(latentChannels: 16, patch: 2, channels: [32, 64], blocks: [1], temporalKernel: [1, 2], temporalDown: [true, false])
        } throws: { error in
            let text = "\(error)"
            return text.contains("blocks [1]") && text.contains("temporalKernel [1, 2]") && text.contains("temporalDown [true, false]")
        }
    }
}
