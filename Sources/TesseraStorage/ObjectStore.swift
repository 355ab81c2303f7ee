import Foundation

/// Where finished renders go: an S3-compatible bucket (`S3Store`) or a folder (`LocalStore`, the embedded
/// default). Every call blocks until done — run it on a thread of your own, as the worker does with libpq.
///
/// Guarantees of every store: an object appears under its key only once it is complete (a failed or
/// interrupted `put` leaves nothing visible); `get` writes its file the same way (a temporary file beside
/// the destination, renamed at the end); `delete` of a missing key succeeds.
public protocol ObjectStore: Sendable {
    /// Creates the bucket or root folder if it does not exist yet.
    func prepare() throws

    /// Uploads a file, streamed from disk, under `key` (replacing any object there). `progress`, when
    /// given, is called after each part (once for a small file); throwing from it cancels the upload.
    @discardableResult
    func put(file: URL, key: ObjectKey, contentType: String?, progress: (@Sendable (TransferProgress) throws -> Void)?) throws -> ObjectInfo

    /// The object's size and metadata, or nil when there is none under `key`.
    func head(key: ObjectKey) throws -> ObjectInfo?

    /// Downloads the object to `file` (streamed; replaced atomically). Throws `StorageError.notFound`.
    @discardableResult
    func get(key: ObjectKey, to file: URL) throws -> ObjectInfo

    /// Removes the object; succeeds when there is none.
    func delete(key: ObjectKey) throws

    /// Every object whose key starts with `prefix` (plain string prefix), in key order.
    func list(prefix: String) throws -> [ObjectInfo]

    /// Where the object lives: an `https://` (or `http://`) URL for S3, a `file://` URL for a folder. Not a
    /// presigned URL: reading it needs credentials.
    func url(for key: ObjectKey) -> URL
}

extension ObjectStore {
    /// Uploads a file without progress reports.
    @discardableResult
    public func put(file: URL, key: ObjectKey, contentType: String? = nil) throws -> ObjectInfo {
        try put(file: file, key: key, contentType: contentType, progress: nil)
    }
}

/// What a store knows about one object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: ObjectKey
    /// Bytes.
    public var size: Int64
    /// The server's entity tag, quotes removed (S3: the MD5 of a single-part object; `<md5>-<parts>` for a
    /// multipart one). Nil for a local folder.
    public var etag: String?
    public var lastModified: Date?
    public var contentType: String?

    public init(key: ObjectKey, size: Int64, etag: String? = nil, lastModified: Date? = nil, contentType: String? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
    }
}

/// How far an upload has come.
public struct TransferProgress: Sendable, Equatable {
    public var bytesDone: Int64
    public var totalBytes: Int64
    public var partsDone: Int
    public var partCount: Int
}
