import Foundation
import Testing
import TesseraFarm
import TesseraTestSupport

@testable import TesseraStorage

/// A private server that the test stops in the middle of an upload.
@Suite struct ServerFailureTests {
    @Test func serverStoppedMidUploadIsRetriedThenAClearErrorAndNoPartialObject() throws {
        let server = try SeaweedServer.startPrivate(label: "kill")
        defer {
            server.stop()
            try? FileManager.default.removeItem(at: server.directory)
        }
        // Parts of 5 MiB, one at a time, at 10 MiB/s: each part takes about half a second.
        let store = try SeaweedServer.store(on: server) {
            $0.maxParallelParts = 1
            $0.maxSendBytesPerSecond = 10 << 20
            $0.retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.1, maxDelay: 0.2)
        }
        let scratch = try Scratch("s3-kill")
        let source = try scratch.file("in.bin", size: 15 << 20)
        let key = try ObjectKey("renders/interrupted.mp4")
        let killed = DispatchSemaphore(value: 0)
        let start = Date()
        // Once the first part is in, the server dies 0.2 s into the second.
        #expect {
            try store.put(file: source, key: key, contentType: "video/mp4") { progress in
                guard progress.partsDone == 1 else { return }
                Thread {
                    Thread.sleep(forTimeInterval: 0.2)
                    server.kill()
                    killed.signal()
                }.start()
            }
        } throws: { error in
            guard case StorageError.network(let message, let attempts) = error else { return false }
            let text = "\(error)"
            return attempts == 3 && message.contains("part 2/3") && text.contains("after 3 attempts")
                && !text.contains(server.credentials.secretAccessKey)
        }
        #expect(Date().timeIntervalSince(start) < 10)
        killed.wait()

        // Back up on the same data: the object never appeared. The abort could not reach the dead server,
        // so the incomplete upload is still listed until the clean-up removes it.
        try server.start()
        #expect(try store.head(key: key) == nil)
        #expect(try store.list(prefix: "").isEmpty)
        let orphans = try store.incompleteUploads(prefix: "renders/")
        #expect(orphans.map(\.key) == ["renders/interrupted.mp4"])
        #expect(try store.abortIncompleteUploads(prefix: "renders/") == 1)
        #expect(try store.incompleteUploads().isEmpty)

        // A single PUT cut off the same way leaves no object either.
        let small = try scratch.file("small.bin", size: 3 << 20)
        let smallKey = try ObjectKey("renders/single.mp4")
        let cutter = Thread {
            Thread.sleep(forTimeInterval: 0.1)
            server.kill()
        }
        cutter.start()
        #expect(throws: StorageError.self) { try store.put(file: small, key: smallKey) }
        while !cutter.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        try server.start()
        #expect(try store.head(key: smallKey) == nil)

        // A server that comes back while the retries last: the upload goes through, whole.
        let patient = try SeaweedServer.store(on: server, bucket: store.configuration.bucket) {
            $0.maxParallelParts = 2
            $0.maxSendBytesPerSecond = 10 << 20
            $0.retry = RetryPolicy(maxAttempts: 8, baseDelay: 0.5, maxDelay: 2)
        }
        let restarted = DispatchSemaphore(value: 0)
        let restartKey = try ObjectKey("renders/restarted.mp4")
        try patient.put(file: source, key: restartKey, contentType: nil) { progress in
            guard progress.partsDone == 1 else { return }
            Thread {
                server.kill()
                Thread.sleep(forTimeInterval: 0.5)
                try? server.start()
                restarted.signal()
            }.start()
        }
        restarted.wait()
        try patient.get(key: restartKey, to: scratch.path("restarted.bin"))
        #expect(try sameBytes(source, scratch.path("restarted.bin")))
    }
}
