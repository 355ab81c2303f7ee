import Foundation
import Synchronization
import TesseraPostgres
import TesseraQueue

/// Settings of the queue benchmark (`tessera bench queue`), validated in `init`.
public struct QueueBenchmarkOptions: Sendable, Codable, Equatable {
    /// Concurrent worker counts to measure, each against pgbench with as many clients. Default 1, 2, 8, 64.
    public var workers: [Int]
    /// Worker count of the claim-latency run (0 skips it). Default 200.
    public var latencyWorkers: Int
    /// Length of each timed run in seconds. Default 5.
    public var seconds: Int
    /// Runs of each configuration and side; figures are medians over them. Default 3.
    public var repeats: Int
    /// Jobs seeded before each run at least; more are seeded when earlier runs show they would run out.
    public var jobs: Int
    /// pgbench's query protocol: `simple` (its default), `extended` (what libpq's PQexecParams and so
    /// `JobQueue` use) or `prepared`.
    public var pgbenchProtocol: String
    /// Lease both sides ask for, in seconds (long enough that no lease expires during a run).
    public var lease: Double

    public init(
        workers: [Int] = [1, 2, 8, 64], latencyWorkers: Int = 200, seconds: Int = 5, repeats: Int = 3, jobs: Int = 10_000,
        pgbenchProtocol: String = "simple", lease: Double = 30
    ) throws {
        guard !workers.isEmpty, workers.allSatisfy({ (1...1000).contains($0) }) else {
            throw BenchmarkError("worker counts must be 1 to 1000")
        }
        guard (0...1000).contains(latencyWorkers) else { throw BenchmarkError("latency workers must be 0 to 1000") }
        guard (1...600).contains(seconds) else { throw BenchmarkError("seconds per run must be 1 to 600") }
        guard (1...50).contains(repeats) else { throw BenchmarkError("repeats must be 1 to 50") }
        guard (100...10_000_000).contains(jobs) else { throw BenchmarkError("jobs per run must be 100 to 10000000") }
        guard ["simple", "extended", "prepared"].contains(pgbenchProtocol) else {
            throw BenchmarkError("the pgbench protocol must be simple, extended or prepared")
        }
        guard lease > Double(seconds) else { throw BenchmarkError("the lease must outlast a run") }
        self.workers = workers
        self.latencyWorkers = latencyWorkers
        self.seconds = seconds
        self.repeats = repeats
        self.jobs = jobs
        self.pgbenchProtocol = pgbenchProtocol
        self.lease = lease
    }
}

/// What `tessera bench queue` measured.
public struct QueueBenchmarkReport: Sendable, Codable {
    /// One repeat of one configuration: Tessera and pgbench back to back on the same freshly seeded queue.
    public struct Pair: Sendable, Codable {
        public var repeatIndex: Int
        public var jobsSeeded: Int
        public var tesseraJobsPerSecond: Double
        public var tesseraCompleted: Int
        public var pgbenchTPS: Double
        public var pgbenchTransactions: Int
        /// tesseraJobsPerSecond / pgbenchTPS.
        public var ratio: Double
        public var claimP50Ms: Double
        public var claimP99Ms: Double
    }

    /// One worker count, summarised over its repeats.
    public struct Row: Sendable, Codable {
        public var workers: Int
        /// Whether this is the claim-latency run (`--latency-workers`).
        public var latencyRun: Bool
        /// Medians over the repeats.
        public var tesseraJobsPerSecond: Double
        public var pgbenchTPS: Double
        /// The median of the per-repeat ratios (each measured back to back).
        public var ratio: Double
        public var claimP50Ms: Double
        public var claimP99Ms: Double
        public var pairs: [Pair]
    }

    public var startedAt: Date
    public var finishedAt: Date
    /// The machine's 1-minute load average when the benchmark started and ended (nil where unknown): a
    /// busy shared machine shows here, and in the spread of the per-repeat pairs.
    public var loadAverage: [Double]?
    public var serverVersion: String
    public var pgbenchVersion: String
    /// "embedded" or "configured" (the server of TESSERA_DATABASE_URL).
    public var server: String
    public var options: QueueBenchmarkOptions
    /// The target ratio Tessera/pgbench.
    public var goal: Double
    public var rows: [Row]
}

/// The queue benchmark: no-op jobs claimed and completed per second by Tessera workers, against pgbench
/// running the same statements on the same server in the same run. Everything happens in a scratch database
/// that is dropped at the end, also on error, so the operator's queue is never touched.
public struct QueueBenchmark: Sendable {
    public let database: Database
    public let options: QueueBenchmarkOptions
    /// The ratio the issue asks for.
    public static let goal = 0.8

    public init(database: Database, options: QueueBenchmarkOptions) {
        self.database = database
        self.options = options
    }

    /// Runs every configuration `repeats` times and reports medians. `progress` gets one line per measured pair.
    /// SIGINT or SIGTERM stops it after the current run (the scratch database is still dropped).
    public func run(progress: (String) -> Void = { _ in }) throws -> QueueBenchmarkReport {
        let pgbench = try PgbenchLoad(
            executable: PgbenchLoad.locate(configuration: database.configuration), queryProtocol: options.pgbenchProtocol)
        defer { pgbench.cleanUp() }
        let interrupt = Interrupt()
        defer { interrupt.restore() }
        let scratch = try ScratchDatabase.create(on: database)
        progress("scratch database \(scratch.name) created and migrated")
        do {
            let report = try measure(scratch: scratch, pgbench: pgbench, interrupt: interrupt, progress: progress)
            try scratch.drop()
            return report
        } catch {
            do { try scratch.drop() } catch { progress("could not drop \(scratch.name): \(error); drop it by hand") }
            throw error
        }
    }

    private enum Side { case tessera, pgbench }

    private func measure(
        scratch: ScratchDatabase, pgbench: PgbenchLoad, interrupt: Interrupt, progress: (String) -> Void
    ) throws -> QueueBenchmarkReport {
        let startedAt = Date()
        let loadAtStart = Self.loadAverage()
        let queue = JobQueue(connection: try PostgresConnection(scratch.conninfo, applicationName: "tessera-bench"))
        guard let server = try queue.connection.query(BenchSQL.server).first else { throw BenchmarkError("the server settings query returned nothing") }
        let maxConnections = try server.int("max_connections")
        let busiest = max(options.workers.max() ?? 0, options.latencyWorkers)
        guard busiest + 3 <= maxConnections else {
            throw BenchmarkError("\(busiest) workers need \(busiest + 3) connections; the server allows \(maxConnections) (max_connections)")
        }

        let configurations = options.workers.map { ($0, false) } + (options.latencyWorkers > 0 ? [(options.latencyWorkers, true)] : [])
        var pairs = [[QueueBenchmarkReport.Pair]](repeating: [], count: configurations.count)
        var fastest = [Double](repeating: 0, count: configurations.count)
        // Repeats outside, configurations inside: a burst of noise from the shared machine lands on different
        // configurations in different repeats instead of on every repeat of one.
        for repeatIndex in 0..<options.repeats {
            for (index, (workers, _)) in configurations.enumerated() {
                var seeded = max(options.jobs, Int(fastest[index] * Double(options.seconds) * 1.5))
                var samples: [Side: LoadSample] = [:]
                // Alternate which side goes first, so drift over time does not always favour the same side.
                let order: [Side] = (repeatIndex + index) % 2 == 0 ? [.tessera, .pgbench] : [.pgbench, .tessera]
                for side in order {
                    samples[side] = try measure(
                        side, workers: workers, seeded: &seeded, fastest: &fastest[index], queue: queue, scratch: scratch,
                        pgbench: pgbench, interrupt: interrupt, progress: progress)
                }
                guard let tessera = samples[.tessera], let baseline = samples[.pgbench] else { continue }
                let pair = QueueBenchmarkReport.Pair(
                    repeatIndex: repeatIndex + 1, jobsSeeded: seeded, tesseraJobsPerSecond: tessera.jobsPerSecond,
                    tesseraCompleted: tessera.completed, pgbenchTPS: baseline.jobsPerSecond,
                    pgbenchTransactions: baseline.completed,
                    ratio: baseline.jobsPerSecond > 0 ? tessera.jobsPerSecond / baseline.jobsPerSecond : 0,
                    claimP50Ms: Double(percentile(tessera.claimNanoseconds, 50) ?? 0) / 1e6,
                    claimP99Ms: Double(percentile(tessera.claimNanoseconds, 99) ?? 0) / 1e6)
                pairs[index].append(pair)
                progress(String(
                    format: "repeat %d/%d, %d workers: tessera %.0f jobs/s, pgbench %.0f tps, ratio %.2f, claim p50 %.2f ms p99 %.2f ms",
                    repeatIndex + 1, options.repeats, workers, pair.tesseraJobsPerSecond, pair.pgbenchTPS, pair.ratio,
                    pair.claimP50Ms, pair.claimP99Ms))
            }
        }
        let rows = configurations.enumerated().map { index, configuration in
            let runs = pairs[index]
            return QueueBenchmarkReport.Row(
                workers: configuration.0, latencyRun: configuration.1,
                tesseraJobsPerSecond: median(runs.map(\.tesseraJobsPerSecond)), pgbenchTPS: median(runs.map(\.pgbenchTPS)),
                ratio: median(runs.map(\.ratio)), claimP50Ms: median(runs.map(\.claimP50Ms)),
                claimP99Ms: median(runs.map(\.claimP99Ms)), pairs: runs)
        }
        return QueueBenchmarkReport(
            startedAt: startedAt, finishedAt: Date(),
            loadAverage: loadAtStart.flatMap { start in Self.loadAverage().map { [start, $0] } },
            serverVersion: try server.string("version"),
            pgbenchVersion: pgbench.version(), server: database.isEmbedded ? "embedded" : "configured", options: options,
            goal: Self.goal, rows: rows)
    }

    /// One timed run of one side on a freshly seeded queue. A run that empties the queue before its window
    /// ends is repeated with more jobs (`seeded` grows), since an empty queue measures nothing.
    private func measure(
        _ side: Side, workers: Int, seeded: inout Int, fastest: inout Double, queue: JobQueue, scratch: ScratchDatabase,
        pgbench: PgbenchLoad, interrupt: Interrupt, progress: (String) -> Void
    ) throws -> LoadSample {
        let attempts = 4
        for attempt in 1...attempts {
            if interrupt.requested { throw BenchmarkError("interrupted") }
            try seed(queue, jobs: seeded)
            let sample: LoadSample
            switch side {
            case .tessera:
                sample = try TesseraLoad.run(
                    conninfo: scratch.conninfo, workers: workers, seconds: Double(options.seconds), lease: options.lease,
                    interrupt: interrupt)
            case .pgbench:
                let base = try registerWorkers(queue, count: workers)
                do {
                    sample = try pgbench.run(
                        conninfo: scratch.conninfo, clients: workers, seconds: options.seconds, workerBase: base,
                        lease: options.lease)
                } catch where interrupt.requested {
                    throw BenchmarkError("interrupted")  // pgbench got the same Ctrl-C
                }
            }
            if interrupt.requested { throw BenchmarkError("interrupted") }
            fastest = max(fastest, sample.jobsPerSecond)
            // pgbench cannot say whether a claim came back empty; an empty queue afterwards means some may have.
            let ranDry = side == .tessera ? sample.ranDry : (try queue.depth().byState[.queued] ?? 0) == 0
            guard ranDry else { return sample }
            guard attempt < attempts else { break }
            let more = max(seeded * 2, Int(fastest * Double(options.seconds) * 1.5))
            progress("\(workers) workers: \(seeded) jobs ran out before the window ended; again with \(more)")
            seeded = more
        }
        throw BenchmarkError("the queue ran dry \(attempts) times with \(workers) workers (last with \(seeded) jobs); raise --jobs")
    }

    /// The 1-minute load average from /proc/loadavg (Linux), nil elsewhere.
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// Empties the queue and enqueues `jobs` no-op jobs (the renderer never sees them), in batches.
    private func seed(_ queue: JobQueue, jobs: Int) throws {
        try queue.connection.execute(BenchSQL.reset)
        let batchSize = 5000
        var enqueued = 0
        while enqueued < jobs {
            let count = min(batchSize, jobs - enqueued)
            let specs = (1...count).map { JobSpec(line: $0, prompt: "bench no-op", seed: Int64(enqueued + $0)) }
            let name = "bench-\(enqueued / batchSize)"
            _ = try queue.enqueue(BatchRequest(name: name, contentHash: name, jobs: specs))
            enqueued += count
        }
        try queue.connection.execute(BenchSQL.analyze)
        // Start every run from a fresh checkpoint, so one is not forced in the middle of a timed window.
        // Needs superuser or pg_checkpoint (the embedded cluster has it); without, runs are just noisier.
        _ = try? queue.connection.execute(BenchSQL.checkpoint)
    }

    /// Registers `count` workers for pgbench's clients and returns the first id (the ids are consecutive).
    private func registerWorkers(_ queue: JobQueue, count: Int) throws -> Int64 {
        let ids = try (0..<count).map { index in
            try queue.registerWorker(host: "pgbench", pid: Int(getpid()), version: "bench", capabilities: ["client": "\(index)"])
        }
        guard let first = ids.first, ids == Array(first..<first + Int64(count)) else {
            throw BenchmarkError("worker ids for pgbench's clients are not consecutive")
        }
        return first
    }
}

/// Turns SIGINT and SIGTERM into a request to stop after the current run, so the scratch database is dropped.
final class Interrupt: @unchecked Sendable {
    /// Set from the signal handler's queue, read by the benchmark's threads.
    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private let flag = Flag()
    /// Only touched by `init` and `restore` on the thread that runs the benchmark.
    private let sources: [any DispatchSourceSignal]

    var requested: Bool { flag.value.load(ordering: .relaxed) }

    init() {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [flag] in flag.value.store(true, ordering: .relaxed) }
            source.resume()
        }
    }

    /// Gives the signals back their default action.
    func restore() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
