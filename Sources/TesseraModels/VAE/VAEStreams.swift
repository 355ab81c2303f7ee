import Foundation
import TesseraTensor

/// Decodes a latent pushed one frame at a time (the streaming half of `VAEDecoder.decode`). Each spatial
/// tile has its own stream state: the last `kt − 1` input frames of every temporal convolution. Inside a
/// tile, steps after the first run one frame at a time, so a level holds one frame of the tile.
public final class VAEDecoderStream {
    let decoder: VAEDecoder
    let plan: TilePlan
    var states: [[VAEStepState]]
    let height: Int, width: Int, clamp: Bool
    let stageOfStep: [Int]
    /// Latent frames pushed so far.
    public private(set) var latentFrames = 0
    /// With `profile`, the process CPU seconds spent in each stage (`decoder.stageNames`), over all tiles and
    /// frames so far: a per-layer profile that the machine's other load does not stretch as it does wall time.
    public private(set) var stageCPUSeconds: [Double]?

    /// For a latent of `height × width` latent pixels.
    public init(decoder: VAEDecoder, height: Int, width: Int, tile: TileSettings = .standard, clamp: Bool = true, profile: Bool = false) throws {
        try tile.validate()
        guard height >= 1, width >= 1 else { throw ModelError.badInput("latent size \(height)x\(width)") }
        self.decoder = decoder
        self.height = height
        self.width = width
        self.clamp = clamp
        plan = TilePlan(height: height, width: width, settings: tile, scale: decoder.config.spatialFactor)
        states = plan.tiles.map { _ in decoder.pipeline.freshState() }
        stageOfStep = decoder.pipeline.stageOfStep
        stageCPUSeconds = profile ? Array(repeating: 0, count: decoder.pipeline.stages.count) : nil
    }

    /// Spatial tiles each frame is cut into.
    public var tileCount: Int { plan.tiles.count }

    /// Floats held between pushes (the causal caches of every tile). Fixed after the first pushes: it does not
    /// grow with the number of frames.
    public var stateFloatCount: Int { states.reduce(0) { $0 + $1.reduce(0) { $0 + $1.floatCount } } }

    /// Decodes one latent frame `[1, h, w, C]` (or `[h, w, C]`) and hands its frames `[H, W, 3]` to `sink`.
    public func push(_ latentFrame: Tensor, sink: (Tensor) throws -> Void) throws {
        let config = decoder.config, s = config.spatialFactor
        let frame = latentFrame.rank == 3 ? latentFrame.reshaped([1] + latentFrame.shape) : latentFrame
        guard frame.rank == 4, frame.shape == [1, height, width, config.latentChannels] else {
            throw ModelError.badInput("latent frame \(latentFrame.shape) for a stream of [1, \(height), \(width), \(config.latentChannels)]")
        }
        let count = latentFrames == 0 ? 1 : config.temporalFactor
        var frames = [Tensor](repeating: Tensor(zeros: [height * s, width * s, config.imageChannels]), count: count)  // count × [H, W, 3]
        for (index, tile) in plan.tiles.enumerated() {
            let input = TileBlend.crop(frame, rows: tile.rows, columns: tile.columns)  // [1, th, tw, C]
            var made = 0
            let timing: ((Int, Double) -> Void)? = stageCPUSeconds == nil ? nil : { step, seconds in self.stageCPUSeconds![self.stageOfStep[step]] += seconds }
            decoder.pipeline.push(input, state: &states[index], framewise: true, timing: timing) { out in  // [1, th·s, tw·s, 3]
                precondition(made < count, "decoder made more than \(count) frames for one latent frame")
                TileBlend.accumulate(out, weights: tile.rowWeights, tile.columnWeights, at: (tile.rows.lowerBound * s, tile.columns.lowerBound * s), into: &frames[made])
                made += 1
            }
            precondition(made == count, "decoder made \(made) frames for one latent frame, expected \(count)")
        }
        latentFrames += 1
        for var out in frames {
            if clamp { out = Elementwise.map(out) { min(1, max(-1, $0)) } }
            try sink(out)
        }
    }
}

/// Encodes frames pushed one at a time: a latent frame `[h, w, C]` (the mean) comes out for frame 0 and then
/// for every `temporalFactor`-th frame, when its group is complete. Tiles as for decoding, blended in latent
/// space.
public final class VAEEncoderStream {
    let encoder: VAEEncoder
    let plan: TilePlan
    var states: [[VAEStepState]]
    let height: Int, width: Int
    /// Frames pushed so far.
    public private(set) var frames = 0

    /// For frames of `height × width` pixels (multiples of the spatial factor).
    public init(encoder: VAEEncoder, height: Int, width: Int, tile: TileSettings = .none) throws {
        try tile.validate()
        let s = encoder.config.spatialFactor
        guard height >= s, width >= s, height % s == 0, width % s == 0 else {
            throw ModelError.badInput("frames of \(height)x\(width): height and width must be positive multiples of \(s)")
        }
        self.encoder = encoder
        self.height = height
        self.width = width
        plan = TilePlan(height: height / s, width: width / s, settings: tile, scale: 1)
        states = plan.tiles.map { _ in encoder.pipeline.freshState() }
    }

    /// Floats held between pushes (every tile's causal caches).
    public var stateFloatCount: Int { states.reduce(0) { $0 + $1.reduce(0) { $0 + $1.floatCount } } }

    /// Takes frame `[H, W, 3]` (or `[1, H, W, 3]`); returns the latent frame `[h, w, C]` it completes, if any.
    public func push(_ frame: Tensor) throws -> Tensor? {
        let config = encoder.config, s = config.spatialFactor
        let video = frame.rank == 3 ? frame.reshaped([1] + frame.shape) : frame
        guard video.rank == 4, video.shape == [1, height, width, config.imageChannels] else {
            throw ModelError.badInput("frame \(frame.shape) for a stream of [\(height), \(width), \(config.imageChannels)]")
        }
        var latent: Tensor?
        for (index, tile) in plan.tiles.enumerated() {
            let input = TileBlend.crop(video, rows: tile.rows.lowerBound * s..<tile.rows.upperBound * s,
                                       columns: tile.columns.lowerBound * s..<tile.columns.upperBound * s)  // [1, th·s, tw·s, 3]
            encoder.pipeline.push(input, state: &states[index], framewise: true) { out in  // [1, th, tw, 2C]
                let mean = VAEEncoder.split(out, channels: config.latentChannels).mean  // [1, th, tw, C]
                if latent == nil { latent = Tensor(zeros: [height / s, width / s, config.latentChannels]) }
                TileBlend.accumulate(mean, weights: tile.rowWeights, tile.columnWeights, at: (tile.rows.lowerBound, tile.columns.lowerBound), into: &latent!)
            }
        }
        frames += 1
        return latent
    }

    /// Checks the video ended on a complete group (`1 + temporalFactor·k` frames); throws otherwise, since the
    /// frames after the last latent frame would be lost.
    public func finish() throws {
        try encoder.checkFrames(frames)
    }
}
