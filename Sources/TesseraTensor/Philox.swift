// Counter-based random numbers (docs/ENGINE.md, "Noise").
//
// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) maps a 128-bit
// counter and a 64-bit key to 128 random bits with no state, so element n of a noise tensor is a pure
// function of (seed, stream, n). That is what makes the noise identical however the work is threaded or
// chunked, and what lets the numpy reference produce the very same tensors.

import Dispatch
import Foundation

/// The Philox-4x32-10 block function, exactly as Random123 defines it.
public enum Philox4x32 {
    /// Multiplier of counter word 0 in each round.
    public static let m0: UInt32 = 0xD251_1F53
    /// Multiplier of counter word 2 in each round.
    public static let m1: UInt32 = 0xCD9E_8D57
    /// Weyl increment of key word 0 between rounds (the golden ratio as a 32-bit fraction).
    public static let w0: UInt32 = 0x9E37_79B9
    /// Weyl increment of key word 1 between rounds (sqrt(3) − 1 as a 32-bit fraction).
    public static let w1: UInt32 = 0xBB67_AE85

    /// Ten rounds of Philox on `counter` under `key`; returns the four output words.
    ///
    /// Written on scalars rather than SIMD vectors: every operation is a 32×32→64 multiply or an xor on one
    /// lane, and the scalar form is both the clearest and what the compiler schedules best.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3]
        var k0 = key[0], k1 = key[1]
        for round in 0..<10 {
            if round > 0 {  // the key is bumped between rounds, not before the first
                k0 &+= w0
                k1 &+= w1
            }
            let p0 = UInt64(m0) &* UInt64(c0)
            let p1 = UInt64(m1) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c0 = hi1 ^ c1 ^ k0
            c1 = lo1
            c2 = hi0 ^ c3 ^ k1
            c3 = lo0
        }
        return SIMD4(c0, c1, c2, c3)
    }
}

/// Standard normal noise, element by element a pure function of `(seed, stream, flat index)`.
///
/// Element pair `m = n / 2` uses the Philox counter `(m & 0xffffffff, m >> 32, stream, 0)` under the key
/// `(seed & 0xffffffff, seed >> 32)`; the first two output words go through Box–Muller in double precision
/// and are rounded to Float32. Streams: 0 initial noise, 1 refinement noise, 2 training noise.
public struct NoiseGenerator: Sendable, Equatable {
    /// The 64-bit seed; it becomes the Philox key.
    public let seed: UInt64
    /// Which independent sequence under the seed (third counter word).
    public let stream: UInt32
    /// The most threads a large fill may use. Never changes the values, only the speed.
    public var threads: Int

    /// Below this many elements per thread, splitting costs more than it saves (one element costs about
    /// 36 ns in a release build on x86-64, mostly libm's log, cos and sin; a dispatch hand-off a few
    /// microseconds), so small fills stay on the calling thread.
    public static let minimumElementsPerThread = 16_384

    /// A generator for one seed and stream. `threads` defaults to the number of active processors.
    public init(seed: UInt64, stream: UInt32, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(threads >= 1, "NoiseGenerator needs at least one thread, got \(threads)")
        self.seed = seed
        self.stream = stream
        self.threads = threads
    }

    /// The two normal values of element pair `m` (flat elements `2m` and `2m + 1`).
    ///
    /// This is the plain definition and the test oracle; `fill` calls it for every pair.
    @inlinable
    public func pair(_ m: UInt64) -> (Float, Float) {
        let key = SIMD2<UInt32>(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        let counter = SIMD4<UInt32>(UInt32(truncatingIfNeeded: m), UInt32(truncatingIfNeeded: m >> 32), stream, 0)
        let bits = Philox4x32.block(counter: counter, key: key)
        // (a + 0.5) / 2^32 lies strictly inside (0, 1), so the logarithm is finite; both are exact in Double.
        let u1 = (Double(bits[0]) + 0.5) / 4_294_967_296.0
        let u2 = (Double(bits[1]) + 0.5) / 4_294_967_296.0
        let r = (-2.0 * log(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        return (Float(r * cos(angle)), Float(r * sin(angle)))
    }

    /// `count` values for flat indices `offset ..< offset + count`.
    ///
    /// Because each value depends only on its index, `fill(a + b)` equals `fill(a) + fill(b, startingAt: a)`
    /// for any split, and the result is the same for every `threads` setting.
    public func fill(_ count: Int, startingAt offset: Int = 0) -> [Float] {
        precondition(count >= 0 && offset >= 0, "fill needs a non-negative count and offset, got \(count), \(offset)")
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer, startingAt: offset)
            initialized = count
        }
    }

    /// A tensor of `shape` filled from flat index 0.
    public func tensor(shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: fill(shape.reduce(1, *)))
    }

    /// Writes values for flat indices `offset ..< offset + buffer.count` into `buffer`, splitting the range
    /// into one contiguous part per thread.
    public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, startingAt offset: Int) {
        let count = buffer.count
        let parts = max(1, min(threads, count / Self.minimumElementsPerThread))
        guard parts > 1, let base = buffer.baseAddress else {
            fillSerial(buffer, startingAt: offset)
            return
        }
        let output = SharedOutput(base: base)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            // Even split with the remainder spread over the first parts; boundaries may fall mid-pair,
            // which fillSerial handles by recomputing that one pair on both sides.
            let lower = count * part / parts
            let upper = count * (part + 1) / parts
            let slice = UnsafeMutableBufferPointer(start: output.base + lower, count: upper - lower)
            fillSerial(slice, startingAt: offset + lower)
        }
    }

    /// One thread's work: a possibly odd first element, whole pairs, a possibly odd last element.
    func fillSerial(_ buffer: UnsafeMutableBufferPointer<Float>, startingAt offset: Int) {
        var n = offset
        let end = offset + buffer.count
        var i = 0
        if n < end && n % 2 == 1 {
            buffer[i] = pair(UInt64(n / 2)).1
            n += 1
            i += 1
        }
        while n + 1 < end {
            let (a, b) = pair(UInt64(n / 2))
            buffer[i] = a
            buffer[i + 1] = b
            n += 2
            i += 2
        }
        if n < end {
            buffer[i] = pair(UInt64(n / 2)).0
        }
    }
}

/// The base address of the output array, shared by the workers of one fill.
///
/// Unchecked because the workers write disjoint ranges and `concurrentPerform` returns only after all of
/// them finish, so no two threads touch the same element and the array outlives every write.
private struct SharedOutput: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
}
