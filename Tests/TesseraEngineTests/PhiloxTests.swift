// Philox-4x32-10 and the normal noise built on it (docs/ENGINE.md, "Noise").

import Foundation
import Testing
import TesseraTensor

@Suite struct PhiloxTests {
    /// Random123's published known answers (kat_vectors): counter words, key words, expected output.
    static let knownAnswers: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
        (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
        (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
         SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
        (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
         SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
    ]

    @Test(arguments: 0..<3)
    func random123KnownAnswer(_ index: Int) {
        let (counter, key, expected) = Self.knownAnswers[index]
        #expect(Philox4x32.block(counter: counter, key: key) == expected)
    }

    /// Every check can fail: one flipped counter or key bit must change the output.
    @Test func knownAnswerDetectsOneBit() {
        let (counter, key, expected) = Self.knownAnswers[0]
        #expect(Philox4x32.block(counter: counter &+ SIMD4(0, 0, 0, 1), key: key) != expected)
        #expect(Philox4x32.block(counter: counter, key: key &+ SIMD2(1, 0)) != expected)
    }

    /// The element formula written out once more from the contract, against `pair` and `fill`.
    @Test func elementsFollowTheContract() {
        let seed: UInt64 = 0x0123_4567_89ab_cdef
        let generator = NoiseGenerator(seed: seed, stream: 1)
        let values = generator.fill(64, startingAt: 0x1_0000_0000 * 2 - 32)  // pairs straddle m = 2^32
        for (i, value) in values.enumerated() {
            let n = 0x1_0000_0000 * 2 - 32 + i
            let m = UInt64(n / 2)
            let bits = Philox4x32.block(
                counter: SIMD4(UInt32(m & 0xffff_ffff), UInt32(m >> 32), 1, 0),
                key: SIMD2(UInt32(seed & 0xffff_ffff), UInt32(seed >> 32)))
            let u1 = (Double(bits[0]) + 0.5) / 4_294_967_296
            let u2 = (Double(bits[1]) + 0.5) / 4_294_967_296
            let r = (-2 * log(u1)).squareRoot()
            let expected = Float(n % 2 == 0 ? r * cos(2 * Double.pi * u2) : r * sin(2 * Double.pi * u2))
            #expect(value.bitPattern == expected.bitPattern, "element \(n)")
        }
    }

    /// A few values printed by `reference/engine_reference.py` (`philox_normal`), as Float32 bit patterns: the
    /// Swift and numpy generators are written independently from docs/ENGINE.md, so agreement here checks the
    /// contract's reading (key and counter word order, Box–Muller branch, offsets past 2^32 pairs). The full
    /// comparison lives with the golden files.
    @Test(arguments: [
        (42, 0, 0, [0xbf78_5e5c, 0x3e46_ace8, 0xbd95_e030, 0x3e0e_7a0f, 0xbeac_8644, 0xbf04_ccb7]),
        ((1 << 40) + 7, 1, 0, [0xbd10_f774, 0xbfa3_9db7, 0xbf3e_644e, 0x3e1d_9472]),
        (42, 2, (1 << 33) + 1, [0x3fbc_ffaa, 0xbfc7_2bf6, 0x3f68_511a, 0xbfd5_22db]),
    ] as [(UInt64, UInt32, Int, [UInt32])])
    func agreesWithNumpyReference(seed: UInt64, stream: UInt32, offset: Int, bits: [UInt32]) {
        let values = NoiseGenerator(seed: seed, stream: stream).fill(bits.count, startingAt: offset)
        #expect(values.map(\.bitPattern) == bits)
    }

    /// Thread count never changes a value: 1, 2 and 7 threads (more than this machine's cores) agree bit
    /// for bit on an odd count at an odd offset, so every split falls mid-pair somewhere.
    @Test func threadCountIndependent() {
        let count = 1_000_003
        let reference = NoiseGenerator(seed: 42, stream: 0, threads: 1).fill(count, startingAt: 5)
        for threads in [2, 7] {
            let values = NoiseGenerator(seed: 42, stream: 0, threads: threads).fill(count, startingAt: 5)
            #expect(values == reference, "\(threads) threads")
        }
    }

    /// Any chunking of the index range gives the same values as one whole fill.
    @Test(arguments: [[1], [2], [3, 5, 7], [1, 1, 1, 2, 100_000, 13], [65_537, 3]])
    func chunkingIndependent(_ chunkSizes: [Int]) {
        let generator = NoiseGenerator(seed: 7, stream: 2, threads: 2)
        let whole = generator.fill(400_000)
        var pieces = [Float]()
        var offset = 0
        var sizes = chunkSizes.makeIterator()
        while offset < whole.count {
            let size = min(sizes.next() ?? 50_001, whole.count - offset)
            pieces += generator.fill(size, startingAt: offset)
            offset += size
        }
        #expect(pieces == whole)
    }

    @Test func tensorIsFillFromZero() {
        let generator = NoiseGenerator(seed: 3, stream: 0)
        let t = generator.tensor(shape: [2, 3, 5, 4])  // [F, H, W, C]
        #expect(t.shape == [2, 3, 5, 4])
        #expect(t.storage == generator.fill(120))
        #expect(generator.fill(0).isEmpty)
    }

    /// Seed (both halves of the key) and stream each select a different sequence.
    @Test func seedAndStreamSelectSequences() {
        let base = NoiseGenerator(seed: 1, stream: 0).fill(16)
        #expect(NoiseGenerator(seed: 2, stream: 0).fill(16) != base)
        #expect(NoiseGenerator(seed: 1 | (1 << 32), stream: 0).fill(16) != base)
        #expect(NoiseGenerator(seed: 1, stream: 1).fill(16) != base)
    }

    /// Over 10⁶ samples the standard errors are 0.001 (mean) and 0.0014 (variance, sqrt(2/n)); the
    /// tolerances are about five standard errors, so a correct generator passes with room to spare while a
    /// wrong scale (e.g. variance 2), an offset or a lost sign fails by far.
    @Test func normalStatistics() {
        let values = NoiseGenerator(seed: 2024, stream: 0).fill(1_000_000)
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let withinOne = Double(values.filter { abs($0) < 1 }.count) / n  // 0.6827 for N(0, 1), s.e. 0.00047
        let negative = Double(values.filter { $0 < 0 }.count) / n  // 0.5, s.e. 0.0005
        #expect(abs(mean) < 0.005)
        #expect(abs(variance - 1) < 0.007)
        #expect(abs(withinOne - 0.682_689) < 0.0025)
        #expect(abs(negative - 0.5) < 0.0025)
        #expect(values.allSatisfy { $0.isFinite })
    }
}
