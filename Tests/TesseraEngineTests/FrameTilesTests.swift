import Foundation
import Testing
import TesseraSampling
import TesseraTensor

/// The full pass's temporal tiling: windows cover every frame, a latent that fits one tile is untouched, a
/// frame-local denoiser is unchanged by tiling, and the base network never sees more than a tile.
struct FrameTilesTests {
    /// Records the largest frame count it was asked about; the velocity depends on the window's own mean,
    /// so a window's context shows in its output.
    final class Recorder: Denoiser, @unchecked Sendable {
        var largest = 0
        var calls = 0
        let local: Bool
        init(local: Bool) { self.local = local }
        func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
            largest = max(largest, latent.shape[0])
            calls += 1
            let mean = local ? 0 : latent.storage.reduce(0, +) / Float(latent.count)
            return Tensor(shape: latent.shape, storage: latent.storage.map { 0.5 * $0 * $0 - time * $0 + mean })
        }
    }

    static func latent(frames: Int) -> Tensor {
        NoiseGenerator(seed: 4, stream: 0).tensor(shape: [frames, 3, 5, 2])
    }

    @Test func windowsCoverEveryFrameAndEndOnTheLast() {
        let tiles = FrameTiles(tileFrames: 32, overlap: 8)
        #expect(tiles.starts(frames: 31) == [0])
        #expect(tiles.starts(frames: 32) == [0])
        #expect(tiles.starts(frames: 33) == [0, 1])
        let long = tiles.starts(frames: 361)  // 60 s at 24 fps
        #expect(long.first == 0 && long.last == 361 - 32)
        #expect(zip(long, long.dropFirst()).allSatisfy { $1 - $0 <= 24 && $1 > $0 }, "\(long)")
        #expect(long.count == 15)
    }

    @Test func aLatentThatFitsOneTileGoesToTheBaseUnchanged() throws {
        let base = Recorder(local: false)
        let x = Self.latent(frames: 6)
        let tiled = try FrameTiledDenoiser(base, tiles: FrameTiles(tileFrames: 6, overlap: 2)).velocity(x, time: 0.7, branch: .conditional)
        #expect(tiled == (try base.velocity(x, time: 0.7, branch: .conditional)))
        #expect(base.calls == 2)
    }

    /// A network whose conditioning belongs to given frames (grounded objects) is told where each window
    /// starts in the whole latent; a plain closure is not asked.
    @Test func eachWindowIsToldWhereItStarts() throws {
        let tiles = FrameTiles(tileFrames: 6, overlap: 2)
        final class Starts: @unchecked Sendable { var seen: [Int] = [] }
        let starts = Starts()
        let windowed = DenoiserFunction(windowed: { latent, _, _, first in
            starts.seen.append(first)
            return latent
        })
        _ = try FrameTiledDenoiser(windowed, tiles: tiles).velocity(Self.latent(frames: 23), time: 0.5, branch: .conditional)
        #expect(starts.seen == tiles.starts(frames: 23) && starts.seen.count > 1 && starts.seen.first == 0)
        _ = try windowed.velocity(Self.latent(frames: 3), time: 0.5, branch: .conditional)
        #expect(starts.seen.last == 0, "a whole latent starts at frame 0")
    }

    @Test func aFrameLocalDenoiserIsUnchangedAndTheBaseSeesOneTileAtATime() throws {
        let base = Recorder(local: true)
        let x = Self.latent(frames: 23)
        let tiled = try FrameTiledDenoiser(base, tiles: FrameTiles(tileFrames: 6, overlap: 2)).velocity(x, time: 0.3, branch: .conditional)
        #expect(base.largest == 6, "the base saw \(base.largest) frames")
        let whole = try base.velocity(x, time: 0.3, branch: .conditional)
        let gap = zip(tiled.storage, whole.storage).map { abs($0 - $1) }.max()!
        #expect(gap < 1e-6, "blending one value with itself changes it by \(gap)")
    }

    @Test func overlappingFramesBlendTheirWindowsAndTheRestKeepTheirOwn() throws {
        let tiles = FrameTiles(tileFrames: 6, overlap: 2)
        let x = Self.latent(frames: 10)  // windows [0, 6) and [4, 10)
        let tiled = try FrameTiledDenoiser(Recorder(local: false), tiles: tiles).velocity(x, time: 0.5, branch: .conditional)
        let perFrame = x.count / 10
        func window(_ start: Int) throws -> [Float] {
            let w = Tensor(shape: [6, 3, 5, 2], storage: Array(x.storage[(start * perFrame)..<((start + 6) * perFrame)]))
            return try Recorder(local: false).velocity(w, time: 0.5, branch: .conditional).storage
        }
        let first = try window(0), second = try window(4)
        func frame(_ values: [Float], _ f: Int) -> [Float] { Array(values[(f * perFrame)..<((f + 1) * perFrame)]) }
        #expect(frame(tiled.storage, 2) == frame(first, 2), "frame 2 is only in the first window")
        #expect(frame(tiled.storage, 7) == frame(second, 3), "frame 7 is only in the second window")
        // Frame 4: weight 2/3 from the first window's end ramp, 1/3 from the second's start.
        let blended = zip(frame(first, 4), frame(second, 0)).map { (2 * $0 + $1) / 3 }
        let gap = zip(frame(tiled.storage, 4), blended).map { abs($0 - $1) }.max()!
        #expect(gap < 1e-6, "frame 4 is off the 2:1 blend by \(gap)")
        #expect(frame(first, 4) != frame(second, 0), "the windows disagree, so the blend is tested")
    }
}
