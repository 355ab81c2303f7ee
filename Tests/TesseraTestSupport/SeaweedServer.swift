import Foundation
import Synchronization
import TesseraFarm
import TesseraStorage

/// Real S3-compatible servers for tests: SeaweedFS (`weed mini`) on 127.0.0.1, started by the tests.
///
/// The binary comes from `TESSERA_WEED` (ops/test.sh exports `$PWD/.venv/bin/weed`). Outside CI, a missing
/// variable falls back to the repository's `.venv/bin/weed`; under `CI=true` it is a failure, never a skip.
/// One shared server serves a whole test process (stopped when the process exits); a test that stops or
/// kills its server starts a private one with `startPrivate()` and stops it itself.
public enum SeaweedServer {
    /// The `weed` binary to run.
    public static func weedPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["TESSERA_WEED"], !path.isEmpty { return path }
        let hint = "run the tests with ops/test.sh (it exports TESSERA_WEED), or set TESSERA_WEED to a weed binary (ops/setup.sh installs one in .venv/bin)"
        if environment["CI"] == "true" {
            throw TestDatabaseError(description: "CI=true but TESSERA_WEED is not set: \(hint)")
        }
        let local = TestDatabase.repositoryRoot.appendingPathComponent(".venv/bin/weed").path
        guard FileManager.default.isExecutableFile(atPath: local) else {
            throw TestDatabaseError(description: "no SeaweedFS server for the object-store tests: \(hint)")
        }
        return local
    }

    private static let sharedServer = Mutex<Result<SeaweedProcess, TestDatabaseError>?>(nil)

    /// The process's shared server, started on first use.
    public static func shared() throws -> SeaweedProcess {
        try sharedServer.withLock { server in
            if server == nil {
                do {
                    let started = try startPrivate(label: "shared")
                    atexit { SeaweedServer.stopShared() }
                    server = .success(started)
                } catch {
                    server = .failure(TestDatabaseError(description: "\(error)"))
                }
            }
            return try server!.get()
        }
    }

    /// Stops the shared server and removes its folder (at process exit).
    static func stopShared() {
        sharedServer.withLock { server in
            if case .success(let process)? = server {
                process.stop()
                try? FileManager.default.removeItem(at: process.directory)
            }
            server = nil
        }
    }

    /// A server of the caller's own, in a fresh temporary folder; the caller stops it (and may remove
    /// `directory`).
    public static func startPrivate(label: String = "private") throws -> SeaweedProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-weed-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        return try SeaweedProcess(weed: try weedPath(), directory: directory)
    }

    private static let bucketCounter = Atomic<Int>(0)

    /// A store on `server` with a fresh bucket (created), small parts and quick retries so tests stay fast.
    public static func store(
        on server: SeaweedProcess, bucket: String? = nil, configure: (inout S3Configuration) -> Void = { _ in }
    ) throws -> S3Store {
        let name = bucket ?? "t-\(getpid())-\(bucketCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
        var configuration = try S3Configuration(
            endpoint: server.endpoint, bucket: name, credentials: server.credentials, multipartThreshold: 5 << 20,
            partSize: 5 << 20, maxParallelParts: 3, retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2),
            connectTimeout: 2, stallTimeout: 10)
        configure(&configuration)
        let store = S3Store(configuration)
        try store.prepare()
        return store
    }
}
