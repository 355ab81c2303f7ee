import ArgumentParser
import Foundation
import TesseraMedia
import TesseraModels
import TesseraTensor
import TesseraTraining
import TesseraWorld

/// `tessera train`: trains Tessera's own networks on the procedural world (docs/MODEL.md).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the VAE or the DiT on the procedural world, with checkpoints, resume and loss curves.",
        subcommands: [TrainVAE.self, TrainDiT.self, EvaluateVAE.self, EvaluateDiT.self, EvaluatePrompts.self, ExportModel.self, CompareLoss.self, ComparePrompts.self, RecipePrompts.self])
}

/// Options every training run shares.
struct TrainingRunOptions: ParsableArguments {
    @Option(help: "Run folder: checkpoint, loss log (CSV), loss plot (PNG) and the exported weights.")
    var out: String
    @Option(help: "Total optimizer steps (a resumed run continues to this count).")
    var steps: Int = 3000
    @Option(help: "Clips per step.")
    var batch: Int = 4
    @Option(help: "Peak learning rate (after warm-up; cosine decay to a tenth).")
    var learningRate: Float = 1e-3
    @Option(help: "Stop (with a checkpoint) after this many minutes, to keep within a budget; run again to go on.")
    var minutes: Double?
    @Option(help: "Steps between checkpoints.")
    var checkpointEvery: Int = 50
    @Option(help: "Seed of the data and the noise.")
    var seed: UInt64 = 1
    @Option(help: "Threads for kernels.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    var folder: URL { URL(fileURLWithPath: out) }
    var checkpointPath: String { folder.appendingPathComponent("checkpoint.safetensors").path }
    var logPath: String { folder.appendingPathComponent("loss.csv").path }

    func settings() -> AdamW.Settings {
        var s = AdamW.Settings()
        s.learningRate = learningRate
        s.minimumLearningRate = learningRate / 10
        s.totalSteps = steps
        s.warmupSteps = min(100, max(1, steps / 20))
        return s
    }
}

extension TrainingRunOptions {
    /// Checkpoint metadata keys of the options a run started with.
    static let regimePrefix = "training.option."
}

/// What the shared training loop needs of a trainer: its weights and its optimizer.
protocol TrainingState {
    var parameters: [String: Tensor] { get set }
    var optimizer: AdamW { get set }
}

extension VAETrainer: TrainingState {}
extension FlowMatchingTrainer: TrainingState {}

extension TrainingRunOptions {
    /// The loop every trainer runs: resume from the checkpoint if there is one, take steps (`step` gets the
    /// step index and returns the loss and gradient norm), log each, draw progress, checkpoint every
    /// `checkpointEvery` steps and at the end (with the EMA weights exported as `<export>.safetensors` and the
    /// loss curve as loss.png), and stop at `--steps` or the `--minutes` budget.
    ///
    /// `regime` names the options that decide what each step does (option name without dashes → value): the
    /// checkpoint keeps them, and a resume with any of them changed is refused before anything is written, so
    /// one run never mixes two recipes. A checkpoint from before they were kept resumes as it did.
    func loop<T: TrainingState>(
        _ trainer: inout T, expected: [String: [Int]], regime: [String: String], export: String, title: String,
        step: (inout T, Int) throws -> (loss: Float, gradientNorm: Float), detail: (Float) -> String
    ) throws {
        let regime = regime.merging(["batch": String(batch), "learning-rate": String(learningRate), "seed": String(seed)]) { own, _ in own }
        if FileManager.default.fileExists(atPath: checkpointPath) {
            let loaded = try Checkpoint.load(from: checkpointPath, expected: expected, optimizer: &trainer.optimizer)
            let changed = regime.keys.sorted().compactMap { name -> String? in
                guard let started = loaded.metadata[Self.regimePrefix + name], started != regime[name] else { return nil }
                return "--\(name) \(started) (not \(regime[name]!))"
            }
            guard changed.isEmpty else {
                throw CLIError("\(checkpointPath) was started with other options; resume it with the ones that started it, \(changed.joined(separator: ", ")), or use a new --out")
            }
            trainer.parameters = loaded.parameters
            trainingNote("resuming from \(checkpointPath) at step \(trainer.optimizer.step)")
        }
        let log = try TrainingLog(path: logPath, keepBefore: trainer.optimizer.step)
        let progress = ProgressLine(total: steps, firstStep: trainer.optimizer.step)
        let deadline = minutes.map { Date().addingTimeInterval($0 * 60) }
        let weightsPath = folder.appendingPathComponent(export + ".safetensors").path
        func save(_ trainer: T) throws {
            try Checkpoint.save(parameters: trainer.parameters, optimizer: trainer.optimizer,
                                metadata: Dictionary(uniqueKeysWithValues: regime.map { (Self.regimePrefix + $0.key, $0.value) }), to: checkpointPath)
            try SafetensorsFile.write(trainer.optimizer.average, metadata: ["training.step": String(trainer.optimizer.step)], to: weightsPath)
            try plot(log, title: title, to: folder.appendingPathComponent("loss.png"))
        }
        while trainer.optimizer.step < steps {
            let index = trainer.optimizer.step
            let started = Date()
            let result = try step(&trainer, index)
            try log.append(.init(step: index, loss: result.loss, learningRate: trainer.optimizer.learningRate(at: index),
                                 gradientNorm: result.gradientNorm, seconds: Date().timeIntervalSince(started)))
            progress.draw(step: index + 1, detail: detail(log.smoothedLoss().last?.loss ?? result.loss))
            if (index + 1) % checkpointEvery == 0 { try save(trainer) }
            if let deadline, Date() > deadline { break }
        }
        try save(trainer)
        FileHandle.standardError.write(Data("\n".utf8))
        trainingNote("weights (EMA) in \(weightsPath), loss curve in loss.png")
    }
}

/// One line redrawn in place on standard error: a bar, the step, the smoothed loss and the time left.
struct ProgressLine {
    let total: Int
    let start = Date()
    let firstStep: Int

    func draw(step: Int, detail: String) {
        let done = Double(step) / Double(max(total, 1))
        let elapsed = Date().timeIntervalSince(start)
        let perStep = elapsed / Double(max(step - firstStep, 1))
        let eta = perStep * Double(total - step)
        let line = "\r\(progressBar(done)) step \(step)/\(total)  \(detail)  \(String(format: "%.2f", perStep)) s/step  ETA \(shortDuration(eta))   "
        FileHandle.standardError.write(Data(line.utf8))
    }
}

extension TrainCommand {
    struct TrainVAE: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae",
            abstract: "Train the VAE (world preset by default) on random crops of world clips of 1, 5 and 9 frames.",
            discussion: "Runs until --steps or --minutes; a run killed at any moment resumes from its last checkpoint with the same data and noise.")

        @OptionGroup var options: TrainingRunOptions
        @Option(help: "Crop side in pixels (a multiple of 16) taken from 512x288, 288x512 or 288x288 renders.")
        var crop = 128
        @Option(help: "Weight of the KL term.")
        var klWeight: Float = 1e-4
        @Option(help: "VAE preset: world (8× spatial, for DiT patches of 4) or small (16×, for patches of 2).")
        var preset = "world"
        @Option(help: "How the decoder doubles the frame rate: repeat (copies each frame, the preset's) or split (two distinct frames from a twice-as-wide upsampling, docs/MODEL.md session 16).")
        var temporalUpsampling: String?
        @Option(help: "Train on a folder of your own videos (any format libavformat reads) instead of the world.")
        var data: String?
        @Flag(help: .hidden) var overfit = false

        func run() throws {
            Compute.setThreads(options.threads)
            HeapSettings.keepFreedMemory()
            guard crop % 16 == 0, crop >= 16, crop <= 288 else { throw CLIError("--crop must be a multiple of 16 between 16 and 288") }
            let folder = try data.map { try VideoFolder(path: $0, captions: false) }
            guard var config = VAEConfig.preset(preset) else { throw CLIError("--preset must be world, small or tiny, not \(preset)") }
            if let temporalUpsampling { config.temporalUpsampling = try .option(temporalUpsampling) }
            let configPath = options.folder.appendingPathComponent("vae.json").path
            if FileManager.default.fileExists(atPath: options.checkpointPath), let saved = try? VAEConfig.load(configPath), saved != config {
                throw CLIError("\(options.folder.path) holds a checkpoint of another VAE (\(configPath)); resume it with the --preset and --temporal-upsampling that started it or use a new --out")
            }
            try FileManager.default.createDirectory(at: options.folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(config).write(to: URL(fileURLWithPath: configPath))

            var trainer = VAETrainer(config: config, parameters: VAETrainer.initialWeights(config, seed: options.seed), settings: options.settings(), klWeight: klWeight, seed: options.seed)
            let regime = ["crop": String(crop), "kl-weight": String(klWeight), "preset": preset,
                          "temporal-upsampling": temporalUpsampling ?? "preset", "overfit": String(overfit)]
            try options.loop(&trainer, expected: config.expectedWeights, regime: regime, export: "vae", title: "VAE TRAINING LOSS") { trainer, step in
                let batch = try (0..<options.batch).map { i in
                    guard let folder else { return WorldClips.crop(seed: options.seed, step: overfit ? 0 : step, index: i, side: crop) }
                    let key = WorldClips.key(seed: options.seed, step: overfit ? 0 : step, index: i)
                    return try folder.crop(key: key, frames: WorldClips.frameChoices[Int(key % UInt64(WorldClips.frameChoices.count))], side: crop)
                }
                let result = try trainer.step(batch)
                return (result.loss, result.gradientNorm)
            } detail: { smoothed in
                String(format: "loss %.4f  PSNR %.1f dB", smoothed, 10 * log10(4 / max(smoothed, 1e-12)))
            }
            if overfit {
                let clip = WorldClips.crop(seed: options.seed, step: 0, index: 0, side: crop)
                let vae = try VAE(config: config, weights: trainer.parameters)
                var out: [Tensor] = []
                try vae.decoder.decode(latent: try vae.encoder.encode(clip)) { out.append($0) }
                let frame = clip.count / clip.shape[0]
                let cells = [try RGBFrame(width: crop, height: crop, signed: clip.storage[0..<frame]),
                             try RGBFrame(width: crop, height: crop, signed: out[0].storage[...])]
                try ContactSheet(count: 2, columns: 2, cellWidth: crop, caption: "OVERFIT").render(cells, labels: ["IN", "OUT"])
                    .writePNG(to: options.folder.appendingPathComponent("overfit.png"))
                for c in 0..<3 {
                    let a = stride(from: c, to: frame, by: 3).map { clip.storage[$0] }, b = stride(from: c, to: frame, by: 3).map { out[0].storage[$0] }
                    print("channel \(c): input mean \(a.reduce(0, +) / Float(a.count)), output mean \(b.reduce(0, +) / Float(b.count))")
                }
            }
        }
    }
}

extension TrainCommand {
    struct TrainDiT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dit",
            abstract: "Train the DiT (world preset) by rectified flow on world clips encoded by a trained VAE and the text encoder.",
            discussion: """
                Each step renders fresh world clips (512x288, 288x512 or 288x288; 1, 5, 9, 17 or 33 frames), encodes them with \
                the VAE in --vae (its vae.json and vae.safetensors) and their captions with all-MiniLM-L6-v2, and takes one \
                AdamW step. Latents are divided by a scale measured on the first run so they have unit spread; the scale \
                is kept in the run folder's model.json.
                """)

        @OptionGroup var options: TrainingRunOptions
        @Option(help: "Folder of the trained VAE (vae.json, vae.safetensors).")
        var vae: String
        @Option(help: "Text encoder folder (default: TESSERA_TEXT_ENCODER or models/all-MiniLM-L6-v2).")
        var textEncoder: String?
        @Option(help: "Probability of training on the empty caption (classifier-free guidance).")
        var dropCaption: Float = 0.1
        @Option(help: "Share of the multi-frame clips trained with factorized attention (what long and full-resolution renders use).")
        var factorizedShare: Float = 0.25
        @Flag(inversion: .prefixedNo, help: "Shift each clip's noise levels toward noise as the sampler does for its token count.")
        var timeShift = true
        @Flag(inversion: .prefixedNo, help: "Start the pooled caption's first layer standardized over the training captions, so caption differences start at unit scale.")
        var standardizedCaptionInit = true
        @Option(help: "Train on a folder of your own videos with a caption in NAME.txt beside each (any format libavformat reads) instead of the world.")
        var data: String?
        @Option(help: "Steps each encoded clip serves (with fresh noise and time each step): a step encodes --batch / --reuse new clips.")
        var reuse = 1
        @Option(help: "Comma-separated clip lengths in frames to draw from, each 1 + 4k (1 is a still image).")
        var frames = "1,5,9,17,33"
        @Option(help: "Share of samples trained at a noise level drawn uniformly from [0.85, 1], where every render starts.")
        var highNoiseShare: Float = 0
        @Option(help: "Share of samples trained with --mask-ratio of their tokens hidden: a hidden token's input is zero and its target the clean latent's negative, so the network learns to fill tokens from their context (masked latent modelling, after MDT; docs/MODEL.md, session 29). Renders hide nothing.")
        var maskShare: Float = 0
        @Option(help: "Share of a masked sample's tokens hidden (at least one hidden, one seen).")
        var maskRatio: Float = 0.3
        @Option(help: "The world clips' shorter side in pixels, a multiple of 32: 288 renders the prototype sizes (512x288, 288x512, 288x288); 160 renders 288x160, 160x288 and 160x160, a third of the tokens, for a cheaper first stage.")
        var shortSide = WorldLatents.prototypeShortSide
        @Option(help: "Video pixels a token's side covers: 32 (the world preset: 4×4 latent patches of an 8× VAE, 2,040 tokens per 1920x1088 latent frame) or 16 or 8 (finer patches: 4× or 16× the tokens, so an object spans more of them; docs/MODEL.md, session 35).")
        var tokenPixels = 32
        @Option(help: "The DiT's width (a multiple of 64: one head per 64 channels); the world preset's is 256.")
        var width = DiTConfig.world.hidden
        @Option(help: "The DiT's number of blocks; the world preset's is 6.")
        var depth = DiTConfig.world.depth
        @Flag(inversion: .prefixedNo, help: "Give each token where it sits in its frame (fractions of height and width) beside its rotary positions (docs/MODEL.md, session 13).")
        var framePositions = false
        @Flag(inversion: .prefixedNo, help: "Give each token where it sits in its frame through a learned matrix that starts at zero, so the network chooses how much of its width to spend on it (docs/MODEL.md, session 28).")
        var learnedFramePositions = false
        @Flag(inversion: .prefixedNo, help: "Add the velocity's linear part in the noisy latent (above t = 1/2) to the network's output, so it need not copy the noise (docs/MODEL.md, session 13).")
        var velocitySkip = false
        @Option(help: "What the network outputs: velocity (the noise minus the clean latent) or clean (the clean latent, from which the velocity is derived; docs/MODEL.md, session 14).")
        var prediction = DiTPrediction.velocity
        @Option(help: "How much more a latent cell an object touches counts in the loss than a background cell (1: all alike). The loss is scaled back to a mean weight of 1 per clip; world clips only.")
        var objectWeight: Float = 1
        @Option(help: "Weights of world scenes with one, two and three objects, e.g. 60,25,15 (default: the world's own mix, 40,35,25).")
        var objectCounts: String?
        @Flag(inversion: .prefixedNo, help: "Give the DiT each world clip's objects where they start: their attributes (colour, shape, size, motion, from the caption's facts) added to the first frame's tokens their box covers, through a learned matrix that starts at zero. Renders ground the prompt's objects where the expanded scene starts them (docs/MODEL.md, session 36). World clips only.")
        var grounding = false
        @Option(name: .customLong("init"), help: "Start from this model folder's DiT (dit.json, dit.safetensors, model.json) with a fresh optimizer, instead of random weights (a new run only).")
        var initFolder: String?

        func run() throws {
            Compute.setThreads(options.threads)
            HeapSettings.keepFreedMemory()
            guard reuse >= 1, options.batch % reuse == 0 else { throw CLIError("--reuse must be at least 1 and divide --batch (\(options.batch)), not \(reuse)") }
            let frameChoices = try WorldLatents.parseFrames(frames)
            guard width >= 64, width % 64 == 0 else { throw CLIError("--width must be a positive multiple of 64 (one head per 64 channels), not \(width)") }
            guard depth >= 1 else { throw CLIError("--depth must be at least 1, not \(depth)") }
            guard (0...1).contains(factorizedShare) else { throw CLIError("--factorized-share must be in 0…1, not \(factorizedShare)") }
            guard (0...1).contains(highNoiseShare) else { throw CLIError("--high-noise-share must be in 0…1, not \(highNoiseShare)") }
            guard (0...1).contains(maskShare) else { throw CLIError("--mask-share must be in 0…1, not \(maskShare)") }
            guard maskRatio > 0, maskRatio < 1 else { throw CLIError("--mask-ratio must lie strictly between 0 and 1, not \(maskRatio)") }
            guard shortSide >= 32, shortSide % 32 == 0 else { throw CLIError("--short-side must be a positive multiple of 32 (one token per 32×32 pixels), not \(shortSide)") }
            guard [8, 16, 32].contains(tokenPixels) else { throw CLIError("--token-pixels must be 8, 16 or 32 (a token's side in video pixels), not \(tokenPixels)") }
            guard objectWeight > 0, objectWeight.isFinite else { throw CLIError("--object-weight must be a positive number, not \(objectWeight)") }
            let counts = try objectCounts.map(WorldLatents.parseObjectCounts) ?? SceneSampler.objectCountWeights
            guard data == nil || (objectWeight == 1 && objectCounts == nil) else {
                throw CLIError("--object-weight and --object-counts apply to world clips; a --data folder's videos have no known objects")
            }
            guard data == nil || !grounding else {
                throw CLIError("--grounding applies to world clips; a --data folder's videos have no known objects")
            }
            guard data == nil || shortSide == WorldLatents.prototypeShortSide else {
                throw CLIError("--short-side applies to world clips; a --data folder's videos are scaled to the prototype sizes")
            }
            let resuming = FileManager.default.fileExists(atPath: options.checkpointPath)
            var start: (config: DiTConfig, weights: [String: Tensor], scale: Float)? = try initFolder.flatMap { path in
                guard !resuming else { return nil }
                let folder = URL(fileURLWithPath: path)
                let config = try DiTConfig.load(folder.appendingPathComponent("dit.json").path)
                let weights = try SafetensorsFile.weights(at: folder.appendingPathComponent("dit.safetensors").path, expected: config.expectedWeights)
                guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("model.json").path),
                      let bundle = try? JSONDecoder().decode(ModelBundle.self, from: data) else {
                    throw CLIError("--init \(path): no readable model.json (its latent scale)")
                }
                return (config, weights, bundle.latentScale)
            }
            let folder = try data.map { try VideoFolder(path: $0, captions: true) }
            let vaeFolder = URL(fileURLWithPath: vae)
            let autoencoder = try VAE(configPath: vaeFolder.appendingPathComponent("vae.json").path,
                                      weightsPath: vaeFolder.appendingPathComponent("vae.safetensors").path)
            // Patches of --token-pixels / (the VAE's spatial factor) latent pixels: by default one token per 32×32
            // video pixels, so 1920x1088 stays at 2,040 tokens per latent frame whichever VAE preset was trained.
            var config = DiTConfig.world
            let side = tokenPixels / autoencoder.config.spatialFactor
            guard side >= 1, side * autoencoder.config.spatialFactor == tokenPixels else {
                throw CLIError("the VAE in \(vae) compresses \(autoencoder.config.spatialFactor)× spatially; --token-pixels \(tokenPixels) needs a factor dividing it")
            }
            try FileManager.default.createDirectory(at: options.folder, withIntermediateDirectories: true)
            let encoder = try TextEncoder(modelFolder: textEncoder.map { URL(fileURLWithPath: $0) } ?? CLIContext.configuration().textEncoder)
            config.patch = [1, side, side]
            config.latentChannels = autoencoder.config.latentChannels
            (config.hidden, config.heads, config.depth) = (width, width / 64, depth)
            config.framePositions = framePositions ? true : nil
            config.learnedFramePositions = learnedFramePositions ? true : nil
            config.velocitySkip = velocitySkip ? true : nil
            config.prediction = prediction == .velocity ? nil : prediction
            config.grounding = grounding ? ObjectGrounding.featureCount : nil
            do { try config.validate() } catch { throw CLIError("the DiT options (--width, --depth, --[learned-]frame-positions, --velocity-skip, --prediction) describe no valid DiT: \(error)") }
            if let warning = Self.narrowWidthWarning(config) { trainingNote(warning) }
            // A model without grounding may start one with it: the grounding matrix starts at zero, so the
            // network begins as the model it came from.
            if var adding = start, adding.config.grounding == nil, let features = config.grounding {
                adding.config.grounding = features
                adding.weights[DiTConfig.groundingWeight] = Tensor(zeros: [config.hidden, features])
                start = adding
            }
            if let start, start.config != config {
                throw CLIError("--init \(initFolder!): its DiT config differs from the one this VAE and --token-pixels, --width and --depth need (\(config.patch) patches of \(config.latentChannels) channels, width \(width), \(depth) blocks\(grounding ? ", grounding" : ""))")
            }
            let configPath = options.folder.appendingPathComponent("dit.json").path
            if resuming, let saved = try? DiTConfig.load(configPath), saved != config {
                throw CLIError("\(options.folder.path) holds a checkpoint of another DiT shape (\(configPath)); resume it with the options that started it (--token-pixels, --width, --depth, --[no-][learned-]frame-positions, --[no-]velocity-skip, --prediction, --[no-]grounding) or use a new --out")
            }
            let json = JSONEncoder()
            json.outputFormatting = [.prettyPrinted, .sortedKeys]
            try json.encode(config).write(to: URL(fileURLWithPath: configPath))
            if let start { try json.encode(ModelBundle(latentScale: start.scale)).write(to: options.folder.appendingPathComponent("model.json")) }

            // The latent scale: measured once, kept for resumes and for inference.
            let modelPath = options.folder.appendingPathComponent("model.json")
            let scale: Float
            if let data = FileManager.default.contents(atPath: modelPath.path), let model = try? JSONDecoder().decode(ModelBundle.self, from: data) {
                scale = model.latentScale
            } else {
                var values: [Float] = []
                for i in 0..<8 { values += try WorldLatents.sample(seed: options.seed &+ 999_983, step: 0, index: i, vae: autoencoder, folder: folder, shortSide: shortSide).0.storage }
                let mean = values.reduce(0, +) / Float(values.count)
                scale = max(1e-3, (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot())
                try json.encode(ModelBundle(latentScale: scale)).write(to: modelPath)
            }
            trainingNote(String(format: "latent scale %.4f", scale))

            let empty = try encoder.encode("").caption
            var initial = start?.weights ?? DiTWeights.initial(config, seed: options.seed)
            if let start { trainingNote("starting from \(initFolder!) (latent scale \(start.scale))") }
            if standardizedCaptionInit, start == nil, !resuming {
                // Captions of the training data: the world's (no rendering needed), or the folder's own.
                let texts = folder.map { $0.entries.compactMap(\.caption) }
                    ?? (0..<128).map { TrainingSample(seed: WorldLatents.key(seed: options.seed &+ 424_242, step: $0, index: 0), shortSide: WorldLatents.prototypeShortSide).caption }
                let pooled = try texts.prefix(128).map { try encoder.encode($0).pooled }
                DiTWeights.standardizeCaptionLayer(&initial, pooled: pooled)
                trainingNote("caption layer standardized over \(pooled.count) training captions")
            }
            var trainer = FlowMatchingTrainer(
                config: config, parameters: initial, settings: options.settings(), emptyCaption: empty,
                seed: options.seed)
            trainer.dropCaption = dropCaption
            trainer.factorizedShare = factorizedShare
            trainer.shiftTimes = timeShift
            trainer.highNoiseShare = highNoiseShare
            trainer.maskShare = maskShare
            trainer.maskRatio = maskRatio
            var window = ReuseWindow<FlowSample>(batch: options.batch, reuse: reuse)
            let example = { (clip: DataClip) throws -> FlowSample in
                let (latent, caption, cells, scene) = try WorldLatents.example(
                    seed: options.seed, step: clip.step, index: clip.index, vae: autoencoder, folder: folder, frameChoices: frameChoices,
                    shortSide: shortSide, objectCounts: counts)
                var encoded = try encoder.encode(caption).caption
                if grounding, let scene { encoded = encoded.grounded(in: scene) }
                return FlowSample(latent: Elementwise.map(latent) { $0 / scale }, caption: encoded,
                                  weights: objectWeight == 1 ? nil : cells.map { FlowSample.weights(mask: $0, weight: objectWeight) })
            }
            let framesOf = { (clip: DataClip) in WorldLatents.frames(seed: options.seed, step: clip.step, index: clip.index, frameChoices: frameChoices) }
            let landscape = AspectBucket.landscape.size(shortSide: shortSide), factor = autoencoder.config.spatialFactor
            let regime = [
                "reuse": String(reuse), "frames": frames, "drop-caption": String(dropCaption), "factorized-share": String(factorizedShare),
                "time-shift": String(timeShift), "high-noise-share": String(highNoiseShare), "mask-share": String(maskShare),
                "mask-ratio": String(maskRatio), "short-side": String(shortSide), "object-weight": String(objectWeight),
                "object-counts": objectCounts ?? "world", "grounding": String(grounding),
            ]
            try options.loop(&trainer, expected: config.expectedWeights, regime: regime, export: "dit", title: "DIT TRAINING LOSS") { trainer, step in
                // A run's first step (and a resumed run's) encodes its whole batch here. Clips of one length encode
                // side by side, one a thread; clips of different lengths one after the other, each with every
                // thread in the VAE's kernels. The latents are the same bits either way.
                let batch = try window.batch(at: step) { clips in
                    Set(clips.map(framesOf)).count == 1 ? try Compute.map(clips.count) { try example(clips[$0]) } : try clips.map(example)
                }
                // Every later step finds its batch encoded: the next step's new clips encode in the pool of this
                // step's samples, each on one thread, so a thread that would wait for the batch's last sample
                // works on them. Encoding a clip costs about 2.5 DiT samples of its length (timed per job, session
                // 12: a 33-frame clip 2.7–3.0 s on one thread, its sample 1.15 s), so long encodes start first;
                // the cost only orders the work.
                let ahead = step + 1 < options.steps ? window.missing(at: step + 1) : []
                let side = ahead.map { clip in
                    SideJob(cost: (1 + (framesOf(clip) - 1) / 4) * (landscape.height / factor) * (landscape.width / factor) * 16 * 5 / 2) { try example(clip) }
                }
                let result = try trainer.step(batch, alongside: side)
                for (clip, sample) in zip(ahead, result.side) { window.keep(clip, sample) }
                return (result.loss, result.gradientNorm)
            } detail: { smoothed in
                String(format: "loss %.4f", smoothed)
            }
        }
    }
}

extension TrainCommand.TrainDiT {
    /// A DiT narrower than a token's latent values that predicts the velocity must carry the token's noise
    /// through its width, and cannot: its loss stalls at about three times a wide one's (docs/MODEL.md, session
    /// 30). Predicting the clean latent, the noise reaches the velocity through `x_t` (session 32), so the width
    /// is not the trouble there — though that prediction draws flat backgrounds at any width (sessions 14, 15, 32).
    static func narrowWidthWarning(_ config: DiTConfig) -> String? {
        guard config.hidden < config.patchVolume, config.predicts == .velocity else { return nil }
        let patch = config.patch.map(String.init).joined(separator: "×")
        return "warning: --width \(config.hidden) is narrower than a token's \(config.patchVolume) latent values (\(patch) patches of \(config.latentChannels) channels): predicting the velocity, the network cannot carry a token's noise through its width, and its loss stays far above a wider one's; keep --width at or above \(config.patchVolume) (--prediction clean takes the noise from x_t, but draws flat backgrounds: docs/MODEL.md, sessions 30 and 32)"
    }
}

extension TrainCommand {
    struct EvaluateVAE: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval-vae",
            abstract: "The VAE's reconstruction PSNR on held-out world clips at prototype size, and a picture of originals and reconstructions.",
            discussion: "Held-out clips come from seeds the trainers never draw (1,000,000,000 and up). The latent is the encoder's mean, as in a render.")

        @Option(help: "Folder of the VAE (vae.json, vae.safetensors).")
        var vae: String
        @Option(help: "How many clips.")
        var clips = 20
        @Option(help: "Frames per clip (1 + 4k).")
        var frames = 17
        @Option(help: "Write a contact sheet (PNG) of the first clip: original frames over reconstructed ones.")
        var sheet: String?
        @Option(help: "Threads for kernels.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var clips: Int
            var frames: Int
            var meanPSNR: Double
            var worstPSNR: Double
            var perClip: [Double]
        }

        func run() throws {
            Compute.setThreads(threads)
            let folder = URL(fileURLWithPath: vae)
            let model = try VAE(configPath: folder.appendingPathComponent("vae.json").path, weightsPath: folder.appendingPathComponent("vae.safetensors").path)
            var perClip: [Double] = []
            for clip in 0..<clips {
                let example = TrainingSample(seed: 1_000_000_000 + UInt64(clip), shortSide: WorldLatents.prototypeShortSide, frames: frames)
                let renderer = example.renderer()
                let originals = (0..<frames).map { renderer.frame($0) }
                var video = [Float]()
                for frame in originals { video += frame.storage }
                let latent = try model.encoder.encode(Tensor(shape: [frames, example.height, example.width, 3], storage: video))
                var reconstructed: [Tensor] = []
                try model.decoder.decode(latent: latent) { reconstructed.append($0) }
                perClip.append(psnr(originals, reconstructed))
                if clip == 0, let sheet {
                    let picks = ContactSheet.indices(total: frames, count: min(4, frames))
                    let cells = try picks.map { try RGBFrame(signed: originals[$0]) } + picks.map { try RGBFrame(signed: reconstructed[$0]) }
                    let labels = picks.map { "ORIGINAL #\($0)" } + picks.map { "VAE #\($0)" }
                    let picture = try ContactSheet(count: cells.count, columns: picks.count, cellWidth: 256,
                                                   caption: String(format: "VAE RECONSTRUCTION, %.1f DB", perClip[0])).render(cells, labels: labels)
                    try picture.writePNG(to: URL(fileURLWithPath: sheet))
                }
            }
            let report = Report(clips: clips, frames: frames, meanPSNR: perClip.reduce(0, +) / Double(perClip.count), worstPSNR: perClip.min() ?? 0, perClip: perClip)
            if output.json { return try printJSON(report) }
            print(String(format: "VAE reconstruction PSNR over %d held-out clips of %d frames at prototype size: mean %.2f dB, worst %.2f dB",
                         clips, frames, report.meanPSNR, report.worstPSNR))
        }
    }
}

extension TrainCommand {
    struct ExportModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a trained DiT and VAE as one model folder in float16 (what models/default holds).",
            discussion: "Copies dit.json, model.json and vae.json, and writes dit.safetensors and vae.safetensors in float16; every render reads either precision. Without --dit it writes the VAE alone (vae.json and vae.safetensors), a folder `train dit --vae` reads.")

        @Option(help: "Folder of the trained DiT (dit.json, dit.safetensors, model.json); leave out to export the VAE alone.")
        var dit: String?
        @Option(help: "Folder of the trained VAE (vae.json, vae.safetensors).")
        var vae: String
        @Option(help: "The model folder to write.")
        var out: String

        func run() throws {
            let source = (dit: dit.map { URL(fileURLWithPath: $0) }, vae: URL(fileURLWithPath: vae)), target = URL(fileURLWithPath: out)
            // Everything is read and checked before the folder is touched.
            let ditPart = try source.dit.map { folder in
                let config = try DiTConfig.load(folder.appendingPathComponent("dit.json").path)
                return (folder: folder, weights: try SafetensorsFile.weights(at: folder.appendingPathComponent("dit.safetensors").path, expected: config.expectedWeights))
            }
            let vaeConfig = try VAEConfig.load(source.vae.appendingPathComponent("vae.json").path)
            let vaeWeights = try SafetensorsFile.weights(at: source.vae.appendingPathComponent("vae.safetensors").path, expected: vaeConfig.expectedWeights)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            var copies = [(source.vae, "vae.json")], written = [("vae.safetensors", vaeWeights)]
            if let ditPart {
                copies += [(ditPart.folder, "dit.json"), (ditPart.folder, "model.json")]
                written.insert(("dit.safetensors", ditPart.weights), at: 0)
            }
            for (folder, name) in copies {
                let destination = target.appendingPathComponent(name)
                _ = try? FileManager.default.removeItem(at: destination)
                try FileManager.default.copyItem(at: folder.appendingPathComponent(name), to: destination)
            }
            var bytes = 0
            for (name, weights) in written {
                let path = target.appendingPathComponent(name).path
                try SafetensorsFile.write(weights, to: path, halfPrecision: true)
                bytes += (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            }
            print(String(format: "wrote %@: %@ in float16, %.1f MB of weights", out, ditPart == nil ? "the VAE" : "DiT and VAE", Double(bytes) / 1e6))
        }
    }
}

/// What inference needs beside the DiT's and VAE's own configs.
struct ModelBundle: Codable {
    /// Latents are divided by this before the DiT sees them (and multiplied after sampling).
    var latentScale: Float
}

/// A DiT's starting weights: small random matrices, unit norm weights, and zero adaLN modulation and final
/// layer (adaLN-Zero: every block starts as the identity).
enum DiTWeights {
    static func initial(_ config: DiTConfig, seed: UInt64) -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in config.expectedWeights.sorted(by: { $0.key < $1.key }) {
            if name == DiTConfig.framePositionWeight || name == DiTConfig.groundingWeight {
                // Zero, and drawn from nothing: every other weight starts as it would without it, so a run with
                // learned frame positions pairs step by step with one without.
                weights[name] = Tensor(zeros: shape)
                continue
            }
            let count = shape.reduce(1, *)
            if name.hasSuffix("norm.weight") || name.hasSuffix("norm2.weight") {
                weights[name] = Tensor(repeating: 1, shape: shape)
            } else if name.contains("adaLN_modulation") || name.hasPrefix("final_layer.linear") || name.hasSuffix(".bias") {
                weights[name] = Tensor(zeros: shape)
            } else {
                // Fan-in scaling, except the pooled caption's first layer: the sentence embedding is unit-norm
                // (each of its 384 numbers about 0.05), so fan-in scaling would start the caption's share of the
                // conditioning some twenty times smaller than the timestep's, and training hardly moves it.
                let unitInput = name == "y_embedder.mlp.0.weight"
                let scale = unitInput ? 1 : Float(1 / Double(shape.last ?? 1).squareRoot())
                weights[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: seed, stream: 51).fill(count, startingAt: offset).map { $0 * scale })
            }
            offset += count
        }
        return weights
    }
}

extension DiTWeights {
    /// Data-dependent start of the pooled caption's first layer: each output unit is rescaled and offset so
    /// that over `pooled` (sentence embeddings of training captions) it has mean 0 and spread 1. Captions of
    /// one world are alike — two that differ only in the background's colour have embeddings at cosine 0.97 —
    /// so without this the differences that matter enter the conditioning at a quarter of the scale of the
    /// rest, and the network is slow to read them.
    static func standardizeCaptionLayer(_ weights: inout [String: Tensor], pooled: [Tensor]) {
        guard pooled.count >= 2, var w = weights["y_embedder.mlp.0.weight"], var b = weights["y_embedder.mlp.0.bias"] else { return }
        let (outputs, inputs) = (w.shape[0], w.shape[1])
        for j in 0..<outputs {
            let row = w.storage[(j * inputs)..<((j + 1) * inputs)]
            let values = pooled.map { p in zip(row, p.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let spread = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            guard spread > 1e-8 else { continue }
            for i in 0..<inputs { w.storage[j * inputs + i] = Float(Double(w.storage[j * inputs + i]) / spread) }
            b.storage[j] = Float(-mean / spread)
        }
        weights["y_embedder.mlp.0.weight"] = w
        weights["y_embedder.mlp.0.bias"] = b
    }
}

/// World clips as DiT training examples: rendered, then encoded by the VAE.
enum WorldLatents {
    static let frameChoices = [1, 5, 9, 17, 33]
    /// The prototype sizes' shorter side: 512x288, 288x512 and 288x288.
    static let prototypeShortSide = 288

    /// "1,5,9" → [1, 5, 9]; every length must be 1 + 4k (what the causal VAE encodes).
    static func parseFrames(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 1 && ($0 - 1) % 4 == 0 }) else {
            throw CLIError("--frames must be comma-separated clip lengths of 1 + 4k frames (1, 5, 9, 17, 33, …), not \"\(text)\"")
        }
        return values
    }

    static func key(seed: UInt64, step: Int, index: Int) -> UInt64 {
        seed &* 0xD6E8_FEB8_6659_FD93 &+ UInt64(step) &* 1_000_003 &+ UInt64(index)
    }

    /// The frame count of example (step, index): what `sample` renders or cuts.
    static func frames(seed: UInt64, step: Int, index: Int, frameChoices: [Int] = frameChoices) -> Int {
        frameChoices[Int(key(seed: seed, step: step, index: index) % UInt64(frameChoices.count))]
    }

    /// The latent `[F', H/s, W/s, C]` (`s` the VAE's spatial factor) and the caption of one example: a world
    /// clip, or a clip of one of the videos in `folder`.
    static func sample(seed: UInt64, step: Int, index: Int, vae: VAE, folder: VideoFolder? = nil, frameChoices: [Int] = frameChoices,
                       shortSide: Int = prototypeShortSide) throws -> (Tensor, String) {
        let example = try example(seed: seed, step: step, index: index, vae: vae, folder: folder, frameChoices: frameChoices, shortSide: shortSide)
        return (example.latent, example.caption)
    }

    /// `sample`, with the world's mix of object counts `objectCounts` and, for a world clip, where its objects
    /// are on the latent grid (`SceneRenderer.objectCells`; nil for a folder's clip).
    static func example(seed: UInt64, step: Int, index: Int, vae: VAE, folder: VideoFolder? = nil, frameChoices: [Int] = frameChoices,
                        shortSide: Int = prototypeShortSide, objectCounts: [(Int, Double)] = SceneSampler.objectCountWeights)
    throws -> (latent: Tensor, caption: String, objectCells: Tensor?, scene: SceneSpec?) {
        let k = key(seed: seed, step: step, index: index)
        let frames = frames(seed: seed, step: step, index: index, frameChoices: frameChoices)
        if let folder {
            let (video, caption) = try folder.clip(key: k, frames: frames)
            return (try vae.encoder.encode(video), caption, nil, nil)
        }
        let example = TrainingSample(seed: k, shortSide: shortSide, frames: frames, objectCounts: objectCounts)
        let renderer = example.renderer()
        var video = [Float]()
        video.reserveCapacity(frames * example.width * example.height * 3)
        for f in 0..<frames { video += renderer.frame(f).storage }
        let latent = try vae.encoder.encode(Tensor(shape: [frames, example.height, example.width, 3], storage: video))
        let cells = renderer.objectCells(factor: vae.config.spatialFactor, temporal: vae.config.temporalFactor)
        return (latent, example.caption, cells, example.scene)
    }

    /// "60,25,15" → weights of scenes with one, two and three objects.
    static func parseObjectCounts(_ text: String) throws -> [(Int, Double)] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0 >= 0 && $0.isFinite }), values.reduce(0, +) > 0 else {
            throw CLIError("--object-counts must be three non-negative weights, not all zero, for scenes of one, two and three objects (\"40,35,25\" is the world's mix), not \"\(text)\"")
        }
        return values.enumerated().map { ($0.offset + 1, $0.element) }
    }
}

/// The world's clips as training inputs.
enum WorldClips {
    /// Frame counts the VAE trains on: an image, and 1 + 4k frames.
    static let frameChoices = [1, 5, 9]

    static func key(seed: UInt64, step: Int, index: Int) -> UInt64 {
        seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step) &* 1_000_003 &+ UInt64(index)
    }

    /// A random square crop of a random world clip, `[F, side, side, 3]` in [−1, 1]; a function of
    /// (seed, step, index) only.
    static func crop(seed: UInt64, step: Int, index: Int, side: Int) -> Tensor {
        let key = key(seed: seed, step: step, index: index)
        var random = NoiseGenerator(seed: key, stream: 41).fill(4).map { 0.5 * (1 + erf(Double($0) / 2.0.squareRoot())) }.makeIterator()
        let aspect = AspectBucket.allCases[min(2, Int(random.next()! * 3))]
        let frames = frameChoices[min(frameChoices.count - 1, Int(random.next()! * Double(frameChoices.count)))]
        let (width, height) = aspect.size(shortSide: WorldLatents.prototypeShortSide)
        let scene = SceneSampler.sample(seed: key, extent: aspect.extent, frames: frames, fps: 24)
        let renderer = SceneRenderer(scene: scene, width: width, height: height, threads: 1)
        let x0 = min(width - side, Int(random.next()! * Double(width - side + 1)))
        let y0 = min(height - side, Int(random.next()! * Double(height - side + 1)))
        var clip = [Float](repeating: 0, count: frames * side * side * 3)
        for f in 0..<frames {
            let frame = renderer.frame(f)
            for y in 0..<side {
                let source = ((y0 + y) * width + x0) * 3, target = ((f * side + y) * side) * 3
                for j in 0..<(side * 3) { clip[target + j] = frame.storage[source + j] }
            }
        }
        return Tensor(shape: [frames, side, side, 3], storage: clip)
    }
}

/// The loss curve (raw and smoothed) as a PNG.
func plot(_ log: TrainingLog, title: String, to url: URL) throws {
    let raw = log.entries.map { (x: Double($0.step), y: Double($0.loss)) }
    let smooth = log.smoothedLoss().map { (x: Double($0.step), y: Double($0.loss)) }
    let chart = LinePlot(title: title, xLabel: "STEP", series: [
        .init(name: "LOSS", points: raw, color: (170, 190, 230)), .init(name: "SMOOTHED", points: smooth, color: (200, 40, 40)),
    ])
    try chart.render().writePNG(to: url)
}

/// A line of progress for people, on standard error.
func trainingNote(_ text: String) {
    FileHandle.standardError.write(Data("==> \(text)\n".utf8))
}

extension DiTPrediction: ExpressibleByArgument {}
