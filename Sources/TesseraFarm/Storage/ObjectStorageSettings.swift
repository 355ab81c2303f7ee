import Foundation
import TesseraStorage

/// Where finished renders are stored, as configured (`Configuration.objectStorage` reads it from the
/// environment): an S3-compatible bucket when an endpoint is set, else a `LocalStore` folder (the embedded
/// default, `$TESSERA_HOME/objects`). Settings are checked when the store is made, with errors that name
/// the variable to fix and never show the secret.
public struct ObjectStorageSettings: Sendable, CustomStringConvertible, CustomReflectable {
    /// The S3 endpoint URL; nil selects the local folder.
    public var endpoint: String?
    public var region: String
    public var bucket: String?
    /// `path` (default) or `virtual-host`.
    public var addressing: String?
    public var accessKeyID: String?
    public var secretAccessKey: String?
    /// An AWS-style credentials file, and the profile to read from it.
    public var credentialsFile: String?
    public var profile: String
    public var caFile: String?
    /// The local store's folder (used when `endpoint` is nil).
    public var localRoot: URL

    public init(
        endpoint: String? = nil, region: String = "us-east-1", bucket: String? = nil, addressing: String? = nil,
        accessKeyID: String? = nil, secretAccessKey: String? = nil, credentialsFile: String? = nil, profile: String = "default",
        caFile: String? = nil, localRoot: URL
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.addressing = addressing
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.credentialsFile = credentialsFile
        self.profile = profile
        self.caFile = caFile
        self.localRoot = localRoot
    }

    /// The S3 settings, or nil when the local folder is configured.
    public func s3Configuration() throws -> S3Configuration? {
        guard let endpoint else { return nil }
        guard let url = URL(string: endpoint) else {
            throw StorageError.invalidConfiguration("TESSERA_S3_ENDPOINT \"\(endpoint)\" is not a URL")
        }
        guard let bucket, !bucket.isEmpty else {
            throw StorageError.invalidConfiguration("TESSERA_S3_ENDPOINT is set but TESSERA_S3_BUCKET is not")
        }
        guard let addressingStyle = S3Configuration.Addressing(rawValue: addressing ?? "path") else {
            throw StorageError.invalidConfiguration("TESSERA_S3_ADDRESSING must be path or virtual-host, not \"\(addressing ?? "")\"")
        }
        return try S3Configuration(
            endpoint: url, region: region, bucket: bucket, addressing: addressingStyle, credentials: try credentials(), caFile: caFile)
    }

    /// The credentials: from `credentialsFile` when set, else the access key and secret.
    public func credentials() throws -> S3Credentials {
        if let credentialsFile {
            let contents: String
            do {
                contents = try String(contentsOfFile: credentialsFile, encoding: .utf8)
            } catch {
                throw StorageError.invalidConfiguration("cannot read TESSERA_S3_CREDENTIALS_FILE \(credentialsFile): \(error.localizedDescription)")
            }
            return try S3Credentials.fromCredentialsFile(contents, profile: profile, path: credentialsFile)
        }
        guard let accessKeyID, !accessKeyID.isEmpty, let secretAccessKey, !secretAccessKey.isEmpty else {
            throw StorageError.invalidConfiguration(
                "an S3 endpoint needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or TESSERA_S3_CREDENTIALS_FILE")
        }
        return try S3Credentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
    }

    /// The configured store (not yet prepared: call `prepare()` to create the bucket or folder).
    public func makeStore() throws -> any ObjectStore {
        if let s3 = try s3Configuration() { return S3Store(s3) }
        return LocalStore(root: localRoot)
    }

    public var description: String {
        guard let endpoint else { return "local folder \(localRoot.path)" }
        let who = credentialsFile.map { "credentials file \($0) [\(profile)]" } ?? "access key \(accessKeyID ?? "(unset)")"
        return "S3 \(endpoint) bucket \(bucket ?? "(unset)") region \(region) (\(addressing ?? "path") style), \(who)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["description": description, "secretAccessKey": secretAccessKey == nil ? "(unset)" : "[redacted]"])
    }
}
