import Foundation
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// Real worker processes against a real server: kill -9, graceful shutdown, cancels, failures.
@Suite struct WorkerProcessTests {
    let conninfo: String
    let queue: JobQueue

    init() throws {
        conninfo = try TestDatabase.createMigrated("proc")
        queue = JobQueue(connection: try PostgresConnection(conninfo))
    }

    /// Worker flags for fast tests: short lease, frequent heartbeats.
    func workerArguments(duration: Double, extra: [String] = []) -> [String] {
        ["worker", "--renderer", "test", "--test-duration", "\(duration)", "--lease", "2", "--heartbeat", "0.3", "--poll", "0.3"] + extra
    }

    @Test func killedWorkersJobCompletesOnAnotherWorkerWithOneSuccess() throws {
        let id = try queue.enqueueSamples(1)[0]
        let (victim, victimLog) = try TesseraProcess.start(workerArguments(duration: 30), conninfo: conninfo)
        try waitUntil(20, "the first worker to claim the job") { try queue.job(id)?.state == .running }
        let firstWorker = try queue.job(id)?.workerID
        victim.signal(SIGKILL)
        #expect(victim.wait() == 128 + SIGKILL)

        // The coordinator's rescuer puts the job back once the lease (2 s) has expired.
        let coordinator = Rescuer(logger: .init(label: "test"))
        try waitUntil(10, "the lease to expire and be rescued") {
            try coordinator.runOnce(queue)
            return try queue.job(id)?.state == .queued
        }
        let (survivor, survivorLog) = try TesseraProcess.start(workerArguments(duration: 0.5, extra: ["--max-jobs", "1"]), conninfo: conninfo)
        #expect(survivor.wait() == 0, "\(logText(survivorLog))")
        let job = try #require(try queue.job(id))
        #expect(job.state == .succeeded, "\(logText(victimLog))")
        #expect(job.attempt == 2)
        let events = try queue.events(of: id)
        #expect(events.filter { $0.kind == "succeeded" }.count == 1)
        #expect(events.map(\.kind) == ["enqueued", "claimed", "rescued", "claimed", "succeeded"])
        #expect(events.last?.workerID != firstWorker)
    }

    @Test func sigtermHandsTheRunningJobBackWithoutCountingTheAttempt() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 1)[0]
        let (worker, log) = try TesseraProcess.start(workerArguments(duration: 60, extra: ["--shutdown-grace", "0.5"]), conninfo: conninfo)
        try waitUntil(20, "the worker to claim the job") { try queue.job(id)?.state == .running }
        let started = Date()
        worker.signal(SIGTERM)
        #expect(worker.wait() == 0, "\(logText(log))")
        #expect(Date().timeIntervalSince(started) < 10, "the worker stops soon after its grace")
        let job = try #require(try queue.job(id))
        #expect(job.state == .queued && job.attempt == 0, "handed back, attempt not counted")
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed", "released"])
        let stopped = try queue.workers(includeStopped: true)
        #expect(stopped.count == 1 && stopped[0].stoppedAt != nil)
    }

    @Test func sigtermLetsAShortJobFinishWithinTheGrace() throws {
        let id = try queue.enqueueSamples(1)[0]
        let (worker, log) = try TesseraProcess.start(workerArguments(duration: 1.5, extra: ["--shutdown-grace", "20"]), conninfo: conninfo)
        try waitUntil(20, "the worker to claim the job") { try queue.job(id)?.state == .running }
        worker.signal(SIGTERM)
        #expect(worker.wait() == 0, "\(logText(log))")
        #expect(try queue.job(id)?.state == .succeeded)
    }

    @Test func cancellingARunningJobStopsItsWorkerWithinAHeartbeat() throws {
        let id = try queue.enqueueSamples(1)[0]
        let (worker, log) = try TesseraProcess.start(workerArguments(duration: 60, extra: ["--max-jobs", "1"]), conninfo: conninfo)
        defer { worker.signal(SIGKILL); worker.wait() }
        try waitUntil(20, "the worker to claim the job") { try queue.job(id)?.state == .running }
        let requested = Date()
        #expect(try queue.cancel([id]).first?.1 == "cancel_requested")
        try waitUntil(5, "the worker to acknowledge the cancel") { try queue.job(id)?.state == .cancelled }
        #expect(Date().timeIntervalSince(requested) < 2, "within a heartbeat (0.3 s) plus a render step")
        #expect(worker.wait() == 0, "\(logText(log))")
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed", "cancel_requested", "cancelled"])
    }

    @Test func failingRendersAreRetriedThenSucceed() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 3)[0]
        let (worker, log) = try TesseraProcess.start(
            workerArguments(duration: 0.1, extra: ["--test-fail-attempts", "2", "--max-jobs", "3"]), conninfo: conninfo)
        #expect(worker.wait() == 0, "\(logText(log))")
        let job = try #require(try queue.job(id))
        #expect(job.state == .succeeded && job.attempt == 3)
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed", "retry_scheduled", "claimed", "retry_scheduled", "claimed", "succeeded"])
    }

    @Test func manyWorkerProcessesCompleteEveryJobExactlyOnce() throws {
        let ids = try queue.enqueueSamples(40)
        let workers = try (0..<4).map { _ in try TesseraProcess.start(workerArguments(duration: 0.05, extra: ["--exit-when-idle"]), conninfo: conninfo) }
        for (worker, log) in workers { #expect(worker.wait() == 0, "\(logText(log))") }
        for id in ids {
            #expect(try queue.job(id)?.state == .succeeded)
            #expect(try queue.eventCount(id, kind: "succeeded") == 1)
            #expect(try queue.eventCount(id, kind: "claimed") == 1)
        }
        let byWorker = Set(try ids.compactMap { try queue.events(of: $0).last?.workerID })
        #expect(byWorker.count > 1, "the work was shared")
    }

    @Test func theProductionRendererRefusesJobsClearlyInsteadOfFakingThem() throws {
        let id = try queue.enqueueSamples(1)[0]
        let (worker, log) = try TesseraProcess.start(["worker", "--max-jobs", "1", "--poll", "0.3"], conninfo: conninfo)
        #expect(worker.wait() == 0, "\(logText(log))")
        let job = try #require(try queue.job(id))
        #expect(job.state == .failed, "not silently completed by a test renderer")
        #expect(job.attempt == 1, "a missing model is not worth retrying")
        #expect(job.lastError?.contains("video renderer is not built yet") == true)
    }
}
