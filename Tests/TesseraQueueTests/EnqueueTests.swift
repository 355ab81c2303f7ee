import Foundation
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

@Suite struct EnqueueTests {
    @Test func aBatchIsOneTransaction() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("atomic")))
        var jobs = (1...5).map { JobSpec.sample($0) }
        jobs[3].steps = 0  // violates a CHECK constraint in the middle of the batch
        #expect(throws: PostgresError.self) {
            _ = try queue.enqueue(BatchRequest(name: "bad", contentHash: "h", jobs: jobs))
        }
        #expect(try queue.jobs().isEmpty, "no job of the failed batch remains")
        #expect(try queue.batches().isEmpty, "no batch row remains")
        #expect(try queue.connection.query("SELECT count(*) AS n FROM tessera.job_events").first?.int("n") == 0)
    }

    @Test func aFileWithOneBadLineEnqueuesNothing() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("badline")))
        let file = "good one\ngood two\n\ngood four\n"
        #expect(throws: EnqueueFileError.self) {
            let specs = try EnqueueParser().parse(Array(file.utf8))
            _ = try queue.enqueue(BatchRequest(name: "f", contentHash: "h", jobs: specs))
        }
        #expect(try queue.jobs().isEmpty)
    }

    @Test func idempotencyKeyCreatesNothingNew() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("idem")))
        let request = BatchRequest(name: "b", idempotencyKey: "key-1", contentHash: "h1", jobs: [.sample(1), .sample(2)])
        let first = try queue.enqueue(request)
        let second = try queue.enqueue(request)
        #expect(first.created && !second.created)
        #expect(first.batchID == second.batchID && first.jobIDs == second.jobIDs)
        #expect(try queue.jobs().count == 2)
        var different = request
        different.contentHash = "h2"
        #expect {
            _ = try queue.enqueue(different)
        } throws: { error in
            "\(error)".contains("already used by batch \(first.batchID)")
        }
        #expect(try queue.jobs().count == 2)
    }

    @Test func promptsAreStoredVerbatim() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("verbatim")))
        let prompts = ["it's \"quoted\"", "'); DROP TABLE tessera.jobs; --", "ctrl \u{1}\u{1B}[0m\t\r", "$1 $$ \\ {}", "🎬 日本語"]
        let specs = prompts.enumerated().map { JobSpec.sample($0.offset + 1, prompt: $0.element) }
        let outcome = try queue.enqueue(BatchRequest(name: "v", contentHash: "h", jobs: specs))
        let stored = try outcome.jobIDs.map { try queue.job($0)!.spec.prompt }
        #expect(stored == prompts)
    }

    @Test func eachJobStartsWithAnEnqueuedEvent() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("events")))
        let ids = try queue.enqueueSamples(3)
        for id in ids {
            let events = try queue.events(of: id)
            #expect(events.map(\.kind) == ["enqueued"])
            #expect(events.first?.toState == .queued)
        }
    }

    @Test func enqueueWakesListeners() throws {
        let conninfo = try TestDatabase.createMigrated("notify")
        let listener = try PostgresConnection(conninfo)
        try listener.listen("tessera_jobs")
        #expect(try listener.waitForNotifications(timeout: 0.1).isEmpty)
        let queue = JobQueue(connection: try PostgresConnection(conninfo))
        try queue.enqueueSamples(3)
        #expect(try listener.waitForNotifications(timeout: 5) == ["tessera_jobs"])
    }
}

@Suite struct ApproveTests {
    @Test func approvingFinishedPrototypesEnqueuesTheirFullPassOnce() throws {
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("approve")))
        var specs = (1...3).map { JobSpec.sample($0) }
        for i in specs.indices { specs[i].prototypeOnly = true }
        specs[2].prototypeOnly = false
        let batch = try queue.enqueue(BatchRequest(name: "protos", contentHash: "p", jobs: specs))
        let worker = try queue.registerWorker(host: "test", pid: 1, version: "t", capabilities: [:])
        // Job 1 finishes its prototype; job 2 is still queued; job 3 was never prototype-only.
        let claimed = try queue.claim(workerID: worker, limit: 1, lease: 30)
        #expect(claimed.first?.id == batch.jobIDs[0])
        #expect(try queue.complete(claimed[0].currentAttempt!, result: ["prototype": "p.mp4"], timings: [:]))

        #expect {
            _ = try queue.approve([batch.jobIDs[0], batch.jobIDs[1], batch.jobIDs[2], 999_999])
        } throws: { error in
            let text = "\(error)"
            return text.contains("job \(batch.jobIDs[1]): its prototype is not finished (state queued)")
                && text.contains("job \(batch.jobIDs[2]): not a prototype-only job") && text.contains("job 999999: no such job")
        }
        #expect(try queue.batches().count == 1, "a refused approval enqueues nothing")

        let approved = try queue.approve([batch.jobIDs[0]])
        #expect(approved.created && approved.jobIDs.count == 1)
        let full = try queue.job(approved.jobIDs[0])!
        var expected = specs[0]
        expected.prototypeOnly = false
        #expect(full.spec == expected && full.state == .queued, "the same settings with the full pass on")
        let again = try queue.approve([batch.jobIDs[0]])
        #expect(!again.created && again.jobIDs == approved.jobIDs, "approving twice creates nothing new")
    }
}
