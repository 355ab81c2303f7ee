import Foundation
import TesseraMedia
import TesseraModels
import TesseraSampling
import TesseraTensor
import TesseraWorld

/// The networks a render needs, loaded once: the DiT and VAE (each a JSON config beside safetensors
/// weights), the latent scale the DiT was trained with, and the text encoder.
public final class RenderModel: @unchecked Sendable {
    public let dit: DiT
    public let vae: VAE
    public let latentScale: Float
    public let textEncoder: TextEncoder

    /// `ditFolder` holds dit.json, dit.safetensors and model.json (the latent scale); `vaeFolder` holds
    /// vae.json and vae.safetensors. A missing file is an error that names it.
    public init(ditFolder: URL, vaeFolder: URL, textEncoder: URL) throws {
        func file(_ folder: URL, _ name: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { throw RenderError("model file \(path) is missing", retryable: false) }
            return path
        }
        dit = try DiT(configPath: file(ditFolder, "dit.json"), weightsPath: file(ditFolder, "dit.safetensors"))
        vae = try VAE(configPath: file(vaeFolder, "vae.json"), weightsPath: file(vaeFolder, "vae.safetensors"))
        struct Bundle: Decodable { var latentScale: Float }
        let bundle = try JSONDecoder().decode(Bundle.self, from: Data(contentsOf: URL(fileURLWithPath: file(ditFolder, "model.json"))))
        latentScale = bundle.latentScale
        self.textEncoder = try TextEncoder(modelFolder: textEncoder)
    }
}

/// One prototype pass, start to finish: expand the prompt, encode it once, sample the latent at the
/// prototype grid, decode it frame by frame into an H.264 MP4. The full-resolution pass (issue 7) builds on
/// this.
public enum PrototypeRender {
    public struct Request: Sendable {
        public var prompt: String
        public var seed: UInt64
        public var portrait: Bool
        /// 1 + 4k frames (1 is a still image).
        public var frames: Int
        public var fps: Int
        public var steps: Int
        public var guidance: Float

        public init(prompt: String, seed: UInt64, portrait: Bool = false, frames: Int = 49, fps: Int = 24, steps: Int = 30, guidance: Float = 4) {
            self.prompt = prompt
            self.seed = seed
            self.portrait = portrait
            self.frames = frames
            self.fps = fps
            self.steps = steps
            self.guidance = guidance
        }

        /// 512x288 or 288x512.
        public var size: (width: Int, height: Int) { portrait ? (288, 512) : (512, 288) }
    }

    public struct Result: Sendable {
        public var caption: String
        public var seconds: [String: Double]
    }

    /// Renders `request` into `output` (written atomically); `progress` gets the share done, 0...1.
    public static func render(_ request: Request, model: RenderModel, to output: URL, progress: @escaping (Double) -> Void = { _ in }) throws -> Result {
        guard request.frames >= 1, (request.frames - 1) % model.vae.config.temporalFactor == 0 else {
            throw RenderError("\(request.frames) frames: a render takes 1 + \(model.vae.config.temporalFactor)·k frames", retryable: false)
        }
        var seconds: [String: Double] = [:]
        var clock = Date()
        func lap(_ stage: String) {
            seconds[stage] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        let (width, height) = request.size
        let expanded = try PromptExpander().expand(
            ExpansionRequest(prompt: request.prompt, seed: request.seed, extent: Extent(pixelWidth: width, height: height), frames: request.frames,
                             fps: Double(request.fps)))
        let caption = try model.textEncoder.encode(expanded.caption).caption
        let empty = try model.textEncoder.encode("").caption
        lap("text")

        let factor = model.vae.config.spatialFactor
        let shape = [model.vae.config.latentFrames(forFrames: request.frames)!, height / factor, width / factor, model.vae.config.latentChannels]
        let p = model.dit.config.patch
        let tokens = shape[0] / p[0] * (shape[1] / p[1]) * (shape[2] / p[2])
        let sampler = try Sampler(settings: SamplerSettings(steps: request.steps, guidance: request.guidance, seed: request.seed), tokens: tokens)
        let denoiser = DenoiserFunction { latent, time, branch in
            try model.dit.velocity(latent, time: time, caption: branch == .conditional ? caption : empty)
        }
        let state = try sampler.sample(shape: shape, denoiser: denoiser) { step, total, _, _ in
            progress(0.9 * Double(step) / Double(total))
            return .continue
        }
        let latent = Elementwise.map(state.latent) { $0 * model.latentScale }
        lap("sample")

        let writer = try VideoWriter(url: output, settings: VideoSettings(
            width: width, height: height, frameRate: FrameRate(request.fps),
            metadata: VideoMetadata(title: request.prompt, comment: "seed=\(request.seed) caption=\(expanded.caption)")))
        try model.vae.decoder.decode(latent: latent) { frame in
            var bytes = [UInt8](repeating: 0, count: frame.count)
            for i in 0..<frame.count { bytes[i] = UInt8((min(max(frame.storage[i], -1), 1) + 1) * 127.5 + 0.5) }
            try writer.append(try RGBFrame(width: width, height: height, pixels: bytes))
        }
        try writer.finish()
        lap("decode")
        progress(1)
        return Result(caption: expanded.caption, seconds: seconds)
    }
}
