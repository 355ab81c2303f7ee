import ArgumentParser
import Foundation
import TesseraFarm

extension BenchCommand {
    struct Upload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "upload",
            abstract: "Upload speed to an S3-compatible server: Tessera against curl --aws-sigv4, same file, same run.",
            discussion: """
                Writes a file of --size-mib MiB of pseudo-random bytes, then uploads it with Tessera (multipart, parts \
                in parallel), with Tessera as one PUT, and with curl --aws-sigv4, rotating which goes first, --repeats \
                times. Each upload runs in its own process, timed from start to exit, its peak RSS taken from wait4. \
                The server is TESSERA_S3_ENDPOINT when set (bucket TESSERA_S3_BUCKET, created if missing), else a \
                private SeaweedFS (weed mini) on 127.0.0.1 started and stopped by the benchmark. Figures are medians; \
                each ratio is the median of per-repeat curl/Tessera time ratios (above 1: Tessera is faster). \
                Progress goes to standard error.
                """)

        @Option(help: "File size in MiB.")
        var sizeMib: Int = 256

        @Option(help: "Uploads per side; figures are medians.")
        var repeats: Int = 5

        @Option(help: "Tessera's part size in MiB.")
        var partSizeMib: Int = 16

        @Option(help: "Tessera's parts in flight at once.")
        var parallel: Int = 4

        @Option(help: "The weed binary for the private server (default: .venv/bin/weed of the source tree).")
        var weed: String?

        @OptionGroup var output: OutputOptions

        func run() throws {
            let report: UploadBenchmarkReport
            do {
                let options = try UploadBenchmarkOptions(sizeMiB: sizeMib, repeats: repeats, partSizeMiB: partSizeMib, parallelParts: parallel)
                let benchmark = UploadBenchmark(
                    options: options, configuration: CLIContext.configuration(), tesseraExecutable: try TesseraExecutable.path(),
                    weed: weed ?? Self.findWeed())
                report = try benchmark.run { line in FileHandle.standardError.write(Data(("bench: " + line + "\n").utf8)) }
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("\(error)")
            }
            if output.json { return try printJSON(report) }
            print(Self.render(report))
        }

        /// `.venv/bin/weed` in a folder above the executable (the source tree), or in the current folder.
        static func findWeed() -> String? {
            var directory = URL(fileURLWithPath: (try? TesseraExecutable.path()) ?? "/").deletingLastPathComponent()
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent(".venv/bin/weed").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let local = FileManager.default.currentDirectoryPath + "/.venv/bin/weed"
            return FileManager.default.isExecutableFile(atPath: local) ? local : nil
        }

        static func render(_ report: UploadBenchmarkReport) -> String {
            var table = Table(["SIDE", "MEDIAN S", "MB/S", "VS CURL", "PROCESS S", "VS CURL (PROCESS)", "CPU S", "PEAK RSS", "HOW"])
            table.maxWidth = 70
            for side in report.sides {
                table.add([
                    side.name, String(format: "%.2f", side.medianSeconds), String(format: "%.0f", side.medianMBps),
                    side.medianRatio.map { String(format: "%.2f×", $0) } ?? "-", String(format: "%.2f", side.medianWallSeconds),
                    side.medianWallRatio.map { String(format: "%.2f×", $0) } ?? "-", String(format: "%.2f", side.medianCPUSeconds),
                    megabytes(side.medianPeakRSSBytes), side.how,
                ])
            }
            var lines = [
                "Upload of \(report.fileBytes >> 20) MiB (\(report.fileBytes) bytes), median of \(report.options.repeats) run(s) per side, "
                    + "each in its own process.",
                "MEDIAN S is the transfer as the uploader timed it (Tessera around put, curl's time_total); PROCESS S is start to exit.",
                "Server: \(report.server). Baseline: \(report.curlVersion). Tessera links libcurl \(report.libcurl).",
                "VS CURL is the median of the per-repeat ratios curl time / side time (above 1: faster than curl). MB/s = 10^6 bytes/s.",
                "CPU S is the uploading process's user + system time (the client's own cost). PEAK RSS is VmHWM, sampled every 2 ms.",
            ]
            if let load = report.loadAverage {
                lines.append(String(format: "Load average (1 min) at start and end: %.1f, %.1f.", load[0], load[1]))
            }
            lines += ["", table.render(), "", "Per-repeat ratios (curl time / side time), in repeat order:"]
            for side in report.sides {
                guard let ratios = side.ratios else { continue }
                lines.append("  \(side.name): " + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// One Tessera upload (the benchmark's child): the store comes from the environment, as in production.
    struct UploadCase: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "upload-case", abstract: "One upload (used by bench upload).", shouldDisplay: false)

        @Argument var file: String
        @Argument var key: String
        @Option var partSizeMib: Int = 16
        @Option var parallel: Int = 4
        @Option var thresholdMib: Int = 16

        func run() throws {
            do {
                let seconds = try UploadBenchmark.uploadCase(
                    configuration: CLIContext.configuration(), file: file, key: key, partSizeMiB: partSizeMib, parallel: parallel,
                    thresholdMiB: thresholdMib)
                print(String(format: "{\"seconds\": %.6f}", seconds))
            } catch {
                throw CLIError("\(error)")
            }
        }
    }
}
