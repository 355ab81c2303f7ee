import Foundation
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// The embedded default: a private cluster made on first use, reused, stopped by `tessera dev down`;
/// and workers that ride out a PostgreSQL restart.
@Suite(.serialized) struct EmbeddedClusterTests {
    /// A fresh state folder the unprivileged server user can reach.
    static func home() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
        return path
    }

    static func tessera(_ arguments: [String], home: String, url: String? = nil) throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_HOME"] = home
        environment["TESSERA_MIGRATIONS"] = TestDatabase.migrationsFolder.path
        environment.removeValue(forKey: "TESSERA_DATABASE_URL")
        if let url { environment["TESSERA_DATABASE_URL"] = url }
        return try ChildProcess.run(try TesseraProcess.binary(), arguments, environment: environment)
    }

    @Test func firstUseCreatesTheClusterLaterUsesReuseItAndDevDownStopsIt() throws {
        let home = try Self.home()
        defer {
            _ = try? Self.tessera(["dev", "down"], home: home)
            try? FileManager.default.removeItem(atPath: home)
        }
        let before = try Self.tessera(["dev", "status", "--json"], home: home)
        #expect(before.status == 0 && before.output.contains("\"initialized\" : false"), "\(before.output)")

        let list = try Self.tessera(["jobs"], home: home)
        #expect(list.status == 0 && list.output.contains("no jobs match"), "\(list.output)")
        let running = try Self.tessera(["dev", "status", "--json"], home: home)
        #expect(running.output.contains("\"running\" : true"), "\(running.output)")
        let pid = try #require(EmbeddedPostgres(configuration: .init(databaseURL: nil, home: URL(fileURLWithPath: home))).runningPID())

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("p-\(UUID().uuidString).txt").path
        try "a red ball\na blue star\n".write(toFile: file, atomically: true, encoding: .utf8)
        let enqueue = try Self.tessera(["enqueue", file], home: home)
        #expect(enqueue.status == 0 && enqueue.output.contains("2 job(s)"), "\(enqueue.output)")
        let reused = try #require(EmbeddedPostgres(configuration: .init(databaseURL: nil, home: URL(fileURLWithPath: home))).runningPID())
        #expect(reused == pid, "the same server is reused")

        // Unix socket only: no TCP listener.
        let socketDir = URL(fileURLWithPath: home).appendingPathComponent("postgres/run").path
        #expect(FileManager.default.fileExists(atPath: socketDir + "/.s.PGSQL.5432"))
        let conf = try String(contentsOfFile: home + "/postgres/data/postgresql.conf", encoding: .utf8)
        #expect(conf.contains("listen_addresses = ''"))

        let down = try Self.tessera(["dev", "down"], home: home)
        #expect(down.status == 0 && down.output.contains("stopped"), "\(down.output)")
        let after = try Self.tessera(["dev", "status", "--json"], home: home)
        #expect(after.output.contains("\"running\" : false") && after.output.contains("\"initialized\" : true"))
    }

    @Test func withAURLConfiguredNoClusterIsStarted() throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result = try Self.tessera(["jobs"], home: home, url: "host=/nonexistent/socket dbname=x connect_timeout=2")
        #expect(result.status != 0)
        #expect(result.output.contains("cannot reach PostgreSQL"), "\(result.output)")
        #expect(!result.output.contains("Fatal error"), "a clear error, never a crash")
        #expect(!FileManager.default.fileExists(atPath: home + "/postgres"), "no embedded cluster was created")
        let dev = try Self.tessera(["dev", "status"], home: home, url: "host=/nonexistent dbname=x")
        #expect(dev.status != 0 && dev.output.contains("TESSERA_DATABASE_URL is set"))
    }

    @Test func workersReconnectWhenPostgreSQLRestarts() throws {
        let home = try Self.home()
        let cluster = try EmbeddedPostgres(configuration: .init(databaseURL: nil, home: URL(fileURLWithPath: home)))
        defer {
            _ = try? cluster.stop()
            try? FileManager.default.removeItem(atPath: home)
        }
        let conninfo = try cluster.ensureRunning()
        let queue = JobQueue(connection: try PostgresConnection(conninfo))
        try TestDatabase.migrator().migrate(queue.connection)
        let ids = try queue.enqueueSamples(12)
        let (worker, log) = try TesseraProcess.start(
            ["worker", "--renderer", "test", "--test-duration", "0.4", "--lease", "10", "--heartbeat", "0.5", "--poll", "0.3", "--max-jobs", "12"],
            conninfo: conninfo)
        defer { worker.signal(SIGKILL); worker.wait() }
        try waitUntil(30, "a few jobs to finish") {
            try queue.jobs(JobFilter(state: .succeeded)).count >= 2
        }
        try cluster.stop()
        Thread.sleep(forTimeInterval: 1)
        try cluster.ensureRunning()
        let after = JobQueue(connection: try PostgresConnection(conninfo))
        try waitUntil(60, "every job to finish after the restart") {
            try after.jobs(JobFilter(state: .succeeded)).count == ids.count
        }
        #expect(worker.wait() == 0, "\(logText(log))")
        #expect(logText(log).contains("reconnecting"), "the worker noticed the restart")
        for id in ids { #expect(try after.eventCount(id, kind: "succeeded") == 1) }
    }
}
