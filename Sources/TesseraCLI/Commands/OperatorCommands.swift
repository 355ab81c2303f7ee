import ArgumentParser
import Foundation
import TesseraPostgres
import TesseraQueue

/// Job ids from arguments and/or a whole batch.
struct JobSelection: ParsableArguments {
    @Argument(help: "Job ids.")
    var ids: [Int64] = []

    @Option(help: "Every job of this batch (id or name).")
    var batch: String?

    func resolve(_ queue: JobQueue) throws -> [Int64] {
        var ids = self.ids
        if let batch {
            let batchID = try resolveBatch(batch, queue)
            ids += try queue.jobs(JobFilter(batchID: batchID, limit: 1_000_000)).map(\.id)
        }
        guard !ids.isEmpty else { throw CLIError("name at least one job id, or --batch") }
        return Array(Set(ids)).sorted()
    }
}

struct Outcome: Encodable {
    let job: Int64
    let outcome: String
}

func report(_ outcomes: [(Int64, String)], requested: [Int64], json: Bool) throws {
    let found = Set(outcomes.map(\.0))
    let all = outcomes.map { Outcome(job: $0.0, outcome: $0.1) } + requested.filter { !found.contains($0) }.map { Outcome(job: $0, outcome: "no such job") }
    if json { return try printJSON(all) }
    for item in all { print("job \(item.job): \(item.outcome)") }
    if all.contains(where: { $0.outcome == "no such job" }) { throw ExitCode(1) }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs: queued ones at once, running ones within one worker heartbeat.")

    @OptionGroup var selection: JobSelection
    @OptionGroup var output: OutputOptions

    func run() throws {
        let queue = try CLIContext.queue()
        let ids = try selection.resolve(queue)
        try report(try queue.cancel(ids), requested: ids, json: output.json)
    }
}

struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Send finished prototypes (prototype-only jobs) on to their 1920x1080 / 1080x1920 pass.",
        discussion: """
            Enqueues one batch, approve:<ids>, with each job's settings and the full pass on; its renders start from             the prototypes already made. All or nothing: if any job is not a finished prototype, nothing is enqueued.             Approving the same jobs again reports the existing batch.
            """)

    @OptionGroup var selection: JobSelection
    @OptionGroup var output: OutputOptions

    func run() throws {
        let queue = try CLIContext.queue()
        let ids = try selection.resolve(queue)
        let outcome: EnqueueOutcome
        do { outcome = try queue.approve(ids) } catch let error as QueueError { throw CLIError("\(error)") }
        if output.json { return try printJSON(outcome) }
        let verb = outcome.created ? "enqueued" : "already enqueued"
        print("\(verb) batch \(outcome.batchID) with \(outcome.jobIDs.count) full render(s): jobs \(outcome.jobIDs.map(String.init).joined(separator: ", "))")
    }
}

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Queue failed or cancelled jobs again, with a fresh set of attempts.")

    @OptionGroup var selection: JobSelection
    @OptionGroup var output: OutputOptions

    func run() throws {
        let queue = try CLIContext.queue()
        let ids = try selection.resolve(queue)
        try report(try queue.retry(ids), requested: ids, json: output.json)
    }
}

struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers", abstract: "List workers: host, pid, heartbeat, current job and its progress.")

    @Flag(help: "Include workers that have stopped.")
    var all = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let queue = try CLIContext.queue()
        let workers = try queue.workers(includeStopped: all)
        if output.json { return try printJSON(workers) }
        if workers.isEmpty { return print(all ? "no workers have registered" : "no running workers (--all shows stopped ones)") }
        var table = Table(["ID", "HOST", "PID", "VERSION", "RENDERER", "HEARTBEAT", "STATE", "JOB", "PROGRESS"])
        for worker in workers {
            let age = Date().timeIntervalSince(worker.heartbeatAt)
            table.add([
                "\(worker.id)", worker.host, "\(worker.pid)", worker.version, worker.capabilities["renderer"] ?? "-",
                "\(shortDuration(max(0, age))) ago",
                worker.stoppedAt != nil ? "stopped" : age > 60 ? "silent" : "running",
                worker.jobID.map { "\($0)" } ?? "-", worker.progress.map { progressBar($0, width: 12) } ?? "",
            ])
        }
        print(table.render())
    }
}

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations (a second run is a no-op), or migrate down with --to.")

    @Option(help: "Target version (default: the latest this binary knows; 0 removes the schema).")
    var to: Int?

    @Flag(help: "Only show the database's version and the binary's.")
    var status = false

    func run() throws {
        let database = try CLIContext.database()
        let connection: TesseraPostgres.PostgresConnection
        do {
            connection = try database.connect(applicationName: "tessera-migrate")
        } catch {
            throw CLIError("\(error)")
        }
        let migrator = database.migrator
        do {
            let applied = try migrator.appliedVersions(connection)
            if status {
                print("database version \(applied.max() ?? 0), binary knows \(migrator.latestVersion)")
                for migration in migrator.migrations {
                    print(String(format: "  %04d %@ %@", migration.version, migration.name, applied.contains(migration.version) ? "applied" : "pending"))
                }
                return
            }
            if let to, to < 0 || to > migrator.latestVersion {
                throw CLIError("--to must be between 0 and \(migrator.latestVersion)")
            }
            let done = try migrator.migrate(connection, to: to)
            if done.isEmpty { print("schema is at version \(to ?? migrator.latestVersion); nothing to do") }
            for (migration, direction) in done {
                print(String(format: "%@ %04d_%@", direction == "up" ? "applied" : "reverted", migration.version, migration.name))
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
    }
}
