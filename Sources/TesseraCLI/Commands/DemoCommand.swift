import ArgumentParser
import Foundation
import Logging
import TesseraFarm
import TesseraQueue

/// The README's main job: enqueue a sample batch and run it through the farm as far as the farm goes.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Enqueue a sample batch and run it through the farm with two local workers.")

    @Option(help: "Number of local workers.")
    var workers: Int = 2

    @Option(help: "Seconds each test render takes.")
    var renderSeconds: Double = 2

    static let samplePrompts = """
        {"prompt": "a red ball bouncing on a blue floor", "seed": 1, "duration": 5}
        {"prompt": "two yellow stars drifting across a night sky", "seed": 2, "orientation": "portrait"}
        {"prompt": "a green square sliding left, then falling", "seed": 3, "orientation": "both", "priority": 5}
        {"prompt": "an orange triangle spinning in place", "seed": 4, "duration": 0}
        {"prompt": "a purple circle and a white square colliding", "seed": 5, "fps": 30}

        """

    func run() throws {
        guard (1...16).contains(workers) else { throw CLIError("--workers must be 1 to 16") }
        let logger = CLIContext.logger("tessera.demo")
        let configuration = CLIContext.configuration()
        if let url = configuration.databaseURL {
            print("==> using the PostgreSQL server at \(redact(url))")
        } else {
            print("==> using the embedded PostgreSQL cluster in \(configuration.home.path) (started on demand, kept running; `tessera dev down` stops it)")
        }
        let database = try CLIContext.database()
        let queue = try CLIContext.queue(database)

        let specs = try EnqueueParser().parse(Array(Self.samplePrompts.utf8))
        let name = "sample-" + ISO8601DateFormatter().string(from: Date())
        let outcome = try queue.enqueue(BatchRequest(name: name, contentHash: name, jobs: specs))
        print("==> enqueued batch \(outcome.batchID) \"\(name)\": \(outcome.jobIDs.count) jobs from \(specs.count) prompt lines")
        print("""
            ==> NOT THERE YET: the diffusion engine exists (DiT, sampler: `tessera bench dit`), but the VAE, the \
            text encoder, trained weights, the MP4 writer and the object store come with issues 4 to 7. This run \
            renders with the farm's TEST renderer, which makes no video: it walks each job through claim, \
            heartbeats, progress and completion so you can see the farm work. The production `tessera worker` \
            refuses jobs with a clear error until the video renderer exists.
            """)

        let options = try WorkerOptions(lease: 15, heartbeatInterval: 0.5, pollInterval: 0.5, exitWhenIdle: true)
        let renderer = TestRenderer(duration: renderSeconds, steps: 20)
        var quiet = logger
        quiet.logLevel = .warning
        let pool = (0..<workers).map { _ in
            Worker(database: database, renderer: renderer, options: options, version: TesseraCommand.version, logger: quiet)
        }
        let finished = DispatchGroup()
        for worker in pool {
            finished.enter()
            Thread.detachNewThread {
                do { try worker.runBlocking() } catch { logger.error("worker failed", metadata: ["error": "\(error)"]) }
                finished.leave()
            }
        }
        print("==> \(workers) workers running")
        let filter = JobFilter(batchID: outcome.batchID, limit: 1000)
        let terminal = isatty(1) == 1
        var lastLines = 0
        while finished.wait(timeout: .now() + 0.5) == .timedOut {
            guard terminal else { continue }
            let frame = watchFrame(try queue.jobs(filter))
            // Redraw in place: up over the previous frame, clear to the end of the screen.
            print((lastLines > 0 ? "\u{1B}[\(lastLines)A" : "") + "\u{1B}[J" + frame)
            fflush(nil)
            lastLines = frame.split(separator: "\n", omittingEmptySubsequences: false).count
        }
        let jobs = try queue.jobs(filter)
        print("")
        print(jobsTable(jobs))
        let done = jobs.filter { $0.state == .succeeded }.count
        print("""

            ==> \(done) of \(jobs.count) jobs completed by the test renderer (no video files were made).
            ==> job history is plain SQL, for example:
                psql "\(database.conninfo)" -c "SELECT job_id, state, attempt, run_time, prompt FROM tessera.job_history WHERE batch_id = \(outcome.batchID)"
                tessera jobs show \(outcome.jobIDs.first ?? 1)
            """)
        if done != jobs.count { throw ExitCode(1) }
    }
}
