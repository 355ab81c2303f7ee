import CLibAV
import Foundation

/// Still images as PNG, through libavcodec's PNG encoder (lossless: reading the file back with
/// `VideoReader` or `RGBFrame(contentsOf:)` gives the same bytes). Any size, odd included.
public enum PNGWriter {
    /// The PNG file's bytes for a frame.
    public static func encode(_ image: RGBFrame, path: String = "PNG image") throws -> [UInt8] {
        _ = LibAV.setUp
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_PNG) else { throw MediaError.missingComponent("PNG encoder") }
        let codec = try CodecHandle(codec: encoder, path: path)
        let context = codec.context
        context.pointee.width = Int32(image.width)
        context.pointee.height = Int32(image.height)
        context.pointee.pix_fmt = AV_PIX_FMT_RGB24
        context.pointee.time_base = AVRational(num: 1, den: 1)
        // Paeth prediction: about half the size of the encoder's default (no prediction) on rendered frames.
        try codec.setPrivateOption("pred", "paeth", path: path)
        LibAV.clearLog()
        try LibAV.check(avcodec_open2(context, encoder, nil), "open the PNG encoder for", path: path)

        let picture = try FrameHandle(path: path)
        try picture.allocate(width: image.width, height: image.height, format: AV_PIX_FMT_RGB24, path: path)
        let row = image.width * 3
        guard let plane = picture.planes[0] else { throw MediaError.invalidFrame("no picture buffer for \(path)") }
        let stride = Int(picture.strides[0])
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<image.height { (plane + y * stride).update(from: pixels.baseAddress! + y * row, count: row) }
        }
        picture.frame.pointee.pts = 0

        let packet = try PacketHandle(path: path)
        try LibAV.check(avcodec_send_frame(context, picture.frame), "encode", path: path)
        try LibAV.check(avcodec_send_frame(context, nil), "encode", path: path)
        var bytes: [UInt8] = []
        while true {
            let code = avcodec_receive_packet(context, packet.packet)
            if code == LibAV.eof || code == LibAV.eagain { break }
            try LibAV.check(code, "encode", path: path)
            bytes += UnsafeBufferPointer(start: packet.packet.pointee.data, count: Int(packet.packet.pointee.size))
            av_packet_unref(packet.packet)
        }
        guard !bytes.isEmpty else { throw MediaError.invalidFrame("the PNG encoder produced nothing for \(path)") }
        return bytes
    }

    /// Writes a frame as a PNG file: to a temporary name beside `url`, renamed into place once complete.
    public static func write(_ image: RGBFrame, to url: URL) throws {
        let bytes = try encode(image, path: url.path)
        try bytes.withUnsafeBytes { try PartialFile(final: url).write($0) }
    }
}

extension RGBFrame {
    /// Writes the frame as a PNG file (see `PNGWriter`).
    public func writePNG(to url: URL) throws { try PNGWriter.write(self, to: url) }

    /// The first frame of any image or video file libavformat opens (PNG, JPEG, MP4, ...), at its own size.
    public init(contentsOf url: URL) throws {
        let reader = try VideoReader(url: url)
        guard let frame = try reader.nextFrame() else { throw MediaError.noVideoStream(path: url.path) }
        self = frame
    }
}
