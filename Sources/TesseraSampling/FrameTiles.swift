// Temporal tiling of a denoiser, so a long video's full-resolution pass runs in memory bounded by the tile,
// not by the duration (docs/ENGINE.md, "Long videos"). The prototype pass fixes a video's content over its
// whole length; the full pass only refines it, which needs a few seconds of context, not a minute.

import TesseraTensor

/// Windows of `tileFrames` latent frames along the first axis, consecutive windows sharing `overlap` frames,
/// the last window ending at the last frame; and each frame's blend weight in each window.
public struct FrameTiles: Sendable, Equatable {
    /// Latent frames in a window.
    public let tileFrames: Int
    /// Frames shared by consecutive windows.
    public let overlap: Int

    /// Tiles of `tileFrames` frames sharing `overlap`; requires `tileFrames ≥ 1` and `0 ≤ overlap < tileFrames`.
    public init(tileFrames: Int, overlap: Int) {
        precondition(tileFrames >= 1 && overlap >= 0 && overlap < tileFrames, "tiles of \(tileFrames) frames sharing \(overlap)")
        self.tileFrames = tileFrames
        self.overlap = overlap
    }

    /// The first frame of each window over `frames` frames: one window when the video fits in a tile.
    public func starts(frames: Int) -> [Int] {
        guard frames > tileFrames else { return [0] }
        let stride = tileFrames - overlap
        var starts = Array(Swift.stride(from: 0, to: frames - tileFrames, by: stride))
        starts.append(frames - tileFrames)
        return starts
    }

    /// The weight of frame `i` (0-based, inside the window) of a window starting at `start` over `frames`
    /// frames: 1 in the middle, rising linearly over the frames shared with the previous window and falling
    /// over those shared with the next, 1 at the video's own ends. Weights are normalized per frame by the
    /// caller, so they only need to be positive.
    func weight(_ i: Int, windowStart start: Int, frames: Int) -> Float {
        let ramp = Float(overlap + 1)
        var w: Float = 1
        if start > 0 { w = min(w, Float(i + 1) / ramp) }
        if start + tileFrames < frames { w = min(w, Float(tileFrames - i) / ramp) }
        return w
    }
}

/// A denoiser that sees a long latent `[F, …]` one window of frames at a time and blends the windows'
/// velocities where they overlap; a latent that fits in one tile goes to the base denoiser unchanged.
///
/// The result depends only on the latent, the time and the tiles, never on thread counts, so renders stay
/// reproducible and resumable.
public struct FrameTiledDenoiser<Base: Denoiser>: Denoiser {
    public let base: Base
    public let tiles: FrameTiles

    public init(_ base: Base, tiles: FrameTiles) {
        self.base = base
        self.tiles = tiles
    }

    public func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
        let frames = latent.shape[0]
        guard frames > tiles.tileFrames else { return try base.velocity(latent, time: time, branch: branch) }
        let perFrame = latent.count / frames
        var sum = Tensor(zeros: latent.shape)  // [F, …]: Σ weight·velocity
        var total = [Float](repeating: 0, count: frames)  // Σ weight per frame
        for start in tiles.starts(frames: frames) {
            let window = Tensor(
                shape: [tiles.tileFrames] + latent.shape.dropFirst(),
                storage: Array(latent.storage[(start * perFrame)..<((start + tiles.tileFrames) * perFrame)]))
            let v = try base.velocity(window, time: time, branch: branch, firstFrame: start)
            guard v.shape == window.shape else { throw SamplerError.velocityShape(expected: window.shape, got: v.shape, time: time) }
            sum.storage.withUnsafeMutableBufferPointer { out in
                v.storage.withUnsafeBufferPointer { part in
                    for i in 0..<tiles.tileFrames {
                        let w = tiles.weight(i, windowStart: start, frames: frames)
                        total[start + i] += w
                        let o = out.baseAddress! + (start + i) * perFrame, p = part.baseAddress! + i * perFrame
                        for j in 0..<perFrame { o[j] += w * p[j] }
                    }
                }
            }
        }
        sum.storage.withUnsafeMutableBufferPointer { out in
            for f in 0..<frames where total[f] != 1 {
                let scale = 1 / total[f]
                for j in (f * perFrame)..<((f + 1) * perFrame) { out[j] *= scale }
            }
        }
        return sum
    }
}
