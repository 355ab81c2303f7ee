import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraFarm
import TesseraQueue
import TesseraTensor

/// Options that choose the renderer. The test renderer is only ever used when named explicitly.
struct RendererOptions: ParsableArguments {
    @Option(help: "video (the real renderer) or test (no model: sleeps, reports progress, fails on request).")
    var renderer: String = "video"

    @Option(help: "Test renderer: seconds each render takes.")
    var testDuration: Double = 2

    @Option(help: "Test renderer: fail attempts numbered up to this.")
    var testFailAttempts: Int = 0

    @Option(help: "Test renderer: fail every attempt of jobs whose prompt contains this text.")
    var testFailMarker: String?

    @OptionGroup var model: ModelOptions

    @Option(help: "Seconds between saves of a render's sampler state to the object store (what a new attempt resumes from).")
    var checkpointSeconds: Double = 10

    func make(logger: Logger) throws -> any Renderer {
        switch renderer {
        case "video":
            let loaded = try model.load()
            let store = try CLIContext.configuration().objectStorage.makeStore()
            try store.prepare()
            logger.info("model loaded", metadata: ["model": "\(loaded.hash)", "dit": "\(model.dit)", "vae": "\(model.vae)", "threads": "\(model.threads)"])
            guard checkpointSeconds >= 0 else { throw CLIError("--checkpoint-seconds must not be negative") }
            return VideoRenderer(model: loaded, store: store, checkpointInterval: checkpointSeconds)
        case "test":
            guard testDuration >= 0 else { throw CLIError("--test-duration must not be negative") }
            logger.warning("using the TEST renderer: jobs complete without any video (chosen with --renderer test)")
            return TestRenderer(duration: testDuration, failAttemptsUpTo: testFailAttempts, failPromptMarker: testFailMarker)
        default:
            throw CLIError("--renderer must be video or test, not \(renderer)")
        }
    }
}

/// The trained model a render loads, and the kernel threads it runs on.
struct ModelOptions: ParsableArguments {
    @Option(help: "DiT folder (dit.json, dit.safetensors, model.json).")
    var dit = "models/default"
    @Option(help: "VAE folder (vae.json, vae.safetensors).")
    var vae = "models/default"
    @Option(help: "Text encoder folder (default: TESSERA_TEXT_ENCODER or models/all-MiniLM-L6-v2).")
    var textEncoder: String?
    @Option(help: "Threads for kernels.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Sets the thread count and loads the networks (with a guiding DiT from `guide`, for autoguidance); a
    /// missing or broken model says how to get one.
    func load(guide: String? = nil) throws -> RenderModel {
        guard threads >= 1 else { throw CLIError("--threads must be at least 1") }
        Compute.setThreads(threads)
        do {
            return try RenderModel(
                ditFolder: URL(fileURLWithPath: dit), vaeFolder: URL(fileURLWithPath: vae),
                textEncoder: textEncoder.map { URL(fileURLWithPath: $0) } ?? CLIContext.configuration().textEncoder,
                guideFolder: guide.map { URL(fileURLWithPath: $0) })
        } catch {
            throw CLIError("cannot load the model: \(error). The default model ships in models/default; train one with `tessera train vae` and `tessera train dit` (docs/MODEL.md), or pass --dit and --vae.")
        }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and render jobs until stopped (SIGTERM/SIGINT: finish or hand back the current job).")

    @OptionGroup var rendererOptions: RendererOptions

    @Option(help: "Seconds a claim holds a job; a worker silent for longer loses it.")
    var lease: Double = 30

    @Option(help: "Seconds between heartbeats (at most half the lease); cancels are noticed within one.")
    var heartbeat: Double = 3

    @Option(help: "Seconds an idle worker waits for a notification before polling.")
    var poll: Double = 5

    @Option(help: "Seconds a stopping worker lets its job finish before handing it back.")
    var shutdownGrace: Double = 30

    @Option(help: "Exit after this many jobs.")
    var maxJobs: Int?

    @Flag(help: "Exit when no job is ready.")
    var exitWhenIdle = false

    @Option(help: "Serve Prometheus metrics at HOST:PORT/metrics (for example 127.0.0.1:9465).")
    var metricsAddress: String?

    func run() async throws {
        let logger = CLIContext.logger("tessera.worker")
        let options: WorkerOptions
        do {
            options = try WorkerOptions(
                lease: lease, heartbeatInterval: heartbeat, pollInterval: poll, shutdownGrace: shutdownGrace,
                maxJobs: maxJobs, exitWhenIdle: exitWhenIdle)
        } catch {
            throw CLIError("\(error)")
        }
        let renderer = try rendererOptions.make(logger: logger)
        let database = try CLIContext.database()
        _ = try CLIContext.queue(database)  // schema check and migrations before the first claim
        try startMetrics(metricsAddress, logger: logger)
        let worker = Worker(database: database, renderer: renderer, options: options, version: TesseraCommand.version, logger: logger)
        try await runService(worker, logger: logger)
    }
}

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Keep the queue healthy: rescue expired leases, schedule retries, prune history, publish metrics.",
        discussion: "Run as many as you like; one leads (PostgreSQL advisory lock), the others take over if it stops.")

    @Option(help: "Seconds between passes.")
    var interval: Double = 5

    @Option(help: "Delete finished jobs older than this (30d, 12h); default: keep everything.")
    var retention: String?

    @Option(help: "Serve Prometheus metrics at HOST:PORT/metrics.")
    var metricsAddress: String = "127.0.0.1:9464"

    func run() async throws {
        let logger = CLIContext.logger("tessera.coordinator")
        guard interval > 0 else { throw CLIError("--interval must be positive") }
        let keep = try retention.map(parseDuration)
        let database = try CLIContext.database()
        _ = try CLIContext.queue(database)
        try startMetrics(metricsAddress, logger: logger)
        let coordinator = Coordinator(
            database: database,
            duties: [Rescuer(logger: logger), Retention(keep: keep, logger: logger), QueueMetrics()],
            interval: interval, logger: logger)
        try await runService(coordinator, logger: logger)
    }
}

func startMetrics(_ address: String?, logger: Logger) throws {
    guard let address, !address.isEmpty else { return }
    do {
        let server = try MetricsServer(address: address, registry: CLIContext.registry, logger: logger)
        server.start()
        logger.info("serving metrics", metadata: ["url": "http://\(address.split(separator: ":")[0]):\(server.port)/metrics"])
    } catch {
        throw CLIError("\(error)")
    }
}

/// Runs one service until it ends or SIGTERM/SIGINT asks it to shut down gracefully.
func runService(_ service: some Service, logger: Logger) async throws {
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
    try await group.run()
}
