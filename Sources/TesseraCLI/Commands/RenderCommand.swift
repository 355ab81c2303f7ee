import ArgumentParser
import Foundation
import TesseraFarm
import TesseraTensor

/// `tessera render`: one video locally, without the queue.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render one prompt locally to an MP4 (the prototype pass at 512x288 or 288x512), with a progress bar.",
        discussion: """
            Expands the prompt into the training captions' style, encodes it once, samples the latent with the DiT \
            and decodes it with the VAE into an H.264 MP4. The model is a DiT folder (dit.json, dit.safetensors, \
            model.json) and a VAE folder (vae.json, vae.safetensors), as `tessera train dit` and `tessera train vae` \
            write them.
            """)

    @Argument(help: "The prompt, e.g. \"a red ball bouncing\".")
    var prompt: String
    @Option(help: "Output MP4 path.")
    var out: String
    @Flag(help: "Portrait (288x512) instead of landscape (512x288).")
    var portrait = false
    @Option(help: "Frames: 1 + 4k (1 is a still image).")
    var frames = 49
    @Option(help: "Frames per second.")
    var fps = 24
    @Option(help: "Sampler steps.")
    var steps = 30
    @Option(help: "Classifier-free guidance scale (1 = none).")
    var guidance: Float = 4
    @Option(help: "Seed of the noise and of the prompt's unspecified attributes.")
    var seed: UInt64 = 1
    @Option(help: "DiT folder.")
    var dit = "models/default"
    @Option(help: "VAE folder.")
    var vae = "models/default"
    @Option(help: "Text encoder folder (default: TESSERA_TEXT_ENCODER or models/all-MiniLM-L6-v2).")
    var textEncoder: String?
    @Option(help: "Threads for kernels.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Compute.setThreads(threads)
        let model: RenderModel
        do {
            model = try RenderModel(
                ditFolder: URL(fileURLWithPath: dit), vaeFolder: URL(fileURLWithPath: vae),
                textEncoder: textEncoder.map { URL(fileURLWithPath: $0) } ?? CLIContext.configuration().textEncoder)
        } catch {
            throw CLIError("cannot load the model: \(error). Train one with `tessera train vae` and `tessera train dit` (docs/MODEL.md), or pass --dit and --vae.")
        }
        let request = PrototypeRender.Request(prompt: prompt, seed: seed, portrait: portrait, frames: frames, fps: fps, steps: steps, guidance: guidance)
        let result = try PrototypeRender.render(request, model: model, to: URL(fileURLWithPath: out)) { share in
            FileHandle.standardError.write(Data("\r\(progressBar(share)) \(Int(share * 100))%".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print("\(out): \(result.caption)")
        print(result.seconds.sorted(by: { $0.key < $1.key }).map { String(format: "%@ %.1f s", $0.key, $0.value) }.joined(separator: ", "))
    }
}
