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
        subcommands: [TrainVAE.self])
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
            abstract: "Train the VAE (small preset) on random crops of world clips of 1, 5 and 9 frames.",
            discussion: "Runs until --steps or --minutes; a run killed at any moment resumes from its last checkpoint with the same data and noise.")

        @OptionGroup var options: TrainingRunOptions
        @Option(help: "Crop side in pixels (a multiple of 16) taken from 512x288, 288x512 or 288x288 renders.")
        var crop = 128
        @Option(help: "Weight of the KL term.")
        var klWeight: Float = 1e-4

        func run() throws {
            Compute.setThreads(options.threads)
            guard crop % 16 == 0, crop >= 16, crop <= 288 else { throw CLIError("--crop must be a multiple of 16 between 16 and 288") }
            try FileManager.default.createDirectory(at: options.folder, withIntermediateDirectories: true)
            let config = VAEConfig.small
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(config).write(to: options.folder.appendingPathComponent("vae.json"))

            var trainer = VAETrainer(config: config, parameters: VAE.randomWeights(config, seed: options.seed), settings: options.settings(), klWeight: klWeight, seed: options.seed)
            if FileManager.default.fileExists(atPath: options.checkpointPath) {
                let loaded = try Checkpoint.load(from: options.checkpointPath, expected: config.expectedWeights, optimizer: &trainer.optimizer)
                trainer.parameters = loaded.parameters
                trainingNote("resuming from \(options.checkpointPath) at step \(trainer.optimizer.step)")
            }
            let log = try TrainingLog(path: options.logPath, keepBefore: trainer.optimizer.step)
            let progress = ProgressLine(total: options.steps, firstStep: trainer.optimizer.step)
            let deadline = options.minutes.map { Date().addingTimeInterval($0 * 60) }
            func save() throws {
                try Checkpoint.save(parameters: trainer.parameters, optimizer: trainer.optimizer, to: options.checkpointPath)
                try SafetensorsFile.write(trainer.optimizer.average, metadata: ["training.step": String(trainer.optimizer.step)],
                                          to: options.folder.appendingPathComponent("vae.safetensors").path)
                try plot(log, title: "VAE TRAINING LOSS", to: options.folder.appendingPathComponent("loss.png"))
            }
            while trainer.optimizer.step < options.steps {
                let step = trainer.optimizer.step
                let batch = (0..<options.batch).map { WorldClips.crop(seed: options.seed, step: step, index: $0, side: crop) }
                let started = Date()
                let result = try trainer.step(batch)
                try log.append(.init(step: step, loss: result.loss, learningRate: trainer.optimizer.learningRate(at: step),
                                     gradientNorm: result.gradientNorm, seconds: Date().timeIntervalSince(started)))
                let smoothed = log.smoothedLoss().last?.loss ?? result.loss
                progress.draw(step: step + 1, detail: String(format: "loss %.4f  PSNR %.1f dB", smoothed, 10 * log10(4 / max(smoothed, 1e-12))))
                if (step + 1) % options.checkpointEvery == 0 { try save() }
                if let deadline, Date() > deadline { break }
            }
            try save()
            FileHandle.standardError.write(Data("\n".utf8))
            trainingNote("weights (EMA) in \(options.folder.appendingPathComponent("vae.safetensors").path), loss curve in loss.png")
        }
    }
}

/// The world's clips as training inputs.
enum WorldClips {
    /// Frame counts the VAE trains on: an image, and 1 + 4k frames.
    static let frameChoices = [1, 5, 9]

    /// A random square crop of a random world clip, `[F, side, side, 3]` in [−1, 1]; a function of
    /// (seed, step, index) only.
    static func crop(seed: UInt64, step: Int, index: Int, side: Int) -> Tensor {
        let key = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step) &* 1_000_003 &+ UInt64(index)
        var random = NoiseGenerator(seed: key, stream: 41).fill(4).map { 0.5 * (1 + erf(Double($0) / 2.0.squareRoot())) }.makeIterator()
        let aspect = AspectBucket.allCases[min(2, Int(random.next()! * 3))]
        let frames = frameChoices[min(frameChoices.count - 1, Int(random.next()! * Double(frameChoices.count)))]
        let (width, height) = aspect.size(shortSide: 288)
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
