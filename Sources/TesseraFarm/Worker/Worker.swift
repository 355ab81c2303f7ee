import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import TesseraQueue

/// One worker process's loop: claim a job, render it through the renderer, heartbeat while it runs,
/// record the outcome. On SIGTERM/SIGINT it stops claiming and lets the current job finish within the
/// shutdown grace, then hands it back (not counted as a failed attempt).
///
/// The loop is blocking (libpq and the renderer both block), so it runs on its own thread; a second
/// thread with its own connection sends heartbeats. Decisions about an attempt are made by the pure
/// `AttemptLifecycle`; this class only carries them out.
public final class Worker: Service, Sendable {
    /// The NOTIFY channel the queue signals when jobs become claimable.
    public static let channel = "tessera_jobs"

    public let database: Database
    public let renderer: any Renderer
    public let options: WorkerOptions
    public let version: String
    private let logger: Logger
    private let stopRequestedAt = Mutex<Date?>(nil)
    private let registeredID = Atomic<Int64>(0)
    private let current = Mutex<AttemptTracker?>(nil)
    private let processed = Atomic<Int>(0)

    public init(database: Database, renderer: any Renderer, options: WorkerOptions, version: String, logger: Logger) {
        self.database = database
        self.renderer = renderer
        self.options = options
        self.version = version
        self.logger = logger
    }

    /// The worker's id in `tessera.workers` once registered (0 before).
    public var workerID: Int64 { registeredID.load(ordering: .relaxed) }

    /// How many jobs this worker has finished (any outcome).
    public var jobsProcessed: Int { processed.load(ordering: .relaxed) }

    /// Stop claiming; let the current job finish within the shutdown grace.
    public func requestStop() {
        stopRequestedAt.withLock { if $0 == nil { $0 = Date() } }
    }

    private var stopRequested: Bool { stopRequestedAt.withLock { $0 != nil } }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                    let thread = Thread {
                        do {
                            try self.runBlocking()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "tessera-worker"
                    thread.start()
                }
            } onCancel: {
                self.requestStop()
            }
        } onGracefulShutdown: {
            self.logger.info("shutdown requested: no more claims; finishing or handing back the current job")
            self.requestStop()
        }
    }

    /// The worker loop on the calling thread. Returns when stopped (or after `maxJobs`, or when idle with
    /// `exitWhenIdle`).
    public func runBlocking() throws {
        let session = QueueSession(database: database, applicationName: "tessera-worker", logger: logger, listenChannel: Self.channel)
        defer { session.close() }
        let capabilities = ["renderer": renderer.name, "cpus": String(ProcessInfo.processInfo.activeProcessorCount)]
        let id = try session.run({ queue in
            try queue.registerWorker(host: Self.hostName, pid: Int(getpid()), version: version, capabilities: capabilities)
        }, giveUp: { self.stopRequested })
        registeredID.store(id, ordering: .relaxed)
        var log = logger
        log[metadataKey: "worker"] = "\(id)"
        log.info("worker started", metadata: ["renderer": "\(renderer.name)", "pid": "\(getpid())"])
        let workerGauge = Gauge(label: "tessera_worker_job", dimensions: [("worker", "\(id)")])
        let claimTimer = Metrics.Timer(label: "tessera_claim_duration_seconds")

        let heartbeats = HeartbeatLoop(worker: self, workerID: id, logger: log)
        let heartbeatThread = heartbeats.start()
        var heartbeatsStopped = false
        func stopHeartbeats() {
            guard !heartbeatsStopped else { return }
            heartbeatsStopped = true
            heartbeats.finish()
            heartbeatThread.wait()
        }
        defer { stopHeartbeats() }

        while !stopRequested {
            let started = DispatchTime.now()
            let claimed = try session.run({ try $0.claim(workerID: id, limit: 1, lease: options.lease) }, giveUp: { self.stopRequested })
            claimTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds))
            guard let job = claimed.first, let attempt = job.currentAttempt else {
                if options.exitWhenIdle { break }
                try waitForWork(session)
                continue
            }
            workerGauge.record(Double(job.id))
            try process(job, attempt: attempt, session: session, logger: log)
            workerGauge.record(0)
            let count = processed.wrappingAdd(1, ordering: .relaxed).newValue
            if let maxJobs = options.maxJobs, count >= maxJobs { break }
        }
        // The heartbeat thread ends first: a beat after this one would mark the worker alive again.
        stopHeartbeats()
        _ = try? session.run({ try $0.workerHeartbeat(id, stopping: true) }, giveUp: { true })
        log.info("worker stopped", metadata: ["jobs": "\(jobsProcessed)"])
    }

    /// Waits for a NOTIFY or the poll interval, waking early when a stop is requested.
    private func waitForWork(_ session: QueueSession) throws {
        let deadline = Date().addingTimeInterval(options.pollInterval)
        while !stopRequested, Date() < deadline {
            let slice = min(0.25, deadline.timeIntervalSinceNow)
            if slice <= 0 { break }
            let woke: Bool = try session.run({ queue in
                !(try queue.connection.waitForNotifications(timeout: slice)).isEmpty
            }, giveUp: { self.stopRequested })
            if woke { return }
        }
    }

    private func process(_ job: Job, attempt: JobAttempt, session: QueueSession, logger: Logger) throws {
        var log = logger
        log[metadataKey: "job"] = "\(job.id)"
        log[metadataKey: "attempt"] = "\(attempt.attempt)"
        log.info("job claimed", metadata: ["prompt_chars": "\(job.spec.prompt.count)", "priority": "\(job.spec.priority)"])
        let tracker = AttemptTracker(attempt: attempt, context: RenderContext(attempt: attempt))
        current.withLock { $0 = tracker }
        defer { current.withLock { $0 = nil } }

        let started = Date()
        var output: RenderOutput?
        var failure = ""
        let event: AttemptLifecycle.Event
        do {
            output = try renderer.render(job, context: tracker.context)
            event = .renderSucceeded
        } catch let stopped as RenderStopped {
            failure = "\(stopped)"
            event = .renderStopped
        } catch let error as RenderError {
            failure = error.message
            event = .renderFailed(retryable: error.retryable)
        } catch {
            failure = "\(error)"
            event = .renderFailed(retryable: true)
        }
        let action = tracker.handle(event)
        var timings = output?.timings ?? [:]
        timings["attempt_total"] = Date().timeIntervalSince(started)
        let finalTimings = timings

        // Final writes survive a database restart; after a lease's worth of trying, the rescuer owns it.
        let giveUpAt = Date().addingTimeInterval(options.lease)
        let giveUp = { Date() > giveUpAt }
        switch action {
        case .complete:
            let ok = try session.run({ try $0.complete(attempt, result: output?.result ?? [:], timings: finalTimings) }, giveUp: giveUp)
            if ok {
                log.info("job succeeded", metadata: ["seconds": "\(String(format: "%.3f", finalTimings["attempt_total"] ?? 0))"])
            } else {
                log.warning("job finished but its lease was taken over; result discarded")
            }
        case .fail(let retryable):
            let outcome = try session.run({ try $0.fail(attempt, error: failure, retryable: retryable, timings: finalTimings) }, giveUp: giveUp)
            // (outcome "cancelled": a cancel was pending when the render failed)
            log.warning("job attempt failed", metadata: ["outcome": "\(outcome.rawValue)", "error": "\(failure)"])
        case .release:
            if try session.run({ try $0.release(attempt, reason: "worker shutting down") }, giveUp: giveUp) {
                log.info("job handed back")
            } else if try session.run({ try $0.acknowledgeCancel(attempt) }, giveUp: giveUp) {
                log.info("job cancelled while the worker was shutting down")  // a cancel arrived during the drain
            } else {
                log.warning("job could not be handed back (lease lost)")
            }
        case .acknowledgeCancel:
            let ok = try session.run({ try $0.acknowledgeCancel(attempt) }, giveUp: giveUp)
            log.info(ok ? "job cancelled" : "job cancel could not be recorded (lease lost)")
        case .abandon:
            log.warning("job lease was taken over; stopped without writing")
        case .none, .stopRenderer:
            log.error("unexpected lifecycle action after the render returned", metadata: ["action": "\(action)"])
        }
    }

    /// The attempt the heartbeat loop should renew, if any.
    var currentAttempt: AttemptTracker? { current.withLock { $0 } }

    /// When a stop was requested, if it was.
    var stopTime: Date? { stopRequestedAt.withLock { $0 } }

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// One attempt in flight: its render context and lifecycle, shared by the render and heartbeat threads.
final class AttemptTracker: Sendable {
    let attempt: JobAttempt
    let context: RenderContext
    private let lifecycle = Mutex(AttemptLifecycle())

    init(attempt: JobAttempt, context: RenderContext) {
        self.attempt = attempt
        self.context = context
    }

    /// Feeds an event to the lifecycle and passes stop requests on to the renderer.
    func handle(_ event: AttemptLifecycle.Event) -> AttemptLifecycle.Action {
        let action = lifecycle.withLock { $0.handle(event) }
        if case .stopRenderer(let reason) = action { context.requestStop(reason) }
        return action
    }
}
