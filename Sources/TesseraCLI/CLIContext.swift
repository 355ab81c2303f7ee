import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import TesseraFarm
import TesseraPostgres
import TesseraQueue

/// An error shown to the operator as one clear line (ArgumentParser prints it and exits non-zero).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Shared set-up for commands: configuration, logging, metrics and the database.
enum CLIContext {
    /// Logging goes to standard error, one line per event; `TESSERA_LOG_LEVEL` sets the level.
    static let bootstrapLogging: Void = {
        let level = ProcessInfo.processInfo.environment["TESSERA_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }()

    /// The Prometheus registry every metric of this process lands in.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    static func logger(_ label: String) -> Logger {
        _ = bootstrapLogging
        return Logger(label: label)
    }

    static func configuration() -> Configuration { Configuration.fromEnvironment() }

    /// Resolves the database (starting the embedded cluster if that is the default) with clear errors.
    static func database() throws -> Database {
        do {
            return try Database(configuration: configuration())
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// Opens a queue on a current schema, turning every failure into one clear error.
    static func queue(_ database: Database? = nil) throws -> JobQueue {
        do {
            let database = try database ?? self.database()
            return JobQueue(connection: try database.open(logger: logger("tessera.migrate")))
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
    }
}

/// `--json` for scripts.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false
}

/// Prints any Encodable as pretty JSON with ISO 8601 dates.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Parses "90s", "15m", "2h", "7d" as seconds.
func parseDuration(_ text: String) throws -> Double {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    guard let unit = text.last, let scale = units[unit], let value = Double(text.dropLast()), value >= 0 else {
        if let seconds = Double(text), seconds >= 0 { return seconds }
        throw CLIError("\(text) is not a duration like 90s, 15m, 2h or 7d")
    }
    return value * scale
}

/// Parses a time as an age ("2h" = two hours ago) or ISO 8601 ("2026-11-25T10:00:00Z").
func parseTime(_ text: String, now: Date = Date()) throws -> Date {
    if let seconds = try? parseDuration(text) { return now.addingTimeInterval(-seconds) }
    let formatter = ISO8601DateFormatter()
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withFullDate]
    if let date = formatter.date(from: text) { return date }
    throw CLIError("\(text) is neither an age like 2h nor an ISO 8601 time")
}
