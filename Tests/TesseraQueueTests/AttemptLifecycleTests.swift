import Testing
import TesseraQueue

/// The worker's per-attempt decisions, event by event.
@Suite struct AttemptLifecycleTests {
    typealias L = AttemptLifecycle

    func run(_ events: [L.Event]) -> [L.Action] {
        var lifecycle = L()
        return events.map { lifecycle.handle($0) }
    }

    @Test func successCompletes() {
        #expect(run([.heartbeat(.ok), .heartbeat(.ok), .renderSucceeded]) == [.none, .none, .complete])
    }

    @Test func failureFailsWithItsRetryability() {
        #expect(run([.renderFailed(retryable: false)]) == [.fail(retryable: false)])
        #expect(run([.renderFailed(retryable: true)]) == [.fail(retryable: true)])
    }

    @Test func cancelStopsThenAcknowledges() {
        #expect(run([.heartbeat(.cancel), .heartbeat(.cancel), .renderStopped]) == [.stopRenderer(.cancelled), .none, .acknowledgeCancel])
    }

    @Test func lostLeaseAbandonsEvenIfTheRenderSucceeds() {
        #expect(run([.heartbeat(.lost), .renderSucceeded]) == [.stopRenderer(.lost), .abandon])
        #expect(run([.heartbeat(.cancel), .heartbeat(.lost), .renderStopped]) == [.stopRenderer(.cancelled), .none, .abandon])
    }

    @Test func shutdownDeadlineReleasesUnlessTheWorkFinished() {
        #expect(run([.shutdownDeadlinePassed, .renderStopped]) == [.stopRenderer(.shutdown), .release])
        #expect(run([.shutdownDeadlinePassed, .renderSucceeded]) == [.stopRenderer(.shutdown), .complete])
    }

    @Test func nothingHappensAfterTheEnd() {
        #expect(run([.renderSucceeded, .heartbeat(.cancel), .renderFailed(retryable: true)]) == [.complete, .none, .none])
    }

    @Test func aRendererThatStopsUnaskedHasFailed() {
        #expect(run([.renderStopped]) == [.fail(retryable: true)])
    }
}
