/// The life of one claimed attempt inside a worker, as a pure state machine: events in, actions out,
/// no I/O. The worker feeds it what happens (heartbeat replies, the renderer finishing, a shutdown
/// deadline) and carries out the actions it returns.
public struct AttemptLifecycle: Sendable, Equatable {
    /// Why a render is being stopped before it finished.
    public enum StopReason: String, Sendable, Equatable {
        /// An operator cancelled the job.
        case cancelled
        /// The worker is shutting down and its deadline passed: hand the job back.
        case shutdown
        /// The lease was taken over: this attempt must change nothing more.
        case lost
    }

    public enum State: Sendable, Equatable {
        case rendering
        case stopping(StopReason)
        case finished
    }

    public enum Event: Sendable, Equatable {
        case heartbeat(HeartbeatOutcome)
        case shutdownDeadlinePassed
        case renderSucceeded
        case renderFailed(retryable: Bool)
        /// The renderer returned early because it was told to stop.
        case renderStopped
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Tell the renderer to stop as soon as it can.
        case stopRenderer(StopReason)
        case complete
        case fail(retryable: Bool)
        case release
        case acknowledgeCancel
        /// Drop the attempt without writing anything (the lease belongs to someone else now).
        case abandon
    }

    public private(set) var state: State = .rendering

    public init() {}

    /// Applies one event and returns what the worker must do.
    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.finished, _):
            return .none

        case (.rendering, .heartbeat(.ok)):
            return .none
        case (.rendering, .heartbeat(.cancel)):
            state = .stopping(.cancelled)
            return .stopRenderer(.cancelled)
        case (.rendering, .heartbeat(.lost)):
            state = .stopping(.lost)
            return .stopRenderer(.lost)
        case (.rendering, .shutdownDeadlinePassed):
            state = .stopping(.shutdown)
            return .stopRenderer(.shutdown)
        case (.rendering, .renderSucceeded):
            state = .finished
            return .complete
        case (.rendering, .renderFailed(let retryable)):
            state = .finished
            return .fail(retryable: retryable)
        case (.rendering, .renderStopped):
            // A renderer that stops unasked has failed; let the retry policy decide.
            state = .finished
            return .fail(retryable: true)

        case (.stopping, .heartbeat(.lost)):
            state = .stopping(.lost)
            return .none
        case (.stopping, .heartbeat), (.stopping, .shutdownDeadlinePassed):
            return .none
        case (.stopping(let reason), .renderSucceeded):
            state = .finished
            // Finished work is kept unless someone else owns the job now.
            return reason == .lost ? .abandon : .complete
        case (.stopping(let reason), .renderFailed), (.stopping(let reason), .renderStopped):
            state = .finished
            switch reason {
            case .cancelled: return .acknowledgeCancel
            case .shutdown: return .release
            case .lost: return .abandon
            }
        }
    }
}
