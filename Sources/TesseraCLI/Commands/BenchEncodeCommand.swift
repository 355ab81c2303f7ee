import ArgumentParser
import Foundation
import TesseraFarm

extension BenchCommand {
    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encode",
            abstract: "H.264 encode frames per second of Tessera's VideoWriter against the ffmpeg command line, same frames and settings.",
            discussion: """
                Writes deterministic synthetic RGB frames (TestPattern) raw to a temporary folder, then for each preset \
                and repeat encodes them with Tessera (a child process: tessera bench encode-case) and with `ffmpeg -f rawvideo \
                ... -vf scale=out_color_matrix=bt709:out_range=tv -c:v libx264 -preset P -crf C -pix_fmt yuv420p -profile:v high \
                -threads T (BT.709 tags) -movflags +faststart`, back to back, alternating which goes first. Figures are \
                medians; the ratio is the median of the per-pair ratios (Tessera fps / ffmpeg fps). ffmpeg's time is its \
                own -benchmark rtime (process start-up excluded).
                """)

        @Option(help: "Frame width.") var width = 1920
        @Option(help: "Frame height.") var height = 1080
        @Option(help: "Frames per encode.") var frames = 48
        @Option(help: "Frames per second written into both files.") var fps = 24
        @Option(help: "libx264 CRF, both sides.") var crf = 18.0
        @Option(help: "Comma-separated libx264 presets.") var presets = "medium"
        @Option(help: "libx264 threads, both sides.") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "Encodes of each side per preset; figures are medians.") var repeats = 5
        @Option(help: "Keep the raw frames and outputs in this folder.") var keep: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let report: EncodeBenchmark.Report
            do {
                let presetList = try presets.split(separator: ",").map { name -> EncodeBenchmark.Preset in
                    guard let preset = EncodeBenchmark.Preset(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw CLIError("unknown preset \(name); one of \(EncodeBenchmark.Preset.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return preset
                }
                let options = try EncodeBenchmark.Options(
                    width: width, height: height, frames: frames, frameRate: fps, crf: crf, presets: presetList, threads: threads, repeats: repeats)
                let folder = keep.map { URL(fileURLWithPath: $0) }
                    ?? FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-encode-\(getpid())")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { if keep == nil { try? FileManager.default.removeItem(at: folder) } }
                let executable = try TesseraExecutable.path()
                report = try EncodeBenchmark.run(options, folder: folder, tessera: { raw, out, preset in
                    let arguments = [
                        "bench", "encode-case", raw, out, "--width", "\(width)", "--height", "\(height)", "--frames", "\(frames)", "--fps", "\(fps)",
                        "--crf", "\(crf)", "--preset", preset.rawValue, "--threads", "\(threads)",
                    ]
                    let (status, text) = try ChildProcess.run(executable, arguments)
                    guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                        let measurement = try? JSONDecoder().decode(EncodeBenchmark.Measurement.self, from: Data(line.utf8))
                    else { throw CLIError("tessera bench encode-case failed (\(status)):\n\(text)") }
                    return measurement
                }, progress: { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) })
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("\(error)")
            }
            if output.json { return try printJSON(report) }
            print(Self.render(report))
        }

        static func render(_ report: EncodeBenchmark.Report) -> String {
            let o = report.options
            var lines = [
                "Encode: \(o.frames) frames \(o.width)x\(o.height) RGB24 → H.264 (libx264 High, yuv420p, CRF \(String(format: "%g", o.crf)), "
                    + "+faststart), \(o.threads) encoder thread(s), median of \(o.repeats) pair(s); \(report.libav).",
                "Baseline: \(report.ffmpegVersion), same raw frames, same run: \(report.ffmpegCommand)",
                "RATIO is the median of the per-pair ratios (Tessera fps / ffmpeg fps), each pair run back to back; CPU RATIO the same "
                    + "in CPU seconds (ffmpeg / Tessera).",
            ]
            if let load = report.loadAverage { lines.append(String(format: "Load average (1 min) at start and end: %.1f, %.1f.", load[0], load[1])) }
            var table = Table([
                "PRESET", "TESSERA FPS", "FFMPEG FPS", "RATIO", "PAIR RATIOS", "CPU RATIO", "TESSERA RSS", "FFMPEG RSS", "TESSERA MB", "FFMPEG MB",
            ])
            table.maxWidth = 60
            for row in report.rows {
                let last = row.pairs.last
                table.add([
                    row.preset.rawValue, String(format: "%.2f", row.tesseraFPS), String(format: "%.2f", row.ffmpegFPS),
                    String(format: "%.3f", row.ratio) + (row.ratio >= report.goal ? "" : " *"),
                    row.pairs.map { String(format: "%.2f", $0.ratio) }.joined(separator: " "), String(format: "%.3f", row.cpuRatio),
                    megabytes(row.tesseraPeakRSSBytes), megabytes(row.ffmpegPeakRSSBytes),
                    last.map { String(format: "%.2f", Double($0.tessera.outputBytes) / 1e6) } ?? "-",
                    last.map { String(format: "%.2f", Double($0.ffmpeg.outputBytes) / 1e6) } ?? "-",
                ])
            }
            lines += ["", table.render()]
            if let row = report.rows.first(where: { !$0.sameSize }) {
                lines.append("Note: the \(row.preset.rawValue) outputs differ in size, so the two sides did not encode the same picture.")
            }
            if report.rows.contains(where: { $0.ratio < report.goal }) {
                lines.append(String(format: "* below the goal of %.0f%% of ffmpeg's frame rate.", report.goal * 100))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// One Tessera encode in this process (the benchmark's child): prints a JSON measurement.
    struct EncodeCase: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "encode-case", abstract: "One Tessera encode (used by bench encode).", shouldDisplay: false)

        @Argument var raw: String
        @Argument var output: String
        @Option var width = 1920
        @Option var height = 1080
        @Option var frames = 48
        @Option var fps = 24
        @Option var crf = 18.0
        @Option var preset = "medium"
        @Option var threads = 2

        func run() throws {
            guard let preset = EncodeBenchmark.Preset(rawValue: preset) else { throw CLIError("unknown preset \(preset)") }
            let options = try EncodeBenchmark.Options(
                width: width, height: height, frames: frames, frameRate: fps, crf: crf, presets: [preset], threads: threads, repeats: 1)
            let measurement = try EncodeBenchmark.measureTessera(raw: raw, output: output, options: options, preset: preset)
            print(String(decoding: try JSONEncoder().encode(measurement), as: UTF8.self))
        }
    }
}
