import Foundation
import Synchronization
import TesseraQueue
import TesseraStorage

/// What a finished render hands back: object keys (or URLs) of its outputs and stage timings in seconds.
public struct RenderOutput: Sendable, Equatable {
    public var result: [String: String]
    public var timings: [String: Double]

    public init(result: [String: String], timings: [String: Double]) {
        self.result = result
        self.timings = timings
    }
}

/// A render that failed. `retryable` says whether another attempt may succeed.
public struct RenderError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

/// Thrown by `RenderContext.checkStop()` when the worker asked the render to stop.
public struct RenderStopped: Error, Sendable, CustomStringConvertible {
    public let reason: AttemptLifecycle.StopReason
    public var description: String { "render stopped: \(reason.rawValue)" }
}

/// Turns a claimed job into video. Called on the worker's render thread; may block for a long time, and
/// must call `context.checkStop()` often (each sampler step) and report progress.
public protocol Renderer: Sendable {
    /// A short name for logs and the worker's capabilities.
    var name: String { get }
    func render(_ job: Job, context: RenderContext) throws -> RenderOutput
}

/// The channel between a running render and its worker: progress out, stop requests in.
public final class RenderContext: Sendable {
    private struct Shared {
        var progress = 0.0
        var stage: String?
        var stop: AttemptLifecycle.StopReason?
    }

    private let shared = Mutex(Shared())

    /// The attempt being rendered.
    public let attempt: JobAttempt

    public init(attempt: JobAttempt) {
        self.attempt = attempt
    }

    /// Records progress in 0...1 and the current stage; the worker sends it with the next heartbeat.
    public func report(progress: Double, stage: String? = nil) {
        shared.withLock {
            $0.progress = min(max(progress, 0), 1)
            if let stage { $0.stage = stage }
        }
    }

    /// Throws `RenderStopped` when the worker asked the render to stop.
    public func checkStop() throws {
        if let reason = stopReason { throw RenderStopped(reason: reason) }
    }

    /// Why the render was asked to stop, if it was.
    public var stopReason: AttemptLifecycle.StopReason? { shared.withLock { $0.stop } }

    /// The latest progress and stage.
    public var snapshot: (progress: Double, stage: String?) { shared.withLock { ($0.progress, $0.stage) } }

    func requestStop(_ reason: AttemptLifecycle.StopReason) {
        shared.withLock { if $0.stop == nil { $0.stop = reason } }
    }
}

/// The renderer the production `tessera worker` uses: the whole render (`VideoRender`) of each claimed job,
/// with its artifacts under `jobs/<id>/` in the object store, progress per step reported to the heartbeat,
/// and stop requests honoured at every step. A job whose attempt was lost resumes from the sampler state the
/// earlier attempt saved.
public struct VideoRenderer: Renderer {
    public let model: RenderModel
    public let store: any ObjectStore
    public let scratch: URL
    /// Seconds between sampler-state saves to the object store.
    public let checkpointInterval: Double

    public init(model: RenderModel, store: any ObjectStore, scratch: URL = FileManager.default.temporaryDirectory, checkpointInterval: Double = 10) {
        self.model = model
        self.store = store
        self.scratch = scratch
        self.checkpointInterval = checkpointInterval
    }

    public var name: String { "video" }

    public func render(_ job: Job, context: RenderContext) throws -> RenderOutput {
        var render = VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: String(job.id), scratch: scratch))
        render.checkpointInterval = checkpointInterval
        let outcome = try render.run(RenderSettings(job: job.spec)) { share, stage in
            context.report(progress: share, stage: stage)
        } checkStop: {
            try context.checkStop()
        }
        return RenderOutput(result: outcome.result, timings: outcome.timings)
    }
}
