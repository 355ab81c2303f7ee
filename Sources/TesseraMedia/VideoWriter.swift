import CLibAV
import Foundation

/// A streaming H.264 writer: frames are pushed one at a time and go straight to libx264, so memory stays at
/// one frame plus the encoder's lookahead however long the video. The container follows the file extension
/// (`.mp4` normally; `.mov` and `.mkv` work too); MP4 and MOV get `+faststart` (the index before the media, so
/// playback starts before the download ends).
///
/// The file is written under a hidden temporary name beside `url` and renamed to `url` only when `finish()`
/// succeeds. `cancel()`, a failed `append`/`finish`, or dropping the writer unfinished removes it.
///
/// Pictures are converted to yuv420p with BT.709 coefficients in limited range, and tagged so.
public final class VideoWriter {
    /// The final location.
    public let url: URL
    public let settings: VideoSettings
    /// Frames accepted so far.
    public private(set) var framesWritten = 0

    private let file: PartialFile
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private let codec: CodecHandle
    private let picture: FrameHandle
    private let packet: PacketHandle
    private let scaler = Scaler()
    private var isOpen = true

    /// Opens the encoder and the temporary file and writes the container header. Throws `MediaError`: for an
    /// unknown extension, a directory that cannot be written, or an encoder that refuses the settings.
    public init(url: URL, settings: VideoSettings) throws {
        _ = LibAV.setUp
        self.url = url
        self.settings = settings
        file = PartialFile(final: url)
        let path = url.path
        guard let container = av_guess_format(nil, path, nil) else {
            throw MediaError.invalidSettings("no container format for the file name \(url.lastPathComponent) (use .mp4)")
        }
        guard let encoder = avcodec_find_encoder_by_name("libx264") else { throw MediaError.missingComponent("libx264 encoder") }
        codec = try CodecHandle(codec: encoder, path: path)
        picture = try FrameHandle(path: path)
        packet = try PacketHandle(path: path)

        // The encoder: 1/fps time base, so a frame's pts is its index.
        let context = codec.context
        let rate = AVRational(num: Int32(settings.frameRate.numerator), den: Int32(settings.frameRate.denominator))
        context.pointee.width = Int32(settings.width)
        context.pointee.height = Int32(settings.height)
        context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        context.pointee.time_base = av_inv_q(rate)
        context.pointee.framerate = rate
        context.pointee.thread_count = Int32(settings.threads)
        context.pointee.color_range = AVCOL_RANGE_MPEG
        context.pointee.colorspace = AVCOL_SPC_BT709
        context.pointee.color_primaries = AVCOL_PRI_BT709
        context.pointee.color_trc = AVCOL_TRC_BT709
        try codec.setPrivateOption("preset", settings.preset.rawValue, path: path)
        try codec.setPrivateOption("crf", String(settings.crf), path: path)
        try codec.setPrivateOption("profile", "high", path: path)
        // No AVX-512: with it the bits depended on what the heap held (`LibAV.x264Kernels`).
        if let kernels = LibAV.x264Kernels { try codec.setPrivateOption("x264-params", "asm=\(kernels)", path: path) }
        if container.pointee.flags & AVFMT_GLOBALHEADER != 0 { context.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        LibAV.clearLog()
        try LibAV.check(avcodec_open2(context, encoder, nil), "open the H.264 encoder for", path: path)
        try picture.allocate(width: settings.width, height: settings.height, format: AV_PIX_FMT_YUV420P, path: path)
        try scaler.configure(
            source: (settings.width, settings.height, AV_PIX_FMT_RGB24), destination: (settings.width, settings.height, AV_PIX_FMT_YUV420P),
            // Bicubic, as the ffmpeg command line's automatic conversion uses (the encode benchmark's baseline).
            flags: SWS_BICUBIC, colorspace: SWS_CS_ITU709, sourceFullRange: true, destinationFullRange: false, path: path)

        // The container, writing to the temporary name.
        var format: UnsafeMutablePointer<AVFormatContext>?
        LibAV.clearLog()
        try LibAV.check(avformat_alloc_output_context2(&format, container, nil, file.temporaryPath), "set up the container for", path: path)
        guard let format else { throw MediaError.missingComponent("muxer for \(url.lastPathComponent)") }
        self.format = format
        guard let stream = avformat_new_stream(format, nil) else {
            avformat_free_context(format)
            self.format = nil
            throw LibAV.error(tessera_averror(ENOMEM), "add a video stream to", path: path)
        }
        self.stream = stream
        do {
            stream.pointee.time_base = context.pointee.time_base
            stream.pointee.avg_frame_rate = rate
            try LibAV.check(avcodec_parameters_from_context(stream.pointee.codecpar, context), "describe the stream of", path: path)
            for (key, value) in settings.metadata.tags { av_dict_set(&format.pointee.metadata, key, value, 0) }
            LibAV.clearLog()
            try LibAV.check(avio_open(&format.pointee.pb, file.temporaryPath, AVIO_FLAG_WRITE), "create", path: path)
            var options: OpaquePointer?
            defer { av_dict_free(&options) }
            let name = String(cString: container.pointee.name)
            if name.contains("mp4") || name.contains("mov") { av_dict_set(&options, "movflags", "+faststart", 0) }
            LibAV.clearLog()
            try LibAV.check(avformat_write_header(format, &options), "write the header of", path: path)
        } catch {
            cancel()
            throw error
        }
    }

    deinit { cancel() }

    /// Encodes one 8-bit RGB frame of the writer's size.
    public func append(_ frame: RGBFrame) throws {
        guard frame.width == settings.width, frame.height == settings.height else {
            throw MediaError.invalidFrame("a \(frame.width)x\(frame.height) frame for a \(settings.width)x\(settings.height) video")
        }
        try frame.pixels.withUnsafeBufferPointer { try append(rgb: $0) }
    }

    /// Encodes one frame from packed 8-bit RGB (`[H, W, 3]`, no row padding), without copying it first.
    public func append(rgb: UnsafeBufferPointer<UInt8>) throws {
        guard isOpen else { throw MediaError.writerClosed(path: url.path) }
        guard rgb.count == settings.width * settings.height * 3, rgb.baseAddress != nil else {
            throw MediaError.invalidFrame("\(rgb.count) bytes for a \(settings.width)x\(settings.height) RGB frame")
        }
        try closingOnError {
            let path = url.path
            // The encoder may still hold the previous picture's buffer: get a writable one (no copy when free).
            try LibAV.check(av_frame_make_writable(picture.frame), "reuse the picture buffer of", path: path)
            try scaler.scale(
                packed: rgb, stride: settings.width * 3, height: settings.height,
                destination: picture.planes, destinationStrides: picture.strides, path: path)
            picture.frame.pointee.pts = Int64(framesWritten)
            try encode(picture.frame)
            framesWritten += 1
        }
    }

    /// Encodes one channels-first float frame (`[3, H, W]`, as the VAE decoder produces): `range` maps to
    /// 0...255 (values outside clamp).
    public func append(planar: UnsafeBufferPointer<Float>, range: ClosedRange<Float> = -1...1) throws {
        guard planar.count == 3 * settings.width * settings.height else {
            throw MediaError.invalidFrame("\(planar.count) floats for a [3, \(settings.height), \(settings.width)] frame")
        }
        try append(RGBFrame(planar: planar, width: settings.width, height: settings.height, range: range))
    }

    /// Flushes the encoder, completes the container (moving the index to the front for MP4) and renames the
    /// file to `url`. On error the temporary file is removed and nothing appears at `url`.
    public func finish() throws {
        guard isOpen else { throw MediaError.writerClosed(path: url.path) }
        guard framesWritten > 0 else {
            cancel()
            throw MediaError.invalidFrame("no frames were appended to \(url.path)")
        }
        try closingOnError {
            let path = url.path
            try encode(nil)
            guard let format else { throw MediaError.writerClosed(path: path) }
            LibAV.clearLog()
            try LibAV.check(av_write_trailer(format), "complete", path: path)
            // Buffered write errors (a full disk) surface here, not necessarily from the calls above.
            avio_flush(format.pointee.pb)
            try LibAV.check(format.pointee.pb.pointee.error, "write", path: path)
            try LibAV.check(avio_closep(&format.pointee.pb), "close", path: path)
            avformat_free_context(format)
            self.format = nil
            isOpen = false
            try file.commit()
        }
    }

    /// Abandons the video: frees libav state and removes the temporary file. Safe to call more than once.
    public func cancel() {
        isOpen = false
        if let format {
            if format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
            self.format = nil
        }
        file.discard()
    }

    /// Sends a picture (nil: end of stream) and writes every packet the encoder has ready.
    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        let path = url.path
        guard let format else { throw MediaError.writerClosed(path: path) }
        LibAV.clearLog()
        try LibAV.check(avcodec_send_frame(codec.context, frame), "encode a frame of", path: path)
        while true {
            let code = avcodec_receive_packet(codec.context, packet.packet)
            if code == LibAV.eagain || code == LibAV.eof { return }
            try LibAV.check(code, "encode a frame of", path: path)
            // Durations must be set, or the last frame's is guessed and the file's duration comes out short.
            packet.packet.pointee.duration = 1
            av_packet_rescale_ts(packet.packet, codec.context.pointee.time_base, stream.pointee.time_base)
            packet.packet.pointee.stream_index = stream.pointee.index
            try LibAV.check(av_interleaved_write_frame(format, packet.packet), "write", path: path)
        }
    }

    /// Runs `body`; on any error, abandons the file before rethrowing (no half-written file survives).
    private func closingOnError(_ body: () throws -> Void) throws {
        do { try body() } catch {
            cancel()
            throw error
        }
    }
}
