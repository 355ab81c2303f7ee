import ArgumentParser
import Foundation
import TesseraFarm
import TesseraMedia
import TesseraQueue
import TesseraStorage
import TesseraTensor
import TesseraWorld

extension TrainCommand {
    /// `tessera train eval-prompts`: a model's prompt adherence on a fixed prompt set (docs/MODEL.md).
    struct EvaluatePrompts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval-prompts",
            abstract: "A model's prompt adherence: render each prompt's prototype, read it back and score it against its expanded caption.",
            discussion: """
                Each line of --prompts is {"prompt", "seed", "orientation", "duration", "fps"}. Every prompt is rendered \
                through the worker's own path (prototype only, 512x288 or 288x512) and scored by the evaluator against the \
                caption the prompt expanded to. The same videos are also scored against the next prompt's caption: the \
                score a video gets for a caption it was not made for, the evaluator's chance level for these prompts. \
                With --full N the first N prompts also get the 1920x1080 (1080x1920) pass, scored the same way, and \
                its sharpness (mean absolute Laplacian of luma) is compared with a bicubic upscale of the prototype.
                """)

        @Option(help: "JSON Lines prompt set.")
        var prompts = "eval/prompts.jsonl"
        @Option(help: "Folder for the videos and the report.")
        var out: String
        @Option(help: "Only the first N prompts.")
        var limit: Int?
        @Option(help: "Sampler steps.")
        var steps = 30
        @Option(help: "Classifier-free guidance.")
        var guidance: Float = 5
        @Option(help: "Also render the full pass for the first N prompts.")
        var full = 0
        @Option(help: "Write a picture of every prototype's middle frame, labelled with its score.")
        var sheet: String?
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var output: OutputOptions

        struct Prompt: Decodable {
            var prompt: String
            var seed: UInt64
            var orientation: String
            var duration: Double
            var fps: Int
        }

        struct Row: Encodable {
            var prompt: String
            var orientation: String
            var caption: String
            var score: Double
            var chanceScore: Double
            var worldScore: Double
            var missed: [String]
            var fullScore: Double?
            var sharpness: Double?
            var bicubicSharpness: Double?
        }

        struct Report: Encodable {
            var prompts: Int
            var meanScore: Double
            var landscape: Double
            var portrait: Double
            var chance: Double
            var world: Double
            /// Facts of each kind the prototypes show, over all prompts.
            var facts: [FactTally]
            var full: Int
            var fullMeanScore: Double?
            var prototypeMeanScoreOfFull: Double?
            var sharpnessRatio: Double?
            var seconds: Double
            /// What made the videos: the model's fingerprint and folders, and the prototype pass's settings.
            var model: String
            var dit: String
            var guide: String?
            var steps: Int
            var guidance: Float
            var autoguidance: Float
            var stochasticity: Double
            var stochasticInterval: String
            var rows: [Row]
        }

        func run() throws {
            guard let data = FileManager.default.contents(atPath: prompts) else { throw CLIError("cannot read --prompts \(prompts)") }
            var set: [Prompt] = []
            for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                do {
                    let prompt = try JSONDecoder().decode(Prompt.self, from: Data(line.utf8))
                    guard JobSpec.Orientation(rawValue: prompt.orientation) != nil else { throw CLIError("orientation must be landscape or portrait") }
                    guard JobSpec.Defaults.durationRange.contains(prompt.duration) else { throw CLIError("duration must be 0…60 s") }
                    guard JobSpec.Defaults.fpsRange.contains(prompt.fps) else { throw CLIError("fps must be 1…60") }
                    set.append(prompt)
                } catch {
                    throw CLIError("\(prompts) line \(n + 1): \(error)")
                }
            }
            guard !set.isEmpty else { throw CLIError("\(prompts) holds no prompts") }
            if let limit { set = Array(set.prefix(max(1, limit))) }
            guard steps >= 1 else { throw CLIError("--steps must be at least 1") }
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let loaded = try model.load(guide: sampling.guide)
            let store = LocalStore(root: folder.appendingPathComponent("objects"))
            try store.prepare()
            let started = Date()

            var readings: [VideoReading] = [], captions: [String] = [], middles: [RGBFrame] = []
            var fullRows: [Int: (score: Double, sharpness: Double, bicubic: Double)] = [:]
            var worldScores: [Double] = []
            for (n, prompt) in set.enumerated() {
                let renderFull = n < full
                var settings = RenderSettings(
                    prompt: prompt.prompt, seed: prompt.seed, orientation: JobSpec.Orientation(rawValue: prompt.orientation)!,
                    frames: RenderSettings.frames(duration: prompt.duration, fps: prompt.fps), fps: prompt.fps, steps: steps,
                    guidance: guidance, refineStrength: 0.6, prototypeOnly: !renderFull)
                try sampling.apply(to: &settings)
                let render = VideoRender(model: loaded, artifacts: RenderArtifacts(store: store, job: "prompt-\(n + 1)", scratch: folder))
                let outcome = try render.run(settings) { share, stage in
                    let line = "\r\(progressBar((Double(n) + share) / Double(set.count)))  prompt \(n + 1)/\(set.count)  \(stage)  \(shortDuration(Date().timeIntervalSince(started)))        "
                    FileHandle.standardError.write(Data(line.utf8))
                }
                guard let prototype = outcome.result["prototype"].flatMap(URL.init(string:)), let caption = outcome.result["caption"] else {
                    throw CLIError("prompt \(n + 1): the render gave no prototype")
                }
                let frames = try VideoReader(url: prototype).allFrames()
                var source = TensorFrames(frames.map { Tensor(shape: [$0.height, $0.width, 3], storage: $0.signedPixels) },
                                          fps: Double(prompt.fps))
                readings.append(try Evaluator().read(&source))
                captions.append(caption)
                middles.append(frames[frames.count / 2])
                worldScores.append(try Self.worldScore(settings))
                if renderFull, let video = outcome.result["video"].flatMap(URL.init(string:)) {
                    var fullSource = MediaFrames(reader: try VideoReader(url: video))
                    let score = try Evaluator().evaluate(&fullSource, caption: caption).score
                    let sharp = try Sharpness.compare(full: video, prototype: frames)
                    fullRows[n] = (score, sharp.full, sharp.bicubic)
                }
            }
            FileHandle.standardError.write(Data("\n".utf8))

            var rows: [Row] = [], checks: [FactCheck] = []
            for n in set.indices {
                let report = Evaluator().score(readings[n], caption: captions[n])
                checks += report.facts
                let chance = Evaluator().score(readings[n], caption: captions[(n + 1) % captions.count]).score
                rows.append(Row(
                    prompt: set[n].prompt, orientation: set[n].orientation, caption: captions[n], score: report.score, chanceScore: chance, worldScore: worldScores[n],
                    missed: report.facts.filter { !$0.satisfied }.map { "\($0.fact): expected \($0.expected), saw \($0.observed)" },
                    fullScore: fullRows[n]?.score, sharpness: fullRows[n]?.sharpness, bicubicSharpness: fullRows[n]?.bicubic))
            }
            func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
            let fullIndices = fullRows.keys.sorted()
            let report = Report(
                prompts: rows.count, meanScore: mean(rows.map(\.score)),
                landscape: mean(rows.filter { $0.orientation == "landscape" }.map(\.score)),
                portrait: mean(rows.filter { $0.orientation == "portrait" }.map(\.score)),
                chance: mean(rows.map(\.chanceScore)), world: mean(worldScores), facts: FactTally.tally(checks), full: fullIndices.count,
                fullMeanScore: fullIndices.isEmpty ? nil : mean(fullIndices.map { fullRows[$0]!.score }),
                prototypeMeanScoreOfFull: fullIndices.isEmpty ? nil : mean(fullIndices.map { rows[$0].score }),
                sharpnessRatio: fullIndices.isEmpty ? nil : mean(fullIndices.map { fullRows[$0]!.sharpness / max(fullRows[$0]!.bicubic, 1e-9) }),
                seconds: Date().timeIntervalSince(started), model: loaded.hash, dit: model.dit, guide: sampling.guide, steps: steps,
                guidance: guidance, autoguidance: sampling.autoguidance,
                stochasticity: sampling.stochasticity, stochasticInterval: sampling.stochasticInterval, rows: rows)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: folder.appendingPathComponent("report.json"))

            if let sheet {
                // Portrait and landscape cells side by side: each cell is the frame fitted into a square.
                let side = 160
                let cells = try middles.map { try $0.letterboxed(side: side) }
                let labels = rows.map { String(format: "%.0f%% %@", $0.score * 100, String($0.prompt.prefix(22))) }
                let picture = try ContactSheet(count: cells.count, columns: min(10, cells.count), cellWidth: side, caption: String(
                    format: "PROMPT ADHERENCE %.1f%% (CHANCE %.1f%%), %d PROMPTS", report.meanScore * 100, report.chance * 100, rows.count))
                    .render(cells, labels: labels)
                try picture.writePNG(to: URL(fileURLWithPath: sheet))
            }
            if output.json { return try printJSON(report) }
            var table = Table(["PROMPT", "ORIENTATION", "SCORE", "CHANCE", "1080P"])
            for row in rows {
                table.add([row.prompt, row.orientation, String(format: "%.0f%%", row.score * 100), String(format: "%.0f%%", row.chanceScore * 100),
                           row.fullScore.map { String(format: "%.0f%%", $0 * 100) } ?? ""])
            }
            print(table.render())
            print(String(format: "prompt adherence %.1f%% over %d prompts (landscape %.1f%%, portrait %.1f%%); the same videos against other prompts' captions: %.1f%%; the world's own renders of the expansions: %.1f%%",
                         report.meanScore * 100, rows.count, report.landscape * 100, report.portrait * 100, report.chance * 100, report.world * 100))
            print("facts by kind: " + FactTally.describe(report.facts))
            if let fullMean = report.fullMeanScore, let protoMean = report.prototypeMeanScoreOfFull, let ratio = report.sharpnessRatio {
                print(String(format: "full pass on %d prompts: %.1f%% (their prototypes %.1f%%); sharpness %.2f× a bicubic upscale of the prototype",
                             report.full, fullMean * 100, protoMean * 100, ratio))
            }
            print(String(format: "%.0f s; videos and report.json in %@", report.seconds, out))
        }

        /// The evaluator's score for the world's own render of the prompt's expansion (what a perfect model
        /// would get), at the prototype size, before any video encoding.
        static func worldScore(_ settings: RenderSettings) throws -> Double {
            let size = settings.prototypeSize
            let expanded = PromptExpander().expand(
                ExpansionRequest(prompt: settings.prompt, seed: settings.seed, extent: Extent(pixelWidth: size.width, height: size.height),
                                 frames: settings.frames, fps: Double(settings.fps)))
            let renderer = SceneRenderer(scene: expanded.scene, width: size.width, height: size.height, threads: 1)
            var source = TensorFrames((0..<settings.frames).map { renderer.frame($0) }, fps: Double(settings.fps))
            return try Evaluator().evaluate(&source, caption: expanded.caption).score
        }
    }
}

/// How much fine detail a frame has: the mean absolute Laplacian of its luma (BT.601 weights, 0…255 scale).
enum Sharpness {
    static func laplacian(_ frame: RGBFrame) -> Double {
        let w = frame.width, h = frame.height
        guard w >= 3, h >= 3 else { return 0 }
        var luma = [Double](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            luma[i] = 0.299 * Double(frame.pixels[3 * i]) + 0.587 * Double(frame.pixels[3 * i + 1]) + 0.114 * Double(frame.pixels[3 * i + 2])
        }
        var total = 0.0
        for y in 1..<(h - 1) {
            for x in 1..<(w - 1) {
                let i = y * w + x
                total += abs(4 * luma[i] - luma[i - 1] - luma[i + 1] - luma[i - w] - luma[i + w])
            }
        }
        return total / Double((w - 2) * (h - 2))
    }

    /// The full video's mean sharpness and that of its prototype's frames upscaled bicubically to the same size,
    /// over up to 8 evenly spaced frames.
    static func compare(full: URL, prototype: [RGBFrame]) throws -> (full: Double, bicubic: Double) {
        let picks = Set(ContactSheet.indices(total: prototype.count, count: min(8, prototype.count)))
        var sharp = 0.0, bicubic = 0.0, index = 0
        try VideoReader(url: full).forEachFrame { frame in
            defer { index += 1 }
            guard picks.contains(index), index < prototype.count else { return }
            sharp += laplacian(frame)
            bicubic += laplacian(try prototype[index].resized(width: frame.width, height: frame.height))
        }
        guard index == prototype.count else { throw CLIError("the full video has \(index) frames, its prototype \(prototype.count)") }
        return (sharp / Double(picks.count), bicubic / Double(picks.count))
    }
}

extension VideoReader {
    /// Every frame, in order.
    func allFrames() throws -> [RGBFrame] {
        var frames: [RGBFrame] = []
        try forEachFrame { frames.append($0) }
        return frames
    }
}

extension RGBFrame {
    /// The frame scaled to fit a `side`×`side` square, centered on black.
    func letterboxed(side: Int) throws -> RGBFrame {
        let scale = Double(side) / Double(max(width, height))
        let w = max(1, Int((Double(width) * scale).rounded())), h = max(1, Int((Double(height) * scale).rounded()))
        let small = try resized(width: w, height: h)
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        let x0 = (side - w) / 2, y0 = (side - h) / 2
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { pixels[3 * ((y0 + y) * side + x0 + x) + c] = small.pixels[3 * (y * w + x) + c] }
            }
        }
        return try RGBFrame(width: side, height: side, pixels: pixels)
    }
}
