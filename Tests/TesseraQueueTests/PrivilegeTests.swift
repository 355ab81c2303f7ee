import Foundation
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// The worker role can run the queue's functions and nothing else; the reader role can read history.
@Suite struct PrivilegeTests {
    @Test func workerRoleClaimsAndUpdatesButCannotAlterHistoryOrSchema() throws {
        let conninfo = try TestDatabase.createMigrated("priv")
        let owner = JobQueue(connection: try PostgresConnection(conninfo))
        let id = try owner.enqueueSamples(1)[0]

        let connection = try PostgresConnection(conninfo)
        try connection.execute("SET ROLE tessera_worker")
        let migrator = try TestDatabase.migrator()
        try migrator.checkNotNewer(connection)
        #expect(try migrator.isCurrent(connection), "a worker login can check the schema version at start")
        let worker = JobQueue(connection: connection)
        let w = try worker.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        let attempt = try #require(try worker.claim(workerID: w, lease: 30).first?.currentAttempt)
        #expect(try worker.heartbeat(attempt, progress: 0.5, stage: "s", lease: 30) == .ok)
        #expect(try worker.complete(attempt, result: ["video": "v"], timings: [:]))

        let refused = [
            "UPDATE tessera.jobs SET state = 'queued' WHERE id = \(id)",
            "DELETE FROM tessera.jobs",
            "DELETE FROM tessera.job_events",
            "INSERT INTO tessera.job_events (job_id, at, kind, to_state, attempt) VALUES (\(id), now(), 'claimed', 'running', 1)",
            "UPDATE tessera.queue_settings SET backoff_base_s = 0",
            "CREATE TABLE tessera.mine (x int)",
            "DROP VIEW tessera.job_history",
            "SELECT * FROM tessera.cancel_jobs(ARRAY[\(id)]::bigint[])",
            "SELECT tessera.prune_history(now())",
            "SELECT * FROM tessera.rescue_expired(10)",
        ]
        for statement in refused {
            #expect(statement.isEmpty == false)
            do {
                try connection.execute(statement)
                Issue.record("the worker role was allowed: \(statement)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501", "permission denied expected for \(statement), got \(error)")
            }
        }
        #expect(try owner.eventCount(id, kind: "succeeded") == 1)
    }

    @Test func readerRoleReadsViewsOnly() throws {
        let conninfo = try TestDatabase.createMigrated("reader")
        try JobQueue(connection: try PostgresConnection(conninfo)).enqueueSamples(2)
        let connection = try PostgresConnection(conninfo)
        try connection.execute("SET ROLE tessera_reader")
        #expect(try connection.query("SELECT count(*) AS n FROM tessera.job_history").first?.int("n") == 2)
        #expect(try connection.query("SELECT sum(jobs) AS n FROM tessera.queue_depth").first?.int("n") == 2)
        #expect(throws: PostgresError.self) { try connection.query("SELECT * FROM tessera.jobs") }
        #expect(throws: PostgresError.self) { try connection.query("DELETE FROM tessera.batches") }
    }
}
