// Seeded random choices for scenes and prompt expansion, on the project's Philox-4x32-10 block function
// (TesseraTensor/Philox.swift). Draw n of stream s under seed k is a pure function of (k, s, n), and every
// conversion to a number is written out here rather than left to the standard library, whose algorithms
// for `random(in:using:)` are not promised to stay the same between Swift releases.

import TesseraTensor

/// A deterministic stream of random numbers: same seed and stream, same draws, on any machine.
public struct WorldRandom: Sendable {
    /// The seed; it becomes the Philox key.
    public let seed: UInt64
    /// Which independent sequence under the seed.
    public let stream: UInt32
    private var counter: UInt64 = 0
    private var buffer: SIMD4<UInt32> = .zero
    private var used = 4

    /// Streams used by the world, so that adding draws to one never shifts another.
    public enum Streams {
        public static let scene: UInt32 = 0x5CE0
        public static let expansion: UInt32 = 0xE8A0
        public static let noise: UInt32 = 0x0015
    }

    /// The draws of `stream` under `seed`, from the first.
    public init(seed: UInt64, stream: UInt32) {
        self.seed = seed
        self.stream = stream
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        if used == 4 {
            let key = SIMD2<UInt32>(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
            let words = SIMD4<UInt32>(
                UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), stream, 0x5745_524C)
            buffer = Philox4x32.block(counter: words, key: key)
            counter &+= 1
            used = 0
        }
        defer { used += 1 }
        return buffer[used]
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        let high = UInt64(next32()) << 21
        let low = UInt64(next32()) >> 11
        return Double(high | low) / 9_007_199_254_740_992.0
    }

    /// A uniform double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// A uniform integer in `0 ..< bound` (multiply-shift on 32 bits; the bias, under 2^-24 for the small
    /// bounds used here, does not matter, determinism does).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0 && bound <= 1 << 24, "int(below:) takes 1...2^24, got \(bound)")
        return Int((UInt64(next32()) &* UInt64(bound)) >> 32)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// One element, uniformly.
    public mutating func pick<T>(_ items: [T]) -> T {
        items[int(below: items.count)]
    }

    /// One element with the given weights (need not sum to one).
    public mutating func pick<T>(_ items: [(T, Double)]) -> T {
        let total = items.reduce(0) { $0 + $1.1 }
        var target = uniform() * total
        for (item, weight) in items {
            if target < weight { return item }
            target -= weight
        }
        return items[items.count - 1].0
    }
}
