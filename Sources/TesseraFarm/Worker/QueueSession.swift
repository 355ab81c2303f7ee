import Foundation
import Logging
import TesseraPostgres
import TesseraQueue

/// A queue connection that reconnects when PostgreSQL restarts or the network drops. Owned by one thread.
final class QueueSession {
    private let database: Database
    private let applicationName: String
    private let logger: Logger
    private let listenChannel: String?
    private(set) var queue: JobQueue?

    init(database: Database, applicationName: String, logger: Logger, listenChannel: String? = nil) {
        self.database = database
        self.applicationName = applicationName
        self.logger = logger
        self.listenChannel = listenChannel
    }

    /// Runs `body` against the queue. On a lost connection it reconnects (backing off up to 5 s) and runs
    /// `body` again, until it succeeds or `giveUp()` says to stop trying; then the last error is thrown.
    func run<T>(_ body: (JobQueue) throws -> T, giveUp: () -> Bool) throws -> T {
        var delay = 0.2
        while true {
            do {
                let queue = try connected()
                return try body(queue)
            } catch let error as PostgresError where error.isConnectionLoss {
                queue?.connection.close()
                queue = nil
                if giveUp() { throw error }
                logger.warning("database connection lost; reconnecting", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Waits for a NOTIFY on the listen channel for up to `timeout` seconds.
    func waitForWork(timeout: Double) throws {
        guard let queue else { return }
        _ = try queue.connection.waitForNotifications(timeout: timeout)
    }

    func close() {
        queue?.connection.close()
        queue = nil
    }

    private func connected() throws -> JobQueue {
        if let queue, queue.connection.isHealthy { return queue }
        let connection = try database.connect(applicationName: applicationName)
        if let listenChannel { try connection.listen(listenChannel) }
        let queue = JobQueue(connection: connection)
        self.queue = queue
        return queue
    }
}
