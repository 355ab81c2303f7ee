import ArgumentParser
import Foundation
import TesseraFarm
import TesseraModels
import TesseraTensor

extension BenchCommand {
    struct DiT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dit",
            abstract: "The DiT forward: GFLOP/s against this machine's cblas_sgemm peak, and speed and memory against numpy.",
            discussion: """
                Writes deterministic random weights for the small preset, then runs each grid in a child process \
                (so each peak RSS is its own) and the numpy reference (reference/bench_dit.py) on the same weights \
                and inputs. Before each forward the child measures the cblas_sgemm peak (2048³, best of 3), and \
                each forward's share is taken against the peak just before it; the table quotes medians. Cases: \
                a 5 s prototype at 512x288, a 1920x1088 image, 5 s at 1920x1088 (31 latent frames, factorized \
                attention).
                """)

        @Option(help: "Threads for kernels and OpenBLAS.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Skip the numpy reference (faster).")
        var noNumpy = false

        @Flag(help: "Only the prototype and image cases (skips the 5 s 1920x1088 forward).")
        var quick = false

        @Option(help: "Keep the weights and inputs in this folder (to profile a case with `tessera bench dit-case`).")
        var keep: String?

        @Flag(help: "Run each case in the tessera binary itself (`bench dit-case`, which also maps libav, libcurl and libpq) instead of tessera-dit-case, which links the engine alone.")
        var cliChild = false

        @OptionGroup var output: OutputOptions

        func run() throws {
            Compute.setThreads(threads)
            let folder = keep.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-dit-\(getpid())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { if keep == nil { try? FileManager.default.removeItem(at: folder) } }
            let config = DiTConfig.small
            try DiTBenchmark.writeWeights(config: config, folder: folder)
            let (executable, prefix) = try caseRunner()
            note("each case runs in \(executable) \(prefix.joined(separator: " "))")
            var rows: [DiTBenchmark.Row] = []
            let cases = quick ? Array(DiTBenchmark.standardCases.prefix(2)) : DiTBenchmark.standardCases
            for (index, benchCase) in cases.enumerated() {
                let inputs = folder.appendingPathComponent("case\(index).safetensors").path
                try DiTBenchmark.writeInputs(benchCase, config: config, to: inputs)
                note("\(benchCase.name): \(benchCase.tokens) tokens, \(benchCase.layoutName) attention, tessera, \(benchCase.repeats) forwards each after an sgemm peak …")
                let tessera = try child(
                    executable, prefix + [folder.path, inputs, "\(benchCase.repeats)", "--threads", "\(threads)", "--peak"])
                var numpy: DiTBenchmark.Measurement?
                if benchCase.numpy && !noNumpy {
                    note("\(benchCase.name): numpy reference …")
                    numpy = try child("/usr/bin/env", ["python3", try referenceScript(), folder.path, inputs, "\(benchCase.numpyRepeats)"])
                }
                let row = try DiTBenchmark.row(benchCase, config: config, tessera: tessera, numpy: numpy)
                note(String(format: "%@: shares %@ against peaks %@ GFLOP/s", benchCase.name,
                            row.shares.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: " "),
                            (tessera.sgemmGflops ?? []).map { String(format: "%.0f", $0) }.joined(separator: " ")))
                rows.append(row)
            }
            let peaks = rows.map(\.sgemmGflops)
            let report = DiTBenchmark.Report(threads: threads, sgemmGflops: DiTBenchmark.median(peaks), config: config, rows: rows)
            if output.json { return try printJSON(report) }
            print(String(format: "DiT forward, small preset (%d blocks, width %d, float16 weights), %d thread(s); cblas_sgemm peak measured before each forward, case medians %@ GFLOP/s; cases in %@", config.depth, config.hidden, threads, peaks.map { String(format: "%.1f", $0) }.joined(separator: ", "), URL(fileURLWithPath: executable).lastPathComponent))
            var table = Table(["CASE", "TOKENS", "ATTN", "GFLOP", "SECONDS", "GFLOP/S", "SGEMM PEAK", "OF PEAK", "PEAK RSS", "NUMPY S", "SPEED×", "NUMPY RSS", "MEMORY", "LOADED", "NUMPY LOADED", "WORKING MEM"])
            table.maxWidth = 40
            for row in rows {
                table.add([
                    row.name, "\(row.tokens)", row.layout, String(format: "%.0f", row.gflop), String(format: "%.2f", row.seconds),
                    String(format: "%.1f", row.gflopsPerSecond), String(format: "%.1f", row.sgemmGflops), String(format: "%.0f%%", row.shareOfPeak * 100), megabytes(row.peakRSSBytes),
                    row.numpySeconds.map { String(format: "%.2f", $0) } ?? "-", row.speedRatio.map { String(format: "%.1f×", $0) } ?? "-",
                    row.numpyPeakRSSBytes.map(megabytes) ?? "-", row.memoryRatio.map { String(format: "%.2f", $0) } ?? "-",
                    row.loadedRSSBytes.map(megabytes) ?? "-", row.numpyLoadedRSSBytes.map(megabytes) ?? "-",
                    row.workingMemoryRatio.map { String(format: "%.2f", $0) } ?? "-",
                ])
            }
            print(table.render())
        }

        /// The process each case runs in: tessera-dit-case beside this binary (the engine alone), or this
        /// binary's `bench dit-case` when asked or when that is missing.
        func caseRunner() throws -> (String, [String]) {
            let executable = try TesseraExecutable.path()
            let lean = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("tessera-dit-case").path
            if !cliChild && FileManager.default.isExecutableFile(atPath: lean) { return (lean, []) }
            return (executable, ["bench", "dit-case"])
        }

        func note(_ text: String) {
            FileHandle.standardError.write(Data("==> \(text)\n".utf8))
        }

        func child(_ executable: String, _ arguments: [String]) throws -> DiTBenchmark.Measurement {
            let (status, text) = try ChildProcess.run(executable, arguments)
            guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                let measurement = try? JSONDecoder().decode(DiTBenchmark.Measurement.self, from: Data(line.utf8))
            else { throw CLIError("\(executable) \(arguments.first ?? "") failed (\(status)):\n\(text)") }
            return measurement
        }

        func referenceScript() throws -> String {
            var directory = URL(fileURLWithPath: try TesseraExecutable.path()).deletingLastPathComponent()
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("reference/bench_dit.py").path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let local = FileManager.default.currentDirectoryPath + "/reference/bench_dit.py"
            guard FileManager.default.fileExists(atPath: local) else { throw CLIError("reference/bench_dit.py not found; run from the source tree or pass --no-numpy") }
            return local
        }
    }

    /// One case in this process (the benchmark's child): prints a JSON measurement.
    struct DiTCase: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dit-case", abstract: "One DiT benchmark case (used by bench dit).", shouldDisplay: false)

        @Argument var weights: String
        @Argument var inputs: String
        @Argument var repeats: Int
        @Option var threads: Int = 1
        @Flag var peak = false

        func run() throws {
            print(try DiTForwardCase.main(arguments: [weights, inputs, "\(repeats)", "--threads", "\(threads)"] + (peak ? ["--peak"] : [])))
        }
    }
}

/// "1.23 GiB" / "456 MiB".
func megabytes(_ bytes: Int) -> String {
    bytes >= 1 << 30 ? String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) : String(format: "%.0f MiB", Double(bytes) / Double(1 << 20))
}

/// The running tessera binary's path (for child processes).
enum TesseraExecutable {
    static func path() throws -> String {
        let path = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw CLIError("cannot find the tessera executable") }
        return path
    }
}
