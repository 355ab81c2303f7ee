import ArgumentParser
import Foundation
import TesseraFarm

struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Manage the embedded PostgreSQL cluster used when no TESSERA_DATABASE_URL is set.",
        subcommands: [Status.self, Up.self, Down.self])

    static func cluster() throws -> EmbeddedPostgres {
        let configuration = CLIContext.configuration()
        if let url = configuration.databaseURL {
            throw CLIError("TESSERA_DATABASE_URL is set (\(redact(url))): tessera uses that server and runs no embedded cluster")
        }
        do {
            return try EmbeddedPostgres(configuration: configuration)
        } catch {
            throw CLIError("\(error)")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the embedded cluster exists and runs.")
        @OptionGroup var output: OutputOptions

        func run() throws {
            let status = try DevCommand.cluster().status()
            if output.json { return try printJSON(status) }
            print("data:       \(status.dataDirectory) (\(status.initialized ? "initialized" : "not created yet"))")
            print("server:     \(status.running ? "running, pid \(status.pid ?? 0)" : "stopped")")
            print("connect:    psql \"\(status.connectionString)\"")
            print("log:        \(status.logFile)")
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create and start the embedded cluster, and migrate it.")
        @OptionGroup var output: OutputOptions

        func run() throws {
            _ = try CLIContext.queue()
            let status = try DevCommand.cluster().status()
            if output.json { return try printJSON(status) }
            print("embedded PostgreSQL running (pid \(status.pid ?? 0)); connect with: psql \"\(status.connectionString)\"")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded cluster (its data is kept).")

        func run() throws {
            do {
                print(try DevCommand.cluster().stop() ? "embedded PostgreSQL stopped" : "embedded PostgreSQL was not running")
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("\(error)")
            }
        }
    }
}

/// A database URL with any password replaced, for messages.
func redact(_ url: String) -> String {
    guard let components = URLComponents(string: url), components.password != nil else {
        return url.replacingOccurrences(of: #"password=\S+"#, with: "password=***", options: .regularExpression)
    }
    var redacted = components
    redacted.password = "***"
    return redacted.string ?? "***"
}
