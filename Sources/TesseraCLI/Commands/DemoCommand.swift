import ArgumentParser
import Foundation
import Logging
import TesseraFarm
import TesseraQueue
import TesseraStorage

/// The README's main job: enqueue a sample batch and render it with local workers, end to end — prototype,
/// 1080p pass, MP4, object store — with the default model, then say where the videos are.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Enqueue a sample batch and render it with local workers and the default model; prints where the videos are.",
        discussion: """
            The batch is small enough for a 2-core machine: three short clips and a still image, landscape and portrait.             Workers split the kernel threads between them. Videos go to the configured object store (the embedded             default: $TESSERA_HOME/objects).
            """)

    @Option(help: "Number of local workers.")
    var workers: Int = 2

    @Option(help: "video (the real renderer, default model) or test (no model: walks jobs through the farm only).")
    var renderer = "video"

    @Option(help: "Test renderer: seconds each render takes.")
    var renderSeconds: Double = 2

    @OptionGroup var model: ModelOptions

    static let samplePrompts = """
        {"prompt": "a red ball bouncing", "seed": 1, "duration": 1}
        {"prompt": "a yellow star falling on a dark blue background", "seed": 2, "orientation": "portrait", "duration": 1}
        {"prompt": "a green square sliding to the left", "seed": 3, "duration": 1, "steps": 20}
        {"prompt": "a purple circle and a white square on a black background", "seed": 4, "duration": 0, "priority": 5}

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
        let renderer: any Renderer
        switch self.renderer {
        case "video":
            var model = self.model
            model.threads = max(1, model.threads / workers)
            let loaded = try model.load()
            let store = try configuration.objectStorage.makeStore()
            try store.prepare()
            print("==> model \(loaded.hash) from \(model.dit); \(workers) workers × \(model.threads) kernel thread(s); videos go to \(store.url(for: try ObjectKey("jobs")).absoluteString)")
            renderer = VideoRenderer(model: loaded, store: store)
        case "test":
            print("==> the TEST renderer: no video is made; jobs only walk through the farm")
            renderer = TestRenderer(duration: renderSeconds, steps: 20)
        default:
            throw CLIError("--renderer must be video or test, not \(self.renderer)")
        }

        let options = try WorkerOptions(lease: 60, heartbeatInterval: 1, pollInterval: 0.5, exitWhenIdle: true)
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
        print("\n==> \(done) of \(jobs.count) jobs completed")
        for job in jobs {
            for key in ["video", "prototype", "contact_sheet"] {
                if let url = job.result?[key] { print("    job \(job.id) \(key): \(url)") }
            }
            if let error = job.lastError, job.state != .succeeded { print("    job \(job.id) \(job.state.rawValue): \(error)") }
        }
        print("""
            ==> job history is plain SQL, for example:
                psql "\(database.conninfo)" -c "SELECT job_id, state, attempt, run_time, prompt FROM tessera.job_history WHERE batch_id = \(outcome.batchID)"
                tessera jobs show \(outcome.jobIDs.first ?? 1)
            """)
        if done != jobs.count { throw ExitCode(1) }
    }
}
