import Foundation
import Testing
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport
import Synchronization

@Suite struct MigrationTests {
    @Test func upDownUpAndSecondRunIsANoOp() throws {
        let connection = try PostgresConnection(TestDatabase.createEmpty("mig"))
        let migrator = try TestDatabase.migrator()
        let first = try migrator.migrate(connection)
        #expect(first.map(\.0.version) == migrator.migrations.map(\.version))
        #expect(try migrator.migrate(connection).isEmpty, "a second run applies nothing")
        #expect(try connection.query("SELECT count(*) AS n FROM tessera.jobs").first?.int("n") == 0)

        let down = try migrator.migrate(connection, to: 0)
        #expect(down.allSatisfy { $0.1 == "down" } && down.count == first.count)
        #expect(try connection.query("SELECT to_regclass('tessera.jobs') IS NULL AS gone").first?.bool("gone") == true)
        #expect(try migrator.appliedVersions(connection).isEmpty)

        try migrator.migrate(connection)
        #expect(try migrator.isCurrent(connection))
        let queue = JobQueue(connection: connection)
        #expect(try queue.enqueueSamples(2).count == 2, "the schema works after up, down, up")
    }

    @Test func aDatabaseNewerThanTheBinaryIsRefused() throws {
        let connection = try PostgresConnection(TestDatabase.createMigrated("newer"))
        let migrator = try TestDatabase.migrator()
        try connection.query("INSERT INTO public.tessera_schema_migrations (version, name) VALUES ($1, 'future')", [migrator.latestVersion + 1])
        #expect {
            try migrator.checkNotNewer(connection)
        } throws: { error in
            "\(error)".contains("newer than this tessera binary knows")
        }
        #expect(throws: MigrationError.self) { try migrator.migrate(connection) }
    }

    @Test func concurrentMigratorsTakeTurns() throws {
        let conninfo = try TestDatabase.createEmpty("migconc")
        let migrator = try TestDatabase.migrator()
        let results = Mutex<[Int]>([])
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let connection = try PostgresConnection(conninfo)
                    let applied = try migrator.migrate(connection).count
                    results.withLock { $0.append(applied) }
                } catch {
                    results.withLock { $0.append(-1) }
                }
            }
        }
        group.wait()
        let counts = results.withLock { $0 }.sorted()
        #expect(counts == [0, 0, 0, migrator.migrations.count], "exactly one migrator applies, the others find nothing to do")
    }

    @Test func migrationFilesArePairedAndNumbered() throws {
        let migrator = try TestDatabase.migrator()
        #expect(migrator.migrations.first?.version == 1)
        for migration in migrator.migrations {
            #expect(migration.up.hasPrefix("-- "), "each migration starts with a comment giving its reason")
            #expect(!migration.down.isEmpty)
        }
    }
}
