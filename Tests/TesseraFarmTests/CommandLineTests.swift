import Foundation
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// The `tessera` command line against a real server: what operators type.
@Suite struct CommandLineTests {
    let conninfo: String
    let queue: JobQueue

    init() throws {
        conninfo = try TestDatabase.createMigrated("cli")
        queue = JobQueue(connection: try PostgresConnection(conninfo))
    }

    func file(_ contents: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("enqueue-\(UUID().uuidString).jsonl").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents))
        return path
    }

    func tessera(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try TesseraProcess.run(arguments, conninfo: conninfo)
    }

    @Test func aFileWithBadLinesIsRejectedWholeListingEveryLine() throws {
        var bytes = Array("""
            {"prompt": "fine"}
            {"prompt": "", "seed": 1}
            {"prompt": "ok", "fps": 500}
            {"prompt": "ok", "orientation": "diagonal"}
            {"prompt": "ok", "bogus": 1}
            {"prompt": "truncated"

            """.utf8)
        bytes += Array("{\"prompt\": \"".utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)
        let result = try tessera(["enqueue", try file(bytes)])
        #expect(result.status != 0)
        for line in 2...7 { #expect(result.output.contains("line \(line):"), "line \(line) named in: \(result.output)") }
        #expect(!result.output.contains("line 1:"))
        #expect(result.output.contains("nothing was enqueued"))
        #expect(try queue.jobs().isEmpty && queue.batches().isEmpty)
    }

    @Test func enqueueDryRunWritesNothing() throws {
        let result = try tessera(["enqueue", "--dry-run", try file(Array("one\ntwo\n".utf8))])
        #expect(result.status == 0 && result.output.contains("2 job(s) would be enqueued"), "\(result.output)")
        #expect(try queue.jobs().isEmpty)
    }

    @Test func enqueueWithIdempotencyKeyTwiceCreatesOneBatch() throws {
        let path = try file(Array(#"{"prompt": "a fox", "orientation": "both", "priority": 3}"#.utf8))
        let first = try tessera(["enqueue", path, "--idempotency-key", "nightly-42", "--batch-name", "nightly", "--json"])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("\"created\" : true"))
        let second = try tessera(["enqueue", path, "--idempotency-key", "nightly-42", "--batch-name", "nightly"])
        #expect(second.status == 0 && second.output.contains("nothing new enqueued"), "\(second.output)")
        let jobs = try queue.jobs()
        #expect(jobs.count == 2 && Set(jobs.map(\.spec.orientation)) == [.landscape, .portrait])
        #expect(jobs.allSatisfy { $0.spec.priority == 3 })
    }

    @Test func enqueueReadsStandardInput() throws {
        let result = try ChildProcess.run(
            "/bin/sh", ["-c", "printf 'from stdin\\n' | \"$0\" enqueue - --batch-name piped", try TesseraProcess.binary()],
            environment: TesseraProcess.environment(conninfo))
        #expect(result.status == 0, "\(result.output)")
        #expect(try queue.jobs().map(\.spec.prompt) == ["from stdin"])
    }

    @Test func jobsListShowCancelAndRetry() throws {
        let ids = try queue.enqueueSamples(3, name: "ops")
        let list = try tessera(["jobs", "--batch", "ops", "--state", "queued"])
        #expect(list.status == 0 && list.output.contains("test prompt 2"), "\(list.output)")
        let json = try tessera(["jobs", "--json", "--limit", "2"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        #expect(decoded?.count == 2)

        let cancel = try tessera(["cancel", "\(ids[0])", "999999"])
        #expect(cancel.status != 0, "an unknown job makes the command fail")
        #expect(cancel.output.contains("job \(ids[0]): cancelled") && cancel.output.contains("job 999999: no such job"))
        let retry = try tessera(["retry", "\(ids[0])"])
        #expect(retry.status == 0 && retry.output.contains("job \(ids[0]): queued"))

        let show = try tessera(["jobs", "show", "\(ids[0])"])
        #expect(show.status == 0, "\(show.output)")
        for kind in ["enqueued", "cancelled", "retried"] { #expect(show.output.contains(kind), "\(show.output)") }
        let missing = try tessera(["jobs", "show", "424242"])
        #expect(missing.status != 0 && missing.output.contains("no job 424242"))
    }

    @Test func badOptionsAreClearErrors() throws {
        let state = try tessera(["jobs", "--state", "sleeping"])
        #expect(state.status != 0 && state.output.contains("--state must be one of"))
        let worker = try tessera(["worker", "--lease", "10", "--heartbeat", "9"])
        #expect(worker.status != 0 && worker.output.contains("at most half the lease"))
        let renderer = try tessera(["worker", "--renderer", "magic"])
        #expect(renderer.status != 0 && renderer.output.contains("--renderer must be video or test"))
        let missing = try tessera(["enqueue", "/nonexistent/prompts.txt"])
        #expect(missing.status != 0 && missing.output.contains("cannot read /nonexistent/prompts.txt"))
    }

    @Test func workersAndMigrateStatus() throws {
        let none = try tessera(["workers"])
        #expect(none.status == 0 && none.output.contains("no running workers"))
        _ = try queue.registerWorker(host: "render-7", pid: 4242, version: "0.1.0", capabilities: ["renderer": "test"])
        let some = try tessera(["workers"])
        #expect(some.output.contains("render-7") && some.output.contains("4242"), "\(some.output)")
        let migrate = try tessera(["migrate"])
        #expect(migrate.status == 0 && migrate.output.contains("nothing to do"), "\(migrate.output)")
    }
}
