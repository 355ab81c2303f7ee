import Foundation
import TesseraMedia
import TesseraModels
import TesseraQueue
import TesseraSampling
import TesseraStorage
import TesseraTensor
import TesseraWorld

/// What a render makes, in the units the pipeline works in: a job's settings (or `tessera render`'s options).
public struct RenderSettings: Sendable, Equatable {
    public var prompt: String
    public var seed: UInt64
    public var orientation: JobSpec.Orientation
    /// 1 + 4k frames (1 is a still image).
    public var frames: Int
    public var fps: Int
    public var steps: Int
    /// Classifier-free guidance of the prototype pass. The full pass runs unguided (one forward per step):
    /// the prototype has fixed the content, the refinement only adds detail.
    public var guidance: Float
    /// How much noise the full pass puts back on the upsampled prototype (SDEdit), 0…1.
    public var refineStrength: Double
    public var prototypeOnly: Bool
    /// The ODE solver of both passes (Euler unless an experiment asks for Heun).
    public var solver: Solver = .euler
    /// The schedule shift's base (1: the shift grows as √(tokens / 144) from 1); above 1 spends more steps
    /// at high noise, where a video's layout is decided.
    public var shiftBase: Double = 1
    /// The prototype pass's first noise level (`SamplerSettings.startTime`).
    public var startTime: Double = 1
    /// The noise levels at which the prototype pass applies its guidance (`SamplerSettings.guidanceInterval`).
    public var guidanceInterval: ClosedRange<Double> = 0...1
    /// The prototype pass's autoguidance weight (`SamplerSettings.autoguidance`; 1: off). Needs a model loaded
    /// with a guide.
    public var autoguidance: Float = 1
    /// The prototype pass's stochasticity (`SamplerSettings.stochasticity`; 0: the deterministic ODE).
    public var stochasticity: Double = 0
    /// The noise levels at which its steps are stochastic (`SamplerSettings.stochasticInterval`).
    public var stochasticInterval: ClosedRange<Double> = 0...1

    public init(
        prompt: String, seed: UInt64, orientation: JobSpec.Orientation = .landscape, frames: Int, fps: Int = 24, steps: Int = 30,
        guidance: Float = 5, refineStrength: Double = 0.6, prototypeOnly: Bool = false
    ) {
        self.prompt = prompt
        self.seed = seed
        self.orientation = orientation
        self.frames = frames
        self.fps = fps
        self.steps = steps
        self.guidance = guidance
        self.refineStrength = refineStrength
        self.prototypeOnly = prototypeOnly
    }

    /// A job's settings.
    public init(job spec: JobSpec) {
        self.init(
            prompt: spec.prompt, seed: UInt64(spec.seed), orientation: spec.orientation, frames: Self.frames(duration: spec.duration, fps: spec.fps),
            fps: spec.fps, steps: spec.steps, guidance: Float(spec.guidance), refineStrength: spec.refineStrength, prototypeOnly: spec.prototypeOnly)
    }

    /// The `1 + 4k` frame count nearest `duration · fps`: 0 s is a still image, 5 s at 24 fps is 121 frames.
    public static func frames(duration: Double, fps: Int) -> Int {
        1 + 4 * Int((duration * Double(fps) / 4).rounded())
    }

    /// The prototype's size: 512x288 or 288x512.
    public var prototypeSize: (width: Int, height: Int) { orientation == .portrait ? (288, 512) : (512, 288) }
    /// The full pass's grid, in multiples of 32 pixels: 1920x1088 or 1088x1920.
    public var fullSize: (width: Int, height: Int) { orientation == .portrait ? (1088, 1920) : (1920, 1088) }
    /// The delivered video: the full grid cropped evenly to 1920x1080 or 1080x1920.
    public var outputSize: (width: Int, height: Int) { orientation == .portrait ? (1080, 1920) : (1920, 1080) }

    /// What decides the prototype (and nothing else): the model, prompt, seed, orientation, frames, steps and
    /// guidance. A finished prototype is kept under this key, so a job approved for its full pass (or retried)
    /// starts from it instead of sampling again.
    public func prototypeFingerprint(modelHash: String) -> String {
        var hash = FNV1a64()
        hash.add(Array("tessera.prototype.v1|\(modelHash)|\(orientation.rawValue)|\(prompt)".utf8))
        hash.add(seed)
        hash.add(UInt64(frames))
        hash.add(UInt64(steps))
        hash.add(guidance.bitPattern)
        if solver != .euler || shiftBase != 1 || startTime != 1 {  // (the defaults leave earlier fingerprints as they were)
            hash.add(Array("|\(solver.rawValue)".utf8))
            hash.add(shiftBase.bitPattern)
            hash.add(startTime.bitPattern)
        }
        if guidanceInterval != 0...1 {
            hash.add(Array("|guidance-interval".utf8))
            hash.add(guidanceInterval.lowerBound.bitPattern)
            hash.add(guidanceInterval.upperBound.bitPattern)
        }
        if autoguidance != 1 {
            hash.add(Array("|autoguidance".utf8))
            hash.add(autoguidance.bitPattern)
        }
        if stochasticity != 0 {
            hash.add(Array("|stochasticity".utf8))
            hash.add(stochasticity.bitPattern)
            if stochasticInterval != 0...1 {
                hash.add(stochasticInterval.lowerBound.bitPattern)
                hash.add(stochasticInterval.upperBound.bitPattern)
            }
        }
        return hash.hex
    }
}

/// Where a render keeps what must outlive its process, under a job's prefix in an object store:
///
///     jobs/<job>/state/prototype.tsmp, state/full.tsmp   sampler states saved at step boundaries
///     jobs/<job>/preview.png                             the x0 estimate's first frame, every few steps
///     jobs/<job>/prototype.mp4, prototype.png            the prototype and its contact sheet
///     jobs/<job>/video.mp4                               the delivered video
///     prototypes/<fingerprint>.tsmp                      finished prototype latents, shared by jobs
///
/// Every object appears only once complete (the store's guarantee), so after a kill each one is either there
/// and whole or absent.
public struct RenderArtifacts: Sendable {
    public let store: any ObjectStore
    public let job: String
    /// Local scratch files (an MP4 being written, a state being uploaded).
    public let scratch: URL

    public init(store: any ObjectStore, job: String, scratch: URL = FileManager.default.temporaryDirectory) {
        self.store = store
        self.job = job
        self.scratch = scratch
    }

    func key(_ name: String) throws -> ObjectKey { try ObjectKey("jobs/\(job)/\(name)") }
    func prototypeKey(_ fingerprint: String) throws -> ObjectKey { try ObjectKey("prototypes/\(fingerprint).tsmp") }

    func scratchFile(_ suffix: String) -> URL { scratch.appendingPathComponent("tessera-\(job)-\(UUID().uuidString)\(suffix)") }

    func exists(_ key: ObjectKey) throws -> Bool { try store.head(key: key) != nil }

    func upload(_ file: URL, _ key: ObjectKey, contentType: String) throws -> String {
        try store.put(file: file, key: key, contentType: contentType)
        return store.url(for: key).absoluteString
    }

    func saveState(_ state: SamplerState, _ key: ObjectKey) throws {
        let file = scratchFile(".tsmp")
        defer { try? FileManager.default.removeItem(at: file) }
        try state.write(to: file)
        try store.put(file: file, key: key, contentType: "application/octet-stream")
    }

    func loadState(_ key: ObjectKey) throws -> SamplerState? {
        guard try exists(key) else { return nil }
        let file = scratchFile(".tsmp")
        defer { try? FileManager.default.removeItem(at: file) }
        try store.get(key: key, to: file)
        return try SamplerState(contentsOf: file)
    }
}

/// The render a job exists for, start to finish (docs/ARCHITECTURE.md, "The render"): expand the prompt →
/// encode it once → prototype pass at 512x288 / 288x512 (full schedule, guided) → decode it and upload a
/// preview MP4 and a contact sheet → keep its latent → upsample that latent to the 1920x1088 / 1088x1920
/// grid, re-noise it to the refine strength and finish the schedule there (SDEdit) → stream the VAE decode,
/// cropped to 1080 lines, into the MP4 writer → upload. Sampler states go to the object store at step
/// boundaries, so a killed render resumes on any worker, and the same settings give the same bytes.
public struct VideoRender: Sendable {
    public let model: RenderModel
    public let artifacts: RenderArtifacts
    /// Seconds between sampler-state saves (the last step of a pass is always saved).
    public var checkpointInterval: Double = 10
    /// Prototype steps between preview images.
    public var previewEvery = 5
    /// The full pass sees 32 latent frames (5 s at 24 fps) at a time, consecutive windows sharing 8 and
    /// blended linearly there, so a 60 s render holds one 5 s window's activations, not twelve. Renders of
    /// up to 32 latent frames are one window: exactly the untiled pass.
    public var fullPassTiles = FrameTiles(tileFrames: 32, overlap: 8)
    /// libx264 threads, fixed so the bytes do not depend on the machine (x264 is deterministic for a given
    /// thread count, not across counts).
    public static let encoderThreads = 4

    public init(model: RenderModel, artifacts: RenderArtifacts) {
        self.model = model
        self.artifacts = artifacts
    }

    /// What a render hands back: object URLs, the expanded caption, and seconds per stage.
    public struct Outcome: Sendable {
        public var result: [String: String]
        public var timings: [String: Double]
    }

    /// Renders `settings`. `report` gets the share of the work done (weighted by each stage's cost) and the
    /// stage name; `checkStop` is called at every step and throws to stop (the saved state stays); `preview`
    /// gets each preview image of the prototype pass (the clean estimate's first frame) with its step and the
    /// noise level it was estimated at.
    public func run(
        _ settings: RenderSettings, report: (Double, String) -> Void = { _, _ in }, checkStop: () throws -> Void = {},
        preview onPreview: (Int, Float, RGBFrame) throws -> Void = { _, _, _ in }
    ) throws -> Outcome {
        let vae = model.vae.config
        guard settings.frames >= 1, vae.latentFrames(forFrames: settings.frames) != nil else {
            throw RenderError("\(settings.frames) frames: a render takes 1 + \(vae.temporalFactor)·k frames", retryable: false)
        }
        var timings: [String: Double] = [:]
        var clock = Date()
        func lap(_ stage: String) {
            timings[stage, default: 0] += Date().timeIntervalSince(clock)
            clock = Date()
        }

        // The prompt, expanded and encoded once.
        let proto = settings.prototypeSize
        let expanded = PromptExpander().expand(
            ExpansionRequest(prompt: settings.prompt, seed: settings.seed, extent: Extent(pixelWidth: proto.width, height: proto.height),
                             frames: settings.frames, fps: Double(settings.fps)))
        var caption = try model.encode(expanded.caption)
        // A grounded DiT also takes the caption's objects where the expanded scene starts them.
        if model.dit.config.grounding != nil { caption = caption.grounded(in: expanded.scene, facts: expanded.facts) }
        lap("text")

        let plan = try Plan(settings: settings, model: model, captionLength: caption.length)
        var result = ["caption": expanded.caption, "model": model.hash, "seed": String(settings.seed), "frames": String(settings.frames)]
        let guide = model.guide
        if settings.autoguidance != 1 && guide == nil {
            throw RenderError("autoguidance \(settings.autoguidance) needs a guiding network, and the model was loaded without one", retryable: false)
        }
        let denoiser = DenoiserFunction(windowed: { latent, time, branch, firstFrame in
            // A window of the full pass sees grounded objects in its own frames.
            let caption = firstFrame == 0 ? caption : caption.window(startingAt: firstFrame)
            switch branch {
            case .conditional: return try model.dit.velocity(latent, time: time, caption: caption)
            case .unconditional: return try model.dit.velocity(latent, time: time, caption: model.emptyCaption)
            case .guide:
                guard let guide else {
                    throw RenderError("the sampler asked for the guiding network, and the model was loaded without one", retryable: false)
                }
                return try guide.velocity(latent, time: time, caption: caption)
            }
        })

        // Prototype pass, or the finished prototype saved by an earlier attempt or job.
        let fingerprint = settings.prototypeFingerprint(modelHash: model.hash)
        let prototypeKey = try artifacts.prototypeKey(fingerprint)
        let prototypeStateKey = try artifacts.key("state/prototype.tsmp")
        let prototypeSampler = try Sampler(
            settings: SamplerSettings(
                steps: settings.steps, solver: settings.solver, guidance: settings.guidance, shiftBase: settings.shiftBase, seed: settings.seed,
                startTime: settings.startTime, guidanceInterval: settings.guidanceInterval, autoguidance: settings.autoguidance,
                stochasticity: settings.stochasticity, stochasticInterval: settings.stochasticInterval),
            tokens: plan.prototypeTokens)
        var prototype: Tensor
        if let done = try artifacts.loadState(prototypeKey), done.isComplete, done.latent.shape == plan.prototypeShape {
            prototype = done.latent
        } else {
            let sampler = prototypeSampler
            var state = try sampler.noiseState(shape: plan.prototypeShape)
            if let saved = try artifacts.loadState(prototypeStateKey), saved.settingsHash == sampler.settingsHash { state = saved }
            state = try run(sampler, from: state, denoiser: denoiser, saveTo: prototypeStateKey, checkStop: checkStop) { step, x0 in
                report(plan.share(prototypeStep: step), "prototype")
                if step % previewEvery == 0 || step == settings.steps, let x0 {
                    try onPreview(step, sampler.schedule.times[step - 1], try preview(x0, size: proto))
                }
            }
            prototype = state.latent
            lap("prototype_sample")
        }

        // The prototype as a video and a contact sheet (again after a resume if they are not there yet).
        let prototypeVideo = try artifacts.key("prototype.mp4"), sheet = try artifacts.key("prototype.png")
        if try !artifacts.exists(prototypeVideo) || !artifacts.exists(sheet) {
            report(plan.share(prototypeStep: settings.steps), "prototype decode")
            let (video, picture) = try decodePrototype(prototype, settings: settings, caption: expanded.caption)
            defer { for file in [video, picture] { try? FileManager.default.removeItem(at: file) } }
            lap("prototype_decode")
            result["prototype"] = try artifacts.upload(video, prototypeVideo, contentType: "video/mp4")
            result["contact_sheet"] = try artifacts.upload(picture, sheet, contentType: "image/png")
            lap("prototype_upload")
        } else {
            result["prototype"] = artifacts.store.url(for: prototypeVideo).absoluteString
            result["contact_sheet"] = artifacts.store.url(for: sheet).absoluteString
        }
        if try !artifacts.exists(prototypeKey) {
            try artifacts.saveState(
                SamplerState(latent: prototype, nextStep: settings.steps, totalSteps: settings.steps, settingsHash: prototypeSampler.settingsHash), prototypeKey)
        }
        if settings.prototypeOnly {
            report(1, "done")
            return Outcome(result: result, timings: timings)
        }

        // Full pass: the upsampled prototype, re-noised and refined at the full grid.
        let videoKey = try artifacts.key("video.mp4")
        if try !artifacts.exists(videoKey) {
            let sampler = try Sampler(
                settings: SamplerSettings(
                    steps: settings.steps, solver: settings.solver, guidance: 1, shiftBase: settings.shiftBase, seed: settings.seed,
                    refineStrength: settings.refineStrength),
                tokens: plan.fullTokens)
            let fullStateKey = try artifacts.key("state/full.tsmp")
            var state: SamplerState
            if let saved = try artifacts.loadState(fullStateKey), saved.settingsHash == sampler.settingsHash, saved.latent.shape == plan.fullShape {
                state = saved
            } else {
                state = try sampler.refinementState(from: Spacetime.upsample(prototype, to: (plan.fullShape[0], plan.fullShape[1], plan.fullShape[2])))
            }
            // A window of frames at a time, so memory does not grow with the duration; no clean estimates.
            let tiled = FrameTiledDenoiser(denoiser, tiles: fullPassTiles)
            state = try run(sampler, from: state, denoiser: tiled, saveTo: fullStateKey, cleanEstimates: false, checkStop: checkStop) { step, _ in
                report(plan.share(fullStep: step), "full")
            }
            lap("full_sample")
            let file = try decodeFull(state.latent, settings: settings, checkStop: checkStop) { frame in
                report(plan.share(decodedFrames: frame), "decode")
            }
            defer { try? FileManager.default.removeItem(at: file) }
            lap("full_decode")
            result["video"] = try artifacts.upload(file, videoKey, contentType: "video/mp4")
            lap("upload")
        } else {
            result["video"] = artifacts.store.url(for: videoKey).absoluteString
        }
        report(1, "done")
        return Outcome(result: result, timings: timings)
    }

    /// Runs a pass's remaining steps, saving the state every `checkpointInterval` seconds and after the last.
    private func run(
        _ sampler: Sampler, from state: SamplerState, denoiser: some Denoiser, saveTo key: ObjectKey, cleanEstimates: Bool = true,
        checkStop: () throws -> Void, onStep: (Int, Tensor?) throws -> Void
    ) throws -> SamplerState {
        try checkStop()
        var lastSave = Date()
        return try withoutActuallyEscaping(onStep) { onStep in
            try withoutActuallyEscaping(checkStop) { checkStop in
                try sampler.run(state, denoiser: denoiser, cleanEstimates: cleanEstimates) { step, total, latent, x0 in
                    if step == total || Date().timeIntervalSince(lastSave) >= checkpointInterval {
                        try artifacts.saveState(SamplerState(latent: latent, nextStep: step, totalSteps: total, settingsHash: sampler.settingsHash), key)
                        lastSave = Date()
                    }
                    try onStep(step, x0)
                    try checkStop()
                    return .continue
                }
            }
        }
    }

    /// The x0 estimate's first frame as preview.png; returns it.
    private func preview(_ x0: Tensor, size: (width: Int, height: Int)) throws -> RGBFrame {
        let first = Tensor(shape: [1] + Array(x0.shape.dropFirst()), storage: Array(x0.storage[0..<(x0.count / x0.shape[0])]))
        var frame: RGBFrame?
        try model.vae.decoder.decode(latent: scaled(first)) { frame = try Self.rgb($0, width: size.width, height: size.height) }
        let file = artifacts.scratchFile(".png")
        defer { try? FileManager.default.removeItem(at: file) }
        try frame!.writePNG(to: file)
        _ = try artifacts.upload(file, artifacts.key("preview.png"), contentType: "image/png")
        return frame!
    }

    /// Decodes the prototype into an MP4 and a contact sheet of 8 frames (local files).
    private func decodePrototype(_ latent: Tensor, settings: RenderSettings, caption: String) throws -> (URL, URL) {
        let (width, height) = settings.prototypeSize
        let video = artifacts.scratchFile(".mp4"), picture = artifacts.scratchFile(".png")
        let writer = try VideoWriter(url: video, settings: videoSettings(width: width, height: height, settings: settings))
        let picks = Set(ContactSheet.indices(total: settings.frames, count: min(8, settings.frames)))
        var cells: [RGBFrame] = [], labels: [String] = []
        var index = 0
        try model.vae.decoder.decode(latent: scaled(latent)) { tensor in
            let frame = try Self.rgb(tensor, width: width, height: height)
            try writer.append(frame)
            if picks.contains(index) {
                cells.append(frame)
                labels.append(String(format: "%.2f S", Double(index) / Double(settings.fps)))
            }
            index += 1
        }
        try writer.finish()
        let columns = min(4, cells.count)
        try ContactSheet(count: cells.count, columns: columns, cellWidth: 256, caption: caption.uppercased())
            .render(cells, labels: labels).writePNG(to: picture)
        return (video, picture)
    }

    /// Streams the full latent through the VAE into the MP4 writer, cropped to the output size.
    private func decodeFull(_ latent: Tensor, settings: RenderSettings, checkStop: () throws -> Void, decoded: (Int) -> Void) throws -> URL {
        let (width, height) = settings.outputSize
        let file = artifacts.scratchFile(".mp4")
        let writer = try VideoWriter(url: file, settings: videoSettings(width: width, height: height, settings: settings))
        var index = 0
        do {
            try model.vae.decoder.decode(latent: scaled(latent)) { tensor in
                try writer.append(Self.rgb(tensor, width: width, height: height))
                index += 1
                decoded(index)
                try checkStop()
            }
            try writer.finish()
        } catch {
            writer.cancel()
            throw error
        }
        return file
    }

    private func videoSettings(width: Int, height: Int, settings: RenderSettings) throws -> VideoSettings {
        try VideoSettings(
            width: width, height: height, frameRate: FrameRate(settings.fps), threads: Self.encoderThreads,
            metadata: VideoMetadata(prompt: settings.prompt, jobID: artifacts.job, seed: Int64(settings.seed), modelHash: model.hash))
    }

    private func scaled(_ latent: Tensor) -> Tensor { Elementwise.map(latent) { $0 * model.latentScale } }

    /// A decoded frame `[H', W', 3]` in [−1, 1] as 8-bit RGB, cropped evenly to `width`×`height`.
    static func rgb(_ frame: Tensor, width: Int, height: Int) throws -> RGBFrame {
        let sourceHeight = frame.shape[0], sourceWidth = frame.shape[1]
        let top = (sourceHeight - height) / 2, left = (sourceWidth - width) / 2
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        frame.storage.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let from = ((top + y) * sourceWidth + left) * 3, to = y * width * 3
                for i in 0..<(width * 3) { bytes[to + i] = UInt8((min(max(source[from + i], -1), 1) + 1) * 127.5 + 0.5) }
            }
        }
        return try RGBFrame(width: width, height: height, pixels: bytes)
    }
}

/// The grids of a render and the share of its cost each piece of work stands for (progress is weighted by
/// cost: a full-grid step costs far more than a prototype step).
struct Plan {
    let prototypeShape: [Int]
    let fullShape: [Int]
    let prototypeTokens: Int
    let fullTokens: Int
    let frames: Int
    /// Index of the first step the full pass runs (the SDEdit start for the refine strength).
    let fullFirstStep: Int
    private let prototypeStepCost: Double
    private let fullStepCost: Double
    private let prototypeCost: Double
    private let prototypeDecodeCost: Double
    private let fullCost: Double
    private let decodeCost: Double
    private var total: Double { prototypeCost + prototypeDecodeCost + fullCost + decodeCost }

    init(settings: RenderSettings, model: RenderModel, captionLength: Int) throws {
        let vae = model.vae.config, dit = model.dit.config
        let latentFrames = vae.latentFrames(forFrames: settings.frames)!
        func shape(_ size: (width: Int, height: Int)) throws -> [Int] {
            let f = vae.spatialFactor * dit.patch[1]
            guard size.width % f == 0, size.height % f == 0 else {
                throw RenderError("\(size.width)x\(size.height) is not a multiple of \(f) pixels (the VAE and DiT patch)", retryable: false)
            }
            return [latentFrames, size.height / vae.spatialFactor, size.width / vae.spatialFactor, vae.latentChannels]
        }
        prototypeShape = try shape(settings.prototypeSize)
        fullShape = try shape(settings.fullSize)
        func grid(_ s: [Int]) -> Attention.Grid { Attention.Grid(frames: s[0] / dit.patch[0], height: s[1] / dit.patch[1], width: s[2] / dit.patch[2]) }
        func flops(_ g: Attention.Grid) -> Double {
            let f = DiT.flops(config: dit, grid: g, textLength: captionLength, layout: DiT.automaticLayout(grid: g))
            return f.linear + f.attention
        }
        let p = grid(prototypeShape), g = grid(fullShape)
        prototypeTokens = p.count
        fullTokens = g.count
        frames = settings.frames
        prototypeStepCost = flops(p) * (settings.guidance == 1 ? 1 : 2)
        fullStepCost = settings.prototypeOnly ? 0 : flops(g)
        prototypeCost = prototypeStepCost * Double(settings.steps)
        let perPixel = 2 * vae.macsPerPixel.decoder
        prototypeDecodeCost = perPixel * Double(settings.prototypeSize.width * settings.prototypeSize.height * settings.frames)
        let refinement = try Sampler(
            settings: SamplerSettings(steps: settings.steps, guidance: 1, seed: settings.seed, refineStrength: settings.refineStrength), tokens: fullTokens)
        fullFirstStep = refinement.schedule.firstIndex(atOrBelow: settings.refineStrength)
        fullCost = fullStepCost * Double(settings.steps - fullFirstStep)
        decodeCost = settings.prototypeOnly ? 0 : perPixel * Double(settings.fullSize.width * settings.fullSize.height * settings.frames)
    }

    func share(prototypeStep step: Int) -> Double { prototypeStepCost * Double(step) / total }

    func share(fullStep step: Int) -> Double {
        let done = min(fullCost, fullStepCost * Double(step - fullFirstStep))
        return (prototypeCost + prototypeDecodeCost + done) / total
    }

    func share(decodedFrames: Int) -> Double {
        (prototypeCost + prototypeDecodeCost + fullCost + decodeCost * Double(decodedFrames) / Double(frames)) / total
    }
}
