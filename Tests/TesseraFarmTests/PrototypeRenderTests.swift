import Foundation
import Testing
import TesseraMedia
import TesseraModels
import TesseraTensor

@testable import TesseraFarm

/// The local prototype render end to end with small random networks and the real text encoder: prompt in,
/// a playable MP4 of the right size and length out, the same bytes for the same request.
@Suite struct PrototypeRenderTests {
    static var textEncoder: URL {
        if let path = ProcessInfo.processInfo.environment["TESSERA_TEXT_ENCODER"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/all-MiniLM-L6-v2").standardized
    }

    /// A folder with a random tiny DiT (text width 384, as the encoder gives) and the tiny VAE.
    static func model() throws -> (RenderModel, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let dit = try DiTConfig(latentChannels: 4, patch: [1, 2, 2], hidden: 32, depth: 1, heads: 2, ropeDims: [4, 6, 6])
        var weights: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in dit.expectedWeights.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            weights[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: 9, stream: 1).fill(count, startingAt: offset).map { $0 * 0.1 })
            offset += count
        }
        try SafetensorsFile.write(weights, to: folder.appendingPathComponent("dit.safetensors").path)
        try JSONEncoder().encode(dit).write(to: folder.appendingPathComponent("dit.json"))
        try #"{"latentScale": 0.5}"#.write(to: folder.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
        try SafetensorsFile.write(VAE.randomWeights(.tiny), to: folder.appendingPathComponent("vae.safetensors").path)
        try JSONEncoder().encode(VAEConfig.tiny).write(to: folder.appendingPathComponent("vae.json"))
        return (try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: textEncoder), folder)
    }

    @Test func aPromptBecomesAnMP4OfTheRequestedShape() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        var shares: [Double] = []
        let request = PrototypeRender.Request(prompt: "a red ball bouncing", seed: 3, portrait: true, frames: 5, fps: 12, steps: 3, guidance: 2)
        let first = folder.appendingPathComponent("a.mp4"), second = folder.appendingPathComponent("b.mp4")
        let result = try PrototypeRender.render(request, model: model, to: first) { shares.append($0) }
        #expect(result.caption.lowercased().contains("red"))
        let reader = try VideoReader(url: first)
        #expect(reader.info.width == 288 && reader.info.height == 512 && reader.info.codec == "h264")
        var frames = 0
        while try reader.nextFrame() != nil { frames += 1 }
        #expect(frames == 5)
        #expect(shares.last == 1 && shares == shares.sorted(), "progress rises to 1")
        _ = try PrototypeRender.render(request, model: model, to: second)
        #expect(try Data(contentsOf: first) == Data(contentsOf: second), "the same request gives the same bytes")
    }

    @Test func aMissingModelFileIsNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-empty-\(UUID().uuidString)")
        #expect {
            try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: Self.textEncoder)
        } throws: { error in
            "\(error)".contains("dit.json") && "\(error)".contains("missing")
        }
    }
}
