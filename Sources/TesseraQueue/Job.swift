import Foundation
import TesseraPostgres

/// A job's state. Exactly one at a time; every change is a row in `tessera.job_events`.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job has ended (succeeded, failed or cancelled).
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A job row as the queue stores it.
public struct Job: Sendable, Codable, Equatable {
    public var id: Int64
    public var batchID: Int64
    public var spec: JobSpec
    public var state: JobState
    public var attempt: Int
    public var workerID: Int64?
    public var leaseExpiresAt: Date?
    public var runAfter: Date
    public var cancelRequested: Bool
    public var progress: Double
    public var stage: String?
    public var result: [String: String]?
    public var lastError: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    /// The fencing token for the current attempt: every write a worker makes names it.
    public var currentAttempt: JobAttempt? {
        guard state == .running, let workerID else { return nil }
        return JobAttempt(jobID: id, attempt: attempt, workerID: workerID)
    }

    init(row: PostgresRow) throws {
        id = Int64(try row.int("id"))
        batchID = Int64(try row.int("batch_id"))
        guard let orientation = JobSpec.Orientation(rawValue: try row.string("orientation")),
            let state = JobState(rawValue: try row.string("state"))
        else { throw PostgresError.decoding("unknown orientation or state") }
        spec = JobSpec(
            line: try row.int("line"), prompt: try row.string("prompt"), seed: Int64(try row.int("seed")),
            orientation: orientation, duration: try row.double("duration_s"), fps: try row.int("fps"),
            steps: try row.int("steps"), guidance: try row.double("guidance"),
            refineStrength: try row.double("refine_strength"), prototypeOnly: try row.bool("prototype_only"),
            priority: try row.int("priority"), maxAttempts: try row.int("max_attempts"))
        self.state = state
        attempt = try row.int("attempt")
        workerID = try row.optionalInt("worker_id").map(Int64.init)
        leaseExpiresAt = try row.optionalDate("lease_expires_at")
        runAfter = try row.date("run_after")
        cancelRequested = try row.bool("cancel_requested")
        progress = try row.double("progress")
        stage = try row.optionalString("stage")
        result = try row.optionalString("result").map { try JSONText.decodeStrings($0) }
        lastError = try row.optionalString("last_error")
        createdAt = try row.date("created_at")
        startedAt = try row.optionalDate("started_at")
        finishedAt = try row.optionalDate("finished_at")
    }
}

/// (job, attempt, worker): the fence every worker write carries. A write whose fence no longer matches
/// the job row changes nothing.
public struct JobAttempt: Sendable, Hashable, Codable, CustomStringConvertible {
    public let jobID: Int64
    public let attempt: Int
    public let workerID: Int64

    public init(jobID: Int64, attempt: Int, workerID: Int64) {
        self.jobID = jobID
        self.attempt = attempt
        self.workerID = workerID
    }

    public var description: String { "job \(jobID) attempt \(attempt) (worker \(workerID))" }
}

/// One row of the append-only event log.
public struct JobEvent: Sendable, Codable, Equatable {
    public var id: Int64
    public var jobID: Int64
    public var at: Date
    public var kind: String
    public var fromState: JobState?
    public var toState: JobState
    public var workerID: Int64?
    public var workerHost: String?
    public var attempt: Int
    public var error: String?
    public var timings: [String: Double]?
    public var runAfter: Date?

    init(row: PostgresRow) throws {
        id = Int64(try row.int("event_id"))
        jobID = Int64(try row.int("job_id"))
        at = try row.date("at")
        kind = try row.string("kind")
        fromState = try row.optionalString("from_state").flatMap(JobState.init(rawValue:))
        guard let to = JobState(rawValue: try row.string("to_state")) else {
            throw PostgresError.decoding("unknown state")
        }
        toState = to
        workerID = try row.optionalInt("worker_id").map(Int64.init)
        workerHost = try row.optionalString("worker_host")
        attempt = try row.int("attempt")
        error = try row.optionalString("error")
        timings = try row.optionalString("timings").map { try JSONText.decodeNumbers($0) }
        runAfter = try row.optionalDate("run_after")
    }
}

/// A registered worker process and what it is doing now.
public struct WorkerInfo: Sendable, Codable, Equatable {
    public var id: Int64
    public var host: String
    public var pid: Int
    public var version: String
    public var capabilities: [String: String]
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?
    public var jobID: Int64?
    public var attempt: Int?
    public var progress: Double?
    public var stage: String?

    init(row: PostgresRow) throws {
        id = Int64(try row.int("worker_id"))
        host = try row.string("host")
        pid = try row.int("pid")
        version = try row.string("version")
        capabilities = try JSONText.decodeStrings(try row.string("capabilities"))
        startedAt = try row.date("started_at")
        heartbeatAt = try row.date("heartbeat_at")
        stoppedAt = try row.optionalDate("stopped_at")
        jobID = try row.optionalInt("job_id").map(Int64.init)
        attempt = try row.optionalInt("attempt")
        progress = try row.optionalDouble("progress")
        stage = try row.optionalString("stage")
    }
}

/// A batch with its per-state counts (the `tessera.batch_summary` view).
public struct BatchSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var idempotencyKey: String?
    public var createdAt: Date
    public var jobCount: Int
    public var counts: [JobState: Int]

    init(row: PostgresRow) throws {
        id = Int64(try row.int("batch_id"))
        name = try row.string("name")
        idempotencyKey = try row.optionalString("idempotency_key")
        createdAt = try row.date("created_at")
        jobCount = try row.int("job_count")
        var counts: [JobState: Int] = [:]
        for state in JobState.allCases { counts[state] = try row.int(state.rawValue) }
        self.counts = counts
    }
}

/// JSON text in and out of `jsonb` columns, for the flat objects the queue stores.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodeStrings(_ text: String) throws -> [String: String] {
        guard case .object(let object) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw PostgresError.decoding("expected a JSON object")
        }
        return object.mapValues { value in
            switch value {
            case .string(let s): return s
            case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            case .bool(let b): return String(b)
            default: return ""
            }
        }
    }

    static func decodeNumbers(_ text: String) throws -> [String: Double] {
        guard case .object(let object) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw PostgresError.decoding("expected a JSON object")
        }
        return object.compactMapValues { if case .number(let n) = $0 { return n } else { return nil } }
    }
}
