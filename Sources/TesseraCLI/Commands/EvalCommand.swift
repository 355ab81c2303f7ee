import ArgumentParser
import Foundation
import TesseraMedia
import TesseraTensor
import TesseraWorld

/// `tessera eval`: read a video back and score how well it follows its caption (docs/WORLD.md, "Evaluator").
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score how well a video follows its caption: objects, colours, shapes, sizes, places, motion, background.",
        discussion: """
            VIDEO is a raw video written by `tessera world render` (its folder, its video.json or its frames.rgb). \
            With --reference, also reports the PSNR of VIDEO against REFERENCE (for a VAE reconstruction). \
            --batch FILE reads JSON Lines of {"video": PATH, "caption": TEXT, "reference": PATH (optional)}, \
            paths relative to the file's folder; the whole file is checked before any video is read.
            """)

    @Argument(help: "The video to score.")
    var video: String?

    @Option(help: "The caption (or prompt expansion) the video should follow.")
    var caption: String?

    @Option(help: "A video to compare against for PSNR.")
    var reference: String?

    @Option(help: "A JSON Lines file of video/caption pairs.")
    var batch: String?

    @Flag(help: "Print every fact, not only the missed ones.")
    var verbose = false

    @OptionGroup var output: OutputOptions

    struct Result: Encodable {
        var line: Int?
        var video: String
        var report: EvaluationReport
        /// PSNR in dB against the reference; absent (with `identical` true) when the frames are equal.
        var psnr: Double?
        var identical: Bool?

        init(line: Int?, video: String, report: EvaluationReport, psnr: Double?) {
            self.line = line
            self.video = video
            self.report = report
            self.psnr = psnr.flatMap { $0.isFinite ? $0 : nil }
            self.identical = psnr.map { !$0.isFinite }
        }
    }

    struct BatchSummary: Encodable {
        var videos: Int
        var meanScore: Double
        var meanPSNR: Double?
        /// Facts of each kind the videos show, over the batch.
        var facts: [FactTally]
        var results: [Result]
    }

    func run() throws {
        let pairs: [EvaluationPair]
        if let batch {
            guard video == nil, caption == nil, reference == nil else {
                throw CLIError("--batch takes its videos and captions from the file; give no VIDEO, --caption or --reference")
            }
            let url = URL(fileURLWithPath: batch)
            guard let data = FileManager.default.contents(atPath: url.path) else { throw CLIError("cannot read \(batch)") }
            do {
                pairs = try EvaluationBatch.parse(data, folder: url.deletingLastPathComponent())
            } catch {
                throw CLIError("\(batch):\n\(error)")
            }
        } else {
            guard let video, let caption else { throw CLIError("give VIDEO and --caption TEXT, or --batch FILE") }
            pairs = [EvaluationPair(
                line: 0, video: URL(fileURLWithPath: video), caption: caption, reference: reference.map { URL(fileURLWithPath: $0) })]
        }
        var results: [Result] = []
        for pair in pairs {
            do {
                var source = try openVideo(pair.video)
                let report = try Evaluator().evaluate(&source, caption: pair.caption)
                var psnrValue: Double?
                if let reference = pair.reference {
                    psnrValue = try psnr(pair.video, reference)
                }
                results.append(Result(line: batch == nil ? nil : pair.line, video: pair.video.path, report: report, psnr: psnrValue))
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError((batch == nil ? "" : "line \(pair.line): ") + "\(pair.video.path): \(error)")
            }
        }
        let mean = results.map(\.report.score).reduce(0, +) / Double(results.count)
        let psnrs = results.compactMap(\.psnr)  // finite ones: identical pairs have no PSNR to average
        let meanPSNR = psnrs.isEmpty ? nil : psnrs.reduce(0, +) / Double(psnrs.count)
        let facts = FactTally.tally(results.flatMap(\.report.facts))
        if output.json {
            if batch == nil { return try printJSON(results[0]) }
            return try printJSON(BatchSummary(videos: results.count, meanScore: mean, meanPSNR: meanPSNR, facts: facts, results: results))
        }
        for result in results {
            let report = result.report
            print(String(format: "%@: %.1f%% (%d of %d facts)", result.video, report.score * 100, report.satisfied, report.total)
                  + (result.psnr.map { String(format: ", PSNR %.2f dB", $0) } ?? "")
                  + (result.identical == true ? ", identical to the reference" : ""))
            var table = Table(["FACT", "EXPECTED", "OBSERVED", "OK"])
            for fact in report.facts where verbose || !fact.satisfied {
                table.add([fact.fact, fact.expected, fact.observed, fact.satisfied ? "yes" : "NO"])
            }
            if !table.rows.isEmpty { print(table.render()) }
        }
        if batch != nil {
            print(String(format: "mean score %.1f%% over %d videos", mean * 100, results.count)
                  + (meanPSNR.map { String(format: ", mean PSNR %.2f dB", $0) } ?? ""))
            if !facts.isEmpty { print("facts by kind: " + FactTally.describe(facts)) }
        }
    }

    /// PSNR of two videos read frame by frame.
    func psnr(_ a: URL, _ b: URL) throws -> Double {
        var first = try openVideo(a), second = try openVideo(b)
        guard first.width == second.width, first.height == second.height else {
            throw CLIError("\(a.path) and \(b.path) differ in size")
        }
        var accumulator = PSNRAccumulator()
        while true {
            let x = try first.nextFrame(), y = try second.nextFrame()
            if x == nil && y == nil { break }
            guard let x, let y else { throw CLIError("\(a.path) and \(b.path) differ in length") }
            accumulator.add(x, y)
        }
        return accumulator.psnr
    }

    /// Opens a video for reading: a raw video from `tessera world render`, or anything libavformat opens.
    func openVideo(_ url: URL) throws -> any FrameSource {
        if url.pathExtension.lowercased() != "rgb" && url.pathExtension.lowercased() != "json" && !url.hasDirectoryPath
            && FileManager.default.fileExists(atPath: url.path) && !isDirectory(url)
        {
            return try MediaFrames(reader: VideoReader(url: url))
        }
        return try RawVideoReader(url: url)
    }
}

func isDirectory(_ url: URL) -> Bool {
    var directory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) && directory.boolValue
}

/// A video read with libav as the world's frame source: RGB frames [H, W, 3] in [−1, 1].
struct MediaFrames: FrameSource {
    let reader: VideoReader
    var width: Int { reader.width }
    var height: Int { reader.height }
    var fps: Double { reader.frameRate?.framesPerSecond ?? reader.info.frameRate?.framesPerSecond ?? 24 }

    mutating func nextFrame() throws -> Tensor? {
        guard let frame = try reader.nextFrame() else { return nil }
        return Tensor(shape: [frame.height, frame.width, 3], storage: frame.signedPixels)
    }
}
