import Foundation
import TesseraPostgres

/// Why the embedded cluster could not be set up or started.
public struct EmbeddedPostgresError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { "embedded PostgreSQL: \(message)" }
}

/// A private PostgreSQL cluster in Tessera's state folder: created with initdb on first use, listening on
/// a Unix socket only (no TCP port, trust auth inside a 0700 socket folder), started on demand and left
/// running for the next command. As root, the server runs as an unprivileged user (initdb and postgres
/// refuse root).
public struct EmbeddedPostgres: Sendable {
    /// The cluster's role and database name.
    public static let databaseName = "tessera"

    public let home: URL
    public let binDirectory: URL
    /// The user the server runs as when tessera runs as root; nil when tessera is not root.
    public let serverUser: String?

    public var clusterDirectory: URL { home.appendingPathComponent("postgres") }
    public var dataDirectory: URL { clusterDirectory.appendingPathComponent("data") }
    public var socketDirectory: URL { clusterDirectory.appendingPathComponent("run") }
    public var logFile: URL { clusterDirectory.appendingPathComponent("server.log") }

    /// The libpq connection string for the cluster.
    public var connectionString: String {
        "host=\(socketDirectory.path) dbname=\(Self.databaseName) user=\(Self.databaseName)"
    }

    public init(configuration: Configuration) throws {
        home = configuration.home
        serverUser = geteuid() == 0 ? configuration.serverUser : nil
        binDirectory = try configuration.postgresBin ?? Self.findBinaries()
        guard FileManager.default.isExecutableFile(atPath: binDirectory.appendingPathComponent("pg_ctl").path) else {
            throw EmbeddedPostgresError(message: "no pg_ctl in \(binDirectory.path); install postgresql (ops/setup.sh) or set TESSERA_PG_BIN")
        }
    }

    /// The newest `/usr/lib/postgresql/N/bin` that has a server.
    static func findBinaries() throws -> URL {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = URL(fileURLWithPath: "\(root)/\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("postgres").path) { return bin }
        }
        throw EmbeddedPostgresError(message: "no PostgreSQL server found under \(root); run ops/setup.sh (it installs the Debian postgresql package) or set TESSERA_PG_BIN")
    }

    /// What `tessera dev status` shows.
    public struct Status: Sendable, Codable {
        public var initialized: Bool
        public var running: Bool
        public var pid: Int?
        public var dataDirectory: String
        public var connectionString: String
        public var logFile: String
    }

    public func status() -> Status {
        let initialized = FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path)
        let pid = runningPID()
        return Status(
            initialized: initialized, running: pid != nil, pid: pid, dataDirectory: dataDirectory.path,
            connectionString: connectionString, logFile: logFile.path)
    }

    /// The postmaster's pid when it is alive (from postmaster.pid, checked with kill 0).
    public func runningPID() -> Int? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = Int32(first), pid > 0
        else { return nil }
        return kill(pid, 0) == 0 || errno == EPERM ? Int(pid) : nil
    }

    /// Creates the cluster if needed, starts it if it is not running, and returns its connection string.
    /// Safe to call from several processes at once (a file lock serialises them).
    @discardableResult
    public func ensureRunning() throws -> String {
        try FileManager.default.createDirectory(at: clusterDirectory, withIntermediateDirectories: true)
        let lock = try FileLock(clusterDirectory.appendingPathComponent("cluster.lock"))
        defer { lock.unlock() }
        if !FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            try initialize()
        }
        if runningPID() == nil {
            try start()
        }
        try createDatabaseIfMissing()
        return connectionString
    }

    /// Stops the server (fast shutdown) if it runs. Returns whether it was running.
    @discardableResult
    public func stop() throws -> Bool {
        guard runningPID() != nil else { return false }
        try runAsServerUser("pg_ctl", ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60"], what: "stop the server")
        return true
    }

    private func initialize() throws {
        try prepareDirectory(clusterDirectory, mode: 0o755)
        try? FileManager.default.removeItem(at: dataDirectory)
        try prepareDirectory(dataDirectory, mode: 0o700)
        try prepareDirectory(socketDirectory, mode: 0o700)
        try runAsServerUser(
            "initdb",
            ["-D", dataDirectory.path, "-U", Self.databaseName, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
            what: "create the cluster (initdb)")
        // Unix socket only, in a private folder; room for many workers.
        let settings = """

            # Tessera embedded cluster
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory.path)'
            unix_socket_permissions = 0700
            max_connections = 300
            shared_buffers = 128MB
            logging_collector = off

            """
        let conf = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    private func start() throws {
        try prepareDirectory(socketDirectory, mode: 0o700)
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            try chownToServerUser(logFile)
        }
        try runAsServerUser(
            "pg_ctl", ["start", "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s"],
            what: "start the server")
    }

    /// The database named like the role; created once.
    private func createDatabaseIfMissing() throws {
        let admin = try PostgresConnection("host=\(socketDirectory.path) dbname=postgres user=\(Self.databaseName)")
        if try admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [Self.databaseName]).first == nil {
            try admin.execute("CREATE DATABASE \(Self.databaseName)")
        }
    }

    private func prepareDirectory(_ url: URL, mode: Int) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        try chownToServerUser(url)
    }

    private func chownToServerUser(_ url: URL) throws {
        guard let serverUser else { return }
        guard let entry = getpwnam(serverUser) else {
            throw EmbeddedPostgresError(message: "user \(serverUser) does not exist; install postgresql (ops/setup.sh) or set TESSERA_PG_USER")
        }
        guard chown(url.path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw EmbeddedPostgresError(message: "cannot give \(url.path) to \(serverUser): errno \(errno)")
        }
    }

    /// Runs a PostgreSQL program, as the server user when tessera is root, and turns failure into an
    /// error that quotes the program's output.
    private func runAsServerUser(
        _ program: String, _ arguments: [String], what: String
    ) throws {
        let executable = binDirectory.appendingPathComponent(program).path
        let (status, text): (Int32, String)
        if let serverUser {
            (status, text) = try ChildProcess.run("/usr/sbin/runuser", ["-u", serverUser, "--", executable] + arguments)
        } else {
            (status, text) = try ChildProcess.run(executable, arguments)
        }
        guard status == 0 else {
            var message = "could not \(what): \(program) exited with \(status): \(text.trimmingCharacters(in: .whitespacesAndNewlines))"
            if let serverUser, text.contains("Permission denied") {
                message += " (the user \(serverUser) must be able to reach \(home.path); choose a TESSERA_HOME it can traverse)"
            }
            if program == "pg_ctl", let log = try? String(contentsOf: logFile, encoding: .utf8) {
                message += "\nlast lines of \(logFile.path):\n" + log.split(separator: "\n").suffix(10).joined(separator: "\n")
            }
            throw EmbeddedPostgresError(message: message)
        }
    }
}

/// An exclusive advisory file lock (flock), released on unlock or when the process ends.
final class FileLock {
    private let descriptor: Int32

    init(_ url: URL) throws {
        descriptor = open(url.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw EmbeddedPostgresError(message: "cannot open lock file \(url.path): errno \(errno)") }
        guard flock(descriptor, LOCK_EX) == 0 else {
            close(descriptor)
            throw EmbeddedPostgresError(message: "cannot lock \(url.path): errno \(errno)")
        }
    }

    func unlock() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
