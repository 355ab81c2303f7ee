import Foundation
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// Claims, leases, fencing, retries, cancels and hand-backs, driven by a manual clock.
@Suite struct LeaseTests {
    let clock = ManualClock()
    let queue: JobQueue

    init() throws {
        queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("lease")), clock: clock)
    }

    func worker(_ name: String = "w") throws -> Int64 {
        try queue.registerWorker(host: name, pid: 1, version: "test", capabilities: [:])
    }

    @Test func claimTakesHighestPriorityThenOldest() throws {
        let specs = [JobSpec.sample(1, priority: 0), .sample(2, priority: 5), .sample(3, priority: 0), .sample(4, priority: 5)]
        let ids = try queue.enqueue(BatchRequest(name: "p", contentHash: "h", jobs: specs)).jobIDs
        let w = try worker()
        let order = try (0..<4).map { _ in try queue.claim(workerID: w, lease: 30).first!.id }
        #expect(order == [ids[1], ids[3], ids[0], ids[2]])
        #expect(try queue.claim(workerID: w, lease: 30).isEmpty)
    }

    @Test func claimSetsLeaseAttemptAndLogsAnEvent() throws {
        let id = try queue.enqueueSamples(1)[0]
        let w = try worker()
        let job = try #require(try queue.claim(workerID: w, lease: 30).first)
        #expect(job.id == id && job.state == .running && job.attempt == 1 && job.workerID == w)
        #expect(job.leaseExpiresAt == clock.now()!.addingTimeInterval(30))
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed"])
    }

    @Test func expiredLeaseIsRescuedWithBackoffThenFailsAfterMaxAttempts() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 2)[0]
        let w = try worker()
        _ = try queue.claim(workerID: w, lease: 10)
        clock.advance(5)
        #expect(try queue.rescueExpired().isEmpty, "a live lease is left alone")
        clock.advance(6)
        #expect(try queue.rescueExpired().map(\.1) == ["queued"])
        let requeued = try #require(try queue.job(id))
        #expect(requeued.state == .queued && requeued.attempt == 1)
        #expect(requeued.lastError?.contains("lease expired") == true)
        // Backoff for attempt 1 with base 0.05 s: between 0.025 and 0.05 s, with jitter.
        let delay = requeued.runAfter.timeIntervalSince(clock.now()!)
        #expect(delay >= 0.025 - 1e-6 && delay <= 0.05 + 1e-6)
        #expect(try queue.claim(workerID: w, lease: 10).isEmpty, "not claimable before its run-after")
        clock.advance(0.06)
        let second = try #require(try queue.claim(workerID: w, lease: 10).first)
        #expect(second.attempt == 2)
        clock.advance(11)
        #expect(try queue.rescueExpired().map(\.1) == ["failed"])
        let failed = try #require(try queue.job(id))
        #expect(failed.state == .failed && failed.finishedAt != nil)
        #expect(failed.lastError?.contains("attempt 2") == true, "the last error is kept")
        #expect(try queue.eventCount(id, kind: "rescued") == 2)
    }

    @Test func aStaleWorkersWritesAreRefused() throws {
        let id = try queue.enqueueSamples(1)[0]
        let stale = try worker("stale"), fresh = try worker("fresh")
        let old = try #require(try queue.claim(workerID: stale, lease: 10).first?.currentAttempt)
        clock.advance(11)
        _ = try queue.rescueExpired()
        clock.advance(2)
        let new = try #require(try queue.claim(workerID: fresh, lease: 10).first?.currentAttempt)
        #expect(new.attempt == 2)

        #expect(try queue.heartbeat(old, progress: 0.9, stage: "x", lease: 10) == .lost)
        #expect(try queue.complete(old, result: ["video": "stale"], timings: [:]) == false)
        #expect(try queue.fail(old, error: "stale", retryable: true) == .lost)
        #expect(try queue.release(old, reason: "stale") == false)
        #expect(try queue.acknowledgeCancel(old) == false)
        let during = try #require(try queue.job(id))
        #expect(during.state == .running && during.workerID == fresh && during.progress == 0)

        #expect(try queue.complete(new, result: ["video": "fresh"], timings: ["render": 1.5]))
        #expect(try queue.complete(new, result: ["video": "fresh"], timings: [:]), "completing twice is idempotent")
        let done = try #require(try queue.job(id))
        #expect(done.state == .succeeded && done.result == ["video": "fresh"] && done.progress == 1)
        #expect(try queue.eventCount(id, kind: "succeeded") == 1)
        #expect(try queue.events(of: id).last?.timings == ["render": 1.5])
    }

    @Test func heartbeatRenewsTheLeaseAndStoresProgress() throws {
        let id = try queue.enqueueSamples(1)[0]
        let attempt = try #require(try queue.claim(workerID: try worker(), lease: 10).first?.currentAttempt)
        clock.advance(8)
        #expect(try queue.heartbeat(attempt, progress: 0.25, stage: "prototype", lease: 10) == .ok)
        clock.advance(8)
        #expect(try queue.rescueExpired().isEmpty, "the renewed lease has not expired")
        let job = try #require(try queue.job(id))
        #expect(job.progress == 0.25 && job.stage == "prototype")
    }

    @Test func failRetriesWithBackoffUntilAttemptsRunOut() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 3)[0]
        let w = try worker()
        var delays: [Double] = []
        for attemptNumber in 1...3 {
            clock.advance(10)
            let attempt = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
            #expect(attempt.attempt == attemptNumber)
            let outcome = try queue.fail(attempt, error: "boom \(attemptNumber)", retryable: true)
            #expect(outcome == (attemptNumber < 3 ? .retryScheduled : .failed))
            if let job = try queue.job(id), job.state == .queued { delays.append(job.runAfter.timeIntervalSince(clock.now()!)) }
        }
        #expect(delays.count == 2)
        #expect(delays[0] >= 0.025 - 1e-6 && delays[0] <= 0.05 + 1e-6)
        #expect(delays[1] >= 0.05 - 1e-6 && delays[1] <= 0.1 + 1e-6, "the delay doubles")
        let job = try #require(try queue.job(id))
        #expect(job.state == .failed && job.lastError == "boom 3")
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed", "retry_scheduled", "claimed", "retry_scheduled", "claimed", "failed"])
    }

    @Test func nonRetryableFailureFailsAtOnce() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 5)[0]
        let attempt = try #require(try queue.claim(workerID: try worker(), lease: 10).first?.currentAttempt)
        #expect(try queue.fail(attempt, error: "bad prompt", retryable: false) == .failed)
        #expect(try queue.job(id)?.state == .failed)
    }

    @Test func cancelQueuedAtOnceAndRunningThroughTheHeartbeat() throws {
        let ids = try queue.enqueueSamples(2)
        let w = try worker()
        let running = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        let outcomes = Dictionary(uniqueKeysWithValues: try queue.cancel(ids))
        #expect(outcomes[running.jobID] == "cancel_requested")
        let queuedID = ids.first { $0 != running.jobID }!
        #expect(outcomes[queuedID] == "cancelled")
        #expect(try queue.job(queuedID)?.state == .cancelled)
        #expect(try queue.claim(workerID: w, lease: 10).isEmpty, "a cancelled job is never claimed")

        #expect(try queue.heartbeat(running, progress: 0.5, stage: nil, lease: 10) == .cancel)
        #expect(try queue.release(running, reason: "x") == false, "a job being cancelled is not handed back")
        #expect(try queue.acknowledgeCancel(running))
        let job = try #require(try queue.job(running.jobID))
        #expect(job.state == .cancelled && job.finishedAt != nil)
        #expect(try queue.cancel([running.jobID]).first?.1 == "unchanged: cancelled")
    }

    @Test func aFailureWhileACancelIsPendingEndsCancelled() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 3)[0]
        let attempt = try #require(try queue.claim(workerID: try worker(), lease: 10).first?.currentAttempt)
        _ = try queue.cancel([id])
        #expect(try queue.fail(attempt, error: "boom", retryable: true) == .cancelled)
        let job = try #require(try queue.job(id))
        #expect(job.state == .cancelled && job.lastError == "boom")
    }

    @Test func retriedAndRescuedJobsStartProgressAfresh() throws {
        let id = try queue.enqueueSamples(1)[0]
        let w = try worker()
        let first = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        _ = try queue.heartbeat(first, progress: 0.7, stage: "full pass", lease: 10)
        _ = try queue.fail(first, error: "x", retryable: true)
        #expect(try queue.job(id)?.progress == 0 && queue.job(id)?.stage == nil)
        clock.advance(1)
        let second = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        _ = try queue.heartbeat(second, progress: 0.4, stage: "prototype", lease: 10)
        clock.advance(11)
        _ = try queue.rescueExpired()
        #expect(try queue.job(id)?.progress == 0 && queue.job(id)?.stage == nil)
    }

    @Test func silentWorkersWithoutJobsAreMarkedStopped() throws {
        let busy = try worker("busy"), idle = try worker("idle")
        try queue.enqueueSamples(1)
        _ = try queue.claim(workerID: busy, lease: 1000)
        clock.advance(400)
        #expect(try queue.reapWorkers(silentFor: 300) == 1)
        let stopped = try queue.workers(includeStopped: true).filter { $0.stoppedAt != nil }.map(\.id)
        #expect(stopped == [idle], "a worker that still owns a job is left to the rescuer")
        try queue.workerHeartbeat(idle)
        #expect(try queue.workers().contains { $0.id == idle }, "a reaped worker that beats again is alive")
    }

    @Test func aCancelPendingWhenTheLeaseExpiresEndsCancelled() throws {
        let id = try queue.enqueueSamples(1)[0]
        _ = try queue.claim(workerID: try worker(), lease: 10)
        _ = try queue.cancel([id])
        clock.advance(11)
        #expect(try queue.rescueExpired().map(\.1) == ["cancelled"])
        #expect(try queue.job(id)?.state == .cancelled)
    }

    @Test func releaseHandsBackWithoutCountingTheAttempt() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 1)[0]
        let w = try worker()
        let attempt = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        #expect(try queue.release(attempt, reason: "shutting down"))
        let job = try #require(try queue.job(id))
        #expect(job.state == .queued && job.attempt == 0)
        let again = try #require(try queue.claim(workerID: w, lease: 10).first)
        #expect(again.attempt == 1, "the single allowed attempt is still available")
        #expect(try queue.events(of: id).map(\.kind) == ["enqueued", "claimed", "released", "claimed"])
    }

    @Test func retryQueuesFailedJobsWithFreshAttempts() throws {
        let id = try queue.enqueueSamples(1, maxAttempts: 1)[0]
        let attempt = try #require(try queue.claim(workerID: try worker(), lease: 10).first?.currentAttempt)
        _ = try queue.fail(attempt, error: "boom", retryable: true)
        #expect(try queue.job(id)?.state == .failed)
        #expect(try queue.retry([id]).first?.1 == "queued")
        let job = try #require(try queue.job(id))
        #expect(job.state == .queued && job.attempt == 0 && job.finishedAt == nil && job.lastError == "boom")
        #expect(try queue.retry([id]).first?.1 == "unchanged: queued")
    }

    @Test func pruneDeletesOnlyOldFinishedJobs() throws {
        let ids = try queue.enqueueSamples(3)
        let w = try worker()
        let attempt = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        _ = try queue.complete(attempt, result: ["video": "v"], timings: [:])
        clock.advance(3600)
        #expect(try queue.pruneHistory(before: clock.now()!.addingTimeInterval(-7200)) == 0)
        #expect(try queue.pruneHistory(before: clock.now()!) == 1)
        #expect(try queue.job(attempt.jobID) == nil)
        #expect(try queue.jobs().map(\.id).sorted() == ids.filter { $0 != attempt.jobID }.sorted())
    }

    @Test func theEventLogIsAppendOnly() throws {
        let id = try queue.enqueueSamples(1)[0]
        #expect {
            try queue.connection.query("UPDATE tessera.job_events SET error = 'x' WHERE job_id = $1", [id])
        } throws: { error in
            "\(error)".contains("append-only")
        }
    }

    @Test func invariantsAreCheckedByTheDatabase() throws {
        let id = try queue.enqueueSamples(1)[0]
        // running without a worker, succeeded without a result, attempt past the maximum
        for statement in [
            "UPDATE tessera.jobs SET state = 'running' WHERE id = $1",
            "UPDATE tessera.jobs SET state = 'succeeded', finished_at = now() WHERE id = $1",
            "UPDATE tessera.jobs SET attempt = 99 WHERE id = $1",
            "UPDATE tessera.jobs SET progress = 2 WHERE id = $1",
        ] {
            #expect(throws: PostgresError.self) { try queue.connection.query(statement, [id]) }
        }
    }
}
