import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TesseraPostgres
import TesseraQueue

/// Keeps the queue healthy. Several coordinators may run; the one holding the leader advisory lock
/// does the duties, the others wait to take over if its session ends.
public final class Coordinator: Service, Sendable {
    public let database: Database
    public let duties: [any CoordinatorDuty]
    /// Seconds between passes (and between leadership attempts).
    public let interval: Double
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)
    private let leading = Atomic<Bool>(false)

    public init(database: Database, duties: [any CoordinatorDuty], interval: Double = 5, logger: Logger) {
        self.database = database
        self.duties = duties
        self.interval = interval
        self.logger = logger
    }

    /// Whether this coordinator currently leads.
    public var isLeader: Bool { leading.load(ordering: .relaxed) }

    public func requestStop() { stopped.store(true, ordering: .relaxed) }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                    let thread = Thread {
                        self.runBlocking()
                        continuation.resume()
                    }
                    thread.name = "tessera-coordinator"
                    thread.start()
                }
            } onCancel: {
                self.requestStop()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
    }

    /// The coordinator loop on the calling thread, until `requestStop()`.
    public func runBlocking() {
        let session = QueueSession(database: database, applicationName: "tessera-coordinator", logger: logger)
        defer { session.close() }
        while !stopped.load(ordering: .relaxed) {
            do {
                try session.run({ queue in
                    if !leading.load(ordering: .relaxed) {
                        if try queue.tryLead() {
                            leading.store(true, ordering: .relaxed)
                            logger.info("coordinator is the leader")
                        }
                    }
                    guard leading.load(ordering: .relaxed) else { return }
                    for duty in duties {
                        do {
                            try duty.runOnce(queue)
                        } catch let error as TesseraPostgres.PostgresError where error.isConnectionLoss {
                            throw error
                        } catch {
                            logger.error("coordinator duty failed", metadata: ["duty": "\(duty.name)", "error": "\(error)"])
                        }
                    }
                }, giveUp: { true })
            } catch {
                if leading.exchange(false, ordering: .relaxed) {
                    logger.warning("lost leadership with the database connection", metadata: ["error": "\(error)"])
                } else {
                    logger.warning("coordinator cannot reach the database", metadata: ["error": "\(error)"])
                }
            }
            let until = Date().addingTimeInterval(interval)
            while !stopped.load(ordering: .relaxed), Date() < until { Thread.sleep(forTimeInterval: 0.1) }
        }
        if leading.exchange(false, ordering: .relaxed) { _ = try? session.run({ try $0.resign() }, giveUp: { true }) }
    }
}
