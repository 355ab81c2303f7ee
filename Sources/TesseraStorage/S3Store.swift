import Foundation
import Synchronization

/// An S3-compatible bucket over libcurl, requests signed with SigV4 (`CURLOPT_AWS_SIGV4`).
///
/// Uploads stream from disk: one PUT below `multipartThreshold`, else a multipart upload whose parts go up
/// in parallel (`S3Store+Multipart.swift`) and which is aborted on failure. Every request is retried with
/// backoff by `configuration.retry`; bad credentials are not retried. The payload is sent as
/// `UNSIGNED-PAYLOAD` (hashing a file first would read it twice; TLS protects it on the wire).
public final class S3Store: ObjectStore {
    public let configuration: S3Configuration
    let settings: TransferSettings
    /// Idle easy handles; each keeps its connection open for the next request.
    private let idle = Mutex<[CurlEasy]>([])

    public init(_ configuration: S3Configuration) {
        self.configuration = configuration
        settings = TransferSettings(
            sigV4: "aws:amz:\(configuration.region):s3", accessKeyID: configuration.credentials.accessKeyID,
            secretAccessKey: configuration.credentials.secretAccessKey, connectTimeout: configuration.connectTimeout,
            stallTimeout: configuration.stallTimeout, caFile: configuration.caFile,
            maxSendBytesPerSecond: configuration.maxSendBytesPerSecond)
    }

    // MARK: ObjectStore

    /// Creates the bucket unless it exists (and is ours).
    public func prepare() throws {
        let found = try send("HEAD bucket \(configuration.bucket)", accept: [404]) { HTTPRequest(method: "HEAD", url: configuration.url(key: nil)) }
        guard found.status == 404 else { return }
        // us-east-1 is the default location and must not be named; any other region must be.
        let body = configuration.region == "us-east-1" ? [] : Array("""
            <CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>
            """.utf8)
        let created = try send("create bucket \(configuration.bucket)", accept: [409]) {
            HTTPRequest(method: "PUT", url: configuration.url(key: nil), headers: headers(), body: .bytes(body))
        }
        if created.status == 409, created.code != "BucketAlreadyOwnedByYou" {
            throw StorageError.server(status: 409, code: created.code, message: "bucket \(configuration.bucket): \(created.message)", attempts: 1)
        }
    }

    @discardableResult
    public func put(file: URL, key: ObjectKey, contentType: String?, progress: (@Sendable (TransferProgress) throws -> Void)?) throws -> ObjectInfo {
        let source = try SourceFile(path: file.path)
        if source.size >= configuration.multipartThreshold {
            return try putMultipart(source: source, key: key, contentType: contentType, progress: progress)
        }
        let response = try send("PUT \(key)") {
            HTTPRequest(method: "PUT", url: configuration.url(key: key), headers: headers(contentType: contentType),
                        body: .file(source, offset: 0, length: source.size))
        }
        try progress?(TransferProgress(bytesDone: source.size, totalBytes: source.size, partsDone: 1, partCount: 1))
        return ObjectInfo(key: key, size: source.size, etag: response.etag, lastModified: nil, contentType: contentType)
    }

    public func head(key: ObjectKey) throws -> ObjectInfo? {
        let response = try send("HEAD \(key)", accept: [404]) { HTTPRequest(method: "HEAD", url: configuration.url(key: key)) }
        guard response.status != 404 else { return nil }
        return response.info(key: key)
    }

    @discardableResult
    public func get(key: ObjectKey, to file: URL) throws -> ObjectInfo {
        let partial = try PartialFile(beside: file)
        defer { partial.discard() }
        let response = try send("GET \(key)", accept: [404]) {
            try partial.restart()  // each try starts the file over
            return HTTPRequest(method: "GET", url: configuration.url(key: key), headers: headers(), downloadTo: partial.descriptor)
        }
        guard response.status != 404 else {
            if response.code == "NoSuchBucket" {
                throw StorageError.server(status: 404, code: "NoSuchBucket", message: "GET \(key): no bucket \(configuration.bucket)", attempts: 1)
            }
            throw StorageError.notFound(key: key.rawValue)
        }
        let written = try partial.size()
        if let expected = response.headers["content-length"].flatMap(Int64.init), expected != written {
            throw StorageError.network(message: "GET \(key): received \(written) of \(expected) bytes", attempts: 1)
        }
        try partial.commit()
        var info = response.info(key: key)
        info.size = written
        return info
    }

    public func delete(key: ObjectKey) throws {
        _ = try send("DELETE \(key)", accept: [404]) { HTTPRequest(method: "DELETE", url: configuration.url(key: key), headers: headers()) }
    }

    /// Keys the store cannot address (written by other tools, with `..` segments, say) are left out.
    public func list(prefix: String) throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("encoding-type", "url")]
            if let token { query.append(("continuation-token", token)) }
            let response = try send("list \(prefix)") { HTTPRequest(method: "GET", url: configuration.url(key: nil, query: query), headers: headers()) }
            let xml = response.text[...]
            for entry in S3XML.elements("Contents", in: xml) {
                guard let encoded = S3XML.value("Key", in: entry), let raw = ObjectKey.percentDecode(encoded),
                    let key = try? ObjectKey(raw)
                else { continue }
                objects.append(ObjectInfo(
                    key: key, size: S3XML.value("Size", in: entry).flatMap(Int64.init) ?? 0,
                    etag: S3XML.value("ETag", in: entry).map(Self.unquote),
                    lastModified: S3XML.value("LastModified", in: entry).flatMap(Self.parseISODate)))
            }
            token = S3XML.value("IsTruncated", in: xml) == "true" ? S3XML.value("NextContinuationToken", in: xml) : nil
        } while token != nil
        return objects.sorted { $0.key < $1.key }
    }

    public func url(for key: ObjectKey) -> URL { URL(string: configuration.url(key: key))! }

    // MARK: Requests

    /// A Content-Type header, when there is a type. (`send` adds what every request needs.)
    func headers(contentType: String? = nil) -> [String] {
        contentType.map { ["Content-Type: \($0)"] } ?? []
    }

    /// Every SigV4 request to S3 must carry x-amz-content-sha256, and libcurl 7.88 does not add it (a body
    /// would be signed as empty).
    static let payloadHeader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"

    /// A response that counts as an answer (2xx, or a status in `accept`).
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var code: String { S3XML.value("Code", in: text) ?? "" }
        var message: String { S3XML.value("Message", in: text) ?? "" }
        var etag: String? { headers["etag"].map(S3Store.unquote) }

        func info(key: ObjectKey) -> ObjectInfo {
            ObjectInfo(
                key: key, size: headers["content-length"].flatMap(Int64.init) ?? 0, etag: etag,
                lastModified: headers["last-modified"].flatMap(S3Store.parseHTTPDate), contentType: headers["content-type"])
        }
    }

    /// Performs a request with retries. `make` builds each try's request afresh. A 2xx answer whose body
    /// is an `<Error>` document (CompleteMultipartUpload can answer so) counts as a server error.
    func send(
        _ operation: String, accept: Set<Int> = [], cancel: CancellationFlag? = nil, _ make: () throws -> HTTPRequest
    ) throws -> Response {
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            if cancel?.isRaised == true { throw StorageError.cancelled("\(operation): another part failed") }
            var request = try make()
            request.headers.insert(Self.payloadHeader, at: 0)
            let outcome = withHandle { $0.perform(request, settings: settings, cancel: cancel) }
            let retryOutcome: RetryPolicy.Outcome
            let failure: StorageError
            var retryAfter: Double?
            switch outcome {
            case .cancelled:
                throw StorageError.cancelled("\(operation): another part failed")
            case .local(let reason):
                throw StorageError.file(path: operation, message: reason)
            case .transport(_, let reason, let transient):
                retryOutcome = .network(transient: transient)
                failure = .network(message: scrub("\(operation): \(reason)"), attempts: attempt)
            case .response(let status, let headers, let body):
                let response = Response(status: status, headers: headers, body: body)
                let bodyError = (200..<300).contains(status) && request.method == "POST" && response.text.contains("<Error>")
                if ((200..<300).contains(status) && !bodyError) || accept.contains(status) { return response }
                let code = response.code
                let message = scrub(response.message)
                retryOutcome = .http(status: bodyError ? 500 : status, code: code)
                retryAfter = headers["retry-after"].flatMap(Double.init)
                if status == 401 || status == 403 {
                    failure = .authentication(
                        code: code.isEmpty ? "HTTP \(status)" : code,
                        message: "\(operation): " + (message.isEmpty ? "access denied" : message))
                } else {
                    failure = .server(status: status, code: code, message: "\(operation)" + (message.isEmpty ? "" : ": \(message)"), attempts: attempt)
                }
            }
            guard policy.shouldRetry(retryOutcome, after: attempt) else { throw failure }
            Thread.sleep(forTimeInterval: policy.delay(after: attempt, random: Double.random(in: 0..<1), retryAfter: retryAfter))
        }
    }

    /// Lends an idle easy handle (or a new one) for one request.
    private func withHandle(_ body: (CurlEasy) -> HTTPOutcome) -> HTTPOutcome {
        let handle: CurlEasy
        if let reused = idle.withLock({ $0.popLast() }) {
            handle = reused
        } else {
            do { handle = try CurlEasy() } catch { return .transport(code: 0, reason: "\(error)", transient: false) }
        }
        let outcome = body(handle)
        idle.withLock { $0.append(handle) }
        return outcome
    }

    /// Server and curl text with the secret replaced, in case either ever echoes it.
    func scrub(_ text: String) -> String { StorageError.scrub(text, secrets: [settings.secretAccessKey]) }

    static func unquote(_ etag: String) -> String { etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }

    static func parseISODate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
