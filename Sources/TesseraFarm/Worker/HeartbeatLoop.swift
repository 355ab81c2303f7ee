import Foundation
import Logging
import Metrics
import Synchronization
import TesseraQueue

/// The worker's second thread: renews the current attempt's lease with its progress (or the worker's
/// own heartbeat when idle) on a connection of its own, and enforces the shutdown deadline.
final class HeartbeatLoop: Sendable {
    private let worker: Worker
    private let workerID: Int64
    private let logger: Logger
    private let finished = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)

    init(worker: Worker, workerID: Int64, logger: Logger) {
        self.worker = worker
        self.workerID = workerID
        self.logger = logger
    }

    /// Starts the thread and returns a handle to wait for it.
    func start() -> HeartbeatLoop {
        let thread = Thread { self.loop() }
        thread.name = "tessera-heartbeat"
        thread.start()
        return self
    }

    func finish() { finished.store(true, ordering: .relaxed) }

    func wait() { exited.wait() }

    private func loop() {
        defer { exited.signal() }
        let session = QueueSession(database: worker.database, applicationName: "tessera-heartbeat", logger: logger)
        defer { session.close() }
        let options = worker.options
        // Live progress of this worker's job, updated with each beat (0 when idle).
        let progressGauge = Gauge(label: "tessera_worker_progress", dimensions: [("worker", "\(workerID)")])
        var nextBeat = Date()
        while !finished.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: 0.05)
            let tracker = worker.currentAttempt
            if let tracker, let stopTime = worker.stopTime, Date() > stopTime.addingTimeInterval(options.shutdownGrace) {
                _ = tracker.handle(.shutdownDeadlinePassed)
            }
            guard Date() >= nextBeat else { continue }
            nextBeat = Date().addingTimeInterval(options.heartbeatInterval)
            do {
                if let tracker {
                    let (progress, stage) = tracker.context.snapshot
                    progressGauge.record(progress)
                    let outcome = try session.run({
                        try $0.heartbeat(tracker.attempt, progress: progress, stage: stage, lease: options.lease)
                    }, giveUp: { true })
                    if outcome != .ok {
                        logger.info("heartbeat: \(outcome.rawValue)", metadata: ["job": "\(tracker.attempt.jobID)", "attempt": "\(tracker.attempt.attempt)"])
                    }
                    _ = tracker.handle(.heartbeat(outcome))
                } else {
                    progressGauge.record(0)
                    try session.run({ try $0.workerHeartbeat(workerID) }, giveUp: { true })
                }
            } catch {
                // The next beat retries on a new connection; the lease outlasts a few missed beats.
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
                nextBeat = Date().addingTimeInterval(min(1, options.heartbeatInterval))
            }
        }
    }
}
