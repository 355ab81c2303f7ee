import Foundation
import Testing
import TesseraFarm
import TesseraPostgres
import TesseraQueue
import TesseraTestSupport

/// Runs the real `tessera` binary as a child process against a test database.
struct TesseraProcess {
    static func binary() throws -> String {
        let path = ProcessInfo.processInfo.environment["TESSERA_BIN"]
            ?? TestDatabase.repositoryRoot.appendingPathComponent(".build/debug/tessera").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestDatabaseError(description: "no tessera binary at \(path): build it (ops/test.sh does) or set TESSERA_BIN")
        }
        return path
    }

    static func environment(_ conninfo: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_DATABASE_URL"] = conninfo
        environment["TESSERA_MIGRATIONS"] = TestDatabase.migrationsFolder.path
        return environment
    }

    /// Starts `tessera ARGS`; its output goes to a log file returned with it.
    static func start(_ arguments: [String], conninfo: String, environment extra: [String: String] = [:]) throws -> (ChildProcess, String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString).log").path
        var environment = environment(conninfo)
        for (key, value) in extra { environment[key] = value }
        let child = try ChildProcess(executable: try binary(), arguments: arguments, environment: environment, outputFile: log)
        return (child, log)
    }

    /// Runs `tessera ARGS` to the end and returns its exit status and output.
    static func run(_ arguments: [String], conninfo: String, environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        var environment = environment(conninfo)
        for (key, value) in extra { environment[key] = value }
        return try ChildProcess.run(try binary(), arguments, environment: environment)
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass.
func waitUntil(_ timeout: Double, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw TestDatabaseError(description: "timed out after \(timeout) s waiting for \(what)")
}

/// A log file's contents, for failure messages.
func logText(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)"
}
