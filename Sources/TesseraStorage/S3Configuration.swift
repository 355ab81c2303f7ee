import Foundation

/// Everything an `S3Store` needs. Validated in `init`, so a store never starts with settings that cannot
/// work. Defaults suit render outputs of tens to hundreds of MiB on a link of about 1 Gbit/s.
public struct S3Configuration: Sendable {
    /// Path style (`https://host/bucket/key`, what SeaweedFS, MinIO and most S3-compatible servers want)
    /// or virtual-host style (`https://bucket.host/key`, AWS's default).
    public enum Addressing: String, Sendable, CaseIterable {
        case path
        case virtualHost = "virtual-host"
    }

    /// Scheme, host and port of the service (`https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:8333`),
    /// optionally with a base path for a server behind a proxy.
    public var endpoint: URL
    /// The SigV4 signing region (`us-east-1` for most S3-compatible servers).
    public var region: String
    public var bucket: String
    public var addressing: Addressing
    public var credentials: S3Credentials
    /// Files of this many bytes or more are uploaded in parts. Default 64 MiB.
    public var multipartThreshold: Int64
    /// Bytes per part (S3's minimum is 5 MiB; grown automatically to stay under 10,000 parts). Default 16 MiB.
    public var partSize: Int64
    /// Parts uploaded at once, each on its own thread and connection. Default 4.
    public var maxParallelParts: Int
    public var retry: RetryPolicy
    /// Seconds to wait for a connection. Default 10.
    public var connectTimeout: Double
    /// A transfer moving less than 1 byte/s for this many seconds fails (and is retried). Default 60.
    public var stallTimeout: Double
    /// A CA bundle to trust instead of the system's (a private S3 server). TLS is always verified.
    public var caFile: String?
    /// Caps each connection's upload rate in bytes/s (0: no cap), to leave bandwidth to other work.
    public var maxSendBytesPerSecond: Int64

    /// S3's smallest part other than the last.
    public static let minimumPartSize: Int64 = 5 << 20
    /// S3's largest part count.
    public static let maximumParts: Int64 = 10_000

    public init(
        endpoint: URL, region: String = "us-east-1", bucket: String, addressing: Addressing = .path, credentials: S3Credentials,
        multipartThreshold: Int64 = 64 << 20, partSize: Int64 = 16 << 20, maxParallelParts: Int = 4, retry: RetryPolicy = .standard,
        connectTimeout: Double = 10, stallTimeout: Double = 60, caFile: String? = nil, maxSendBytesPerSecond: Int64 = 0
    ) throws {
        guard let scheme = endpoint.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw StorageError.invalidConfiguration("the endpoint must be an http:// or https:// URL, not \"\(endpoint.absoluteString)\"")
        }
        guard let host = endpoint.host, !host.isEmpty else {
            throw StorageError.invalidConfiguration("the endpoint \"\(endpoint.absoluteString)\" has no host")
        }
        guard endpoint.user == nil, endpoint.password == nil else {
            throw StorageError.invalidConfiguration("the endpoint must not carry credentials; use the credentials settings")
        }
        guard endpoint.query == nil, endpoint.fragment == nil else {
            throw StorageError.invalidConfiguration("the endpoint must not have a query or fragment")
        }
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw StorageError.invalidConfiguration("\"\(region)\" is not a region name (letters, digits and dashes)")
        }
        if let problem = Self.bucketProblem(bucket) {
            throw StorageError.invalidConfiguration("bucket name \"\(bucket)\": \(problem)")
        }
        guard partSize >= Self.minimumPartSize else {
            throw StorageError.invalidConfiguration("the part size must be at least 5 MiB (S3's minimum), not \(partSize) bytes")
        }
        guard multipartThreshold >= 1, maxParallelParts >= 1, connectTimeout > 0, stallTimeout > 0, maxSendBytesPerSecond >= 0 else {
            throw StorageError.invalidConfiguration("threshold, parallel parts and timeouts must be positive")
        }
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.addressing = addressing
        self.credentials = credentials
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
        self.maxParallelParts = maxParallelParts
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.caFile = caFile
        self.maxSendBytesPerSecond = maxSendBytesPerSecond
    }

    /// S3's bucket naming rules: 3–63 characters of lower-case letters, digits, dots and dashes, starting
    /// and ending with a letter or digit.
    static func bucketProblem(_ name: String) -> String? {
        guard (3...63).contains(name.count) else { return "must be 3 to 63 characters long" }
        guard name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }) else {
            return "only lower-case letters, digits, dots and dashes are allowed"
        }
        guard let first = name.first, let last = name.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber else {
            return "must start and end with a letter or digit"
        }
        return name.contains("..") ? "must not contain two dots in a row" : nil
    }

    /// The URL of the bucket (`key` nil) or of an object, with a query already in SigV4 canonical form:
    /// names and values percent-encoded, sorted, each with `=` (libcurl 7.88 signs the query exactly as
    /// given, so an unsorted one is rejected by the server).
    func url(key: ObjectKey?, query: [(String, String)] = []) -> String {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        let base = components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath
        let objectPath = key.map { "/" + $0.percentEncodedPath } ?? "/"
        switch addressing {
        case .path:
            components.percentEncodedPath = base + "/" + bucket + (key == nil ? "" : objectPath)
        case .virtualHost:
            components.host = bucket + "." + (components.host ?? "")
            components.percentEncodedPath = base + objectPath
        }
        var url = components.string!
        if !query.isEmpty { url += "?" + Self.canonicalQuery(query) }
        return url
    }

    /// `a=1&b=&c=x%2Fy`: encoded, sorted by name then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (ObjectKey.percentEncode($0.0), ObjectKey.percentEncode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }
}

/// An access key and its secret. The secret never appears in a description, a debug description or a
/// reflection (`dump`), so logging a configuration cannot leak it.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String

    public init(accessKeyID: String, secretAccessKey: String) throws {
        guard !accessKeyID.isEmpty, !secretAccessKey.isEmpty else {
            throw StorageError.invalidConfiguration("the access key id and the secret must both be set")
        }
        guard !accessKeyID.contains(where: { $0.isWhitespace || $0 == ":" }) else {
            throw StorageError.invalidConfiguration("the access key id must not contain spaces or colons")
        }
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }

    public var description: String { "S3Credentials(accessKeyID: \(accessKeyID), secretAccessKey: [redacted])" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["accessKeyID": accessKeyID, "secretAccessKey": "[redacted]"]) }

    /// Reads a profile from an AWS-style credentials file (`[default]` then `aws_access_key_id = ...` and
    /// `aws_secret_access_key = ...`; `#` and `;` start comments).
    public static func fromCredentialsFile(_ contents: String, profile: String = "default", path: String = "credentials file") throws -> S3Credentials {
        var section: String?
        var values: [String: String] = [:]
        for rawLine in contents.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section == profile, let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw StorageError.invalidConfiguration("\(path) has no profile [\(profile)] with aws_access_key_id and aws_secret_access_key")
        }
        return try S3Credentials(accessKeyID: key, secretAccessKey: secret)
    }
}
