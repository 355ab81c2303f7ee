import Foundation
import TesseraQueue

/// A renderer for exercising the farm without a model: it spends a set time in small steps (reporting
/// progress and honouring stop requests), can fail on chosen attempts, and returns a made-up result.
///
/// It is never chosen silently: `tessera worker` uses it only with `--renderer test`, and every job it
/// completes says so in its result (`"renderer": "test"`).
public struct TestRenderer: Renderer {
    /// How long each render takes.
    public var duration: Double
    /// Fail attempts numbered up to this (so `1` fails the first attempt and succeeds the second).
    public var failAttemptsUpTo: Int
    /// Fail every attempt of jobs whose prompt contains this text (a permanent failure).
    public var failPromptMarker: String?
    /// Number of progress steps per render.
    public var steps: Int

    public init(duration: Double = 0, failAttemptsUpTo: Int = 0, failPromptMarker: String? = nil, steps: Int = 10) {
        self.duration = duration
        self.failAttemptsUpTo = failAttemptsUpTo
        self.failPromptMarker = failPromptMarker
        self.steps = max(1, steps)
    }

    public var name: String { "test" }

    public func render(_ job: Job, context: RenderContext) throws -> RenderOutput {
        let start = Date()
        let stepDuration = duration / Double(steps)
        for step in 0..<steps {
            // Sleep in short slices so a stop request is honoured within 50 ms, as a sampler step would.
            let stepEnd = Date().addingTimeInterval(stepDuration)
            repeat {
                try context.checkStop()
                let left = stepEnd.timeIntervalSinceNow
                if left > 0 { Thread.sleep(forTimeInterval: min(0.05, left)) }
            } while stepEnd.timeIntervalSinceNow > 0
            context.report(progress: Double(step + 1) / Double(steps), stage: "test step \(step + 1)/\(steps)")
        }
        try context.checkStop()
        if let marker = failPromptMarker, job.spec.prompt.contains(marker) {
            throw RenderError("test renderer: prompt contains \(marker)", retryable: true)
        }
        if context.attempt.attempt <= failAttemptsUpTo {
            throw RenderError("test renderer: attempt \(context.attempt.attempt) fails on purpose", retryable: true)
        }
        return RenderOutput(
            result: ["renderer": "test", "video": "test://jobs/\(job.id)/video.mp4"],
            timings: ["render": Date().timeIntervalSince(start)])
    }
}
