/// An error from PostgreSQL or from talking to it, with the server's own words kept.
public enum PostgresError: Error, CustomStringConvertible, Sendable {
    /// The server could not be reached or the session broke.
    case connection(String)
    /// The server refused a statement. `sqlState` is the five-character SQLSTATE code.
    case server(sqlState: String, message: String, detail: String?, hint: String?)
    /// A value came back in a shape the caller did not expect.
    case decoding(String)

    /// True when retrying on a new connection may succeed: the connection broke, or the server is
    /// shutting down or restarting (SQLSTATE class 08, 57P01..57P03).
    public var isConnectionLoss: Bool {
        switch self {
        case .connection: return true
        case .server(let state, _, _, _):
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        case .decoding: return false
        }
    }

    /// The SQLSTATE code, when the server sent one.
    public var sqlState: String? {
        if case .server(let state, _, _, _) = self { return state }
        return nil
    }

    public var description: String {
        switch self {
        case .connection(let message): return "cannot reach PostgreSQL: \(message)"
        case .server(let state, let message, let detail, let hint):
            var text = "PostgreSQL error \(state): \(message)"
            if let detail, !detail.isEmpty { text += " (\(detail))" }
            if let hint, !hint.isEmpty { text += " hint: \(hint)" }
            return text
        case .decoding(let message): return "unexpected value from PostgreSQL: \(message)"
        }
    }
}
