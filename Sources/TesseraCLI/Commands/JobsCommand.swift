import ArgumentParser
import Foundation
import TesseraQueue

struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, inspect and watch jobs.",
        subcommands: [List.self, Show.self, Watch.self],
        defaultSubcommand: List.self)

    /// Filters shared by list and watch.
    struct Filters: ParsableArguments {
        @Option(help: "Only jobs in this state: queued, running, succeeded, failed or cancelled.")
        var state: String?

        @Option(help: "Only jobs of this batch (id or name).")
        var batch: String?

        @Option(help: "Only jobs created since this age (2h, 7d) or ISO 8601 time.")
        var since: String?

        @Option(help: "Only jobs created before this age or ISO 8601 time.")
        var until: String?

        @Option(help: "At most this many jobs, newest first.")
        var limit: Int = 50

        func filter(_ queue: JobQueue) throws -> JobFilter {
            var filter = JobFilter(limit: limit)
            guard limit > 0 else { throw CLIError("--limit must be positive") }
            if let state {
                guard let parsed = JobState(rawValue: state) else {
                    throw CLIError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), not \(state)")
                }
                filter.state = parsed
            }
            if let batch { filter.batchID = try resolveBatch(batch, queue) }
            filter.since = try since.map { try parseTime($0) }
            filter.until = try until.map { try parseTime($0) }
            return filter
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List jobs, newest first (the default).")

        @OptionGroup var filters: Filters
        @OptionGroup var output: OutputOptions

        func run() throws {
            let queue = try CLIContext.queue()
            let jobs = try queue.jobs(try filters.filter(queue))
            if output.json { return try printJSON(jobs) }
            print(jobs.isEmpty ? "no jobs match" : jobsTable(jobs))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one job and its event timeline.")

        @Argument(help: "The job id.")
        var id: Int64

        @OptionGroup var output: OutputOptions

        struct Detail: Encodable {
            let job: Job
            let events: [JobEvent]
        }

        func run() throws {
            let queue = try CLIContext.queue()
            guard let job = try queue.job(id) else { throw CLIError("no job \(id)") }
            let events = try queue.events(of: id)
            if output.json { return try printJSON(Detail(job: job, events: events)) }
            let spec = job.spec
            print("job \(job.id)  batch \(job.batchID) line \(spec.line)  \(job.state.rawValue)\(job.cancelRequested ? " (cancel requested)" : "")")
            print("prompt:      \(Table.clip(spec.prompt, 2000))")
            print("settings:    \(spec.orientation.rawValue) \(spec.width)x\(spec.height) (prototype \(spec.prototypeWidth)x\(spec.prototypeHeight)), \(spec.duration)s at \(spec.fps) fps, \(spec.steps) steps, guidance \(spec.guidance), refine \(spec.refineStrength)\(spec.prototypeOnly ? ", prototype only" : ""), seed \(spec.seed), priority \(spec.priority)")
            print("attempts:    \(job.attempt) of \(spec.maxAttempts)")
            if job.state == .running { print("progress:    \(progressBar(job.progress)) \(job.stage ?? "")") }
            if let error = job.lastError { print("last error:  \(error)") }
            if let result = job.result { print("result:      " + result.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
            print("")
            var table = Table(["TIME", "EVENT", "FROM", "TO", "TRY", "WORKER", "DETAIL"])
            table.maxWidth = 100
            for event in events {
                var detail = event.error ?? ""
                if let runAfter = event.runAfter { detail += (detail.isEmpty ? "" : "; ") + "run after \(shortTime(runAfter))" }
                if let timings = event.timings, !timings.isEmpty {
                    detail += (detail.isEmpty ? "" : "; ") + timings.sorted { $0.key < $1.key }.map { "\($0.key) \(shortDuration($0.value))" }.joined(separator: ", ")
                }
                table.add([
                    shortTime(event.at), event.kind, event.fromState?.rawValue ?? "-", event.toState.rawValue, "\(event.attempt)",
                    event.workerID.map { "\($0)\(event.workerHost.map { "@\($0)" } ?? "")" } ?? "-", detail,
                ])
            }
            print(table.render())
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "watch", abstract: "Live progress bars for jobs, until every watched job has ended (Ctrl-C to leave).")

        @OptionGroup var filters: Filters

        @Option(help: "Seconds between refreshes.")
        var interval: Double = 1

        @Flag(help: "Print one snapshot and exit.")
        var once = false

        func run() throws {
            guard interval > 0 else { throw CLIError("--interval must be positive") }
            let queue = try CLIContext.queue()
            let filter = try filters.filter(queue)
            let terminal = isatty(1) == 1
            while true {
                let jobs = try queue.jobs(filter)
                let frame = watchFrame(jobs)
                if terminal && !once { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(frame)
                fflush(nil)
                if once || jobs.allSatisfy({ $0.state.isTerminal }) { return }
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }
}

/// One screen of `jobs watch`: a bar per job, then totals.
func watchFrame(_ jobs: [Job]) -> String {
    var lines: [String] = []
    var counts: [JobState: Int] = [:]
    for job in jobs.sorted(by: { $0.id < $1.id }) {
        counts[job.state, default: 0] += 1
        let fraction = job.state == .succeeded ? 1 : job.progress
        let status: String
        switch job.state {
        case .running: status = (job.stage ?? "running") + (job.cancelRequested ? " (cancelling)" : "")
        case .queued: status = job.attempt > 0 ? "queued (retry after \(shortTime(job.runAfter)))" : "queued"
        case .failed: status = "failed: " + (job.lastError ?? "")
        default: status = job.state.rawValue
        }
        lines.append(String(format: "%6lld ", job.id) + progressBar(fraction) + "  " + Table.clip(status, 50) + "  " + Table.clip(job.spec.prompt, 40))
    }
    lines.append("")
    lines.append(JobState.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: "  "))
    return lines.joined(separator: "\n")
}

/// A batch given as an id or a name (the newest batch with that name).
func resolveBatch(_ text: String, _ queue: JobQueue) throws -> Int64 {
    if let id = Int64(text) { return id }
    guard let id = try queue.batchID(named: text) else { throw CLIError("no batch named \(text)") }
    return id
}
