import Foundation
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraStorage
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
        // One structured log line per job event, each naming the job and the attempt.
        let lines = logText(log).split(separator: "\n").filter { $0.contains("job=\(id)") }
        #expect(lines.filter { $0.contains("job claimed") }.count == 3)
        #expect(lines.filter { $0.contains("job attempt failed") && $0.contains("outcome=retry_scheduled") }.count == 2)
        #expect(lines.contains { $0.contains("job succeeded") && $0.contains("attempt=3") })
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

    /// A short job for the tiny random model: 5 frames, 8 steps, 5 of them in the full pass.
    func videoJob(prototypeOnly: Bool = false) throws -> Int64 {
        let spec = JobSpec(line: 1, prompt: "a red ball bouncing", seed: 4, duration: 0.2, fps: 24, steps: 8, guidance: 3, refineStrength: 0.9,
                           prototypeOnly: prototypeOnly)
        return try queue.enqueue(BatchRequest(name: "video-\(UUID().uuidString)", contentHash: "v", jobs: [spec])).jobIDs[0]
    }

    func videoWorker(_ model: URL, home: URL, extra: [String] = []) -> [String] {
        ["worker", "--dit", model.path, "--vae", model.path, "--threads", "1", "--lease", "2", "--heartbeat", "0.3", "--poll", "0.3",
         "--checkpoint-seconds", "0"] + extra
    }

    @Test func theProductionWorkerRendersAJobIntoTheObjectStore() throws {
        let (_, model) = try VideoRenderTests.model()
        let home = model.appendingPathComponent("home")
        defer { try? FileManager.default.removeItem(at: model) }
        let id = try videoJob(prototypeOnly: true)
        let (worker, log) = try TesseraProcess.start(videoWorker(model, home: home, extra: ["--max-jobs", "1"]), conninfo: conninfo,
                                                     environment: ["TESSERA_HOME": home.path])
        #expect(worker.wait() == 0, "\(logText(log))")
        let job = try #require(try queue.job(id))
        #expect(job.state == .succeeded, "\(job.lastError ?? "")")
        for key in ["prototype", "contact_sheet"] {
            let url = try #require(job.result?[key].flatMap(URL.init(string:)), "\(key) in \(job.result ?? [:])")
            #expect(url.path.hasPrefix(home.appendingPathComponent("objects/jobs/\(id)").path) && FileManager.default.fileExists(atPath: url.path))
        }
        #expect(job.result?["caption"]?.lowercased().contains("red") == true, "the expanded caption is kept on the job")
        #expect(try queue.events(of: id).last?.timings?["prototype_sample"] != nil, "stage timings are kept on the job's events")
    }

    @Test func aWorkerWithoutAModelSaysWhichFileIsMissingAndClaimsNothing() throws {
        let id = try videoJob()
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-model-\(UUID().uuidString)")
        let (status, output) = try TesseraProcess.run(["worker", "--dit", missing.path, "--vae", missing.path, "--max-jobs", "1"], conninfo: conninfo)
        #expect(status != 0)
        #expect(output.contains("dit.json") && output.contains("missing"), "\(output)")
        #expect(try queue.job(id)?.state == .queued, "nothing was claimed")
    }

    @Test func aKilledVideoRenderResumesOnAnotherWorkerToTheSameBytes() throws {
        let (renderModel, model) = try VideoRenderTests.model()
        let home = model.appendingPathComponent("home")
        defer { try? FileManager.default.removeItem(at: model) }
        let id = try videoJob()
        let (victim, victimLog) = try TesseraProcess.start(videoWorker(model, home: home), conninfo: conninfo, environment: ["TESSERA_HOME": home.path])
        let state = home.appendingPathComponent("objects/jobs/\(id)/state/full.tsmp")
        try waitUntil(600, "the full pass to save a state") { FileManager.default.fileExists(atPath: state.path) }
        victim.signal(SIGKILL)
        #expect(victim.wait() == 128 + SIGKILL, "\(logText(victimLog))")

        let rescuer = Rescuer(logger: .init(label: "test"))
        try waitUntil(20, "the lease to expire and be rescued") {
            try rescuer.runOnce(queue)
            return try queue.job(id)?.state == .queued
        }
        let (survivor, survivorLog) = try TesseraProcess.start(videoWorker(model, home: home, extra: ["--max-jobs", "1"]), conninfo: conninfo,
                                                               environment: ["TESSERA_HOME": home.path])
        #expect(survivor.wait() == 0, "\(logText(survivorLog))")
        let job = try #require(try queue.job(id))
        #expect(job.state == .succeeded && job.attempt == 2, "\(job.lastError ?? "")")
        #expect(try queue.events(of: id).last?.timings?["prototype_sample"] == nil, "the second attempt did not sample the prototype again")
        #expect(try queue.events(of: id).filter { $0.kind == "succeeded" }.count == 1)

        // The same settings rendered straight through, in this process on another thread count.
        let reference = LocalStore(root: model.appendingPathComponent("reference"))
        try reference.prepare()
        let straight = try VideoRender(model: renderModel, artifacts: RenderArtifacts(store: reference, job: "\(id)", scratch: model))
            .run(RenderSettings(job: job.spec))
        let resumed = try Data(contentsOf: try #require(job.result?["video"].flatMap(URL.init(string:))))
        #expect(resumed == (try Data(contentsOf: URL(string: straight.result["video"]!)!)), "byte-identical to an uninterrupted render")
    }

    @Test func anIdleWorkerIsWokenByNotifyNotByPolling() throws {
        let (worker, log) = try TesseraProcess.start(workerArguments(duration: 0, extra: ["--poll", "60", "--max-jobs", "1"]), conninfo: conninfo)
        defer { worker.signal(SIGKILL); worker.wait() }
        try waitUntil(20, "the worker to register and go idle") { try !queue.workers().isEmpty }
        Thread.sleep(forTimeInterval: 0.5)
        let enqueued = Date()
        let id = try queue.enqueueSamples(1)[0]
        try waitUntil(10, "the job to be claimed") { try queue.job(id)?.state != .queued }
        #expect(Date().timeIntervalSince(enqueued) < 3, "claimed long before the 60 s poll: \(logText(log))")
        #expect(worker.wait() == 0)
    }

    @Test func workerServesClaimLatencyAndProgressMetrics() throws {
        try queue.enqueueSamples(1)
        let (worker, log) = try TesseraProcess.start(
            workerArguments(duration: 30, extra: ["--metrics-address", "127.0.0.1:0"]), conninfo: conninfo)
        defer { worker.signal(SIGKILL); worker.wait() }
        var url = ""
        try waitUntil(20, "the metrics address in the log") {
            guard let line = logText(log).split(separator: "\n").first(where: { $0.contains("serving metrics") }),
                let range = line.range(of: "http://[0-9.:]+/metrics", options: .regularExpression)
            else { return false }
            url = String(line[range])
            return true
        }
        try waitUntil(20, "the job to run and report progress") { try queue.jobs(JobFilter(state: .running)).first?.progress ?? 0 > 0 }
        Thread.sleep(forTimeInterval: 0.5)
        let scrape = try ChildProcess.run("/usr/bin/curl", ["-sf", url])
        #expect(scrape.status == 0, "\(scrape.output)")
        #expect(scrape.output.contains("tessera_claim_duration_seconds_bucket"), "\(scrape.output)")
        #expect(scrape.output.contains("tessera_worker_job{worker="))
    }

    @Test func jobsWatchDrawsProgressBars() throws {
        let ids = try queue.enqueueSamples(2)
        let w = try queue.registerWorker(host: "h", pid: 1, version: "v", capabilities: [:])
        let attempt = try #require(try queue.claim(workerID: w, lease: 30).first?.currentAttempt)
        _ = try queue.heartbeat(attempt, progress: 0.5, stage: "prototype step 5/10", lease: 30)
        let watch = try TesseraProcess.run(["jobs", "watch", "--once"], conninfo: conninfo)
        #expect(watch.status == 0, "\(watch.output)")
        #expect(watch.output.contains("[############------------]  50%"), "\(watch.output)")
        #expect(watch.output.contains("prototype step 5/10"))
        #expect(watch.output.contains("queued 1  running 1"))
        #expect(ids.count == 2)
    }
}
