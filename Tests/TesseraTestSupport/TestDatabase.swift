import Foundation
import Synchronization
import TesseraPostgres
import TesseraQueue

/// Why the test database could not be had.
public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// A fresh, migrated database on the test PostgreSQL server for each test that asks.
///
/// The server comes from `TESSERA_TEST_PG` (a libpq conninfo without dbname, set by ops/test.sh, which
/// starts a real private cluster). Under `CI=true` a missing server is a failure, never a skip.
public enum TestDatabase {
    /// The repository root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var migrationsFolder: URL { repositoryRoot.appendingPathComponent("migrations") }

    /// The migrations of this tree.
    public static func migrator() throws -> Migrator { try Migrator(folder: migrationsFolder) }

    /// The server's conninfo (no dbname).
    public static func serverConninfo() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let server = environment["TESSERA_TEST_PG"], !server.isEmpty { return server }
        let hint = "start the test server with ops/test.sh (it exports TESSERA_TEST_PG), or set TESSERA_TEST_PG to a libpq conninfo"
        throw TestDatabaseError(
            description: environment["CI"] == "true"
                ? "CI=true but no PostgreSQL test server: \(hint)"
                : "no PostgreSQL test server: \(hint)")
    }

    private static let counter = Atomic<Int>(0)

    /// Creates an empty database with a unique name and returns its conninfo.
    public static func createEmpty(_ label: String = "t") throws -> String {
        let server = try serverConninfo()
        let admin = try PostgresConnection(server + " dbname=postgres")
        let safe = label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20)
        let name = "tt_\(safe)_\(getpid())_\(counter.wrappingAdd(1, ordering: .relaxed).newValue)_\(UInt32.random(in: 0...UInt32.max))"
        try admin.execute("CREATE DATABASE \(name)")
        return server + " dbname=\(name)"
    }

    /// Creates a database and applies every migration; returns its conninfo.
    public static func createMigrated(_ label: String = "t") throws -> String {
        let conninfo = try createEmpty(label)
        let connection = try PostgresConnection(conninfo)
        try migrator().migrate(connection)
        // Tests want retries without long waits: backoff of 50 ms doubling to 1 s.
        try connection.execute("UPDATE tessera.queue_settings SET backoff_base_s = 0.05, backoff_max_s = 1")
        return conninfo
    }
}

/// A clock the test moves by hand, so lease expiry and backoff need no sleeping.
public final class ManualClock: QueueClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_900_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Date? { current.withLock { $0 } }

    public func advance(_ seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

extension JobSpec {
    /// A small valid job for tests.
    public static func sample(_ line: Int, prompt: String? = nil, priority: Int = 0, maxAttempts: Int = 3) -> JobSpec {
        JobSpec(line: line, prompt: prompt ?? "test prompt \(line)", seed: Int64(line), priority: priority, maxAttempts: maxAttempts)
    }
}

extension JobQueue {
    /// Enqueues `count` sample jobs as one batch and returns their ids.
    @discardableResult
    public func enqueueSamples(_ count: Int, name: String = "test", maxAttempts: Int = 3) throws -> [Int64] {
        let jobs = (1...count).map { JobSpec.sample($0, maxAttempts: maxAttempts) }
        return try enqueue(BatchRequest(name: name, contentHash: UUID().uuidString, jobs: jobs)).jobIDs
    }

    /// Counts events of a kind for a job.
    public func eventCount(_ jobID: Int64, kind: String) throws -> Int {
        try events(of: jobID).filter { $0.kind == kind }.count
    }
}
