import Foundation
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// Queries that live in ops files run against the real schema, so a schema change cannot silently break
/// autoscaling.
@Suite struct OpsQueryTests {
    /// The `query:` line just above the marker comment in the KEDA ScaledObject.
    static func kedaQuery() throws -> String {
        let path = TestDatabase.repositoryRoot.appendingPathComponent("ops/k8s/keda-scaledobject.yaml").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        guard let marker = lines.firstIndex(where: { $0.contains("keda-query-test:") }), marker > 0 else {
            throw TestDatabaseError(description: "no keda-query-test marker in \(path)")
        }
        let line = lines[marker - 1].trimmingCharacters(in: .whitespaces)
        guard line.hasPrefix("query:") else { throw TestDatabaseError(description: "the line above the marker is not a query: \(line)") }
        var query = line.dropFirst("query:".count).trimmingCharacters(in: .whitespaces)
        if query.hasPrefix("\"") && query.hasSuffix("\"") { query = String(query.dropFirst().dropLast()) }
        return query.replacingOccurrences(of: "\\\"", with: "\"")
    }

    @Test func kedaQueueDepthQueryCountsReadyAndRunningJobs() throws {
        let clockless = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("keda")))
        let query = try Self.kedaQuery()
        func value() throws -> Int {
            let rows = try clockless.connection.query(query)
            #expect(rows.columns.count == 1 && rows.values.count == 1, "KEDA needs one row with one number")
            return Int(try #require(rows.values.first?.first ?? nil)) ?? -1
        }
        #expect(try value() == 0)
        let ids = try clockless.enqueueSamples(5)
        #expect(try value() == 5)
        let w = try clockless.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        let attempt = try #require(try clockless.claim(workerID: w, lease: 60).first?.currentAttempt)
        #expect(try value() == 5, "a running job still needs its worker")
        _ = try clockless.complete(attempt, result: ["video": "v"], timings: [:])
        _ = try clockless.cancel([ids[4]])
        #expect(try value() == 3)
        // A job waiting out its retry backoff is not ready yet.
        try clockless.connection.query("UPDATE tessera.jobs SET run_after = now() + interval '1 hour' WHERE id = $1", [ids[3]])
        #expect(try value() == 2)
    }
}
