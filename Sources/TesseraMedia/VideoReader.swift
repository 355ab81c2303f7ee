import CLibAV
import Foundation

/// What a media file says about its video stream before any frame is decoded.
public struct VideoInfo: Sendable, Equatable {
    /// The stored picture size.
    public var width: Int
    public var height: Int
    /// The average frame rate the container declares, when it declares one.
    public var frameRate: FrameRate?
    /// Seconds, when known.
    public var duration: Double?
    /// The frame count the container declares (MP4 does; MKV and WebM usually do not).
    public var frameCount: Int?
    /// libav's codec name ("h264", "vp9", "png").
    public var codec: String
    /// libav's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm").
    public var container: String
    /// Container tags ("title", "comment", "encoder", ...).
    public var metadata: [String: String]
}

/// Decodes any file libavformat opens (MP4, MOV, MKV, WebM, GIF, PNG, ...) into 8-bit RGB frames at a
/// requested size and frame rate, one frame at a time: `while let frame = try reader.nextFrame() { ... }`.
/// At most two decoded pictures are held, however long the video.
///
/// Frame rate: with `frameRate` set, output frame k is the decoded frame whose time is nearest to k / rate
/// (ties to the earlier), counted from the first frame, until the end of the last frame's display time. So
/// 24 → 12 fps keeps frames 0, 2, 4, ...; 12 → 24 shows each twice; the same rate returns every frame, also
/// when a container's timestamps jitter by a millisecond. Without it, every decoded frame is returned.
///
/// A file that cannot be opened, has no video stream, or fails to decode throws `MediaError`.
public final class VideoReader {
    /// How a picture is brought to the requested size.
    public enum Resize: Sendable {
        /// Scale each axis independently (aspect ratio may change).
        case stretch
        /// Scale to cover the requested size and crop the centre: no distortion, edges lost (for training crops).
        case fill
    }

    public let url: URL
    /// The stream as stored.
    public let info: VideoInfo
    /// Output size.
    public let width: Int
    public let height: Int
    /// Output rate; nil returns the frames as decoded.
    public let frameRate: FrameRate?
    public let resize: Resize
    /// Frames returned so far.
    public private(set) var framesRead = 0
    /// The time in seconds of the frame `nextFrame()` returned last, from the first frame.
    public private(set) var time = 0.0

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private let streamIndex: Int32
    private let timeBase: AVRational
    private let codec: CodecHandle
    private let packet: PacketHandle
    private let scaler = Scaler()
    private var current: FrameHandle, lookahead: FrameHandle
    private var currentTime: Double?, lookaheadTime: Double?
    private var currentDuration = 0.0
    /// The last decoded frame's time and display duration.
    private var lastDecoded: (time: Double, duration: Double)?
    /// A frame's duration when its packet gives none: one period of the declared (or requested) rate.
    private var fallbackDuration: Double { 1 / (info.frameRate ?? frameRate ?? .fps24).framesPerSecond }
    private var firstTime: Double?
    private var draining = false, finished = false

    /// Opens `url`. `width` and `height` default to the stored size; given one, the other follows the aspect
    /// ratio. `threads` is the decoder's thread count (0: libav chooses).
    public init(url: URL, width: Int? = nil, height: Int? = nil, frameRate: FrameRate? = nil, resize: Resize = .stretch, threads: Int = 0) throws {
        _ = LibAV.setUp
        let path = url.path
        self.url = url
        self.frameRate = frameRate
        self.resize = resize
        if let frameRate, !frameRate.isValid { throw MediaError.invalidSettings("frame rate \(frameRate) is not a positive rational") }
        var format: UnsafeMutablePointer<AVFormatContext>?
        LibAV.clearLog()
        try LibAV.check(avformat_open_input(&format, path, nil, nil), "open", path: path)
        guard let format else { throw MediaError.noVideoStream(path: path) }
        self.format = format
        var decoder: UnsafePointer<AVCodec>?
        do {
            LibAV.clearLog()
            try LibAV.check(avformat_find_stream_info(format, nil), "read the stream information of", path: path)
            let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
            guard index >= 0, let decoder, let stream = format.pointee.streams[Int(index)] else { throw MediaError.noVideoStream(path: path) }
            streamIndex = index
            timeBase = stream.pointee.time_base
            codec = try CodecHandle(codec: decoder, path: path)
            try LibAV.check(avcodec_parameters_to_context(codec.context, stream.pointee.codecpar), "set up the decoder for", path: path)
            codec.context.pointee.thread_count = Int32(threads)
            LibAV.clearLog()
            try LibAV.check(avcodec_open2(codec.context, decoder, nil), "open the decoder for", path: path)
            packet = try PacketHandle(path: path)
            current = try FrameHandle(path: path)
            lookahead = try FrameHandle(path: path)
            info = Self.describe(format, stream: stream, decoder: decoder)
        } catch {
            avformat_close_input(&self.format)
            throw error
        }
        guard info.width > 0, info.height > 0 else {
            avformat_close_input(&self.format)
            throw MediaError.noVideoStream(path: path)
        }
        let aspect = Double(info.width) / Double(info.height)
        self.width = width ?? height.map { max(1, Int((Double($0) * aspect).rounded())) } ?? info.width
        self.height = height ?? width.map { max(1, Int((Double($0) / aspect).rounded())) } ?? info.height
        guard (1...16384).contains(self.width), (1...16384).contains(self.height) else {
            avformat_close_input(&self.format)
            throw MediaError.invalidSettings("output size \(self.width)x\(self.height) is outside 1...16384")
        }
    }

    deinit { avformat_close_input(&format) }

    /// The next frame at the requested size and rate, or nil at the end.
    public func nextFrame() throws -> RGBFrame? {
        if let frameRate {
            let target = frameRate.seconds(ofFrames: framesRead)
            // Advance while the following decoded frame is nearer the target than the held one.
            while true {
                if lookaheadTime == nil && !finished { lookaheadTime = try decode(into: lookahead) }
                guard let next = lookaheadTime else { break }
                if let held = currentTime, abs(next - target) >= abs(held - target) - 1e-6 { break }
                promoteLookahead()
            }
            guard let held = currentTime else { return nil }
            if lookaheadTime == nil && finished {
                // Past the last frame's display time: the end.
                if target >= held + currentDuration - 1e-6 { return nil }
            }
            time = target
        } else {
            guard let next = try decode(into: lookahead) else { return nil }
            lookaheadTime = next
            promoteLookahead()
            time = next
        }
        framesRead += 1
        return try convert(current)
    }

    /// Calls `body` with each frame in turn.
    public func forEachFrame(_ body: (RGBFrame) throws -> Void) throws {
        while let frame = try nextFrame() { try body(frame) }
    }

    private func promoteLookahead() {
        swap(&current, &lookahead)
        currentTime = lookaheadTime
        currentDuration = lastDecoded?.duration ?? fallbackDuration
        lookaheadTime = nil
        av_frame_unref(lookahead.frame)
    }

    /// Decodes the next picture of the video stream into `target`; returns its time from the first frame, or
    /// nil at the end of the stream.
    private func decode(into target: FrameHandle) throws -> Double? {
        guard let format else { return nil }
        let path = url.path
        while true {
            let code = avcodec_receive_frame(codec.context, target.frame)
            if code == 0 { break }
            if code == LibAV.eof { finished = true; return nil }
            if code != LibAV.eagain { throw LibAV.error(code, "decode", path: path) }
            if draining { finished = true; return nil }
            LibAV.clearLog()
            let read = av_read_frame(format, packet.packet)
            if read == LibAV.eof {
                draining = true
                try LibAV.check(avcodec_send_packet(codec.context, nil), "decode", path: path)
                continue
            }
            try LibAV.check(read, "read", path: path)
            defer { av_packet_unref(packet.packet) }
            guard packet.packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codec.context, packet.packet)
            if sent < 0 && sent != LibAV.eagain { throw LibAV.error(sent, "decode", path: path) }
        }
        let frame = target.frame
        let stamp = frame.pointee.best_effort_timestamp
        let seconds: Double
        if stamp != LibAV.noTimestamp {
            let absolute = Self.seconds(stamp, timeBase)
            if firstTime == nil { firstTime = absolute }
            seconds = absolute - (firstTime ?? 0)
        } else {
            // No timestamp: one frame after the previous.
            if firstTime == nil { firstTime = 0 }
            seconds = lastDecoded.map { $0.time + $0.duration } ?? 0
        }
        let duration = Self.seconds(frame.pointee.pkt_duration, timeBase)
        lastDecoded = (seconds, duration > 0 ? duration : fallbackDuration)
        if resize == .fill { try crop(frame) }
        return seconds
    }

    /// Crops the centre of a decoded picture to the output aspect ratio (no copy: libav moves the plane pointers).
    private func crop(_ frame: UnsafeMutablePointer<AVFrame>) throws {
        let w = Int(frame.pointee.width), h = Int(frame.pointee.height)
        if w * height > h * width {  // wider than the output: crop the sides
            let keep = max(1, (h * width + height / 2) / height)
            frame.pointee.crop_left = (w - keep) / 2
            frame.pointee.crop_right = w - keep - (w - keep) / 2
        } else if w * height < h * width {  // taller: crop top and bottom
            let keep = max(1, (w * height + width / 2) / width)
            frame.pointee.crop_top = (h - keep) / 2
            frame.pointee.crop_bottom = h - keep - (h - keep) / 2
        }
        try LibAV.check(av_frame_apply_cropping(frame, Int32(AV_FRAME_CROP_UNALIGNED)), "crop a frame of", path: url.path)
    }

    /// Converts a decoded picture to packed RGB at the output size, with the colour matrix it was encoded with.
    private func convert(_ source: FrameHandle) throws -> RGBFrame {
        let frame = source.frame
        let pixelFormat = AVPixelFormat(rawValue: frame.pointee.format)
        let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P].contains(pixelFormat)
        try scaler.configure(
            source: (Int(frame.pointee.width), Int(frame.pointee.height), pixelFormat), destination: (width, height, AV_PIX_FMT_RGB24),
            flags: SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, colorspace: Self.swsColorspace(frame.pointee.colorspace),
            sourceFullRange: fullRange, destinationFullRange: true, path: url.path)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        try pixels.withUnsafeMutableBufferPointer { out in
            try scaler.scale(
                source: source.planes.map { UnsafePointer($0) }, sourceStrides: source.strides, sourceHeight: Int(frame.pointee.height),
                destination: [out.baseAddress, nil, nil, nil], destinationStrides: [Int32(width * 3), 0, 0, 0], path: url.path)
        }
        return try RGBFrame(width: width, height: height, pixels: pixels)
    }

    /// The swscale matrix for a stream's colorspace tag. Untagged video is taken as BT.601, swscale's and
    /// most decoders' convention.
    private static func swsColorspace(_ space: AVColorSpace) -> Int32 {
        switch space {
        case AVCOL_SPC_BT709: SWS_CS_ITU709
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: SWS_CS_BT2020
        case AVCOL_SPC_SMPTE240M: SWS_CS_SMPTE240M
        case AVCOL_SPC_FCC: SWS_CS_FCC
        default: SWS_CS_ITU601
        }
    }

    private static func seconds(_ value: Int64, _ base: AVRational) -> Double {
        Double(value) * Double(base.num) / Double(base.den)
    }

    private static func describe(_ format: UnsafeMutablePointer<AVFormatContext>, stream: UnsafeMutablePointer<AVStream>, decoder: UnsafePointer<AVCodec>) -> VideoInfo {
        let parameters = stream.pointee.codecpar.pointee
        let average = stream.pointee.avg_frame_rate
        let rate = average.num > 0 && average.den > 0 ? FrameRate(Int(average.num), Int(average.den)) : nil
        var duration: Double?
        if stream.pointee.duration > 0 {
            duration = seconds(stream.pointee.duration, stream.pointee.time_base)
        } else if format.pointee.duration > 0 {
            duration = Double(format.pointee.duration) / Double(AV_TIME_BASE)
        }
        var metadata: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>?
        while let next = av_dict_get(format.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            metadata[String(cString: next.pointee.key)] = String(cString: next.pointee.value)
            entry = next
        }
        return VideoInfo(
            width: Int(parameters.width), height: Int(parameters.height), frameRate: rate, duration: duration,
            frameCount: stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil,
            codec: String(cString: avcodec_get_name(parameters.codec_id)), container: String(cString: format.pointee.iformat.pointee.name),
            metadata: metadata)
    }
}
