import CCurl
import Foundation
import Synchronization

/// The one Swift owner of libcurl: an easy handle that performs one HTTP request at a time. No C pointer
/// leaves this file; callers describe a request with `HTTPRequest` and get an `HTTPOutcome` back.
public enum Curl {
    /// The libcurl version string, for example "7.88.1".
    public static var version: String {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH) else { return "unknown" }
        return String(cString: info.pointee.version)
    }

    /// `curl_global_init` must run once before any handle exists and before threads use curl; a static
    /// `let` runs it exactly once, thread-safely.
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// A request body: nothing, bytes in memory, or a byte range of an open file (streamed, never loaded).
enum RequestBody {
    case none
    case bytes([UInt8])
    case file(SourceFile, offset: Int64, length: Int64)

    var length: Int64 {
        switch self {
        case .none: 0
        case .bytes(let bytes): Int64(bytes.count)
        case .file(_, _, let length): length
        }
    }
}

/// One HTTP request. `headers` are "Name: value" lines; `downloadTo` receives a 2xx body (anything else,
/// such as an S3 error document, is kept in memory for the error message).
struct HTTPRequest {
    var method: String
    var url: String
    var headers: [String] = []
    var body: RequestBody = .none
    var downloadTo: Int32? = nil
}

/// What came back: a status with lower-cased headers and the in-memory body, or a transport failure.
enum HTTPOutcome {
    case response(status: Int, headers: [String: String], body: [UInt8])
    /// `code` is the CURLcode; `reason` is curl's message (no credentials: those never enter a URL).
    case transport(code: Int, reason: String, transient: Bool)
    /// Our side stopped the transfer: the source file could not be read, the download not written.
    case local(reason: String)
    /// The cancellation flag was raised.
    case cancelled
}

/// Settings that apply to every request of a store.
struct TransferSettings: Sendable {
    var sigV4: String
    var accessKeyID: String
    var secretAccessKey: String
    var connectTimeout: Double
    var stallTimeout: Double
    var caFile: String?
    var maxSendBytesPerSecond: Int64
}

/// Set once to stop every transfer that watches it (the parts of a failed multipart upload).
final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// An open file read with `pread`, so several threads can stream different ranges of it at once.
final class SourceFile: Sendable {
    let descriptor: Int32
    let size: Int64
    let path: String

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.file(path: path, message: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw StorageError.file(path: path, message: "not a regular file")
        }
        descriptor = fd
        size = Int64(info.st_size)
        self.path = path
    }

    deinit { close(descriptor) }
}

/// An easy handle, used by one thread at a time (the store's pool hands each out exclusively), reset and
/// reused so connections stay open between requests.
final class CurlEasy: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init() throws {
        guard Curl.initialized, let handle = curl_easy_init() else {
            throw StorageError.network(message: "libcurl could not be initialised", attempts: 0)
        }
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Performs `request` and waits for it to finish.
    func perform(_ request: HTTPRequest, settings: TransferSettings, cancel: CancellationFlag? = nil) -> HTTPOutcome {
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let transfer = Transfer(body: request.body, downloadTo: request.downloadTo, cancel: cancel)
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        for line in request.headers { headerList = curl_slist_append(headerList, line) }

        var failures: [CURLcode] = []
        func set(_ option: CURLoption, _ value: Int) { failures.append(tessera_curl_setopt_long(handle, option, value)) }
        func set(_ option: CURLoption, _ value: String) { failures.append(tessera_curl_setopt_string(handle, option, value)) }
        func set(_ option: CURLoption, offset value: Int64) { failures.append(tessera_curl_setopt_off(handle, option, curl_off_t(value))) }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_NOSIGNAL, 1)  // many threads: no SIGALRM-based DNS timeouts
        set(CURLOPT_FOLLOWLOCATION, 0)  // S3 redirects (wrong region) are errors to report, not to follow
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = settings.caFile { set(CURLOPT_CAINFO, caFile) }
        set(CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000))
        // A stalled transfer (under 1 byte/s for stallTimeout) fails and is retried; large files may take long.
        set(CURLOPT_LOW_SPEED_LIMIT, 1)
        set(CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.stallTimeout)))
        if settings.maxSendBytesPerSecond > 0 { set(CURLOPT_MAX_SEND_SPEED_LARGE, offset: settings.maxSendBytesPerSecond) }
        set(CURLOPT_AWS_SIGV4, settings.sigV4)
        set(CURLOPT_USERNAME, settings.accessKeyID)
        set(CURLOPT_PASSWORD, settings.secretAccessKey)
        failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        failures.append(tessera_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))

        let pointer = context.toOpaque()
        failures.append(tessera_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer))
        failures.append(tessera_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer))
        if cancel != nil {
            set(CURLOPT_NOPROGRESS, 0)
            failures.append(tessera_curl_setopt_progress_callback(handle, curlProgressCallback))
            failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, pointer))
        }

        switch request.method {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "PUT":
            set(CURLOPT_UPLOAD, 1)
            set(CURLOPT_INFILESIZE_LARGE, offset: request.body.length)
            // The upload buffer stays at its 64 KiB default: 512 KiB measured slower against SeaweedFS (bench upload).
        case "POST":
            set(CURLOPT_POST, 1)
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: request.body.length)
        default: set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if request.method == "PUT" || request.method == "POST" {
            failures.append(tessera_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlReadCallback))
            failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_READDATA, pointer))
            failures.append(tessera_curl_setopt_seek_callback(handle, curlSeekCallback))
            failures.append(tessera_curl_setopt_pointer(handle, CURLOPT_SEEKDATA, pointer))
        }
        if let bad = failures.first(where: { $0 != CURLE_OK }) {
            return .transport(code: Int(bad.rawValue), reason: "libcurl rejected an option: \(String(cString: curl_easy_strerror(bad)))", transient: false)
        }

        let code = curl_easy_perform(handle)
        switch transfer.failure {
        case .cancelled?: return .cancelled
        case .local(let reason)?: return .local(reason: reason)
        case nil: break
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .transport(code: Int(code.rawValue), reason: reason, transient: Self.isTransient(code))
        }
        var status = 0
        _ = tessera_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .response(status: status, headers: transfer.headers, body: transfer.received)
    }

    /// Failures worth another attempt: the network or the server went away, or was slow. Not: bad options,
    /// TLS verification, our own callbacks aborting.
    static func isTransient(_ code: CURLcode) -> Bool {
        [
            CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
            CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_UPLOAD_FAILED, CURLE_HTTP2, CURLE_HTTP2_STREAM,
            CURLE_SSL_CONNECT_ERROR, CURLE_WEIRD_SERVER_REPLY,
        ].contains(code)
    }
}

/// The state of one transfer, reached from curl's callbacks through an `Unmanaged` pointer.
private final class Transfer {
    let body: RequestBody
    var sent: Int64 = 0
    let downloadTo: Int32?
    let cancel: CancellationFlag?
    var status = 0
    var headers: [String: String] = [:]
    var received: [UInt8] = []
    /// Why a callback stopped the transfer.
    enum Failure {
        case cancelled
        case local(String)
    }
    var failure: Failure?

    /// Error documents and listings are small; a runaway body is cut off rather than filling memory.
    static let memoryLimit = 64 << 20

    init(body: RequestBody, downloadTo: Int32?, cancel: CancellationFlag?) {
        self.body = body
        self.downloadTo = downloadTo
        self.cancel = cancel
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let remaining = body.length - sent
        let wanted = Int(min(Int64(capacity), remaining))
        guard wanted > 0 else { return 0 }
        switch body {
        case .none: return 0
        case .bytes(let bytes):
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + Int(sent), byteCount: wanted)
            }
            sent += Int64(wanted)
            return wanted
        case .file(let file, let offset, _):
            var count = 0
            repeat { count = pread(file.descriptor, buffer, wanted, off_t(offset + sent)) } while count < 0 && errno == EINTR
            guard count > 0 else {
                failure = .local(count == 0
                    ? "\(file.path) became shorter while it was being uploaded"
                    : "cannot read \(file.path): \(String(cString: strerror(errno)))")
                return tessera_curl_readfunc_abort()
            }
            sent += Int64(count)
            return count
        }
    }

    func header(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new status line (after "100 Continue", for instance) starts a new set of headers.
            status = Int(trimmed.split(separator: " ").dropFirst().first ?? "") ?? 0
            headers = [:]
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = trimmed[..<colon].lowercased()
            headers[name] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    func write(_ buffer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        if let fd = downloadTo, (200..<300).contains(status) {
            var done = 0
            while done < count {
                let written = Foundation.write(fd, buffer + done, count - done)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    failure = .local("cannot write the download: \(String(cString: strerror(errno)))")
                    return 0  // curl stops with CURLE_WRITE_ERROR
                }
                done += written
            }
            return count
        }
        guard received.count + count <= Self.memoryLimit else {
            failure = .local("response body larger than \(Self.memoryLimit >> 20) MiB")
            return 0
        }
        buffer.withMemoryRebound(to: UInt8.self, capacity: count) { received.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
        return count
    }
}

private func transfer(_ context: UnsafeMutableRawPointer?) -> Transfer {
    Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
}

private let curlReadCallback: tessera_curl_data_callback = { buffer, size, count, context in
    guard let buffer else { return 0 }
    return transfer(context).read(into: buffer, capacity: size * count)
}

private let curlWriteCallback: tessera_curl_data_callback = { buffer, size, count, context in
    guard let buffer else { return 0 }
    return transfer(context).write(buffer, count: size * count)
}

private let curlHeaderCallback: tessera_curl_data_callback = { buffer, size, count, context in
    guard let buffer else { return 0 }
    let line = buffer.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        String(decoding: UnsafeBufferPointer(start: $0, count: size * count), as: UTF8.self)
    }
    transfer(context).header(line)
    return size * count
}

/// Curl rewinds a body when it must send it again (a redirect, an auth retry on the same connection).
private let curlSeekCallback: tessera_curl_seek_callback = { context, offset, origin in
    guard origin == SEEK_SET, offset >= 0 else { return tessera_curl_seekfunc_cantseek() }
    let state = transfer(context)
    guard Int64(offset) <= state.body.length else { return tessera_curl_seekfunc_cantseek() }
    state.sent = Int64(offset)
    return tessera_curl_seekfunc_ok()
}

private let curlProgressCallback: tessera_curl_progress_callback = { context, _, _, _, _ in
    let state = transfer(context)
    guard state.cancel?.isRaised == true else { return 0 }
    state.failure = .cancelled
    return 1
}
