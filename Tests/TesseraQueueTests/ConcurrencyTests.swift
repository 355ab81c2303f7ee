import Foundation
import Synchronization
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// Many workers racing over many jobs: every job is claimed and completed exactly once.
@Suite struct ConcurrencyTests {
    @Test func manyWorkersManyJobsEachCompletedExactlyOnce() throws {
        let conninfo = try TestDatabase.createMigrated("many")
        let owner = JobQueue(connection: try PostgresConnection(conninfo))
        let jobCount = 600, workerCount = 12
        var ids: [Int64] = []
        for batch in 0..<3 { ids += try owner.enqueueSamples(jobCount / 3, name: "b\(batch)") }
        let completedBy = Mutex<[Int64: Int]>([:])
        let errors = Mutex<[String]>([])
        let group = DispatchGroup()
        for index in 0..<workerCount {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let queue = JobQueue(connection: try PostgresConnection(conninfo))
                    let w = try queue.registerWorker(host: "w\(index)", pid: index + 1, version: "t", capabilities: [:])
                    while let job = try queue.claim(workerID: w, lease: 60).first {
                        guard try queue.complete(job.currentAttempt!, result: ["by": "\(w)"], timings: [:]) else {
                            errors.withLock { $0.append("complete refused for \(job.id)") }
                            continue
                        }
                        completedBy.withLock { $0[job.id, default: 0] += 1 }
                    }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
        }
        group.wait()
        #expect(errors.withLock { $0 } == [])
        let counts = completedBy.withLock { $0 }
        #expect(counts.count == jobCount)
        #expect(counts.values.allSatisfy { $0 == 1 })
        let rows = try owner.connection.query("""
            SELECT count(*) FILTER (WHERE kind = 'claimed') AS claimed, count(*) FILTER (WHERE kind = 'succeeded') AS succeeded,
                   count(DISTINCT job_id) FILTER (WHERE kind = 'succeeded') AS jobs
            FROM tessera.job_events
            """).first!
        #expect(try rows.int("claimed") == jobCount && rows.int("succeeded") == jobCount && rows.int("jobs") == jobCount)
        #expect(try owner.depth().byState[.succeeded] == jobCount)
    }

    @Test func oneCoordinatorLeadsAtATime() throws {
        let conninfo = try TestDatabase.createMigrated("leader")
        let a = JobQueue(connection: try PostgresConnection(conninfo))
        let b = JobQueue(connection: try PostgresConnection(conninfo))
        #expect(try a.tryLead())
        #expect(try !b.tryLead())
        a.connection.close()
        // The server ends the session asynchronously; the lock is free once it has.
        var took = false
        for _ in 0..<100 where !took {
            took = try b.tryLead()
            if !took { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(took, "the lock is free once the leader's session ends")
    }
}
