import Foundation
import TesseraStorage

/// Settings of `tessera bench upload`, validated in `init`.
public struct UploadBenchmarkOptions: Sendable, Codable {
    /// Size of the uploaded file in MiB. Default 256.
    public var sizeMiB: Int
    /// Uploads of each side; figures are medians over them. Default 5.
    public var repeats: Int
    /// Tessera's multipart part size in MiB. Default 16.
    public var partSizeMiB: Int
    /// Tessera's parts in flight at once. Default 4.
    public var parallelParts: Int

    public init(sizeMiB: Int = 256, repeats: Int = 5, partSizeMiB: Int = 16, parallelParts: Int = 4) throws {
        guard (1...16_384).contains(sizeMiB) else { throw BenchmarkError("the file size must be 1 to 16384 MiB") }
        guard (1...50).contains(repeats) else { throw BenchmarkError("repeats must be 1 to 50") }
        guard (5...1024).contains(partSizeMiB) else { throw BenchmarkError("the part size must be 5 to 1024 MiB (S3's minimum is 5)") }
        guard (1...64).contains(parallelParts) else { throw BenchmarkError("parallel parts must be 1 to 64") }
        self.sizeMiB = sizeMiB
        self.repeats = repeats
        self.partSizeMiB = partSizeMiB
        self.parallelParts = parallelParts
    }
}

/// What `tessera bench upload` measured.
public struct UploadBenchmarkReport: Sendable, Codable {
    /// One way of uploading the file, timed `repeats` times.
    public struct Side: Sendable, Codable {
        public var name: String
        public var how: String
        /// Seconds of each upload as the uploader timed it (Tessera around `put`, curl's `time_total`), in
        /// repeat order: the transfer, without process start-up.
        public var seconds: [Double]
        /// Seconds of each upload's process, start to exit (start-up included: tessera's binary is large).
        public var wallSeconds: [Double]
        public var peakRSSBytes: [Int]
        /// CPU seconds (user + system) of each upload's process: the client's own cost, whatever the server does.
        public var cpuSeconds: [Double]
        public var medianSeconds: Double
        /// 10^6 bytes per second at the median transfer time.
        public var medianMBps: Double
        public var medianWallSeconds: Double
        public var medianPeakRSSBytes: Int
        public var medianCPUSeconds: Double
        /// curl's transfer time / this side's, per repeat (> 1: faster than curl); nil for curl itself.
        public var ratios: [Double]?
        public var medianRatio: Double?
        /// The same from wall-clock process times.
        public var medianWallRatio: Double?
    }

    public var options: UploadBenchmarkOptions
    public var fileBytes: Int
    public var server: String
    public var curlVersion: String
    public var libcurl: String
    public var loadAverage: [Double]?
    public var sides: [Side]
}

/// `tessera bench upload`: uploads one file to an S3-compatible server with Tessera (multipart in parallel,
/// and a single PUT like curl's) and with `curl --aws-sigv4`, alternately, each upload in its own process
/// so every side pays the same start-up and has its own peak RSS. The server is the configured endpoint
/// or, by default, a private SeaweedFS (`weed mini`) on 127.0.0.1 that this benchmark starts and stops.
public struct UploadBenchmark {
    public var options: UploadBenchmarkOptions
    public var configuration: Configuration
    /// The tessera executable, which runs `bench upload-case` for the Tessera sides.
    public var tesseraExecutable: String
    /// The weed binary for the private server (when no endpoint is configured).
    public var weed: String?
    public var curl: String

    public init(options: UploadBenchmarkOptions, configuration: Configuration, tesseraExecutable: String, weed: String?, curl: String = "/usr/bin/curl") {
        self.options = options
        self.configuration = configuration
        self.tesseraExecutable = tesseraExecutable
        self.weed = weed
        self.curl = curl
    }

    public func run(progress: (String) -> Void) throws -> UploadBenchmarkReport {
        let loadAtStart = QueueBenchmark.loadAverage()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-upload-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        // The server: the configured one, or a private SeaweedFS.
        var server: SeaweedProcess?
        defer { server?.stop() }
        var s3: S3Configuration
        let serverName: String
        if let configured = try configuration.objectStorage.s3Configuration() {
            s3 = configured
            serverName = "configured endpoint \(configured.endpoint.absoluteString)"
        } else {
            guard let weed else { throw BenchmarkError("no S3 endpoint is configured and no weed binary was found: pass --weed") }
            progress("starting SeaweedFS (weed mini) on 127.0.0.1")
            let started = try SeaweedProcess(weed: weed, directory: folder.appendingPathComponent("weed"))
            server = started
            s3 = try S3Configuration(endpoint: started.endpoint, bucket: "tessera-bench", credentials: started.credentials)
            serverName = "SeaweedFS \(Self.firstLine(try ChildProcess.run(weed, ["version"]).output)) (weed mini, 127.0.0.1, private)"
        }
        let store = S3Store(s3)
        try store.prepare()

        let file = folder.appendingPathComponent("upload.bin")
        progress("writing a \(options.sizeMiB) MiB file")
        try Self.writeFile(file, bytes: options.sizeMiB << 20)
        let curlConfig = folder.appendingPathComponent("curl.conf")
        // The secret goes to curl through a 0600 config file, not its command line (visible in ps).
        let configLine = "user = \"\(s3.credentials.accessKeyID):\(s3.credentials.secretAccessKey)\"\n"
        let fd = open(curlConfig.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchmarkError("cannot create \(curlConfig.path)") }
        let written = write(fd, configLine, configLine.utf8.count)
        guard close(fd) == 0, written == configLine.utf8.count else { throw BenchmarkError("cannot write \(curlConfig.path)") }

        var environment = configuration.environment
        environment["TESSERA_S3_ENDPOINT"] = s3.endpoint.absoluteString
        environment["TESSERA_S3_BUCKET"] = s3.bucket
        environment["TESSERA_S3_REGION"] = s3.region
        environment["TESSERA_S3_ADDRESSING"] = s3.addressing.rawValue
        environment["AWS_ACCESS_KEY_ID"] = s3.credentials.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = s3.credentials.secretAccessKey
        environment["TESSERA_S3_CREDENTIALS_FILE"] = nil

        let sideNames = ["tessera multipart", "tessera single PUT", "curl --aws-sigv4"]
        let hows = [
            "\(options.partSizeMiB) MiB parts, \(options.parallelParts) in parallel, one connection each",
            "one streamed PUT (multipart threshold above the file size)",
            "curl -T FILE, one PUT, x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ]
        var seconds = Array(repeating: [Double](), count: 3)
        var wall = Array(repeating: [Double](), count: 3)
        var rss = Array(repeating: [Int](), count: 3)
        var cpu = Array(repeating: [Double](), count: 3)
        for repeatIndex in 0..<options.repeats {
            // Rotate which side goes first so drift does not always favour one.
            for offset in 0..<3 {
                let side = (repeatIndex + offset) % 3
                let key = try ObjectKey("bench/\(side)-\(repeatIndex).bin")
                let arguments: [String]
                let executable: String
                switch side {
                case 0, 1:
                    executable = tesseraExecutable
                    let threshold = side == 0 ? options.partSizeMiB : options.sizeMiB + 1
                    arguments = [
                        "bench", "upload-case", file.path, key.rawValue, "--part-size-mib", "\(options.partSizeMiB)",
                        "--parallel", "\(options.parallelParts)", "--threshold-mib", "\(threshold)",
                    ]
                default:
                    executable = curl
                    arguments = [
                        "-sS", "--fail", "-w", "{\"seconds\": %{time_total}}\\n", "-K", curlConfig.path, "--aws-sigv4", "aws:amz:\(s3.region):s3",
                        "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", file.path, "-o", "/dev/null", store.url(for: key).absoluteString,
                    ]
                }
                let measured = try Self.measure(executable, arguments, environment: environment, log: folder.appendingPathComponent("side.log"))
                guard let object = try store.head(key: key), object.size == Int64(options.sizeMiB << 20) else {
                    throw BenchmarkError("\(sideNames[side]) did not store the whole file under \(key)")
                }
                try store.delete(key: key)
                seconds[side].append(measured.seconds)
                wall[side].append(measured.wallSeconds)
                rss[side].append(measured.peakRSSBytes)
                cpu[side].append(measured.cpuSeconds)
                progress(String(format: "repeat %d: %@ %.2f s (%.0f MB/s), process %.2f s", repeatIndex + 1, sideNames[side], measured.seconds,
                                Double(options.sizeMiB << 20) / measured.seconds / 1e6, measured.wallSeconds))
            }
        }

        let bytes = Double(options.sizeMiB << 20)
        let sides = (0..<3).map { side -> UploadBenchmarkReport.Side in
            let ratios = side == 2 ? nil : zip(seconds[2], seconds[side]).map { $0 / $1 }
            let wallRatios = side == 2 ? nil : zip(wall[2], wall[side]).map { $0 / $1 }
            let medianSeconds = median(seconds[side])
            return UploadBenchmarkReport.Side(
                name: sideNames[side], how: hows[side], seconds: seconds[side], wallSeconds: wall[side], peakRSSBytes: rss[side],
                cpuSeconds: cpu[side], medianSeconds: medianSeconds, medianMBps: bytes / medianSeconds / 1e6,
                medianWallSeconds: median(wall[side]), medianPeakRSSBytes: Int(median(rss[side].map(Double.init))),
                medianCPUSeconds: median(cpu[side]), ratios: ratios, medianRatio: ratios.map(median), medianWallRatio: wallRatios.map(median))
        }
        let curlVersion = Self.firstLine(try ChildProcess.run(curl, ["--version"]).output)
        return UploadBenchmarkReport(
            options: options, fileBytes: options.sizeMiB << 20, server: serverName, curlVersion: curlVersion, libcurl: Curl.version,
            loadAverage: loadAtStart.flatMap { start in QueueBenchmark.loadAverage().map { [start, $0] } }, sides: sides)
    }

    /// One Tessera upload in this process (the benchmark's child), with the store from the environment.
    public static func uploadCase(configuration: Configuration, file: String, key: String, partSizeMiB: Int, parallel: Int, thresholdMiB: Int) throws -> Double {
        guard var s3 = try configuration.objectStorage.s3Configuration() else { throw BenchmarkError("upload-case needs TESSERA_S3_ENDPOINT") }
        s3.partSize = Int64(partSizeMiB) << 20
        s3.maxParallelParts = parallel
        s3.multipartThreshold = Int64(thresholdMiB) << 20
        let start = DispatchTime.now().uptimeNanoseconds
        try S3Store(s3).put(file: URL(fileURLWithPath: file), key: try ObjectKey(key))
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Runs a program, timing it from spawn to exit, and samples its peak RSS (`VmHWM` in /proc/PID/status)
    /// every 2 ms until it exits, and takes its CPU time from `wait4`. Not `wait4`'s `ru_maxrss`: posix_spawn starts the child on the parent's
    /// memory (vfork), and Linux carries that memory's high-water mark across exec into the child's figure.
    /// The program prints its own transfer time as a last line `{"seconds": S}`.
    static func measure(
        _ executable: String, _ arguments: [String], environment: [String: String], log: URL
    ) throws -> (seconds: Double, wallSeconds: Double, peakRSSBytes: Int, cpuSeconds: Double) {
        try? FileManager.default.removeItem(at: log)
        let start = DispatchTime.now().uptimeNanoseconds
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, outputFile: log.path)
        var peak = 0
        var raw: Int32 = 0
        var usage = rusage()
        while true {
            if let hwm = highWaterMark(child.pid) { peak = max(peak, hwm) }
            let reaped = wait4(child.pid, &raw, WNOHANG, &usage)
            if reaped == child.pid || (reaped < 0 && errno != EINTR) { break }
            usleep(2000)
        }
        let status: Int32? = raw & 0x7f == 0 ? (raw >> 8) & 0xff : nil
        let cpuSeconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        struct Timing: Decodable { var seconds: Double }
        guard status == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let timing = try? JSONDecoder().decode(Timing.self, from: Data(line.utf8))
        else {
            throw BenchmarkError("\(URL(fileURLWithPath: executable).lastPathComponent) failed (status \(status ?? -1)): \(output)")
        }
        return (timing.seconds, wallSeconds, peak, cpuSeconds)
    }

    /// A live process's peak resident set size in bytes, nil once it has exited.
    static func highWaterMark(_ pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// Writes `bytes` pseudo-random bytes (incompressible, so no layer can shortcut them) 1 MiB at a time.
    static func writeFile(_ url: URL, bytes: Int) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw BenchmarkError("cannot create \(url.path)") }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var chunk = [UInt64](repeating: 0, count: (1 << 20) / 8)
        var written = 0
        while written < bytes {
            for i in chunk.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                chunk[i] = state
            }
            let count = min(1 << 20, bytes - written)
            try handle.write(contentsOf: chunk.withUnsafeBytes { Data($0.prefix(count)) })
            written += count
        }
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }
}
