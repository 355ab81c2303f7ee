import ArgumentParser
import Foundation
import TesseraFarm
import TesseraMedia
import TesseraQueue
import TesseraSampling
import TesseraStorage

/// `tessera render`: one video locally, without the queue, through the worker's own render path.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render one prompt locally to an MP4 — prototype, then 1920x1080 or 1080x1920 — with a progress bar.",
        discussion: """
            The same render a worker runs for a job (docs/ARCHITECTURE.md, "The render"): the prompt is expanded into \
            the training captions' style and encoded once; a prototype is sampled at 512x288 (288x512) and written \
            beside the output as NAME.prototype.mp4 with a contact sheet NAME.prototype.png; unless --prototype-only, \
            its latent is upsampled, re-noised to --refine-strength and refined at 1920x1088 (1088x1920), then decoded \
            frame by frame into the output MP4, cropped to 1080 lines. The model is models/default unless --dit and \
            --vae name others.
            """)

    @Argument(help: "The prompt, e.g. \"a red ball bouncing\".")
    var prompt: String
    @Option(help: "Output MP4 path.")
    var out: String
    @Option(help: "landscape (1920x1080) or portrait (1080x1920).")
    var orientation: String = "landscape"
    @Option(help: "Seconds of video (0 is a still image), at most 60.")
    var duration: Double = 5
    @Option(help: "Frames per second.")
    var fps = 24
    @Option(help: "Sampler steps.")
    var steps = 30
    @Option(help: "Classifier-free guidance of the prototype pass (1 = none).")
    var guidance: Float = 5
    @Option(help: "Noise put back on the upsampled prototype for the full pass, 0…1.")
    var refineStrength: Double = 0.6
    @Flag(help: "Stop after the prototype.")
    var prototypeOnly = false
    @Option(help: "Seed of the noise and of the prompt's unspecified attributes.")
    var seed: UInt64 = 1
    @Option(help: "Also write a PNG of the prototype's clean estimate (first frame) every few steps: how the video forms.")
    var trajectory: String?
    @Option(help: "Prototype steps between those estimates (and between preview images).")
    var previewEvery = 5
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var model: ModelOptions

    func run() throws {
        guard let orientation = JobSpec.Orientation(rawValue: orientation) else { throw CLIError("--orientation must be landscape or portrait, not \(self.orientation)") }
        guard JobSpec.Defaults.durationRange.contains(duration) else { throw CLIError("--duration must be between 0 and 60 seconds, not \(duration)") }
        guard JobSpec.Defaults.fpsRange.contains(fps) else { throw CLIError("--fps must be between 1 and 60, not \(fps)") }
        guard steps >= 1 else { throw CLIError("--steps must be at least 1") }
        guard previewEvery >= 1 else { throw CLIError("--preview-every must be at least 1") }
        if let trajectory, URL(fileURLWithPath: trajectory).pathExtension.lowercased() != "png" {
            throw CLIError("--trajectory must name a .png file, not \(trajectory)")
        }
        guard (0...1).contains(refineStrength) else { throw CLIError("--refine-strength must be between 0 and 1") }
        var settings = RenderSettings(
            prompt: prompt, seed: seed, orientation: orientation, frames: RenderSettings.frames(duration: duration, fps: fps), fps: fps,
            steps: steps, guidance: guidance, refineStrength: refineStrength, prototypeOnly: prototypeOnly)
        try sampling.apply(to: &settings)
        let output = URL(fileURLWithPath: out)
        guard output.pathExtension.lowercased() == "mp4" else { throw CLIError("--out must name an .mp4 file, not \(out)") }
        do {
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the folder of --out \(out): \(error.localizedDescription)")
        }
        let loaded = try model.load(guide: sampling.guide)

        // The worker's path with a private folder as its object store; the results are then moved into place.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-render-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let store = LocalStore(root: work.appendingPathComponent("objects"))
        try store.prepare()
        var render = VideoRender(model: loaded, artifacts: RenderArtifacts(store: store, job: "local", scratch: work))
        render.previewEvery = previewEvery
        let started = Date()
        var estimates: [(step: Int, time: Float, frame: RGBFrame)] = []
        let outcome = try render.run(settings) { share, stage in
            let line = "\r\(progressBar(share))  \(stage)  \(shortDuration(Date().timeIntervalSince(started)))        "
            FileHandle.standardError.write(Data(line.utf8))
        } preview: { step, time, frame in
            if trajectory != nil { estimates.append((step, time, frame)) }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        if let trajectory {
            try ContactSheet(count: estimates.count, columns: min(6, estimates.count), cellWidth: 256, caption: "CLEAN ESTIMATES: \(prompt.uppercased())")
                .render(estimates.map(\.frame), labels: estimates.map { String(format: "STEP %d, T = %.2f", $0.step, $0.time) })
                .writePNG(to: URL(fileURLWithPath: trajectory))
            print("wrote \(trajectory)")
        }

        let base = output.deletingPathExtension()
        var written: [String] = []
        for (key, target) in [("video", output), ("prototype", base.appendingPathExtension("prototype.mp4")), ("contact_sheet", base.appendingPathExtension("prototype.png"))] {
            guard let url = outcome.result[key].flatMap(URL.init(string:)) else { continue }
            _ = try? FileManager.default.removeItem(at: target)
            try FileManager.default.moveItem(at: url, to: target)
            written.append(target.path)
        }
        print("caption: \(outcome.result["caption"] ?? "")")
        for path in written { print("wrote \(path)") }
        print(outcome.timings.sorted(by: { $0.key < $1.key }).map { String(format: "%@ %.1f s", $0.key, $0.value) }.joined(separator: ", "))
    }
}

/// Sampler experiments shared by `render` and `train eval-prompts`; the defaults are what jobs use.
struct SamplingOptions: ParsableArguments {
    @Option(help: "ODE solver: euler or heun (two network evaluations a step).")
    var solver = "euler"
    @Option(help: "Base of the schedule shift (1 = the default, above 1 = more steps at high noise).")
    var shiftBase: Double = 1
    @Option(help: "Noise level the prototype pass starts at, in (0, 1] (1 = pure noise).")
    var startTime: Double = 1
    @Option(help: "Noise levels LOW,HIGH within [0, 1] at which the prototype's guidance applies (0,1 = every step); outside them one unguided forward a step.")
    var guidanceInterval = "0,1"
    @Option(help: "Autoguidance weight of the prototype pass (1 = off): the velocity gains (A - 1)·(its own - the guide's), the guide a weaker DiT given with --guide.")
    var autoguidance: Float = 1
    @Option(help: "Stochasticity of the prototype pass in [0, 1] (0 = the deterministic ODE, 1 = ancestral steps): each Euler step swaps that share of its noise estimate for fresh noise; euler only.")
    var stochasticity: Double = 0
    @Option(help: "Noise levels LOW,HIGH within [0, 1] at which the prototype's steps are stochastic (0,1 = every step); elsewhere Euler steps.")
    var stochasticInterval = "0,1"
    @Option(help: "Guiding DiT folder for --autoguidance: a weaker DiT trained on the same latents (dit.json, dit.safetensors, model.json).")
    var guide: String?

    /// Refuses autoguidance without a guide, a stochasticity outside [0, 1] or with another solver, and a malformed
    /// interval when the command line is parsed, before anything is loaded or written.
    func validate() throws {
        guard autoguidance == 1 || guide != nil else { throw ValidationError("--autoguidance \(autoguidance) needs --guide, a weaker DiT to guide with") }
        guard stochasticity >= 0 && stochasticity <= 1 else { throw ValidationError("--stochasticity must lie in [0, 1] (0 = off), not \(stochasticity)") }
        guard stochasticity == 0 || solver == Solver.euler.rawValue else { throw ValidationError("--stochasticity needs --solver euler, not \(solver)") }
        for (text, option) in [(guidanceInterval, "--guidance-interval"), (stochasticInterval, "--stochastic-interval")] {
            do { _ = try Self.interval(text, option: option) } catch { throw ValidationError("\(error)") }
        }
    }

    /// Checks the values and sets them on `settings`.
    func apply(to settings: inout RenderSettings) throws {
        guard let chosen = Solver(rawValue: solver) else {
            throw CLIError("--solver must be one of \(Solver.allCases.map(\.rawValue).joined(separator: ", ")), not \(solver)")
        }
        guard shiftBase.isFinite, shiftBase > 0 else { throw CLIError("--shift-base must be above 0, not \(shiftBase)") }
        guard startTime > 0 && startTime <= 1 else { throw CLIError("--start-time must lie in (0, 1], not \(startTime)") }
        guard autoguidance.isFinite, autoguidance >= 0 else { throw CLIError("--autoguidance must be 0 or more (1 = off), not \(autoguidance)") }
        try validate()  // (the checks made at parse time, for options built another way)
        let guidanceRange = try Self.interval(guidanceInterval, option: "--guidance-interval")
        let stochasticRange = try Self.interval(stochasticInterval, option: "--stochastic-interval")
        settings.solver = chosen
        settings.shiftBase = shiftBase
        settings.startTime = startTime
        settings.guidanceInterval = guidanceRange
        settings.stochasticInterval = stochasticRange
        settings.autoguidance = autoguidance
        settings.stochasticity = stochasticity
    }

    /// `LOW,HIGH` with 0 ≤ LOW ≤ HIGH ≤ 1.
    static func interval(_ text: String, option: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 0, low <= high, high <= 1 else {
            throw CLIError("\(option) must be LOW,HIGH with 0 ≤ LOW ≤ HIGH ≤ 1, not \(text)")
        }
        return low...high
    }
}
