import Foundation
import Testing
@testable import TesseraTensor

/// The VAE's kernels against their plain definitions in `ReferenceKernels`.
@Suite struct VAEKernelTests {
    func random(_ shape: [Int], seed: UInt64) -> Tensor { NoiseGenerator(seed: seed, stream: 0).tensor(shape: shape) }

    // Data movement only: exact.
    @Test(arguments: [1, 2, 4])
    func depthToSpaceAndBack(_ r: Int) {
        let x = random([2, 3, 5, r * r * 3], seed: 1)  // [F, H, W, r²C]
        let y = VideoResample.depthToSpace(x, factor: r)
        #expect(y.shape == [2, 3 * r, 5 * r, 3])
        #expect(y == ReferenceKernels.depthToSpace(x, factor: r))
        #expect(VideoResample.spaceToDepth(y, factor: r) == x)
        #expect(VideoResample.spaceToDepth(y, factor: r) == ReferenceKernels.spaceToDepth(y, factor: r))
    }

    @Test func repeatFramesKeepsTheFirstFrameOnce() {
        let x = random([3, 2, 2, 2], seed: 2)
        let start = VideoResample.repeatFrames(x, firstIsVideoStart: true)
        #expect(start.shape == [5, 2, 2, 2])
        #expect(start == ReferenceKernels.repeatFrames(x, firstIsVideoStart: true))
        let later = VideoResample.repeatFrames(x, firstIsVideoStart: false)
        #expect(later.shape == [6, 2, 2, 2])
        #expect(later == ReferenceKernels.repeatFrames(x, firstIsVideoStart: false))
    }

    @Test func splitFramesMakesTwoFramesOfEachButTheFirst() {
        let x = random([3, 2, 5, 6], seed: 5)  // [F, H, W, 2C]
        let start = VideoResample.splitFrames(x, firstIsVideoStart: true)
        #expect(start.shape == [5, 2, 5, 3])
        #expect(start == ReferenceKernels.splitFrames(x, firstIsVideoStart: true))
        #expect(start[0, 1, 4, 2] == x[0, 1, 4, 2] && start[1, 1, 4, 2] == x[1, 1, 4, 2] && start[2, 1, 4, 2] == x[1, 1, 4, 5])
        let later = VideoResample.splitFrames(x, firstIsVideoStart: false)
        #expect(later.shape == [6, 2, 5, 3])
        #expect(later == ReferenceKernels.splitFrames(x, firstIsVideoStart: false))
        #expect(later[1, 0, 0, 0] == x[0, 0, 0, 3])
    }

    // The split only moves values, so its gradient moves each one back: the input again, less the first
    // frame's second half, which the video's start does not use.
    @Test(arguments: [true, false])
    func splitFramesGradientPutsEachValueBack(_ start: Bool) {
        let x = random([3, 2, 5, 6], seed: 7)  // [F, H, W, 2C]
        var expected = x
        if start { for i in 0..<2 { for j in 0..<5 { for k in 3..<6 { expected[0, i, j, k] = 0 } } } }
        let back = VideoResample.splitFramesGradient(VideoResample.splitFrames(x, firstIsVideoStart: start),
                                                     inputShape: x.shape, firstIsVideoStart: start)
        #expect(back.shape == x.shape)
        #expect(back == expected)
    }

    // A sum of ≤ 37 squares, a square root and one exponential per value, in float32 against double: a few
    // ulps of the output scale (~1e-7); bound 1e-6 of the largest output. More pixels than one parallel chunk,
    // and widths that are and are not multiples of 8.
    @Test(arguments: [3, 16, 37])
    func rmsNormSiLU(_ channels: Int) {
        let x = random([2, 50, 47, channels], seed: 3)
        let w = random([channels], seed: 4)
        let out = ChannelNorm.rmsNormSiLU(x, weight: w)
        let expected = ReferenceKernels.rmsNormSiLU(x, weight: w)
        let scale = expected.storage.map(abs).max() ?? 1
        let error = (zip(out.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0) / scale
        #expect(error < 1e-6, "relative error \(error)")
    }
}
