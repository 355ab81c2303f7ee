import CLibAV

/// The one Swift owner of libavformat, libavcodec and libswscale. Every libav call in Tessera is made from
/// this target; no libav pointer leaves it. This type holds the process-wide parts: versions, capabilities,
/// log level, and the translation of libav return codes into `MediaError`.
public enum LibAV {
    /// "avformat 59.27.100, avcodec 59.37.100" — the versions linked at run time.
    public static var versionSummary: String {
        func dotted(_ v: UInt32) -> String { "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)" }
        return "avformat \(dotted(avformat_version())), avcodec \(dotted(avcodec_version()))"
    }

    /// Whether the H.264 encoder (libx264) is available in the linked libavcodec.
    public static var hasH264Encoder: Bool { avcodec_find_encoder_by_name("libx264") != nil }

    /// The x264 `asm` setting every writer gives: "AVX2" on an x86-64 CPU with AVX2, FMA3 and BMI2, nil (x264
    /// chooses) elsewhere. x264's AVX-512 kernels (core 164) read memory it never wrote: the same frames gave
    /// other bits when the heap held other data (MALLOC_PERTURB_ changes the stream, and so does a writer
    /// before it in the process), so two renders of one job made different videos. Its AVX2 kernels do not.
    /// Public for the encode benchmark, whose ffmpeg side must run the same kernels.
    public static let x264Kernels: String? = {
        #if arch(x86_64)
        let needed = AV_CPU_FLAG_AVX2 | AV_CPU_FLAG_FMA3 | AV_CPU_FLAG_BMI2
        return av_get_cpu_flags() & needed == needed ? "AVX2" : nil
        #else
        return nil
        #endif
    }()

    /// How much libav writes to standard error. Errors only by default: x264's per-encode statistics and
    /// libav's informational lines would otherwise fill a worker's log on every job.
    public enum LogLevel: Int32, Sendable {
        case quiet = -8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48
    }

    /// Sets libav's log level (process-wide). The error-line capture used in `MediaError` stays installed.
    public static func setLogLevel(_ level: LogLevel) {
        _ = setUp
        av_log_set_level(level.rawValue)
    }

    /// Installs the log callback once, before the first libav call of any media type.
    static let setUp: Void = {
        tessera_install_log_callback(LogLevel.error.rawValue)
    }()

    /// libav's text for a return code ("No space left on device", "Invalid data found when processing input").
    static func message(for code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) < 0 { return "libav error \(code)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The last error line libav logged on this thread since `clearLog()`, if any.
    static func lastLogLine() -> String? {
        let line = String(cString: tessera_last_log_line())
        return line.isEmpty ? nil : line
    }

    static func clearLog() { tessera_clear_log_line() }

    /// Throws `MediaError.libav` for a negative return code; returns the code otherwise.
    @discardableResult
    static func check(_ code: Int32, _ operation: String, path: String) throws(MediaError) -> Int32 {
        if code >= 0 { return code }
        throw error(code, operation, path: path)
    }

    /// The typed error for a libav return code, with libav's own words.
    static func error(_ code: Int32, _ operation: String, path: String) -> MediaError {
        var text = message(for: code)
        if let line = lastLogLine(), !line.isEmpty, !text.contains(line) { text += " (\(line))" }
        return .libav(operation: operation, path: path, code: code, message: text)
    }

    static let eagain = tessera_averror_eagain()
    static let eof = tessera_averror_eof()
    static let noTimestamp = tessera_nopts_value()
}
