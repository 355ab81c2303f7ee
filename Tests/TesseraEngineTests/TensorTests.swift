import Foundation
import Testing
@testable import TesseraTensor

/// Deterministic test data without the engine's own noise generator (so these tests stand alone).
func testTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let values = (0..<shape.reduce(1, *)).map { _ -> Float in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return (Float(state % 20_001) / 10_000 - 1) * scale
    }
    return Tensor(shape: shape, storage: values)
}

/// The largest absolute difference, for tolerance checks.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return zip(a.storage, b.storage).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct LinearTests {
    // Float32 sums of up to a few hundred products of O(1) values: errors around 1e-5; 1e-4 leaves room.
    @Test(arguments: [(3, 5, 4), (64, 96, 80), (130, 257, 33)])
    func matchesTheReference(_ sizes: (Int, Int, Int)) {
        let (n, i, o) = sizes
        let x = testTensor([n, i], seed: 1), w = testTensor([o, i], seed: 2, scale: 0.2), b = testTensor([o], seed: 3)
        #expect(maxDifference(Linear.forward(x, weight: w, bias: b), ReferenceKernels.linear(x, weight: w, bias: b)) < 1e-4)
        #expect(maxDifference(Linear.forward(x, weight: w, bias: nil), ReferenceKernels.linear(x, weight: w, bias: nil)) < 1e-4)
    }

    /// Products below the BLAS threshold: every transpose, with alpha and beta, against the dot-product
    /// loop written out — bit for bit (each sum in the same order), and with leading dimensions wider than
    /// the operands (sub-blocks of larger matrices).
    @Test(arguments: [false, true], [false, true])
    func smallProductsAreTheDotProductLoopBitForBit(_ transposeA: Bool, _ transposeB: Bool) {
        let (m, n, k) = (5, 7, 9)
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 1
        let a = testTensor([(transposeA ? k : m) * lda], seed: 4).storage, b = testTensor([(transposeB ? n : k) * ldb], seed: 5).storage
        let start = testTensor([m * ldc], seed: 6).storage
        for (alpha, beta) in [(Float(1), Float(0)), (0.7, 1), (1.3, 0.5)] {
            var fast = start, expected = start
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    fast.withUnsafeMutableBufferPointer { cp in
                        Linear.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, transposeA: transposeA, b: bp.baseAddress!, ldb: ldb,
                                    transposeB: transposeB, c: cp.baseAddress!, ldc: ldc, beta: beta, alpha: alpha)
                    }
                }
            }
            for row in 0..<m {
                for column in 0..<n {
                    var sum: Float = 0
                    for p in 0..<k {
                        sum += (transposeA ? a[p * lda + row] : a[row * lda + p]) * (transposeB ? b[column * ldb + p] : b[p * ldb + column])
                    }
                    expected[row * ldc + column] = alpha * sum + (beta == 0 ? 0 : beta * expected[row * ldc + column])
                }
            }
            #expect(fast.map(\.bitPattern) == expected.map(\.bitPattern), "alpha \(alpha), beta \(beta)")
        }
    }

    @Test func aPerturbedWeightIsNoticed() {
        let x = testTensor([64, 96], seed: 1), w = testTensor([80, 96], seed: 2, scale: 0.2)
        var perturbed = w
        perturbed.storage[17] += 0.01
        #expect(maxDifference(Linear.forward(x, weight: perturbed, bias: nil), ReferenceKernels.linear(x, weight: w, bias: nil)) > 1e-3)
    }
}

@Suite struct MicroKernelTests {
    /// The oracle: each output `Σ_p A(r, p)·B(p, c)` in order of `p` from zero with the same multiply-add,
    /// then added to `C` when accumulating — so the kernel must agree bit for bit.
    func plain(m: Int, depth: Int, a: [Float], blockStride: Int, rowStride: Int, innerStride: Int, b: [Float], ldb: Int, c: [Float], ldc: Int, accumulate: Bool) -> [Float] {
        var c = c
        for r in 0..<m {
            let base = (r / MicroKernel.rows) * blockStride + (r % MicroKernel.rows) * rowStride
            for column in 0..<MicroKernel.columns {
                var total: Float = 0
                for p in 0..<depth { total = FastMath.multiplyAdd(a[base + p * innerStride], b[p * ldb + column], total) }
                c[r * ldc + column] = accumulate ? c[r * ldc + column] + total : total
            }
        }
        return c
    }

    // Every row count of a block (1–6) and several blocks; A read through row strides (keys in place) and
    // through panels (values); B and C with padding between rows.
    @Test(arguments: [(1, 1), (5, 7), (6, 64), (13, 64), (20, 3)], [false, true])
    func panelsMatchThePlainLoopBitForBit(_ shape: (Int, Int), _ accumulate: Bool) {
        let (m, depth) = shape
        let blocks = (m + 5) / 6
        let layouts = [(blockStride: 6 * (depth + 3), rowStride: depth + 3, innerStride: 1), (blockStride: 6 * depth, rowStride: 1, innerStride: 6)]
        for layout in layouts {
            let a = testTensor([blocks * max(layout.blockStride, 6 * depth) + 8], seed: 31).storage
            let ldb = 19, ldc = 21
            let b = testTensor([depth * ldb], seed: 32).storage, c = testTensor([m * ldc], seed: 33).storage
            var fast = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    fast.withUnsafeMutableBufferPointer { c in
                        MicroKernel.panel(
                            m: m, depth: depth, a: a.baseAddress!, blockStride: layout.blockStride, rowStride: layout.rowStride,
                            innerStride: layout.innerStride, b: b.baseAddress!, ldb: ldb, c: c.baseAddress!, ldc: ldc, accumulate: accumulate)
                    }
                }
            }
            let expected = plain(m: m, depth: depth, a: a, blockStride: layout.blockStride, rowStride: layout.rowStride,
                                 innerStride: layout.innerStride, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
            #expect(fast.map(\.bitPattern) == expected.map(\.bitPattern), "\(layout)")
        }
    }
}

@Suite struct AttentionTests {
    let grid = Attention.Grid(frames: 3, height: 4, width: 5)

    func inputs(_ t: Int, _ d: Int) -> (Tensor, Tensor, Tensor) {
        (testTensor([t, d], seed: 11), testTensor([t, d], seed: 12), testTensor([t, d], seed: 13))
    }

    func coordinates(_ token: Int) -> (Int, Int, Int) {
        (token / (grid.height * grid.width), (token / grid.width) % grid.height, token % grid.width)
    }

    // Softmax-weighted averages of O(1) values: float32 error ~1e-6; 1e-5 is the bound.
    @Test(arguments: [1, 2, 4])
    func fullMatchesTheReferenceAtAnyThreadCount(_ threads: Int) {
        Compute.setThreads(threads)
        defer { Compute.setThreads(1) }
        let (q, k, v) = inputs(300, 32)  // two query blocks
        let fast = Attention.attend(q: q, k: k, v: v, heads: 2)
        #expect(maxDifference(fast, ReferenceKernels.attention(q: q, k: k, v: v, heads: 2)) < 1e-5)
    }

    // The micro-kernel's edges: 64-wide heads over three key blocks (the last one short) and five query
    // blocks (the last not a multiple of 16 or 6); 12- and 20-wide heads (an 8-column block, a 16-column one,
    // then 4 columns by the plain loop); a single query; fewer keys than a row block.
    @Test(arguments: [(1_100, 128, 2, 1_100), (37, 24, 2, 37), (530, 40, 2, 530), (1, 128, 2, 700), (300, 64, 1, 5)])
    func everyBlockEdgeMatchesTheReference(_ shape: (Int, Int, Int, Int)) {
        let (queries, width, heads, keys) = shape
        Compute.setThreads(2)
        defer { Compute.setThreads(1) }
        let q = testTensor([queries, width], seed: 21), k = testTensor([keys, width], seed: 22), v = testTensor([keys, width], seed: 23)
        let fast = Attention.attend(q: q, k: k, v: v, heads: heads)
        #expect(maxDifference(fast, ReferenceKernels.attention(q: q, k: k, v: v, heads: heads)) < 1e-5)
    }

    @Test func keyLengthMasksPaddedKeys() {
        let q = testTensor([7, 16], seed: 1), k = testTensor([8, 16], seed: 2), v = testTensor([8, 16], seed: 3)
        let fast = Attention.attend(q: q, k: k, v: v, heads: 2, keyLength: 5)
        #expect(maxDifference(fast, ReferenceKernels.attention(q: q, k: k, v: v, heads: 2, keyLength: 5)) < 1e-5)
    }

    @Test func factorizedIsSpatialThenTemporal() {
        let (q, k, v) = inputs(grid.count, 16)
        let spatial = ReferenceKernels.attention(q: q, k: k, v: v, heads: 2) { coordinates($0).0 == coordinates($1).0 }
        let expected = ReferenceKernels.attention(q: q, k: k, v: spatial, heads: 2) {
            let a = coordinates($0), b = coordinates($1)
            return a.1 == b.1 && a.2 == b.2
        }
        let fast = Attention.selfAttention(q: q, k: k, v: v, heads: 2, grid: grid, layout: .factorized)
        #expect(maxDifference(fast, expected) < 1e-5)
    }

    @Test(arguments: [(1, 2, 2), (2, 2, 3), (3, 4, 5)])
    func windowedSeesOnlyItsWindow(_ window: (Int, Int, Int)) {
        let (q, k, v) = inputs(grid.count, 16)
        let expected = ReferenceKernels.attention(q: q, k: k, v: v, heads: 2) {
            let a = coordinates($0), b = coordinates($1)
            return a.0 / window.0 == b.0 / window.0 && a.1 / window.1 == b.1 / window.1 && a.2 / window.2 == b.2 / window.2
        }
        let fast = Attention.selfAttention(
            q: q, k: k, v: v, heads: 2, grid: grid, layout: .windowed(frames: window.0, height: window.1, width: window.2))
        #expect(maxDifference(fast, expected) < 1e-5)
    }

    @Test func aWindowCoveringTheGridIsFullAttention() {
        let (q, k, v) = inputs(grid.count, 16)
        let windowed = Attention.selfAttention(q: q, k: k, v: v, heads: 2, grid: grid, layout: .windowed(frames: 9, height: 9, width: 9))
        #expect(maxDifference(windowed, Attention.attend(q: q, k: k, v: v, heads: 2)) < 1e-6)
    }
}

@Suite struct FastMathTests {
    // The softmax's exponential: within 3e-7 relative (about 2.5 float32 ulps) over the range scores take.
    @Test func expIsAccurateAcrossTheRange() {
        var worst = 0.0
        var x = -87.0
        while x < 88 {
            let lanes = SIMD8<Float>((0..<8).map { Float(x + Double($0) * 0.0131) })
            let fast = FastMath.exp(lanes)
            for lane in 0..<8 {
                let exact = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, abs(Double(fast[lane]) - exact) / exact)
            }
            x += 0.37
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(SIMD8(repeating: -200)) == SIMD8(repeating: 0))
        // The scalar form GELU uses: the same arithmetic, so the same bound.
        var scalarWorst = 0.0
        for x in stride(from: -87.0, to: 88, by: 0.0371) {
            scalarWorst = max(scalarWorst, abs(Double(FastMath.exp(Float(x))) - Foundation.exp(Double(Float(x)))) / Foundation.exp(Double(Float(x))))
        }
        #expect(scalarWorst < 3e-7, "scalar exp: worst relative error \(scalarWorst)")
        // The base-2 form the attention softmax uses, and the sum it returns.
        var worst2 = 0.0
        for x in stride(from: -125.0, to: 127, by: 0.0173) {
            let exact = Foundation.exp2(Double(Float(x)))
            worst2 = max(worst2, abs(Double(FastMath.exp2(Float(x))) - exact) / exact)
        }
        #expect(worst2 < 3e-7, "exp2: worst relative error \(worst2)")
        var row = (0..<37).map { Float($0) * 2.5 - 60 }
        let shift: Float = 20
        let expected = row.map { Foundation.exp2(Double($0 - shift)) }
        let sum = row.withUnsafeMutableBufferPointer { FastMath.exp2ShiftedSum($0.baseAddress!, count: 37, shift: shift) }
        for (value, exact) in zip(row, expected) { #expect(abs(Double(value) - exact) <= 3e-7 * exact) }
        #expect(abs(Double(sum) - expected.reduce(0, +)) <= 1e-6 * expected.reduce(0, +))
        #expect(FastMath.exp(SIMD8(repeating: 0)) == SIMD8(repeating: 1))
    }

    // The exponentials' polynomials are fused multiply-adds in the default x86-64 build (one rounding: the
    // product below is 1 + 2⁻¹¹ + 2⁻²⁴, whose last bit a separate multiply rounds away).
    @Test func multiplyAddIsFusedInTheDefaultBuild() {
        let a: Float = 1 + 0x1p-12, c: Float = -(1 + 0x1p-11)
        let result = FastMath.multiplyAdd(a, a, c)
        #expect(result == (FastMath.multiplyAddIsFused ? 0x1p-24 : 0))
        #if arch(x86_64)
        if ProcessInfo.processInfo.environment["TESSERA_PORTABLE"] != "1" { #expect(FastMath.multiplyAddIsFused) }
        #endif
    }
}

/// The benchmark's own measuring: the sgemm peak gives its memory back, and the peak RSS can be reset so
/// that memory is not counted as the next measurement's.
@Suite struct MeasuringTests {
    @Test func thePeakMeasurementLeavesOpenBLASSingleThreadedAndItsMemoryCanBeForgotten() throws {
        let gflops = BLAS.peakGflops(size: 512, repeats: 2, settle: 0)
        #expect(gflops > 1, "peak \(gflops) GFLOP/s")
        #expect(BLAS.threadCount == 1)
        // 256 MiB touched and given back (other tests run beside this one: the margin is half of it): the
        // high-water mark keeps it until reset.
        let bytes = 256 << 20
        let before = ProcessMemory.peakRSSBytes()
        let mapping = try #require(mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        mapping.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        let high = ProcessMemory.peakRSSBytes()
        munmap(mapping, bytes)
        #expect(high >= max(before, bytes))
        #expect(ProcessMemory.resetPeakRSS())
        #expect(ProcessMemory.peakRSSBytes() < high - bytes / 2, "after reset \(ProcessMemory.peakRSSBytes()) against \(high)")
    }
}

@Suite struct ActivationAccuracyTests {
    // GELU and SiLU through the vectorized exponential: within 1e-6 of the Double formulas over [-12, 12].
    @Test func geluAndSiluMatchTheFormulas() {
        let xs = stride(from: -12.0, through: 12.0, by: 0.0173).map { Float($0) }
        let x = Tensor(shape: [xs.count], storage: xs)
        let gelu = Elementwise.gelu(x), silu = Elementwise.silu(x)
        for (i, v) in xs.enumerated() {
            let d = Double(v)
            let expectedGelu = 0.5 * d * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
            #expect(abs(Double(gelu.storage[i]) - expectedGelu) < 1e-6 * max(1, abs(d)), "gelu(\(v))")
            #expect(abs(Double(silu.storage[i]) - d / (1 + Foundation.exp(-d))) < 1e-6 * max(1, abs(d)), "silu(\(v))")
        }
    }
}

@Suite struct HalfPrecisionWeightsTests {
    /// Shipped weights may be float16: half the bytes, values within float16's rounding (2⁻¹¹ relative).
    @Test func float16FilesRoundTripWithinHalfPrecision() throws {
        let values = NoiseGenerator(seed: 8, stream: 2).tensor(shape: [3, 50])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-f16-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile.write(["w": values], metadata: ["kind": "test"], to: path, halfPrecision: true)
        let file = try SafetensorsFile(path: path)
        let back = try file.tensor("w")
        #expect(back.shape == [3, 50] && file.metadata["kind"] == "test")
        for (a, b) in zip(back.storage, values.storage) { #expect(abs(a - b) <= abs(b) * 0.0005 + 1e-7) }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size < 150 * 4, "two bytes a value")
    }
}
