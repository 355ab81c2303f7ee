import CLibPQ
import Foundation

/// The one Swift owner of libpq: a blocking connection used from one thread at a time.
///
/// Every statement binds its parameters (text format); SQL is never built by interpolation. Each session
/// runs in UTC so timestamps round-trip exactly. Notices from the server are dropped rather than printed.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    /// The connection string this connection was opened with (kept to reconnect).
    public let conninfo: String

    /// Opens a connection. `conninfo` is a libpq URL or key=value string.
    public init(_ conninfo: String, applicationName: String = "tessera") throws {
        self.conninfo = conninfo
        // Defaults first, the caller's conninfo last: libpq lets later keys override earlier ones, so
        // anything the URL says wins. TCP keepalives notice a dead server within about a minute.
        let keys = ["options", "application_name", "connect_timeout", "keepalives", "keepalives_idle",
                    "keepalives_interval", "keepalives_count", "dbname"]
        let values = ["-c TimeZone=UTC -c client_min_messages=warning", applicationName, "10", "1", "30", "10", "3", conninfo]
        var pointers: [UnsafePointer<CChar>?] = []
        let cKeys = keys.map { strdup($0) }
        let cValues = values.map { strdup($0) }
        defer {
            cKeys.forEach { free($0) }
            cValues.forEach { free($0) }
        }
        pointers = cKeys.map { UnsafePointer($0) } + [nil]
        let valuePointers: [UnsafePointer<CChar>?] = cValues.map { UnsafePointer($0) } + [nil]
        let connection = pointers.withUnsafeBufferPointer { k in
            valuePointers.withUnsafeBufferPointer { v in PQconnectdbParams(k.baseAddress, v.baseAddress, 1) }
        }
        guard let connection else { throw PostgresError.connection("out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.clean(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError.connection(message)
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection now; later calls fail with a connection error.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Whether the session is still usable as far as libpq knows.
    public var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server's process id for this session (for pg_terminate_backend in tests and diagnostics).
    public var backendPID: Int {
        guard let handle else { return 0 }
        return Int(PQbackendPID(handle))
    }

    /// Statements prepared on this session, by SQL text: each is parsed once, then only bound and run.
    private var prepared: [String: String] = [:]

    /// Runs one statement with bound parameters and returns its rows. The statement is prepared on first
    /// use in this session and reused after (the queue's statements are a fixed set of named constants).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> PostgresRows {
        let handle = try liveHandle()
        let name = try preparedName(sql, parameterCount: parameters.count, handle: handle)
        let texts = parameters.map { $0.postgresText }
        let cValues: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0) } ?? nil }
        defer { cValues.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cValues.map { $0.map { UnsafePointer($0) } }
        let result = pointers.withUnsafeBufferPointer { values in
            PQexecPrepared(handle, name, Int32(texts.count), values.baseAddress, nil, nil, 0)
        }
        return try consume(result, handle: handle)
    }

    private func preparedName(_ sql: String, parameterCount: Int, handle: OpaquePointer) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "tessera_\(prepared.count + 1)"
        _ = try consume(PQprepare(handle, name, sql, Int32(parameterCount), nil), handle: handle)
        prepared[sql] = name
        return name
    }

    /// Runs a script of one or more statements without parameters (migrations, LISTEN).
    @discardableResult
    public func execute(_ script: String) throws -> PostgresRows {
        let handle = try liveHandle()
        return try consume(PQexec(handle, script), handle: handle)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Starts listening on a channel. The name is quoted as an identifier by libpq.
    public func listen(_ channel: String) throws {
        let handle = try liveHandle()
        guard let quoted = PQescapeIdentifier(handle, channel, channel.utf8.count) else {
            throw PostgresError.connection(Self.clean(PQerrorMessage(handle)))
        }
        defer { PQfreemem(quoted) }
        try execute("LISTEN \(String(cString: quoted))")
    }

    /// Waits up to `timeout` seconds for notifications and returns the channels that fired (possibly empty).
    public func waitForNotifications(timeout: Double) throws -> [String] {
        let handle = try liveHandle()
        var channels = drainNotifications(handle)
        if !channels.isEmpty { return channels }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw PostgresError.connection("no socket") }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(max(0, timeout) * 1000))
        if ready < 0 && errno != EINTR { throw PostgresError.connection("poll failed: errno \(errno)") }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw PostgresError.connection(Self.clean(PQerrorMessage(handle)))
            }
            channels = drainNotifications(handle)
        }
        return channels
    }

    private func drainNotifications(_ handle: OpaquePointer) -> [String] {
        var channels: [String] = []
        PQconsumeInput(handle)
        while let notice = PQnotifies(handle) {
            channels.append(String(cString: notice.pointee.relname))
            PQfreemem(notice)
        }
        return channels
    }

    private func liveHandle() throws -> OpaquePointer {
        guard let handle else { throw PostgresError.connection("connection is closed") }
        return handle
    }

    private func consume(_ result: OpaquePointer?, handle: OpaquePointer) throws -> PostgresRows {
        guard let result else {
            throw PostgresError.connection(Self.clean(PQerrorMessage(handle)))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
            var values: [[String?]] = []
            values.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                values.append(
                    (0..<columnCount).map { column in
                        PQgetisnull(result, Int32(row), Int32(column)) == 1
                            ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
                    })
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return PostgresRows(columns: columns, values: values, affected: affected)
        default:
            func field(_ code: Character) -> String? {
                guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
                return String(cString: value)
            }
            if let state = field("C") {
                throw PostgresError.server(
                    sqlState: state, message: field("M") ?? "", detail: field("D"), hint: field("H"))
            }
            throw PostgresError.connection(Self.clean(PQerrorMessage(handle)))
        }
    }

    private static func clean(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
