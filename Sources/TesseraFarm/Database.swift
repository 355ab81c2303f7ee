import Foundation
import Logging
import TesseraPostgres
import TesseraQueue

/// Opens connections to Tessera's database: the configured URL, or the embedded cluster (started on
/// demand). The first open applies pending migrations when allowed and always refuses a database whose
/// schema is newer than this binary.
public struct Database: Sendable {
    public let configuration: Configuration
    /// The connection string in use (the configured URL or the embedded cluster's socket).
    public let conninfo: String
    public let migrator: Migrator

    /// Resolves where the database is, starting the embedded cluster when no URL is configured.
    public init(configuration: Configuration, migrator: Migrator? = nil) throws {
        self.configuration = configuration
        self.migrator = try migrator ?? Migrator(folder: Migrator.locateFolder(environment: configuration.environment))
        if let url = configuration.databaseURL {
            conninfo = url
        } else {
            conninfo = try EmbeddedPostgres(configuration: configuration).ensureRunning()
        }
    }

    /// Whether this database is the embedded cluster.
    public var isEmbedded: Bool { configuration.databaseURL == nil }

    /// A new connection, without any schema check (for reconnects).
    public func connect(applicationName: String = "tessera") throws -> PostgresConnection {
        try PostgresConnection(conninfo, applicationName: applicationName)
    }

    /// A new connection to a database whose schema is current: pending migrations are applied when
    /// `TESSERA_AUTO_MIGRATE` allows; a newer schema is refused.
    public func open(applicationName: String = "tessera", logger: Logger? = nil) throws -> PostgresConnection {
        let connection = try connect(applicationName: applicationName)
        try migrator.checkNotNewer(connection)
        if try !migrator.isCurrent(connection) {
            guard configuration.autoMigrate else {
                throw MigrationError.databaseBehind(
                    database: try migrator.appliedVersions(connection).max() ?? 0, binary: migrator.latestVersion)
            }
            for (migration, direction) in try migrator.migrate(connection) {
                logger?.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)", "direction": "\(direction)"])
            }
        }
        return connection
    }
}
