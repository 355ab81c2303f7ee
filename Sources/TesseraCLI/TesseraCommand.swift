import ArgumentParser
import Foundation

/// `tessera`: the render farm's command line. Every subcommand is thin over the library.
public struct TesseraCommand: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "A text-to-video render farm: enqueue prompt batches, run workers, watch and query jobs.",
        discussion: """
            With no TESSERA_DATABASE_URL set, tessera runs a private PostgreSQL cluster of its own in its state \
            folder (TESSERA_HOME), on a Unix socket, started on demand and reused. Set TESSERA_DATABASE_URL to \
            use a real server instead; then tessera never starts one.
            """,
        version: version,
        subcommands: [
            EnqueueCommand.self, JobsCommand.self, CancelCommand.self, RetryCommand.self, ApproveCommand.self, WorkersCommand.self,
            WorkerCommand.self, CoordinatorCommand.self, MigrateCommand.self, DevCommand.self, DemoCommand.self, BenchCommand.self,
            WorldCommand.self, EvalCommand.self, TrainCommand.self, RenderCommand.self,
        ])

    public init() {}
}

extension TesseraCommand {
    /// The program's entry point: parses the arguments and runs the chosen command, async ones under
    /// Swift concurrency (spelled out because overload resolution picks the synchronous `main` here).
    public static func runMain(_ arguments: [String]? = nil) async {
        if let missing = CPUCheck.missingFeatures() {
            FileHandle.standardError.write(Data("""
                error: this build of tessera needs a CPU with \(missing.joined(separator: " and ")) (x86-64 with AVX2 and FMA); \
                rebuild with TESSERA_PORTABLE=1 for older CPUs.\n
                """.utf8))
            Foundation.exit(1)
        }
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
