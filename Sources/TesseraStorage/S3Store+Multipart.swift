import Foundation
import Synchronization

/// Multipart uploads: CreateMultipartUpload, the parts in parallel (each part's request retried on its
/// own), then CompleteMultipartUpload — the object appears only then. Any failure aborts the upload so no
/// parts are left behind; when even the abort cannot reach the server, `abortIncompleteUploads` cleans up
/// later (the coordinator's retention duty, or an operator).
extension S3Store {
    /// An upload that was started and neither completed nor aborted.
    public struct IncompleteUpload: Sendable, Equatable {
        public var key: String
        public var uploadID: String
        public var initiated: Date?
    }

    func putMultipart(
        source: SourceFile, key: ObjectKey, contentType: String?, progress: (@Sendable (TransferProgress) throws -> Void)?
    ) throws -> ObjectInfo {
        // Grow the part size if the file would need more than 10,000 parts.
        let partSize = max(configuration.partSize, (source.size + S3Configuration.maximumParts - 1) / S3Configuration.maximumParts)
        let partCount = Int(max(1, (source.size + partSize - 1) / partSize))
        let created = try send("start multipart upload of \(key)") {
            HTTPRequest(
                method: "POST", url: configuration.url(key: key, query: [("uploads", "")]),
                headers: headers(contentType: contentType ?? "application/octet-stream"))
        }
        guard let uploadID = S3XML.value("UploadId", in: created.text), !uploadID.isEmpty else {
            throw StorageError.server(status: created.status, code: "", message: "start multipart upload of \(key): no UploadId in the answer", attempts: 1)
        }
        do {
            let etags = try uploadParts(source: source, key: key, uploadID: uploadID, partSize: partSize, partCount: partCount, progress: progress)
            return try complete(key: key, uploadID: uploadID, etags: etags, size: source.size, contentType: contentType)
        } catch {
            try? abort(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Uploads every part on up to `maxParallelParts` threads, each with its own connection; returns the
    /// ETags by part number. The first failure raises a flag that stops the other transfers at once.
    private func uploadParts(
        source: SourceFile, key: ObjectKey, uploadID: String, partSize: Int64, partCount: Int,
        progress: (@Sendable (TransferProgress) throws -> Void)?
    ) throws -> [String] {
        let run = PartRun(partCount: partCount)
        let group = DispatchGroup()
        for _ in 0..<min(configuration.maxParallelParts, partCount) {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while let index = run.next() {
                    let offset = Int64(index) * partSize
                    let length = min(partSize, source.size - offset)
                    do {
                        let response = try send("PUT \(key) part \(index + 1)/\(partCount)", cancel: run.cancel) {
                            HTTPRequest(
                                method: "PUT",
                                url: configuration.url(key: key, query: [("partNumber", "\(index + 1)"), ("uploadId", uploadID)]),
                                headers: headers(), body: .file(source, offset: offset, length: length))
                        }
                        guard let etag = response.headers["etag"] else {
                            throw StorageError.server(status: response.status, code: "", message: "PUT \(key) part \(index + 1): no ETag in the answer", attempts: 1)
                        }
                        let done = run.finished(index, etag: etag, bytes: length)
                        try run.report {
                            try progress?(TransferProgress(bytesDone: done.bytes, totalBytes: source.size, partsDone: done.parts, partCount: partCount))
                        }
                    } catch let error as StorageError {
                        run.fail(error)
                    } catch {
                        run.fail(.cancelled("\(error)"))
                    }
                }
            }
            thread.name = "tessera-upload-part"
            thread.start()
        }
        group.wait()
        return try run.result()
    }

    private func complete(key: ObjectKey, uploadID: String, etags: [String], size: Int64, contentType: String?) throws -> ObjectInfo {
        let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(S3XML.escape($0.element))</ETag></Part>" }
        let body = Array("<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>".utf8)
        do {
            let response = try send("complete multipart upload of \(key)") {
                HTTPRequest(
                    method: "POST", url: configuration.url(key: key, query: [("uploadId", uploadID)]),
                    headers: headers(contentType: "application/xml"), body: .bytes(body))
            }
            let etag = S3XML.value("ETag", in: response.text).map(Self.unquote)
            return ObjectInfo(key: key, size: size, etag: etag, contentType: contentType)
        } catch StorageError.server(404, "NoSuchUpload", _, let attempts) where attempts > 1 {
            // An earlier try completed the upload but its answer was lost: the object is there.
            if let info = try head(key: key), info.size == size { return info }
            throw StorageError.server(status: 404, code: "NoSuchUpload", message: "complete multipart upload of \(key)", attempts: attempts)
        }
    }

    /// Aborts an upload, dropping its parts (retried like any request).
    func abort(key: ObjectKey, uploadID: String) throws {
        _ = try send("abort multipart upload of \(key)", accept: [404]) {
            HTTPRequest(method: "DELETE", url: configuration.url(key: key, query: [("uploadId", uploadID)]), headers: headers())
        }
    }

    /// Uploads under `prefix` that were started and never completed or aborted (ListMultipartUploads).
    public func incompleteUploads(prefix: String = "") throws -> [IncompleteUpload] {
        var uploads: [IncompleteUpload] = []
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix), ("encoding-type", "url")]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let response = try send("list incomplete uploads under \(prefix)") {
                HTTPRequest(method: "GET", url: configuration.url(key: nil, query: query), headers: headers())
            }
            let xml = response.text[...]
            for entry in S3XML.elements("Upload", in: xml) {
                guard let key = S3XML.value("Key", in: entry), let id = S3XML.value("UploadId", in: entry) else { continue }
                uploads.append(IncompleteUpload(
                    key: ObjectKey.percentDecode(key) ?? key, uploadID: id, initiated: S3XML.value("Initiated", in: entry).flatMap(Self.parseISODate)))
            }
            markers = nil
            if S3XML.value("IsTruncated", in: xml) == "true", let key = S3XML.value("NextKeyMarker", in: xml),
                let upload = S3XML.value("NextUploadIdMarker", in: xml)
            {
                markers = (ObjectKey.percentDecode(key) ?? key, upload)
            }
        } while markers != nil
        return uploads
    }

    /// Aborts the incomplete uploads under `prefix` started before `date` (all when nil); returns how many.
    @discardableResult
    public func abortIncompleteUploads(prefix: String = "", startedBefore date: Date? = nil) throws -> Int {
        var aborted = 0
        for upload in try incompleteUploads(prefix: prefix) where date == nil || (upload.initiated ?? .distantPast) < date! {
            guard let key = try? ObjectKey(upload.key) else { continue }
            try abort(key: key, uploadID: upload.uploadID)
            aborted += 1
        }
        return aborted
    }
}

/// The shared state of one multipart upload's part threads.
private final class PartRun: Sendable {
    let cancel = CancellationFlag()
    private let partCount: Int
    private let nextIndex = Atomic<Int>(0)
    private let state: Mutex<(etags: [String?], parts: Int, bytes: Int64, failure: StorageError?)>
    /// Serialises the caller's progress callback, which need not be thread-safe.
    private let reporting = Mutex<Void>(())

    init(partCount: Int) {
        self.partCount = partCount
        state = Mutex((Array(repeating: nil, count: partCount), 0, 0, nil))
    }

    /// The next part to upload, or nil when all are taken or the upload failed.
    func next() -> Int? {
        guard !cancel.isRaised else { return nil }
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < partCount ? index : nil
    }

    func finished(_ index: Int, etag: String, bytes: Int64) -> (parts: Int, bytes: Int64) {
        state.withLock {
            $0.etags[index] = etag
            $0.parts += 1
            $0.bytes += bytes
            return ($0.parts, $0.bytes)
        }
    }

    func report(_ call: () throws -> Void) throws {
        try reporting.withLock { _ in try call() }
    }

    /// Records the first failure (later ones are usually the cancellation it caused) and stops the rest.
    func fail(_ error: StorageError) {
        state.withLock { if $0.failure == nil { $0.failure = error } }
        cancel.raise()
    }

    func result() throws -> [String] {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            return state.etags.map { $0 ?? "" }
        }
    }
}
