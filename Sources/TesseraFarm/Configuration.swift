import Foundation

/// Tessera's settings from the environment. This is the one place that reads it.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `TESSERA_DATABASE_URL` | libpq URL of a PostgreSQL server to use | unset: run the embedded cluster |
/// | `TESSERA_HOME` | state folder (embedded cluster, local object store) | `/var/lib/tessera` as root, else `$XDG_STATE_HOME/tessera` or `~/.local/state/tessera` |
/// | `TESSERA_AUTO_MIGRATE` | apply pending migrations on first use (`0` to refuse) | `1` |
/// | `TESSERA_MIGRATIONS` | folder of `NNNN_name.up.sql` files | found beside the binary or in the source tree |
/// | `TESSERA_PG_BIN` | folder with `initdb`, `pg_ctl`, `postgres` | newest `/usr/lib/postgresql/*/bin` |
/// | `TESSERA_PG_USER` | unprivileged user that runs the embedded server when tessera runs as root | `postgres` |
/// | `TESSERA_TEXT_ENCODER` | folder of the all-MiniLM-L6-v2 text encoder (installed by `make setup`) | `models/all-MiniLM-L6-v2` (relative to the working directory) |
/// | `TESSERA_LOG_LEVEL` | trace, debug, info, notice, warning, error or critical (read by the CLI's log set-up) | `info` |
/// | `TESSERA_S3_ENDPOINT` | S3-compatible endpoint URL (`https://s3.eu-west-1.amazonaws.com`, `http://10.0.0.5:8333`) | unset: objects go to the folder `$TESSERA_HOME/objects` |
/// | `TESSERA_S3_BUCKET` | bucket for rendered objects (required with an endpoint) | — |
/// | `TESSERA_S3_REGION` | SigV4 signing region | `us-east-1` |
/// | `TESSERA_S3_ADDRESSING` | `path` (`host/bucket/key`) or `virtual-host` (`bucket.host/key`) | `path` |
/// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | S3 credentials | — |
/// | `TESSERA_S3_CREDENTIALS_FILE` | AWS-style credentials file; wins over the two variables above | unset |
/// | `TESSERA_S3_PROFILE` | profile in that file (else `AWS_PROFILE`) | `default` |
/// | `TESSERA_S3_CA_FILE` | CA bundle for a private S3 server's TLS certificate (TLS is always verified) | system CAs |
public struct Configuration: Sendable {
    /// A PostgreSQL URL when one is configured; nil means the embedded cluster.
    public var databaseURL: String?
    public var home: URL
    public var autoMigrate: Bool
    public var postgresBin: URL?
    public var serverUser: String
    /// The text encoder's model folder (config.json, vocab.txt, model.safetensors).
    public var textEncoder: URL
    /// The environment this was read from (passed on to child processes such as pg_ctl).
    public var environment: [String: String]

    public init(
        databaseURL: String?, home: URL, autoMigrate: Bool = true, postgresBin: URL? = nil, serverUser: String = "postgres",
        environment: [String: String] = [:], textEncoder: URL = URL(fileURLWithPath: "models/all-MiniLM-L6-v2")
    ) {
        self.databaseURL = databaseURL
        self.home = home
        self.autoMigrate = autoMigrate
        self.postgresBin = postgresBin
        self.serverUser = serverUser
        self.textEncoder = textEncoder
        self.environment = environment
    }

    /// Reads the settings from an environment (the process's own by default).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Configuration {
        let url = environment["TESSERA_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let home: URL
        if let explicit = environment["TESSERA_HOME"], !explicit.isEmpty {
            home = URL(fileURLWithPath: explicit)
        } else if geteuid() == 0 {
            home = URL(fileURLWithPath: "/var/lib/tessera")
        } else if let state = environment["XDG_STATE_HOME"], !state.isEmpty {
            home = URL(fileURLWithPath: state).appendingPathComponent("tessera")
        } else {
            home = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".local/state/tessera")
        }
        return Configuration(
            databaseURL: url, home: home, autoMigrate: environment["TESSERA_AUTO_MIGRATE"] != "0",
            postgresBin: environment["TESSERA_PG_BIN"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) },
            serverUser: environment["TESSERA_PG_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgres",
            environment: environment,
            textEncoder: URL(fileURLWithPath: environment["TESSERA_TEXT_ENCODER"].flatMap { $0.isEmpty ? nil : $0 } ?? "models/all-MiniLM-L6-v2"))
    }
}

extension Configuration {
    /// Where rendered objects go, from the `TESSERA_S3_*` and `AWS_*` variables in `environment`:
    /// S3 when `TESSERA_S3_ENDPOINT` is set, else the local folder `home/objects`.
    public var objectStorage: ObjectStorageSettings {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return ObjectStorageSettings(
            endpoint: value("TESSERA_S3_ENDPOINT"), region: value("TESSERA_S3_REGION") ?? "us-east-1", bucket: value("TESSERA_S3_BUCKET"),
            addressing: value("TESSERA_S3_ADDRESSING"), accessKeyID: value("AWS_ACCESS_KEY_ID"),
            secretAccessKey: value("AWS_SECRET_ACCESS_KEY"), credentialsFile: value("TESSERA_S3_CREDENTIALS_FILE"),
            profile: value("TESSERA_S3_PROFILE") ?? value("AWS_PROFILE") ?? "default", caFile: value("TESSERA_S3_CA_FILE"),
            localRoot: home.appendingPathComponent("objects"))
    }
}
