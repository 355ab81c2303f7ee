/// How a video is encoded: H.264 (libx264), High profile, yuv420p, constant-quality (CRF) rate control.
/// Validated in `init`, so a writer never starts on settings libx264 would refuse halfway.
public struct VideoSettings: Sendable, Equatable {
    /// Picture size in pixels. Both must be even: yuv420p stores colour at half resolution in each direction,
    /// and Tessera refuses odd sizes rather than silently padding or cropping a render (see docs/MEDIA.md).
    public let width: Int
    public let height: Int
    /// Frames per second, exact (24000/1001 for 23.976).
    public let frameRate: FrameRate
    /// libx264's constant rate factor, 1 (best) to 51 (worst); 18 by default, visually near-lossless for
    /// rendered content, where x264's own default of 23 shows banding in smooth gradients. (0 would mean
    /// lossless, which the High profile cannot carry: it needs High 4:4:4.)
    public let crf: Double
    /// libx264's speed/size trade-off; `medium` (x264's own default) unless set.
    public let preset: Preset
    /// Encoder threads for libx264; 0 lets x264 choose (1.5 × cores). Benchmarks set it explicitly.
    public let threads: Int
    /// Title and comment written into the container.
    public let metadata: VideoMetadata

    /// The largest side accepted: H.264 level 6.2 allows 8192 pixels.
    public static let maximumSide = 8192

    /// x264's presets, fastest first.
    public enum Preset: String, Sendable, Codable, CaseIterable {
        case ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo
    }

    /// Throws `MediaError.invalidSettings` for an odd or out-of-range size, a non-positive frame rate, a CRF
    /// outside 1...51, or a thread count outside 0...64.
    public init(
        width: Int, height: Int, frameRate: FrameRate = .fps24, crf: Double = 18, preset: Preset = .medium, threads: Int = 0,
        metadata: VideoMetadata = VideoMetadata()
    ) throws {
        guard (2...Self.maximumSide).contains(width), (2...Self.maximumSide).contains(height) else {
            throw MediaError.invalidSettings("size \(width)x\(height) is outside 2...\(Self.maximumSide) pixels per side")
        }
        guard width % 2 == 0, height % 2 == 0 else {
            throw MediaError.invalidSettings(
                "size \(width)x\(height) is odd; H.264 yuv420p needs an even width and height (render at an even size, "
                    + "or crop one pixel before writing)")
        }
        guard frameRate.isValid else { throw MediaError.invalidSettings("frame rate \(frameRate) is not a positive rational") }
        guard crf.isFinite, (1...51).contains(crf) else {
            throw MediaError.invalidSettings("CRF \(crf) is outside 1...51 (0, lossless, needs High 4:4:4, not High)")
        }
        guard (0...64).contains(threads) else { throw MediaError.invalidSettings("thread count \(threads) is outside 0...64") }
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.crf = crf
        self.preset = preset
        self.threads = threads
        self.metadata = metadata
    }
}

/// What a rendered video says about itself, in the container's standard tags (MP4 `©nam` and `©cmt`), which
/// players and `ffprobe` show without special flags.
public struct VideoMetadata: Sendable, Equatable {
    /// The `title` tag: the prompt.
    public var title: String?
    /// The `comment` tag: `job=<id> seed=<seed> model=<hash>` for renders.
    public var comment: String?

    public init(title: String? = nil, comment: String? = nil) {
        self.title = title
        self.comment = comment
    }

    /// A render's metadata: the prompt as title; job id, seed and model hash in the comment.
    public init(prompt: String, jobID: String, seed: Int64, modelHash: String) {
        self.init(title: prompt, comment: "job=\(jobID) seed=\(seed) model=\(modelHash)")
    }

    /// The tags as libav names them, for the muxer.
    var tags: [(String, String)] {
        [("title", title), ("comment", comment)].compactMap { key, value in value.map { (key, $0) } }
    }
}
