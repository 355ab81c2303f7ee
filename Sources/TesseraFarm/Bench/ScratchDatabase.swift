import Foundation
import TesseraPostgres
import TesseraQueue

/// Statements of the benchmark harness itself. They touch only the scratch database the benchmark makes;
/// the measured work goes through `JobQueue` (and, for the baseline, the same queue functions from pgbench).
enum BenchSQL {
    /// Identifiers cannot be bound: `ScratchDatabase.name(pid:)` makes the name from a fixed prefix and digits.
    static func createDatabase(_ name: String) -> String { "CREATE DATABASE \(name)" }
    /// FORCE ends sessions a failed run left behind (PostgreSQL 13+).
    static func dropDatabase(_ name: String) -> String { "DROP DATABASE IF EXISTS \(name) WITH (FORCE)" }
    /// Every run starts from an empty queue; truncation also drops the previous run's dead rows and bloat.
    static let reset = "TRUNCATE tessera.job_events, tessera.jobs, tessera.batches, tessera.workers RESTART IDENTITY"
    /// Fresh statistics after seeding, so both sides of a pair plan the claim the same way.
    static let analyze = "ANALYZE tessera.jobs, tessera.job_events, tessera.workers"
    static let checkpoint = "CHECKPOINT"
    static let server = """
        SELECT current_setting('server_version') AS version, current_setting('max_connections')::int AS max_connections
        """

    /// The baseline: the same claim and complete calls a `JobQueue` worker makes, as a pgbench script. `\aset`
    /// leaves `job_id` unset (0 after the reset) when a claim finds nothing, so an empty queue costs a wasted
    /// round trip instead of aborting the client; the runner re-seeds and repeats a run that ran dry.
    static let pgbenchScript = """
        \\set wid :worker_base + :client_id
        \\set job_id 0
        SELECT id AS job_id, attempt AS job_attempt FROM tessera.claim_jobs(:wid, 1, :lease) \\aset
        \\if :job_id > 0
        SELECT tessera.complete_job(:job_id, :job_attempt, :wid, '{}', '{}');
        \\endif

        """
}

/// Why the benchmark could not run.
public struct BenchmarkError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A throwaway database on the configured server, so the benchmark never touches the operator's queue.
/// Created and migrated by `create`, removed by `drop` (callers drop it on every path, errors included).
struct ScratchDatabase {
    let name: String
    /// Connection string for the scratch database.
    let conninfo: String
    /// Connection string of the database it was created from (where `drop` connects).
    let adminConninfo: String

    /// `tessera_bench_<pid>`: unique per process, and safe to splice into DDL (letters, digits, `_`).
    static func name(pid: Int32 = getpid()) -> String { "tessera_bench_\(pid)" }

    /// Creates the scratch database next to `database` and applies the migrations to it.
    static func create(on database: Database) throws -> ScratchDatabase {
        let name = Self.name()
        let scratch = ScratchDatabase(
            name: name, conninfo: try conninfo(database.conninfo, replacingDatabaseWith: name), adminConninfo: database.conninfo)
        do {
            let admin = try PostgresConnection(database.conninfo, applicationName: "tessera-bench")
            try admin.execute(BenchSQL.dropDatabase(name))
            try admin.execute(BenchSQL.createDatabase(name))
        } catch {
            throw BenchmarkError("cannot create the scratch database \(name) on the configured server (the role needs CREATEDB): \(error)")
        }
        do {
            let connection = try PostgresConnection(scratch.conninfo, applicationName: "tessera-bench")
            try database.migrator.migrate(connection)
        } catch {
            try? scratch.drop()
            throw BenchmarkError("cannot migrate the scratch database \(name): \(error)")
        }
        return scratch
    }

    /// Drops the scratch database, ending any session still connected to it.
    func drop() throws {
        let admin = try PostgresConnection(adminConninfo, applicationName: "tessera-bench")
        try admin.execute(BenchSQL.dropDatabase(name))
    }

    /// The same server and credentials, another database: the path of a `postgres://` URL is replaced; a
    /// key=value string gets a trailing `dbname=` (libpq keeps the last value of a repeated key).
    static func conninfo(_ base: String, replacingDatabaseWith name: String) throws -> String {
        guard base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") else {
            return base.trimmingCharacters(in: .whitespaces) + " dbname=\(name)"
        }
        guard var components = URLComponents(string: base) else {
            throw BenchmarkError("cannot parse the database URL to point it at a scratch database")
        }
        components.path = "/" + name
        if let items = components.queryItems {
            let kept = items.filter { $0.name != "dbname" }
            components.queryItems = kept.isEmpty ? nil : kept
        }
        guard let url = components.string else {
            throw BenchmarkError("cannot rebuild the database URL for the scratch database")
        }
        return url
    }
}
