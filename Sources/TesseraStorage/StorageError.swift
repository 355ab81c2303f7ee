/// Why a storage operation failed. Descriptions are meant for operators and logs: they name the operation
/// and key, never a secret (server messages are scrubbed of the secret key before they get here).
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key is not acceptable (see `ObjectKey`).
    case invalidKey(key: String, reason: String)
    /// The store's settings are wrong (missing bucket, bad endpoint, no credentials).
    case invalidConfiguration(String)
    /// The server refused the credentials or the permission (HTTP 401/403): `code` is the S3 error code,
    /// such as `InvalidAccessKeyId` or `SignatureDoesNotMatch`. Never retried.
    case authentication(code: String, message: String)
    /// No object under this key.
    case notFound(key: String)
    /// The server answered with an error status; `attempts` counts the tries made (retries on 5xx/429).
    case server(status: Int, code: String, message: String, attempts: Int)
    /// The server could not be reached or the connection broke, on every one of `attempts` tries.
    case network(message: String, attempts: Int)
    /// A local file could not be read or written.
    case file(path: String, message: String)
    /// The caller stopped the transfer (its progress callback threw).
    case cancelled(String)

    public var description: String {
        switch self {
        case .invalidKey(let key, let reason):
            "invalid object key \(String(reflecting: key)): \(reason)"
        case .invalidConfiguration(let message):
            "object store configuration: \(message)"
        case .authentication(let code, let message):
            "object store rejected the request (\(code)): \(message) — check the access key, the secret and the bucket's permissions"
        case .notFound(let key):
            "no object under the key \(String(reflecting: key))"
        case .server(let status, let code, let message, let attempts):
            "object store error HTTP \(status)\(code.isEmpty ? "" : " \(code)")\(message.isEmpty ? "" : ": \(message)")"
                + (attempts > 1 ? " (after \(attempts) attempts)" : "")
        case .network(let message, let attempts):
            "cannot reach the object store: \(message)" + (attempts > 1 ? " (after \(attempts) attempts)" : "")
        case .file(let path, let message):
            "\(path): \(message)"
        case .cancelled(let reason):
            "transfer cancelled: \(reason)"
        }
    }

    /// Replaces every occurrence of each secret with `[redacted]` (for text that came from outside).
    static func scrub(_ text: String, secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }
}
