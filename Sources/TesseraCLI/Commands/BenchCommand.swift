import ArgumentParser
import Foundation
import TesseraFarm

/// `tessera bench`: benchmarks whose figures go into docs/PERFORMANCE.md. Not tests: they measure, and
/// quote each figure against a baseline measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure parts of the farm against a baseline run on the same machine (see docs/PERFORMANCE.md).",
        subcommands: [
            Queue.self, DiT.self, DiTCase.self, TrainStep.self, Encode.self, EncodeCase.self, Upload.self, UploadCase.self, VAEBench.self,
            VAECase.self,
        ])

    struct Queue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "No-op jobs claimed and completed per second, against pgbench running the same SQL.",
            discussion: """
                Creates a scratch database (tessera_bench_<pid>) on the configured or embedded server, migrates it, \
                and for each worker count seeds no-op jobs and runs Tessera workers (one thread, connection and \
                registered worker each, claim limit 1 then complete) and pgbench with as many clients running the \
                same claim_jobs/complete_job calls, back to back on the same freshly seeded queue. Figures are \
                medians over the repeats; the ratio is the median of the per-repeat Tessera/pgbench ratios. The \
                scratch database is dropped at the end, also on error or Ctrl-C. Progress goes to standard error.
                """)

        @Option(help: "Comma-separated counts of concurrent workers.")
        var workers: String = "1,2,8,64"

        @Option(help: "Workers in the claim-latency run (0 skips it).")
        var latencyWorkers: Int = 200

        @Option(help: "Seconds per timed run.")
        var seconds: Int = 5

        @Option(help: "Runs of each configuration and side; figures are medians.")
        var repeats: Int = 3

        @Option(help: "Jobs seeded before each run, at least (more when earlier runs show they would run out).")
        var jobs: Int = 10_000

        @Option(help: "pgbench query protocol: simple, extended (what tessera's libpq calls use) or prepared.")
        var pgbenchProtocol: String = "simple"

        @OptionGroup var output: OutputOptions

        func run() throws {
            let counts = try workers.split(separator: ",").map { text -> Int in
                guard let count = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw CLIError("--workers takes numbers separated by commas, like 1,2,8,64")
                }
                return count
            }
            let report: QueueBenchmarkReport
            do {
                let options = try QueueBenchmarkOptions(
                    workers: counts, latencyWorkers: latencyWorkers, seconds: seconds, repeats: repeats, jobs: jobs,
                    pgbenchProtocol: pgbenchProtocol)
                let benchmark = QueueBenchmark(database: try CLIContext.database(), options: options)
                report = try benchmark.run { line in
                    FileHandle.standardError.write(Data(("bench: " + line + "\n").utf8))
                }
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("\(error)")
            }
            if output.json { return try printJSON(report) }
            print(Self.render(report))
        }

        /// The human summary: one row per worker count, then the latency line.
        static func render(_ report: QueueBenchmarkReport) -> String {
            let options = report.options
            var table = Table(["WORKERS", "TESSERA JOBS/S", "PGBENCH TPS", "RATIO", "CLAIM P50", "CLAIM P99"])
            for row in report.rows {
                table.add([
                    "\(row.workers)" + (row.latencyRun ? " (latency run)" : ""),
                    String(format: "%.0f", row.tesseraJobsPerSecond), String(format: "%.0f", row.pgbenchTPS),
                    String(format: "%.2f", row.ratio) + (row.ratio >= report.goal ? "" : " *"),
                    String(format: "%.2f ms", row.claimP50Ms), String(format: "%.2f ms", row.claimP99Ms),
                ])
            }
            var lines = [
                "Queue: no-op jobs claimed (limit 1) and completed per second; \(options.seconds) s per run, "
                    + "median of \(options.repeats) run(s); PostgreSQL \(report.serverVersion) (\(report.server) server).",
                "Baseline: \(report.pgbenchVersion), the same claim_jobs/complete_job calls, -M \(options.pgbenchProtocol), "
                    + "same server, same run.",
                "RATIO is the median of the per-repeat Tessera/pgbench ratios (each pair run back to back), not the "
                    + "quotient of the two median columns.",
            ]
            if let load = report.loadAverage {
                lines.append(String(format: "Load average (1 min) at start and end: %.1f, %.1f.", load[0], load[1]))
            }
            lines += ["", table.render()]
            if let latency = report.rows.first(where: \.latencyRun) {
                lines.append("")
                lines.append(String(
                    format: "Claim latency with %d concurrent workers: p50 %.2f ms, p99 %.2f ms (median of %d runs).",
                    latency.workers, latency.claimP50Ms, latency.claimP99Ms, latency.pairs.count))
            }
            if report.rows.contains(where: { $0.ratio < report.goal }) {
                lines.append(String(format: "* below the goal of %.0f%% of pgbench.", report.goal * 100))
            }
            return lines.joined(separator: "\n")
        }
    }
}
