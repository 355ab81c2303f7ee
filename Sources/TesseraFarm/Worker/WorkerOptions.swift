/// How a worker paces itself. Validated in `init`; the defaults are those `tessera worker --help` shows.
public struct WorkerOptions: Sendable, Equatable {
    /// Seconds a claim (and each renewal) holds the job. A worker silent for longer loses it.
    public var lease: Double
    /// Seconds between heartbeats; a cancel is noticed within one heartbeat.
    public var heartbeatInterval: Double
    /// Seconds an idle worker waits for a NOTIFY before polling anyway.
    public var pollInterval: Double
    /// Seconds a stopping worker lets the current job run before handing it back.
    public var shutdownGrace: Double
    /// Stop after this many jobs (nil: run until told to stop).
    public var maxJobs: Int?
    /// Stop as soon as no job is ready (one-shot runs such as the demo).
    public var exitWhenIdle: Bool

    public init(
        lease: Double = 30, heartbeatInterval: Double = 3, pollInterval: Double = 5, shutdownGrace: Double = 30,
        maxJobs: Int? = nil, exitWhenIdle: Bool = false
    ) throws {
        guard lease >= 1 else { throw WorkerOptionsError("lease must be at least 1 second, got \(lease)") }
        guard heartbeatInterval > 0, heartbeatInterval * 2 <= lease else {
            throw WorkerOptionsError("heartbeat interval must be positive and at most half the lease (\(lease) s), got \(heartbeatInterval)")
        }
        guard pollInterval > 0 else { throw WorkerOptionsError("poll interval must be positive, got \(pollInterval)") }
        guard shutdownGrace >= 0 else { throw WorkerOptionsError("shutdown grace must not be negative, got \(shutdownGrace)") }
        if let maxJobs, maxJobs < 1 { throw WorkerOptionsError("max jobs must be at least 1, got \(maxJobs)") }
        self.lease = lease
        self.heartbeatInterval = heartbeatInterval
        self.pollInterval = pollInterval
        self.shutdownGrace = shutdownGrace
        self.maxJobs = maxJobs
        self.exitWhenIdle = exitWhenIdle
    }
}

/// A worker setting out of range.
public struct WorkerOptionsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
