import Foundation
import Synchronization

/// The baseline side: pgbench runs the same claim and complete statements (`BenchSQL.pgbenchScript`) on the
/// same seeded queue, with as many clients as Tessera had workers. Its tps (one transaction = one claim plus
/// one complete, connection time excluded) is the raw-SQL ceiling Tessera is compared with.
struct PgbenchLoad {
    /// The pgbench program.
    let executable: String
    /// Folder holding the script file (removed by `cleanUp`).
    let folder: URL
    /// `simple` (pgbench's default: one message per statement), `extended` (what libpq's PQexecParams, and so
    /// `JobQueue`, uses) or `prepared`.
    let queryProtocol: String

    var scriptFile: URL { folder.appendingPathComponent("claim-complete.sql") }

    init(executable: String, queryProtocol: String) throws {
        self.executable = executable
        self.queryProtocol = queryProtocol
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(BenchSQL.pgbenchScript.utf8).write(to: scriptFile)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Finds pgbench: beside the configured or installed server binaries, then on PATH.
    static func locate(configuration: Configuration) throws -> String {
        var folders: [String] = []
        if let bin = configuration.postgresBin { folders.append(bin.path) }
        if let bin = try? EmbeddedPostgres.findBinaries() { folders.append(bin.path) }
        folders += (configuration.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for folder in folders {
            let candidate = URL(fileURLWithPath: folder).appendingPathComponent("pgbench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw BenchmarkError("pgbench not found (looked in \(folders.joined(separator: ", "))); install postgresql-contrib or the postgresql package, or set TESSERA_PG_BIN")
    }

    /// "pgbench (PostgreSQL) 15.18 ...", for the report.
    func version() -> String {
        guard let (status, output) = try? ChildProcess.run(executable, ["--version"]), status == 0 else { return "unknown" }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `clients` clients for `seconds` against `conninfo`. Workers `workerBase ..< workerBase + clients`
    /// must be registered already; client k acts as worker `workerBase + k`.
    func run(conninfo: String, clients: Int, seconds: Int, workerBase: Int64, lease: Double) throws -> LoadSample {
        let arguments = [
            "-n", "-f", scriptFile.path, "-c", "\(clients)", "-j", "\(min(clients, 2))", "-T", "\(seconds)",
            "-M", queryProtocol, "-D", "worker_base=\(workerBase)", "-D", "lease=\(lease)",
            // pgbench expands a conninfo string or URL given as the database name.
            conninfo,
        ]
        let (status, output) = try ChildProcess.run(executable, arguments)
        guard status == 0 else {
            throw BenchmarkError("pgbench with \(clients) clients exited with \(status):\n\(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let tps = Self.value(after: "tps = ", in: output),
            let processed = Self.value(after: "number of transactions actually processed: ", in: output)
        else {
            throw BenchmarkError("cannot read tps from pgbench's output:\n\(output)")
        }
        return LoadSample(
            jobsPerSecond: tps, completed: Int(processed), seconds: Double(seconds), claimNanoseconds: [], ranDry: false)
    }

    /// The number that follows `label` in pgbench's report, e.g. "tps = 1234.5 (without initial connection time)".
    static func value(after label: String, in output: String) -> Double? {
        for line in output.split(separator: "\n") {
            guard let range = line.range(of: label) else { continue }
            let number = line[range.upperBound...].prefix { $0.isNumber || $0 == "." }
            if let value = Double(number) { return value }
        }
        return nil
    }
}
