import ArgumentParser
import Foundation
import TesseraQueue

struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a batch of prompts from a file or standard input, all or nothing.",
        discussion: """
            Plain text: one prompt a line. JSON Lines: one object a line, with "prompt" and optional fields \
            \(EnqueueParser.fields.dropFirst().joined(separator: ", ")). orientation is landscape, portrait or \
            both (two jobs); duration is in seconds (0 = a single frame, at most 60); fps 1 to 60; priority \
            -1000 to 1000, higher runs first. A file with any bad line is rejected whole, listing every bad \
            line, and nothing is enqueued.
            """)

    @Argument(help: "The prompt file, or - for standard input.")
    var file: String

    @Option(help: "Name of the batch (default: the file's name).")
    var batchName: String?

    @Option(help: "Re-running with the same key creates nothing new and reports the existing batch.")
    var idempotencyKey: String?

    @Option(help: "auto (JSON Lines when the first line starts with {), text or jsonl.")
    var format: String = "auto"

    @Flag(help: "Check the file and show what would be enqueued, without touching the database.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        guard let format = EnqueueParser.Format(rawValue: format) else {
            throw CLIError("--format must be auto, text or jsonl, not \(format)")
        }
        let data: [UInt8]
        if file == "-" {
            data = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read \(file): no such file or not readable")
            }
            data = Array(contents)
        }
        let name = batchName ?? (file == "-" ? "stdin" : URL(fileURLWithPath: file).lastPathComponent)
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.count > 200 {
            throw CLIError("--idempotency-key must be 1 to 200 characters")
        }
        guard (1...200).contains(name.count) else { throw CLIError("--batch-name must be 1 to 200 characters") }
        let specs: [JobSpec]
        do {
            specs = try EnqueueParser(format: format).parse(data)
        } catch {
            throw CLIError("\(error)")
        }
        if dryRun {
            if output.json {
                try printJSON(specs)
            } else {
                var table = Table(["LINE", "ORIENT", "SIZE", "DUR", "FPS", "SEED", "PRIO", "PROMPT"])
                for spec in specs {
                    table.add([
                        "\(spec.line)", spec.orientation.rawValue, "\(spec.width)x\(spec.height)", "\(spec.duration)s",
                        "\(spec.fps)", "\(spec.seed)", "\(spec.priority)", spec.prompt,
                    ])
                }
                print(table.render())
                print("dry run: \(specs.count) job(s) would be enqueued as batch \"\(name)\"; nothing was written")
            }
            return
        }
        let request = BatchRequest(
            name: name, idempotencyKey: idempotencyKey, contentHash: contentHash(data, name: name, format: format),
            jobs: specs)
        let queue = try CLIContext.queue()
        let outcome: EnqueueOutcome
        do {
            outcome = try queue.enqueue(request)
        } catch {
            throw CLIError("\(error)")
        }
        if output.json {
            try printJSON(outcome)
        } else if outcome.created {
            print("enqueued batch \(outcome.batchID) (\"\(name)\"): \(outcome.jobIDs.count) job(s), ids \(idRange(outcome.jobIDs))")
        } else {
            print("batch \(outcome.batchID) already exists for idempotency key \"\(idempotencyKey ?? "")\": nothing new enqueued (\(outcome.jobIDs.count) job(s))")
        }
    }
}

/// "4..9" for a contiguous range, else a list.
func idRange(_ ids: [Int64]) -> String {
    guard let first = ids.first, let last = ids.last else { return "none" }
    if last - first + 1 == Int64(ids.count) { return ids.count == 1 ? "\(first)" : "\(first)..\(last)" }
    return ids.map(String.init).joined(separator: ",")
}

/// A stable fingerprint of what an enqueue asked for (FNV-1a, 64-bit), so a reused idempotency key with
/// different content is refused.
func contentHash(_ data: [UInt8], name: String, format: EnqueueParser.Format) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in data + Array("\u{0}\(name)\u{0}\(format.rawValue)".utf8) {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return String(hash, radix: 16)
}
