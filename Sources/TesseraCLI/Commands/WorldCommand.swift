import ArgumentParser
import Foundation
import TesseraWorld

/// `tessera world`: look at the procedural world Tessera learns from (docs/WORLD.md).
struct WorldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "world",
        abstract: "Render, caption and expand prompts in the procedural world Tessera learns from (docs/WORLD.md).",
        subcommands: [Render.self, Caption.self, Expand.self])

    /// Options shared by the commands that make a scene.
    struct ClipOptions: ParsableArguments {
        @Option(help: "Scene seed; the same seed gives the same scene and pixels on any machine.")
        var seed: UInt64 = 0

        @Option(help: "Frame size WIDTHxHEIGHT; its aspect ratio shapes the scene.")
        var size: String = "512x288"

        @Option(help: "Frame count (1 is a still image).")
        var frames: Int = 49

        @Option(help: "Frames per second.")
        var fps: Double = 24

        func validated() throws -> (width: Int, height: Int) {
            guard let size = WorldExport.parseSize(size) else { throw CLIError("--size takes WIDTHxHEIGHT, like 512x288") }
            guard (1...10_000).contains(frames) else { throw CLIError("--frames must be 1 to 10000") }
            guard fps > 0, fps <= 240 else { throw CLIError("--fps must be above 0 and at most 240") }
            return size
        }

        func scene() throws -> SceneSpec {
            let (width, height) = try validated()
            return SceneSampler.sample(seed: seed, extent: Extent(pixelWidth: width, height: height), frames: frames, fps: fps)
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a scene to a folder: raw frames + video.json (readable by `tessera eval`), world.json with its captions, contact.ppm.")

        @OptionGroup var clip: ClipOptions

        @Option(help: "Render the scene of this prompt's expansion instead of a random one.")
        var prompt: String?

        @Option(help: "Output folder (created if needed).")
        var out: String

        @Flag(help: "Also write every frame as frame_NNNN.ppm.")
        var ppm = false

        @OptionGroup var output: OutputOptions

        func run() throws {
            let (width, height) = try clip.validated()
            var scene = try clip.scene()
            if let prompt {
                let request = ExpansionRequest(
                    prompt: prompt, seed: clip.seed, extent: Extent(pixelWidth: width, height: height), frames: clip.frames,
                    fps: clip.fps)
                scene = PromptExpander().expand(request).scene
            }
            let report: WorldExportReport
            do {
                report = try WorldExport.write(
                    scene, width: width, height: height, to: URL(fileURLWithPath: out), seed: clip.seed, prompt: prompt,
                    framesAsPPM: ppm)
            } catch {
                throw CLIError("cannot write \(out): \(error)")
            }
            if output.json { return try printJSON(report) }
            print(String(format: "rendered %d frames of %dx%d at %g fps in %.2f s into %@", report.frames, width, height,
                         report.fps, report.renderSeconds, out))
            print("files: " + report.files.prefix(4).joined(separator: ", ") + (ppm ? ", frame_NNNN.ppm" : ""))
            for caption in report.captions { print("  " + caption) }
        }
    }

    struct Caption: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a scene's captions in every phrasing, and its facts.")

        @OptionGroup var clip: ClipOptions
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var seed: UInt64
            var scene: SceneSpec
            var facts: CaptionFacts
            var captions: [String]
        }

        func run() throws {
            let scene = try clip.scene()
            let facts = Captioner.facts(scene)
            let captions = Captioner.captions(facts)
            if output.json { return try printJSON(Report(seed: clip.seed, scene: scene, facts: facts, captions: captions)) }
            for caption in captions { print(caption) }
        }
    }

    struct Expand: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expand a short prompt into a training-style caption; open attributes come from the seed.")

        @Argument(help: "The prompt, like \"a red ball bouncing\".")
        var prompt: String

        @OptionGroup var clip: ClipOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let (width, height) = try clip.validated()
            let request = ExpansionRequest(
                prompt: prompt, seed: clip.seed, extent: Extent(pixelWidth: width, height: height), frames: clip.frames, fps: clip.fps)
            let expanded = PromptExpander().expand(request)
            if output.json { return try printJSON(expanded) }
            print(expanded.caption)
            if !expanded.filled.isEmpty { print("from the seed: " + expanded.filled.joined(separator: ", ")) }
            for note in expanded.notes { print("note: " + note) }
        }
    }
}
