import ArgumentParser
import Foundation
import TesseraFarm
import TesseraModels
import TesseraTensor

/// Tile options shared by `bench vae` and its child.
struct TileOptions: ParsableArguments {
    @Option(help: "Largest tile side, latent pixels.")
    var tileSize: Int = TileSettings.standard.height

    @Option(help: "Least overlap between tiles, latent pixels.")
    var tileOverlap: Int = TileSettings.standard.overlap

    @Option(help: "Latent pixels at each inner tile edge given no blending weight.")
    var tileMargin: Int = TileSettings.standard.margin

    @Flag(help: "Decode each frame as one tile.")
    var untiled = false

    func settings() throws -> TileSettings {
        if untiled { return .none }
        do { return try TileSettings(height: tileSize, width: tileSize, overlap: tileOverlap, margin: tileMargin) } catch { throw CLIError("\(error)") }
    }

    var arguments: [String] {
        untiled ? ["--untiled"] : ["--tile-size", "\(tileSize)", "--tile-overlap", "\(tileOverlap)", "--tile-margin", "\(tileMargin)"]
    }
}

extension BenchCommand {
    struct VAEBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae",
            abstract: "Streamed, tiled VAE decoding of 1920x1088 video: wall time, seconds per frame and peak RSS.",
            discussion: """
                Measures the sgemm peak (2048³, best of 5) first, then decodes each case in a child process (so each \
                peak RSS is its own): random weights of the --preset (small unless named), a Philox latent read one latent frame at a \
                time, streamed and tiled decoding into a sink that drops the frames. Default cases: 121 and 241 \
                frames of 1920x1088 (the same peak RSS is the goal); --quick: 9 and 17 frames.
                """)

        @Option(help: "Threads for kernels.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "Comma-separated frame counts (1 + 4k), instead of the default cases.")
        var frames: String?

        @Option(help: "Frame height, pixels (a multiple of 16).")
        var height: Int = 1088

        @Option(help: "Frame width, pixels (a multiple of 16).")
        var width: Int = 1920

        @Flag(help: "9 and 17 frames instead of 121 and 241.")
        var quick = false

        @Option(help: "VAE preset: small (16×, the figures in docs/PERFORMANCE.md) or world (8×, the default model's).")
        var preset = "small"
        @Option(help: "The decoder's temporal upsampling: repeat (the presets') or split (docs/MODEL.md, session 16).")
        var temporalUpsampling = "repeat"
        @OptionGroup var tile: TileOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            Compute.setThreads(threads)
            let config = try VAEBenchmark.config(preset: preset, temporalUpsampling: temporalUpsampling)
            let tileSettings = try tile.settings()
            var cases = quick ? VAEBenchmark.quickCases : VAEBenchmark.standardCases
            if let frames {
                cases = try frames.split(separator: ",").map { text in
                    guard let count = Int(text.trimmingCharacters(in: .whitespaces)), config.latentFrames(forFrames: count) != nil else {
                        throw CLIError("--frames takes counts of the form 1 + 4k separated by commas, like 121,241")
                    }
                    return VAEBenchmark.Case(frames: count, height: height, width: width)
                }
            } else {
                cases = cases.map { VAEBenchmark.Case(frames: $0.frames, height: height, width: width) }
            }
            let startLoad = VAEBenchmark.loadAverage()
            note("measuring the cblas_sgemm peak with \(threads) thread(s)")
            let peak = BLAS.peakGflops()
            note(String(format: "sgemm peak %.1f GFLOP/s", peak))
            let executable = try TesseraExecutable.path()
            var rows: [VAEBenchmark.Row] = []
            for benchCase in cases {
                note("\(benchCase.name) …")
                let arguments = ["bench", "vae-case", "\(benchCase.frames)", "\(benchCase.height)", "\(benchCase.width)", "--threads", "\(threads)", "--preset", preset, "--temporal-upsampling", temporalUpsampling] + tile.arguments
                let (status, text) = try ChildProcess.run(executable, arguments)
                guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                    let measurement = try? JSONDecoder().decode(VAEBenchmark.Measurement.self, from: Data(line.utf8))
                else { throw CLIError("tessera bench vae-case failed (\(status)):\n\(text)") }
                rows.append(VAEBenchmark.row(benchCase, config: config, peak: peak, measurement))
                note(String(format: "%.1f s, %.2f s/frame, peak RSS %@", measurement.seconds, rows.last!.secondsPerFrame, megabytes(measurement.peakRSSBytes)))
            }
            let endLoad = VAEBenchmark.loadAverage()
            let load = startLoad.flatMap { s in endLoad.map { [s[0], $0[0]] } }
            let report = VAEBenchmark.Report(threads: threads, sgemmGflops: peak, config: config, tile: tileSettings, loadAverage: load, rows: rows)
            if output.json { return try printJSON(report) }
            let tiles = tileSettings == .none ? "untiled" : "tiles ≤ \(tileSettings.height)×\(tileSettings.width) latent px, overlap \(tileSettings.overlap), margin \(tileSettings.margin)"
            print(String(format: "VAE decode, \(preset) preset, \(temporalUpsampling) upsampling (%.0fK MACs/pixel, %.2fM parameters), streamed, %@; %d thread(s); cblas_sgemm peak %.1f GFLOP/s",
                         report.macsPerPixel / 1000, Double(report.parameters) / 1e6, tiles, threads, peak))
            if let load { print(String(format: "Load average (1 min) at start and end: %.1f, %.1f.", load[0], load[1])) }
            var table = Table(["CASE", "LATENT", "TILES", "SECONDS", "S/FRAME", "CPU S/FRAME", "FIRST FRAME", "GMAC/S", "OF PEAK", "PEAK RSS", "RSS ¼ ½ END", "CACHES"])
            for row in rows {
                table.add([
                    row.name, "\(row.latentFrames)×\(row.height / config.spatialFactor)×\(row.width / config.spatialFactor)", "\(row.tiles)", String(format: "%.1f", row.seconds),
                    String(format: "%.3f", row.secondsPerFrame), String(format: "%.3f", row.cpuSecondsPerFrame), String(format: "%.2f s", row.firstFrameSeconds),
                    String(format: "%.1f", row.gmacsPerSecond), String(format: "%.0f%%", row.shareOfPeak * 100), megabytes(row.peakRSSBytes),
                    row.residentQuartersBytes.map { String($0 >> 20) }.joined(separator: " "), megabytes(row.cacheBytes),
                ])
            }
            print(table.render())
            if let last = rows.last {
                print("\nPer stage, \(last.name): process CPU seconds (all threads) and nominal multiply-adds per CPU second")
                var stages = Table(["STAGE", "MACS/PIXEL", "CPU S", "SHARE", "GMAC/CPU-S"])
                let total = last.stages.reduce(0) { $0 + $1.cpuSeconds }
                for stage in last.stages {
                    stages.add([
                        stage.name, String(format: "%.0f", stage.macsPerPixel), String(format: "%.1f", stage.cpuSeconds),
                        String(format: "%.0f%%", 100 * stage.cpuSeconds / max(total, 1e-9)),
                        stage.macsPerPixel > 0 ? String(format: "%.1f", stage.gmacsPerCPUSecond) : "-",
                    ])
                }
                print(stages.render())
            }
        }

        func note(_ text: String) {
            FileHandle.standardError.write(Data("==> \(text)\n".utf8))
        }
    }

    /// One case in this process (the benchmark's child): prints a JSON measurement.
    struct VAECase: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vae-case", abstract: "One VAE benchmark case (used by bench vae).", shouldDisplay: false)

        @Argument var frames: Int
        @Argument var height: Int
        @Argument var width: Int
        @Option var threads: Int = 1
        @Option var preset = "small"
        @Option var temporalUpsampling = "repeat"
        @OptionGroup var tile: TileOptions

        func run() throws {
            Compute.setThreads(threads)
            let config = try VAEBenchmark.config(preset: preset, temporalUpsampling: temporalUpsampling)
            let measurement = try VAEBenchmark.measure(.init(frames: frames, height: height, width: width), config: config, tile: try tile.settings())
            print(String(decoding: try JSONEncoder().encode(measurement), as: UTF8.self))
        }
    }
}

extension VAEBenchmark {
    /// The preset by name with the decoder's temporal upsampling set; the error names a bad value.
    static func config(preset: String, temporalUpsampling: String) throws -> VAEConfig {
        guard var config = VAEConfig.preset(preset) else { throw CLIError("--preset must be small or world, not \(preset)") }
        config.temporalUpsampling = try .option(temporalUpsampling)
        return config
    }
}

extension VAEConfig.TemporalUpsampling {
    /// The value of a `--temporal-upsampling` option (`train vae`, `bench vae`); the error names a bad one.
    static func option(_ text: String) throws -> Self {
        guard let value = Self(rawValue: text) else { throw CLIError("--temporal-upsampling must be repeat or split, not \(text)") }
        return value
    }
}
