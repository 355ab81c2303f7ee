import Foundation
import TesseraMedia
import TesseraTensor

/// `tessera bench encode`: H.264 encoding speed of Tessera's `VideoWriter` against the `ffmpeg` command line
/// encoding the same raw frames with the same settings (libx264, preset, CRF, High profile, yuv420p,
/// `+faststart`, the same encoder thread count), alternately, in the same run. The Tessera side runs in a child
/// process (`tessera bench encode-case`) so that its peak RSS is its own, as ffmpeg's is.
public enum EncodeBenchmark {
    /// libx264's presets (TesseraMedia's type, named here so the command line need not import the media target).
    public typealias Preset = VideoSettings.Preset

    /// What to measure.
    public struct Options: Sendable, Codable {
        public var width: Int
        public var height: Int
        public var frames: Int
        public var frameRate: Int
        public var crf: Double
        public var presets: [VideoSettings.Preset]
        /// libx264 threads on both sides (ffmpeg `-threads`, `VideoSettings.threads`).
        public var threads: Int
        public var repeats: Int

        /// Throws for sizes or counts the writer would refuse, before any frame is generated.
        public init(width: Int = 1920, height: Int = 1080, frames: Int = 48, frameRate: Int = 24, crf: Double = 18,
                    presets: [VideoSettings.Preset] = [.medium], threads: Int = 2, repeats: Int = 5) throws {
            _ = try VideoSettings(width: width, height: height, frameRate: FrameRate(frameRate), crf: crf, threads: threads)
            guard frames > 0, repeats > 0, !presets.isEmpty, threads > 0 else {
                throw BenchmarkError("frames, repeats and threads must be positive, and at least one preset given")
            }
            self.width = width
            self.height = height
            self.frames = frames
            self.frameRate = frameRate
            self.crf = crf
            self.presets = presets
            self.threads = threads
            self.repeats = repeats
        }

        func settings(_ preset: VideoSettings.Preset) throws -> VideoSettings {
            try VideoSettings(width: width, height: height, frameRate: FrameRate(frameRate), crf: crf, preset: preset, threads: threads)
        }
    }

    /// One encode by one side.
    public struct Measurement: Sendable, Codable {
        /// Seconds from opening the output to the finished file (ffmpeg: its own `-benchmark` rtime, which
        /// leaves out its process start and option parsing).
        public var seconds: Double
        /// CPU seconds (user + system, all threads) over the same span: steadier than wall time on a shared
        /// machine, where another process's load lengthens both sides' wall times unevenly.
        public var cpuSeconds: Double
        /// Wall time of the whole ffmpeg process, start-up included (nil for Tessera, timed in-process).
        public var processSeconds: Double?
        public var peakRSSBytes: Int
        public var outputBytes: Int
    }

    /// One back-to-back pair.
    public struct Pair: Sendable, Codable {
        public var tessera: Measurement
        public var ffmpeg: Measurement
        public var tesseraFirst: Bool
        /// Tessera frames per second / ffmpeg frames per second (= ffmpeg seconds / Tessera seconds).
        public var ratio: Double
        /// The same ratio in CPU time (ffmpeg CPU seconds / Tessera CPU seconds).
        public var cpuRatio: Double
    }

    /// One preset, summarised over its repeats.
    public struct Row: Sendable, Codable {
        public var preset: VideoSettings.Preset
        /// Medians over the repeats.
        public var tesseraFPS: Double
        public var ffmpegFPS: Double
        /// The median of the per-pair ratios.
        public var ratio: Double
        /// The median of the per-pair CPU-time ratios.
        public var cpuRatio: Double
        /// Whether both sides wrote files of the same size (the same settings and input give the same
        /// H.264 stream; only container bytes such as the muxer's handler names may differ).
        public var sameSize: Bool
        public var tesseraPeakRSSBytes: Int
        public var ffmpegPeakRSSBytes: Int
        public var pairs: [Pair]
    }

    public struct Report: Sendable, Codable {
        public var options: Options
        public var libav: String
        public var ffmpegVersion: String
        /// The ffmpeg command of the first row, with placeholders for the files.
        public var ffmpegCommand: String
        public var loadAverage: [Double]?
        public var goal: Double
        public var rows: [Row]
    }

    /// The ratio the issue asks for.
    public static let goal = 0.9

    /// Writes the benchmark's raw RGB24 frames (deterministic `TestPattern` frames) to `path`, one at a time.
    public static func writeRawFrames(_ options: Options, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchmarkError("cannot create \(path)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for index in 0..<options.frames {
            try handle.write(contentsOf: TestPattern.frame(index, width: options.width, height: options.height).pixels)
        }
    }

    /// The Tessera side, in this process: reads raw frames from `raw` one at a time and encodes them with
    /// `VideoWriter` to `output`. Timed from opening the writer to the finished, renamed file.
    public static func measureTessera(raw: String, output: String, options: Options, preset: VideoSettings.Preset) throws -> Measurement {
        let settings = try options.settings(preset)
        let fd = open(raw, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchmarkError("cannot read \(raw)") }
        defer { close(fd) }
        // One buffer for every frame, as ffmpeg's raw demuxer reuses its packet buffers.
        var frame = [UInt8](repeating: 0, count: options.width * options.height * 3)
        let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
        let writer = try VideoWriter(url: URL(fileURLWithPath: output), settings: settings)
        for index in 0..<options.frames {
            let complete = frame.withUnsafeMutableBytes { buffer -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let count = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { return false }
                    offset += count
                }
                return true
            }
            guard complete else { throw BenchmarkError("\(raw) ends before frame \(index)") }
            try frame.withUnsafeBufferPointer { try writer.append(rgb: $0) }
        }
        try writer.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Measurement(
            seconds: seconds, cpuSeconds: cpuSeconds() - cpuStart, processSeconds: nil, peakRSSBytes: ProcessMemory.peakRSSBytes(),
            outputBytes: fileSize(output))
    }

    /// The ffmpeg arguments for the same encode. The scale filter and colour tags make ffmpeg convert with
    /// BT.709 coefficients to limited range as `VideoWriter` does (its default would be BT.601, a different
    /// picture for x264, about 10% larger at CRF 18 on this pattern); with them, and x264 held to the writer's
    /// kernels (`LibAV.x264Kernels`), both sides decode to identical frames (checked with `ffmpeg -f framemd5`).
    public static func ffmpegArguments(raw: String, output: String, options: Options, preset: VideoSettings.Preset) -> [String] {
        [
            "-nostdin", "-hide_banner", "-nostats", "-benchmark", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(options.width)x\(options.height)", "-r", "\(options.frameRate)", "-i", raw,
            "-vf", "scale=out_color_matrix=bt709:out_range=tv",
            "-c:v", "libx264", "-preset", preset.rawValue, "-crf", String(format: "%g", options.crf), "-pix_fmt", "yuv420p",
            "-profile:v", "high", "-threads", "\(options.threads)",
        ] + (LibAV.x264Kernels.map { ["-x264-params", "asm=\($0)"] } ?? []) + [
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-movflags", "+faststart", output,
        ]
    }

    /// The baseline side: the ffmpeg command line, timed by its own `-benchmark` (and the process's wall time).
    public static func measureFFmpeg(raw: String, output: String, options: Options, preset: VideoSettings.Preset) throws -> Measurement {
        let start = DispatchTime.now().uptimeNanoseconds
        let (status, text) = try ChildProcess.run("/usr/bin/env", ["ffmpeg"] + ffmpegArguments(raw: raw, output: output, options: options, preset: preset))
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // "bench: utime=9.1s stime=0.3s rtime=5.2s" and "bench: maxrss=123456kB".
        func field(_ name: String) -> Double? {
            guard let range = text.range(of: name + "=") else { return nil }
            let digits = text[range.upperBound...].prefix { $0.isNumber || $0 == "." }
            return Double(digits)
        }
        guard status == 0, let seconds = field("rtime"), let user = field("utime"), let system = field("stime"), let maxRSS = field("maxrss") else {
            throw BenchmarkError("ffmpeg failed (\(status)):\n\(text.suffix(2000))")
        }
        return Measurement(
            seconds: seconds, cpuSeconds: user + system, processSeconds: wall, peakRSSBytes: Int(maxRSS) * 1024, outputBytes: fileSize(output))
    }

    /// Runs every preset `repeats` times, Tessera (through `tessera`, normally a child process) and ffmpeg
    /// back to back, alternating which goes first; the raw frames and outputs live in `folder`.
    public static func run(
        _ options: Options, folder: URL, tessera: (_ raw: String, _ output: String, _ preset: VideoSettings.Preset) throws -> Measurement,
        progress: (String) -> Void = { _ in }
    ) throws -> Report {
        let loadAtStart = loadAverage()
        let raw = folder.appendingPathComponent("frames.rgb").path
        progress("writing \(options.frames) raw \(options.width)x\(options.height) frames")
        try writeRawFrames(options, to: raw)
        let versionLine = try ChildProcess.run("/usr/bin/env", ["ffmpeg", "-version"]).output.split(separator: "\n").first.map(String.init) ?? "ffmpeg"
        var rows: [Row] = []
        for preset in options.presets {
            var pairs: [Pair] = []
            for repeatIndex in 0..<options.repeats {
                let tesseraOutput = folder.appendingPathComponent("tessera-\(preset.rawValue).mp4").path
                let ffmpegOutput = folder.appendingPathComponent("ffmpeg-\(preset.rawValue).mp4").path
                let tesseraFirst = repeatIndex % 2 == 0
                var ours: Measurement?, theirs: Measurement?
                for side in tesseraFirst ? [true, false] : [false, true] {
                    if side { ours = try tessera(raw, tesseraOutput, preset) } else { theirs = try measureFFmpeg(raw: raw, output: ffmpegOutput, options: options, preset: preset) }
                }
                guard let ours, let theirs else { continue }
                if repeatIndex == 0 { try verify(tesseraOutput, options: options) }
                let pair = Pair(
                    tessera: ours, ffmpeg: theirs, tesseraFirst: tesseraFirst, ratio: theirs.seconds / ours.seconds,
                    cpuRatio: theirs.cpuSeconds / ours.cpuSeconds)
                pairs.append(pair)
                progress(String(
                    format: "%@ repeat %d: tessera %.2f fps, ffmpeg %.2f fps, ratio %.3f (CPU %.3f)", preset.rawValue, repeatIndex + 1,
                    Double(options.frames) / ours.seconds, Double(options.frames) / theirs.seconds, pair.ratio, pair.cpuRatio))
            }
            rows.append(Row(
                preset: preset,
                tesseraFPS: DiTBenchmark.median(pairs.map { Double(options.frames) / $0.tessera.seconds }),
                ffmpegFPS: DiTBenchmark.median(pairs.map { Double(options.frames) / $0.ffmpeg.seconds }),
                ratio: DiTBenchmark.median(pairs.map(\.ratio)), cpuRatio: DiTBenchmark.median(pairs.map(\.cpuRatio)),
                sameSize: pairs.allSatisfy { $0.tessera.outputBytes == $0.ffmpeg.outputBytes },
                tesseraPeakRSSBytes: pairs.map(\.tessera.peakRSSBytes).max() ?? 0, ffmpegPeakRSSBytes: pairs.map(\.ffmpeg.peakRSSBytes).max() ?? 0,
                pairs: pairs))
        }
        let command = "ffmpeg " + ffmpegArguments(raw: "RAW", output: "OUT.mp4", options: options, preset: options.presets[0]).joined(separator: " ")
        return Report(
            options: options, libav: LibAV.versionSummary, ffmpegVersion: versionLine, ffmpegCommand: command,
            loadAverage: loadAtStart.flatMap { start in loadAverage().map { [start, $0] } }, goal: goal, rows: rows)
    }

    /// The Tessera file must hold what was asked for, or its speed means nothing.
    private static func verify(_ path: String, options: Options) throws {
        let info = try VideoReader(url: URL(fileURLWithPath: path)).info
        guard info.codec == "h264", info.width == options.width, info.height == options.height, info.frameCount == options.frames else {
            throw BenchmarkError("Tessera's output \(path) is not \(options.frames) H.264 frames at \(options.width)x\(options.height): \(info)")
        }
    }

    /// User plus system CPU seconds of this process so far, all threads.
    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }
}
