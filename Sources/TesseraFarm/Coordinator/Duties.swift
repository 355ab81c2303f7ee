import Foundation
import Logging
import Metrics
import Synchronization
import TesseraQueue

/// A background duty of the coordinator. `runOnce` does one pass and is what tests call; the
/// coordinator's loop only repeats it.
public protocol CoordinatorDuty: Sendable {
    var name: String { get }
    func runOnce(_ queue: JobQueue) throws
}

/// Rescues running jobs whose lease expired: retried after a backoff while attempts remain, failed
/// with the last error kept otherwise, cancelled when a cancel was pending. Workers silent for
/// `workerTimeout` seconds that own no job are marked stopped.
public struct Rescuer: CoordinatorDuty {
    public var limit: Int
    public var workerTimeout: Double
    let logger: Logger

    public init(limit: Int = 1000, workerTimeout: Double = 300, logger: Logger) {
        self.limit = limit
        self.workerTimeout = workerTimeout
        self.logger = logger
    }

    public var name: String { "rescuer" }

    public func runOnce(_ queue: JobQueue) throws {
        for (job, outcome) in try queue.rescueExpired(limit: limit) {
            logger.warning("rescued job with expired lease", metadata: ["job": "\(job)", "outcome": "\(outcome)"])
            Counter(label: "tessera_rescues_total", dimensions: [("outcome", outcome)]).increment()
        }
        let reaped = try queue.reapWorkers(silentFor: workerTimeout)
        if reaped > 0 { logger.warning("marked silent workers as stopped", metadata: ["workers": "\(reaped)"]) }
    }
}

/// Deletes finished jobs older than the retention period (nil keeps everything, the default).
public struct Retention: CoordinatorDuty {
    public var keep: Double?
    let logger: Logger

    public init(keep: Double?, logger: Logger) {
        self.keep = keep
        self.logger = logger
    }

    public var name: String { "retention" }

    public func runOnce(_ queue: JobQueue) throws {
        guard let keep else { return }
        let pruned = try queue.pruneHistory(before: (queue.clock.now() ?? Date()).addingTimeInterval(-keep))
        if pruned > 0 { logger.info("pruned finished jobs past retention", metadata: ["jobs": "\(pruned)"]) }
    }
}

/// Publishes queue counts as metrics: depth by state, ready jobs, completions, failures (totals over
/// the kept history, so they fall when retention prunes), and each running job's progress by worker.
public final class QueueMetrics: CoordinatorDuty {
    /// The (worker, job) progress series published last pass; finished jobs' series are removed.
    private let published = Mutex<Set<[String]>>([])

    public init() {}
    public var name: String { "metrics" }

    public func runOnce(_ queue: JobQueue) throws {
        let (byState, ready) = try queue.depth()
        for state in JobState.allCases {
            Gauge(label: "tessera_queue_jobs", dimensions: [("state", state.rawValue)]).record(Double(byState[state] ?? 0))
        }
        Gauge(label: "tessera_queue_ready_jobs").record(Double(ready))
        let events = try queue.eventCounts()
        Gauge(label: "tessera_jobs_completed").record(Double(events["succeeded"] ?? 0))
        Gauge(label: "tessera_jobs_failed").record(Double(events["failed"] ?? 0))
        Gauge(label: "tessera_jobs_rescued").record(Double(events["rescued"] ?? 0))
        var current = Set<[String]>()
        for running in try queue.runningJobs() {
            current.insert(["\(running.worker)", "\(running.job)"])
            progressGauge(["\(running.worker)", "\(running.job)"]).record(running.progress)
        }
        let stale = published.withLock { previous in
            defer { previous = current }
            return previous.subtracting(current)
        }
        for labels in stale { progressGauge(labels).destroy() }
    }

    private func progressGauge(_ labels: [String]) -> Gauge {
        Gauge(label: "tessera_running_job_progress", dimensions: [("worker", labels[0]), ("job", labels[1])])
    }
}
