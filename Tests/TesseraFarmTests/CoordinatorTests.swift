import Foundation
import Logging
import Metrics
import Prometheus
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

@Suite struct CoordinatorTests {
    @Test func dutiesRunOnceRescueAndPrune() throws {
        let clock = ManualClock()
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("duties")), clock: clock)
        let ids = try queue.enqueueSamples(2)
        let w = try queue.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        let done = try #require(try queue.claim(workerID: w, lease: 10).first?.currentAttempt)
        _ = try queue.complete(done, result: ["video": "v"], timings: [:])
        _ = try queue.claim(workerID: w, lease: 10)
        clock.advance(11)
        let logger = Logger(label: "test")
        try Rescuer(logger: logger).runOnce(queue)
        #expect(try queue.job(ids[1])?.state == .queued)
        try Retention(keep: nil, logger: logger).runOnce(queue)
        #expect(try queue.job(done.jobID) != nil, "the default keeps history")
        clock.advance(100)
        try Retention(keep: 50, logger: logger).runOnce(queue)
        #expect(try queue.job(done.jobID) == nil)
        #expect(try queue.job(ids[1]) != nil, "unfinished jobs are never pruned")
    }

    @Test func coordinatorServiceLeadsAndRescues() throws {
        let conninfo = try TestDatabase.createMigrated("coord")
        let queue = JobQueue(connection: try PostgresConnection(conninfo))
        let id = try queue.enqueueSamples(1)[0]
        let w = try queue.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        _ = try queue.claim(workerID: w, lease: 1)
        let database = try Database(
            configuration: Configuration(databaseURL: conninfo, home: FileManager.default.temporaryDirectory),
            migrator: TestDatabase.migrator())
        let logger = Logger(label: "test")
        let first = Coordinator(database: database, duties: [Rescuer(logger: logger)], interval: 0.2, logger: logger)
        let second = Coordinator(database: database, duties: [Rescuer(logger: logger)], interval: 0.2, logger: logger)
        let group = DispatchGroup()
        for coordinator in [first, second] {
            group.enter()
            Thread.detachNewThread {
                coordinator.runBlocking()
                group.leave()
            }
        }
        try waitUntil(10, "the rescue") { try queue.job(id)?.state == .queued }
        #expect([first.isLeader, second.isLeader].filter { $0 }.count == 1, "exactly one leads")
        first.requestStop()
        second.requestStop()
        group.wait()
    }

    @Test func queueMetricsArePrometheusText() throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))  // the only bootstrap in this test process
        let queue = JobQueue(connection: try PostgresConnection(TestDatabase.createMigrated("metrics")))
        try queue.enqueueSamples(3)
        let w = try queue.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        let job = try #require(try queue.claim(workerID: w, lease: 30).first?.currentAttempt)
        _ = try queue.heartbeat(job, progress: 0.5, stage: nil, lease: 30)
        try QueueMetrics().runOnce(queue)
        let text = registry.emitToString()
        #expect(text.contains(#"tessera_queue_jobs{state="queued"} 2"#), "\(text)")
        #expect(text.contains(#"tessera_queue_jobs{state="running"} 1"#))
        #expect(text.contains("tessera_queue_ready_jobs 2"))
        #expect(text.contains(#"tessera_running_job_progress{worker="\#(w)",job="\#(job.jobID)"} 0.5"#))
        #expect(text.contains("tessera_jobs_completed 0"))

        let server = try MetricsServer(address: "127.0.0.1:0", registry: registry, logger: Logger(label: "test"))
        server.start()
        let scrape = try ChildProcess.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(server.port)/metrics"])
        #expect(scrape.status == 0 && scrape.output.contains("tessera_queue_jobs"), "\(scrape.output)")
    }
}
