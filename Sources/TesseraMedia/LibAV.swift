import CLibAV

/// The one Swift owner of libavformat, libavcodec and libswscale. The MP4 writer and reader (issue 5) live
/// in this target; for now it reports the linked versions so a worker can advertise its capabilities.
public enum LibAV {
    /// "avformat 59.27.100, avcodec 59.37.100" — the versions linked at run time.
    public static var versionSummary: String {
        func dotted(_ v: UInt32) -> String { "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)" }
        return "avformat \(dotted(avformat_version())), avcodec \(dotted(avcodec_version()))"
    }

    /// Whether the H.264 encoder (libx264) is available in the linked libavcodec.
    public static var hasH264Encoder: Bool { avcodec_find_encoder_by_name("libx264") != nil }
}
