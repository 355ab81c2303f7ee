import Foundation
import TesseraPostgres

/// Where "now" comes from. Production passes nil so PostgreSQL's clock decides (one clock for every
/// machine); tests pass a manual time so they need no sleeps.
public protocol QueueClock: Sendable {
    /// The time to pass to queries, or nil for the server's `now()`.
    func now() -> Date?
}

/// The database server's clock.
public struct ServerClock: QueueClock {
    public init() {}
    public func now() -> Date? { nil }
}

/// A request to enqueue one batch.
public struct BatchRequest: Sendable {
    public var name: String
    public var idempotencyKey: String?
    /// Identifies the content, so a reused idempotency key with different content is refused.
    public var contentHash: String
    public var jobs: [JobSpec]

    public init(name: String, idempotencyKey: String? = nil, contentHash: String, jobs: [JobSpec]) {
        self.name = name
        self.idempotencyKey = idempotencyKey
        self.contentHash = contentHash
        self.jobs = jobs
    }
}

/// The result of an enqueue: a new batch, or the one an earlier run with the same idempotency key made.
public struct EnqueueOutcome: Sendable, Codable, Equatable {
    public var batchID: Int64
    public var jobIDs: [Int64]
    /// False when the idempotency key matched an earlier batch and nothing new was created.
    public var created: Bool
}

/// What a job heartbeat learned.
public enum HeartbeatOutcome: String, Sendable {
    /// Keep going; the lease is renewed.
    case ok
    /// An operator cancelled the job: stop and acknowledge.
    case cancel
    /// This attempt no longer owns the job (the lease was taken over): stop and change nothing.
    case lost
}

/// What a failed attempt led to.
public enum FailOutcome: String, Sendable {
    case retryScheduled = "retry_scheduled"
    case failed
    /// A cancel was pending: the job ended cancelled.
    case cancelled
    case lost
}

/// Errors the queue raises itself (database errors pass through as `PostgresError`).
public enum QueueError: Error, CustomStringConvertible, Sendable {
    case idempotencyConflict(key: String, batchID: Int64)
    case emptyBatch
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .idempotencyConflict(let key, let batch):
            return "idempotency key \"\(key)\" was already used by batch \(batch) with different content; nothing was enqueued"
        case .emptyBatch: return "a batch needs at least one job"
        case .invalidArgument(let message): return message
        }
    }
}

/// Filters for listing jobs.
public struct JobFilter: Sendable {
    public var state: JobState?
    public var batchID: Int64?
    public var since: Date?
    public var until: Date?
    public var limit: Int

    public init(state: JobState? = nil, batchID: Int64? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 100) {
        self.state = state
        self.batchID = batchID
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// The durable job queue over one PostgreSQL connection. Not thread-safe: one per thread.
public final class JobQueue {
    public let connection: PostgresConnection
    public let clock: any QueueClock

    public init(connection: PostgresConnection, clock: any QueueClock = ServerClock()) {
        self.connection = connection
        self.clock = clock
    }

    // MARK: Operators

    /// Enqueues a whole batch in one transaction: all jobs or none.
    public func enqueue(_ request: BatchRequest) throws -> EnqueueOutcome {
        guard !request.jobs.isEmpty else { throw QueueError.emptyBatch }
        let now = clock.now()
        return try connection.transaction {
            let inserted = try connection.query(
                BatchesSQL.insert,
                [request.name, request.idempotencyKey, request.contentHash, request.jobs.count, now])
            guard let batchRow = inserted.first else {
                // The idempotency key exists: answer with that batch, or refuse different content.
                guard let key = request.idempotencyKey,
                    let existing = try connection.query(BatchesSQL.byIdempotencyKey, [key]).first
                else { throw QueueError.invalidArgument("batch insert returned nothing") }
                let batchID = Int64(try existing.int("id"))
                guard try existing.string("content_hash") == request.contentHash else {
                    throw QueueError.idempotencyConflict(key: key, batchID: batchID)
                }
                let ids = try connection.query(JobsSQL.idsOfBatch, [batchID]).rows.map { Int64(try $0.int("id")) }
                return EnqueueOutcome(batchID: batchID, jobIDs: ids, created: false)
            }
            let batchID = Int64(try batchRow.int("id"))
            let jobs = request.jobs
            let parameters: [any PostgresBindable] = [
                batchID,
                PostgresArray(jobs.map(\.line)), PostgresArray(jobs.map(\.prompt)), PostgresArray(jobs.map(\.seed)),
                PostgresArray(jobs.map(\.orientation.rawValue)), PostgresArray(jobs.map(\.duration)),
                PostgresArray(jobs.map(\.fps)), PostgresArray(jobs.map(\.width)), PostgresArray(jobs.map(\.height)),
                PostgresArray(jobs.map(\.prototypeWidth)), PostgresArray(jobs.map(\.prototypeHeight)),
                PostgresArray(jobs.map(\.steps)), PostgresArray(jobs.map(\.guidance)),
                PostgresArray(jobs.map(\.refineStrength)), PostgresArray(jobs.map(\.prototypeOnly)),
                PostgresArray(jobs.map(\.priority)), PostgresArray(jobs.map(\.maxAttempts)), now,
            ]
            let ids = try connection.query(JobsSQL.insertBatch, parameters).rows.map { Int64(try $0.int("id")) }
            return EnqueueOutcome(batchID: batchID, jobIDs: ids, created: true)
        }
    }

    /// Approves finished prototypes for their full pass: one new batch (named `approve:<ids>`, which is also its
    /// idempotency key, so approving the same jobs again creates nothing new) holding each job's settings with
    /// `prototypeOnly` off. The render finds the prototype kept under its settings' fingerprint and starts at
    /// the full pass. Every id must be a succeeded prototype-only job; otherwise nothing is enqueued and the
    /// error lists each refused id and why.
    public func approve(_ ids: [Int64]) throws -> EnqueueOutcome {
        let ids = Array(Set(ids)).sorted()
        guard !ids.isEmpty else { throw QueueError.invalidArgument("name at least one job to approve") }
        var specs: [JobSpec] = []
        var refused: [String] = []
        for id in ids {
            guard let job = try job(id) else {
                refused.append("job \(id): no such job")
                continue
            }
            if !job.spec.prototypeOnly {
                refused.append("job \(id): not a prototype-only job")
            } else if job.state != .succeeded {
                refused.append("job \(id): its prototype is not finished (state \(job.state.rawValue))")
            } else {
                var spec = job.spec
                spec.prototypeOnly = false
                spec.line = specs.count + 1
                specs.append(spec)
            }
        }
        guard refused.isEmpty else { throw QueueError.invalidArgument("nothing approved: " + refused.joined(separator: "; ")) }
        let name = "approve:" + ids.map(String.init).joined(separator: ",")
        return try enqueue(BatchRequest(name: String(name.prefix(200)), idempotencyKey: String(name.prefix(200)), contentHash: name, jobs: specs))
    }

    /// Cancels jobs: queued ones at once, running ones at their worker's next heartbeat.
    /// Returns each job's outcome ("cancelled", "cancel_requested", "unchanged: STATE").
    public func cancel(_ ids: [Int64]) throws -> [(Int64, String)] {
        try outcomes(JobsSQL.cancel, ids)
    }

    /// Queues failed or cancelled jobs again with a fresh set of attempts.
    public func retry(_ ids: [Int64]) throws -> [(Int64, String)] {
        try outcomes(JobsSQL.retry, ids)
    }

    private func outcomes(_ sql: String, _ ids: [Int64]) throws -> [(Int64, String)] {
        try connection.query(sql, [PostgresArray(ids), clock.now()]).rows.map {
            (Int64(try $0.int("job_id")), try $0.string("outcome"))
        }
    }

    public func job(_ id: Int64) throws -> Job? {
        try connection.query(JobsSQL.byID, [id]).first.map(Job.init(row:))
    }

    public func jobs(_ filter: JobFilter = JobFilter()) throws -> [Job] {
        try connection.query(
            JobsSQL.list,
            [filter.state?.rawValue, filter.batchID, filter.since, filter.until, filter.limit]
        ).rows.map(Job.init(row:))
    }

    public func events(of jobID: Int64) throws -> [JobEvent] {
        try connection.query(JobEventsSQL.timeline, [jobID]).rows.map(JobEvent.init(row:))
    }

    public func batches(id: Int64? = nil, limit: Int = 50) throws -> [BatchSummary] {
        try connection.query(BatchesSQL.summaries, [id, limit]).rows.map(BatchSummary.init(row:))
    }

    public func batchID(named name: String) throws -> Int64? {
        try connection.query(BatchesSQL.idByName, [name]).first.map { Int64(try $0.int("id")) }
    }

    public func workers(includeStopped: Bool = false, limit: Int = 200) throws -> [WorkerInfo] {
        try connection.query(WorkersSQL.status, [includeStopped, limit]).rows.map(WorkerInfo.init(row:))
    }

    /// Job counts by state, and the number of queued jobs ready to run now.
    public func depth() throws -> (byState: [JobState: Int], ready: Int) {
        var counts: [JobState: Int] = [:]
        var ready = 0
        for row in try connection.query(JobsSQL.depth).rows {
            guard let state = JobState(rawValue: try row.string("state")) else { continue }
            counts[state] = try row.int("jobs")
            ready += try row.int("ready")
        }
        return (counts, ready)
    }

    /// Number of events of each kind ever logged (kept history only).
    public func eventCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.query(JobEventsSQL.countsByKind).rows { counts[try row.string("kind")] = try row.int("n") }
        return counts
    }

    // MARK: Workers

    public func registerWorker(host: String, pid: Int, version: String, capabilities: [String: String]) throws -> Int64 {
        let row = try connection.query(
            WorkersSQL.register, [host, pid, version, JSONText.encode(capabilities), clock.now()]
        ).first
        guard let row else { throw PostgresError.decoding("register_worker returned nothing") }
        return Int64(try row.int("id"))
    }

    public func workerHeartbeat(_ workerID: Int64, stopping: Bool = false) throws {
        try connection.query(WorkersSQL.heartbeat, [workerID, stopping, clock.now()])
    }

    /// Claims up to `limit` ready jobs for `workerID`, each with a lease of `lease` seconds.
    public func claim(workerID: Int64, limit: Int = 1, lease: Double) throws -> [Job] {
        try connection.query(JobsSQL.claim, [workerID, limit, lease, clock.now()]).rows.map(Job.init(row:))
    }

    /// Renews the lease and stores progress (0...1) and the current stage.
    public func heartbeat(_ attempt: JobAttempt, progress: Double?, stage: String?, lease: Double) throws -> HeartbeatOutcome {
        let row = try connection.query(
            JobsSQL.heartbeat,
            [attempt.jobID, attempt.attempt, attempt.workerID, progress, stage, lease, clock.now()]
        ).first
        return HeartbeatOutcome(rawValue: try row?.string("outcome") ?? "lost") ?? .lost
    }

    /// Records success with result object keys and stage timings (seconds). False when the attempt no
    /// longer owns the job.
    public func complete(_ attempt: JobAttempt, result: [String: String], timings: [String: Double]) throws -> Bool {
        try connection.query(
            JobsSQL.complete,
            [attempt.jobID, attempt.attempt, attempt.workerID, JSONText.encode(result), JSONText.encode(timings), clock.now()]
        ).first?.bool("ok") ?? false
    }

    /// Records a failed attempt: retried with backoff while attempts remain (when `retryable`), else failed.
    public func fail(_ attempt: JobAttempt, error: String, retryable: Bool, timings: [String: Double] = [:]) throws -> FailOutcome {
        let row = try connection.query(
            JobsSQL.fail,
            [attempt.jobID, attempt.attempt, attempt.workerID, error, retryable, JSONText.encode(timings), clock.now()]
        ).first
        return FailOutcome(rawValue: try row?.string("outcome") ?? "lost") ?? .lost
    }

    /// Hands a job back without counting the attempt (graceful shutdown).
    public func release(_ attempt: JobAttempt, reason: String) throws -> Bool {
        try connection.query(JobsSQL.release, [attempt.jobID, attempt.attempt, attempt.workerID, reason, clock.now()])
            .first?.bool("ok") ?? false
    }

    /// Records that the worker stopped a cancelled job.
    public func acknowledgeCancel(_ attempt: JobAttempt) throws -> Bool {
        try connection.query(JobsSQL.acknowledgeCancel, [attempt.jobID, attempt.attempt, attempt.workerID, clock.now()])
            .first?.bool("ok") ?? false
    }

    // MARK: Coordinator

    /// Rescues up to `limit` running jobs whose lease expired. Returns (job, "queued"|"failed"|"cancelled").
    public func rescueExpired(limit: Int = 1000) throws -> [(Int64, String)] {
        try connection.query(JobsSQL.rescue, [limit, clock.now()]).rows.map {
            (Int64(try $0.int("job_id")), try $0.string("outcome"))
        }
    }

    /// Marks workers silent for `silentFor` seconds and owning no job as stopped. Returns how many.
    public func reapWorkers(silentFor: Double) throws -> Int {
        try connection.query(WorkersSQL.reap, [silentFor, clock.now()]).first?.int("reaped") ?? 0
    }

    /// Deletes finished jobs (with their events) that finished before `before`. Returns how many.
    public func pruneHistory(before: Date) throws -> Int {
        try connection.query(JobsSQL.prune, [before]).first?.int("pruned") ?? 0
    }

    /// Running jobs as (job, worker, progress), for metrics.
    public func runningJobs() throws -> [(job: Int64, worker: Int64, progress: Double)] {
        try connection.query(JobsSQL.running).rows.map {
            (Int64(try $0.int("id")), Int64(try $0.int("worker_id")), try $0.double("progress"))
        }
    }
}

extension JobQueue {
    /// Tries to become the coordinators' leader; the lock lasts as long as this session.
    public func tryLead() throws -> Bool {
        try connection.query(CoordinatorSQL.tryLead, [CoordinatorSQL.leaderLockKey]).first?.bool("leader") ?? false
    }

    /// Gives up leadership (other coordinators take over at their next try).
    public func resign() throws {
        try connection.query(CoordinatorSQL.resign, [CoordinatorSQL.leaderLockKey])
    }
}
