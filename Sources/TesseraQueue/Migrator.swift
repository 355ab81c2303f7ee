import Foundation
import TesseraPostgres

/// One numbered migration: `NNNN_name.up.sql` and its `NNNN_name.down.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let up: String
    public let down: String
}

/// What went wrong with migrations, in words an operator can act on.
public enum MigrationError: Error, CustomStringConvertible, Sendable {
    case folderMissing(String)
    case badFile(String)
    case databaseNewer(database: Int, binary: Int)
    case databaseBehind(database: Int, binary: Int)
    case failed(version: Int, name: String, direction: String, underlying: String)

    public var description: String {
        switch self {
        case .folderMissing(let path):
            return "migrations folder not found (looked in \(path)); set TESSERA_MIGRATIONS to the folder holding NNNN_name.up.sql files"
        case .badFile(let message): return "bad migration file: \(message)"
        case .databaseNewer(let database, let binary):
            return "the database schema is at version \(database), newer than this tessera binary knows (\(binary)); upgrade tessera before using this database"
        case .databaseBehind(let database, let binary):
            return "the database schema is at version \(database), behind this binary's \(binary), and TESSERA_AUTO_MIGRATE=0; run tessera migrate as the schema owner"
        case .failed(let version, let name, let direction, let underlying):
            return "migration \(String(format: "%04d", version))_\(name) (\(direction)) failed, nothing of it was applied: \(underlying)"
        }
    }
}

/// Applies migrations in order under an advisory lock, each in its own transaction together with its
/// row in the ledger, so a second run is a no-op and a failed one leaves the database as it was.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    /// The highest version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Loads `NNNN_name.up.sql` / `.down.sql` pairs from a folder.
    public init(folder: URL) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw MigrationError.folderMissing(folder.path)
        }
        var found: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".up.sql") {
            let stem = String(file.dropLast(".up.sql".count))
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError.badFile("\(file) is not named NNNN_name.up.sql")
            }
            let downFile = stem + ".down.sql"
            guard files.contains(downFile) else { throw MigrationError.badFile("\(file) has no \(downFile)") }
            let up = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let down = try String(contentsOf: folder.appendingPathComponent(downFile), encoding: .utf8)
            found.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), up: up, down: down))
        }
        if let duplicate = Dictionary(grouping: found, by: \.version).first(where: { $0.value.count > 1 }) {
            throw MigrationError.badFile("version \(duplicate.key) appears more than once")
        }
        if found.isEmpty { throw MigrationError.folderMissing(folder.path) }
        self.init(migrations: found)
    }

    /// Finds the migrations folder: `TESSERA_MIGRATIONS`, then beside or above the executable
    /// (`share/tessera/migrations` when installed, the source tree's `migrations/` in development).
    public static func locateFolder(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let explicit = environment["TESSERA_MIGRATIONS"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        var candidates: [URL] = []
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            directory = executable.deletingLastPathComponent()
        }
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("migrations"))
            candidates.append(directory.appendingPathComponent("share/tessera/migrations"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("migrations"))
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("0001_queue.up.sql").path) {
            return candidate
        }
        throw MigrationError.folderMissing(candidates.map(\.path).joined(separator: ", "))
    }

    /// The versions recorded in the database's ledger (empty for a new database).
    public func appliedVersions(_ connection: PostgresConnection) throws -> [Int] {
        guard try connection.query(MigrationsSQL.ledgerExists).first?.bool("present") == true else { return [] }
        return try connection.query(MigrationsSQL.applied).rows.map { try $0.int("version") }
    }

    /// Refuses a database whose schema is newer than this binary.
    public func checkNotNewer(_ connection: PostgresConnection) throws {
        let current = try appliedVersions(connection).max() ?? 0
        if current > latestVersion { throw MigrationError.databaseNewer(database: current, binary: latestVersion) }
    }

    /// Whether the database is exactly at this binary's latest version.
    public func isCurrent(_ connection: PostgresConnection) throws -> Bool {
        try appliedVersions(connection).max() ?? 0 == latestVersion
    }

    /// Migrates up or down to `target` (default: the latest) and returns what was applied, in order.
    @discardableResult
    public func migrate(_ connection: PostgresConnection, to target: Int? = nil) throws -> [(Migration, String)] {
        let target = target ?? latestVersion
        try connection.query(MigrationsSQL.lock, [MigrationsSQL.lockKey])
        defer { _ = try? connection.query(MigrationsSQL.unlock, [MigrationsSQL.lockKey]) }
        try connection.execute(MigrationsSQL.createLedger)
        let applied = Set(try appliedVersions(connection))
        if let newest = applied.max(), newest > latestVersion {
            throw MigrationError.databaseNewer(database: newest, binary: latestVersion)
        }
        var done: [(Migration, String)] = []
        for migration in migrations where migration.version <= target && !applied.contains(migration.version) {
            try run(migration, direction: "up", on: connection) {
                try connection.execute(migration.up)
                try connection.query(MigrationsSQL.record, [migration.version, migration.name])
            }
            done.append((migration, "up"))
        }
        for migration in migrations.reversed() where migration.version > target && applied.contains(migration.version) {
            try run(migration, direction: "down", on: connection) {
                try connection.execute(migration.down)
                try connection.query(MigrationsSQL.forget, [migration.version])
            }
            done.append((migration, "down"))
        }
        return done
    }

    private func run(_ migration: Migration, direction: String, on connection: PostgresConnection, _ body: () throws -> Void) throws {
        do {
            try connection.transaction(body)
        } catch {
            throw MigrationError.failed(
                version: migration.version, name: migration.name, direction: direction, underlying: "\(error)")
        }
    }
}
