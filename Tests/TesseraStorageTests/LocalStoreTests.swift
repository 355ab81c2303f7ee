import Foundation
import Testing

@testable import TesseraStorage

@Suite struct LocalStoreTests {
    @Test func roundTripsFilesUnderTheirKeys() throws {
        let scratch = try Scratch("local")
        let store = LocalStore(root: scratch.path("objects"))
        try store.prepare()
        let source = try scratch.file("in.bin", size: 3 << 20)
        let key = try ObjectKey("renders/batch 7/日本 🎬/job 1.mp4")
        let put = try store.put(file: source, key: key, contentType: "video/mp4")
        #expect(put.size == 3 << 20)
        #expect(try store.head(key: key)?.size == 3 << 20)
        let out = try store.get(key: key, to: scratch.path("out/copy.bin"))
        #expect(out.size == 3 << 20)
        #expect(try sameBytes(source, scratch.path("out/copy.bin")))
        #expect(store.url(for: key).path == scratch.path("objects/renders/batch 7/日本 🎬/job 1.mp4").path)
        let mode = try FileManager.default.attributesOfItem(atPath: store.url(for: key).path)[.posixPermissions] as? Int
        #expect(mode == 0o644, "a stored object is an ordinary readable file, not mkstemp's 0600")
        try store.delete(key: key)
        #expect(try store.head(key: key) == nil)
        try store.delete(key: key)  // deleting what is gone succeeds
        #expect(throws: StorageError.notFound(key: key.rawValue)) { try store.get(key: key, to: scratch.path("out/none.bin")) }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out/none.bin").path))
    }

    @Test func listsByPrefixInKeyOrder() throws {
        let scratch = try Scratch("local-list")
        let store = LocalStore(root: scratch.path("objects"))
        let source = try scratch.file("in.bin", size: 10)
        for raw in ["b/2", "a/1", "a/2 x", "ab", "c"] { try store.put(file: source, key: try ObjectKey(raw)) }
        #expect(try store.list(prefix: "a").map(\.key.rawValue) == ["a/1", "a/2 x", "ab"])
        #expect(try store.list(prefix: "a/").map(\.key.rawValue) == ["a/1", "a/2 x"])
        #expect(try store.list(prefix: "").count == 5)
        #expect(try store.list(prefix: "zzz").isEmpty)
    }

    @Test func aFailedPutLeavesNothingVisible() throws {
        let scratch = try Scratch("local-atomic")
        let store = LocalStore(root: scratch.path("objects"))
        let key = try ObjectKey("renders/job.mp4")
        let old = try scratch.file("old.bin", size: 1000, seed: 1)
        try store.put(file: old, key: key)
        // The progress callback runs once the copy is written but before the rename: throwing there must
        // leave the previous object whole and no temporary file behind.
        let new = try scratch.file("new.bin", size: 5000, seed: 2)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try store.put(file: new, key: key, contentType: nil) { progress in
                #expect(progress.bytesDone == 5000)
                throw Stop()
            }
        }
        #expect(try store.head(key: key)?.size == 1000)
        #expect(try sameBytes(store.url(for: key), old))
        #expect(allFiles(under: scratch.path("objects")) == ["renders/job.mp4"])
        // A put of a file that does not exist creates nothing either.
        #expect(throws: StorageError.self) { try store.put(file: scratch.path("missing.bin"), key: try ObjectKey("renders/other.mp4")) }
        #expect(allFiles(under: scratch.path("objects")) == ["renders/job.mp4"])
    }

    @Test func aReaderNeverSeesAPartialObject() throws {
        let scratch = try Scratch("local-reader")
        let store = LocalStore(root: scratch.path("objects"))
        let key = try ObjectKey("big.bin")
        let small = try scratch.file("small.bin", size: 1 << 10, seed: 3)
        let big = try scratch.file("big.bin", size: 8 << 20, seed: 4)
        try store.put(file: small, key: key)
        let writer = Thread { for _ in 0..<5 { _ = try? store.put(file: big, key: key); _ = try? store.put(file: small, key: key) } }
        writer.start()
        // Every size seen is one of the two whole files.
        for _ in 0..<200 {
            let size = try store.head(key: key)?.size
            #expect(size == 1 << 10 || size == 8 << 20)
        }
        while !writer.isFinished { Thread.sleep(forTimeInterval: 0.01) }
    }

    @Test func keysCannotEscapeTheRoot() throws {
        let scratch = try Scratch("local-escape")
        let outside = scratch.path("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let store = LocalStore(root: scratch.path("objects"))
        try store.prepare()
        let source = try scratch.file("in.bin", size: 10)
        for raw in ["../outside/x", "a/../../outside/x", "/etc/x"] {
            #expect(throws: StorageError.self) { try store.put(file: source, key: try ObjectKey(raw)) }
        }
        // A symbolic link inside the root that points out of it is refused too.
        try FileManager.default.createSymbolicLink(at: scratch.path("objects/link"), withDestinationURL: outside)
        #expect {
            try store.put(file: source, key: try ObjectKey("link/x"))
        } throws: { error in
            guard case StorageError.invalidKey(_, let reason) = error else { return false }
            return reason.contains("outside")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        // The temporary-file marker is not a key this store accepts.
        #expect(throws: StorageError.self) { try store.put(file: source, key: try ObjectKey("a/.x.tessera-partial-1")) }
    }
}
