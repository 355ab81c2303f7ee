// Peak signal-to-noise ratio between two frame sequences, for the VAE's reconstruction quality (docs/WORLD.md,
// "PSNR"). Frames are RGB in [-1, 1], so the peak-to-peak range is 2 and PSNR = 10·log10(2² / MSE), the same
// number as 10·log10(255² / MSE₂₅₅) on 8-bit frames. The mean squared error is over every value of every frame
// (not an average of per-frame PSNRs), accumulated in Double so long videos lose nothing.

import Foundation
import TesseraTensor

/// Accumulates squared error frame by frame; `psnr` at any point covers the frames added so far.
public struct PSNRAccumulator: Sendable {
    public private(set) var sumSquaredError = 0.0
    public private(set) var count = 0
    /// Peak-to-peak range of the values: 2 for [-1, 1].
    public let range: Double

    /// An empty accumulator for values spanning `range` (2 for [-1, 1]).
    public init(range: Double = 2) {
        self.range = range
    }

    /// Adds one pair of frames of equal shape.
    public mutating func add(_ a: Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "PSNR needs frames of one shape, got \(a.shape) and \(b.shape)")
        var sum = 0.0
        for i in 0..<a.count {
            let d = Double(a.storage[i]) - Double(b.storage[i])
            sum += d * d
        }
        sumSquaredError += sum
        count += a.count
    }

    /// Mean squared error so far.
    public var meanSquaredError: Double { count == 0 ? 0 : sumSquaredError / Double(count) }

    /// PSNR in dB; +∞ for identical frames.
    public var psnr: Double {
        meanSquaredError == 0 ? .infinity : 10 * log10(range * range / meanSquaredError)
    }
}

/// PSNR in dB between two sequences of frames in [-1, 1] (equal counts and shapes).
public func psnr(_ a: [Tensor], _ b: [Tensor]) -> Double {
    precondition(a.count == b.count, "PSNR needs as many frames on both sides, got \(a.count) and \(b.count)")
    var accumulator = PSNRAccumulator()
    for (x, y) in zip(a, b) { accumulator.add(x, y) }
    return accumulator.psnr
}
