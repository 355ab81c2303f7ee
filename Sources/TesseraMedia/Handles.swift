import CLibAV

// The libav objects the writers and reader share, each owned by one small class that frees it in `deinit`.
// Internal: no libav pointer leaves TesseraMedia.

/// Owns an `AVFrame`.
final class FrameHandle {
    let frame: UnsafeMutablePointer<AVFrame>

    init(path: String) throws {
        guard let frame = av_frame_alloc() else { throw LibAV.error(tessera_averror(ENOMEM), "allocate a frame for", path: path) }
        self.frame = frame
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&frame)
    }

    /// Gives the frame its own buffers for a picture of this size and pixel format.
    func allocate(width: Int, height: Int, format: AVPixelFormat, path: String) throws {
        av_frame_unref(frame)
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        frame.pointee.format = format.rawValue
        try LibAV.check(av_frame_get_buffer(frame, 0), "allocate picture buffers for", path: path)
    }

    /// The plane pointers, as the array `sws_scale` takes.
    var planes: [UnsafeMutablePointer<UInt8>?] {
        withUnsafeBytes(of: frame.pointee.data) { Array($0.bindMemory(to: UnsafeMutablePointer<UInt8>?.self)) }
    }

    /// The row strides in bytes, as the array `sws_scale` takes.
    var strides: [Int32] {
        withUnsafeBytes(of: frame.pointee.linesize) { Array($0.bindMemory(to: Int32.self)) }
    }
}

/// Owns an `AVPacket`.
final class PacketHandle {
    let packet: UnsafeMutablePointer<AVPacket>

    init(path: String) throws {
        guard let packet = av_packet_alloc() else { throw LibAV.error(tessera_averror(ENOMEM), "allocate a packet for", path: path) }
        self.packet = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&packet)
    }
}

/// Owns an `AVCodecContext`.
final class CodecHandle {
    let context: UnsafeMutablePointer<AVCodecContext>

    init(codec: UnsafePointer<AVCodec>, path: String) throws {
        guard let context = avcodec_alloc_context3(codec) else {
            throw LibAV.error(tessera_averror(ENOMEM), "allocate a codec context for", path: path)
        }
        self.context = context
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&context)
    }

    /// Sets one of the codec's private options (libx264's `preset`, `crf`, `profile`).
    func setPrivateOption(_ name: String, _ value: String, path: String) throws {
        LibAV.clearLog()
        let code = av_opt_set(context.pointee.priv_data, name, value, 0)
        if code < 0 { throw MediaError.invalidSettings("\(name)=\(value): \(LibAV.message(for: code))") }
    }
}

/// Owns a `SwsContext`: converts and resizes pictures between pixel formats. Rebuilt only when the source
/// changes (`sws_getCachedContext`).
final class Scaler {
    private var context: OpaquePointer?

    init() {}

    deinit { sws_freeContext(context) }

    /// Prepares a conversion; colour matrices follow `colorspace` (an `SWS_CS_*` value) with the given ranges
    /// (true = full range 0–255, false = limited 16–235, which H.264 uses).
    func configure(
        source: (width: Int, height: Int, format: AVPixelFormat), destination: (width: Int, height: Int, format: AVPixelFormat),
        flags: Int32, colorspace: Int32, sourceFullRange: Bool, destinationFullRange: Bool, path: String
    ) throws {
        context = sws_getCachedContext(
            context, Int32(source.width), Int32(source.height), source.format, Int32(destination.width), Int32(destination.height),
            destination.format, flags, nil, nil, nil)
        guard let context else {
            throw MediaError.libav(
                operation: "set up a \(source.width)x\(source.height) → \(destination.width)x\(destination.height) conversion for",
                path: path, code: tessera_averror(EINVAL), message: "sws_getCachedContext refused the formats")
        }
        let coefficients = sws_getCoefficients(colorspace)
        // Returns -1 for conversions with no YUV side (RGB to RGB), where matrices do not apply: not an error.
        _ = sws_setColorspaceDetails(
            context, coefficients, sourceFullRange ? 1 : 0, coefficients, destinationFullRange ? 1 : 0, 0, 1 << 16, 1 << 16)
    }

    /// Bytes of slack after the copied last rows of a packed picture (see `scale(packed:…)`).
    static let packedSlack = 64
    /// The copy of a packed picture's last rows, with `packedSlack` zero bytes after them; kept between calls.
    private var tail: [UInt8] = []

    /// Converts one picture held in a single packed plane (RGB24): `packed` is `height` rows of `stride` bytes.
    ///
    /// libswscale's packed-RGB readers load a few bytes past a row's last pixel (4 under valgrind for RGB24 →
    /// YUV420P at 512x288), which for the last row is past the caller's buffer: a crash when the buffer ends at
    /// an unmapped page. So the picture goes in as two slices: all but its last rows straight from `packed`
    /// (their over-read lands in the rows after them), and those last rows — at least `packedSlack` bytes —
    /// from a copy with `packedSlack` bytes of slack. libswscale reads slices in order and gives the same
    /// picture as one call.
    func scale(
        packed: UnsafeBufferPointer<UInt8>, stride: Int, height: Int,
        destination: [UnsafeMutablePointer<UInt8>?], destinationStrides: [Int32], path: String
    ) throws {
        guard let base = packed.baseAddress, stride > 0, height > 0, packed.count >= stride * height else {
            throw MediaError.invalidFrame("\(packed.count) bytes for \(height) rows of \(stride) bytes")
        }
        let tailRows = min(height, max(1, (Self.packedSlack + stride - 1) / stride))
        let headRows = height - tailRows
        let tailBytes = tailRows * stride
        if tail.count < tailBytes + Self.packedSlack { tail = [UInt8](repeating: 0, count: tailBytes + Self.packedSlack) }
        var rows: Int32 = 0
        if headRows > 0 {
            rows = try slice([base, nil, nil, nil], stride: stride, from: 0, rows: headRows, destination, destinationStrides, path)
        }
        rows += try tail.withUnsafeMutableBufferPointer { copy in
            copy.baseAddress!.update(from: base + headRows * stride, count: tailBytes)
            return try slice(
                [UnsafePointer(copy.baseAddress), nil, nil, nil], stride: stride, from: headRows, rows: tailRows,
                destination, destinationStrides, path)
        }
        if rows <= 0 { throw LibAV.error(tessera_averror(EINVAL), "convert a picture for", path: path) }
    }

    /// Feeds one horizontal slice (rows `from ..< from + rows`, `source` pointing at its first row); returns the
    /// output rows it completed.
    private func slice(
        _ source: [UnsafePointer<UInt8>?], stride: Int, from: Int, rows: Int,
        _ destination: [UnsafeMutablePointer<UInt8>?], _ destinationStrides: [Int32], _ path: String
    ) throws -> Int32 {
        let done = sws_scale(context, source, [Int32(stride), 0, 0, 0], Int32(from), Int32(rows), destination, destinationStrides)
        if done < 0 { throw LibAV.error(done, "convert a picture for", path: path) }
        return done
    }

    /// Converts one picture between the configured formats.
    func scale(
        source: [UnsafePointer<UInt8>?], sourceStrides: [Int32], sourceHeight: Int,
        destination: [UnsafeMutablePointer<UInt8>?], destinationStrides: [Int32], path: String
    ) throws {
        let rows = sws_scale(context, source, sourceStrides, 0, Int32(sourceHeight), destination, destinationStrides)
        if rows <= 0 { throw LibAV.error(rows < 0 ? rows : tessera_averror(EINVAL), "convert a picture for", path: path) }
    }
}
