/// The register-blocked product at the heart of attention: a block of up to 6 rows × 16 columns of
/// `C = A·B`, its 12 accumulators held in registers across the whole inner dimension.
///
/// Attention's products are thin in one dimension (a head is 64 wide), which is where `cblas_sgemm` spends
/// its time packing: it copied a query block for every key block, a key block for every query block and a
/// score tile for every 64 outputs (≈ 11% of an image forward). Here `A` element `(r, p)` of a block lies at
/// `a + r·rowStride + p·innerStride` (read as broadcasts) and `B` row `p` at `b + p·ldb` (16 contiguous
/// floats, two 8-lane vectors), so attention can hand its operands over where they lie or in the panel
/// layouts it writes anyway (`Attention.tile`).
///
/// On this host (AMD EPYC, AVX2 + FMA code, one core) the 6 × 16 block ran a 516 × 256 × 64 product with
/// `A` strided at 109 GFLOP/s and a 66 × 256 × 512 one on panels at 115, against `cblas_sgemm`'s 98 and 99
/// on the same products and its 100–102 on a 1024³ one.
enum MicroKernel {
    typealias Vector = SIMD8<Float>

    /// Rows of a full block.
    static let rows = 6
    /// Columns of every block: two vectors.
    static let columns = 16

    /// `C[m × 16] (+)= A·B` over `depth` inner steps, in blocks of 6 rows (the last may be shorter): block
    /// `n`'s `A` starts at `a + n·blockStride`. `accumulate` adds to `C`, else `C` is overwritten. Each
    /// output's sum runs in order of the inner index from zero.
    static func panel(
        m: Int, depth: Int, a: UnsafePointer<Float>, blockStride: Int, rowStride: Int, innerStride: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        var r = 0, aBlock = a
        while r < m {
            let a = aBlock, c = c + r * ldc
            switch min(rows, m - r) {
            case 6: body(6, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            case 5: body(5, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            case 4: body(4, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            case 3: body(3, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            case 2: body(2, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            default: body(1, depth, a, rowStride, innerStride, b, ldb, c, ldc, accumulate)
            }
            r += rows
            aBlock += blockStride
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    @inline(__always)
    private static func store(_ p: UnsafeMutablePointer<Float>, _ v: Vector) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self) }

    /// `c + a·b` lane by lane: fused in the default build, a multiply and an add in the portable one (where a
    /// fused one would be a library call per lane).
    @inline(__always)
    private static func multiplyAdd(_ c: Vector, _ a: Vector, _ b: Vector) -> Vector {
        #if TESSERA_FMA
        return c.addingProduct(a, b)
        #else
        return c + a * b
        #endif
    }

    /// The block itself, inlined into each case of `panel` so `rows` is a constant there and the unused
    /// accumulators vanish: twelve named vectors, which LLVM keeps in registers (an array of
    /// them would live in memory).
    @inline(__always)
    private static func body(
        _ rows: Int, _ depth: Int, _ a: UnsafePointer<Float>, _ rowStride: Int, _ innerStride: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool
    ) {
        var c00 = Vector(), c01 = Vector(), c10 = Vector(), c11 = Vector(), c20 = Vector(), c21 = Vector()
        var c30 = Vector(), c31 = Vector(), c40 = Vector(), c41 = Vector(), c50 = Vector(), c51 = Vector()
        let a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride
        var offset = 0, bp = b
        for _ in 0..<depth {
            let b0 = load(bp), b1 = load(bp + 8)
            var x = Vector(repeating: a0[offset])
            c00 = multiplyAdd(c00, x, b0)
            c01 = multiplyAdd(c01, x, b1)
            if rows > 1 {
                x = Vector(repeating: a1[offset])
                c10 = multiplyAdd(c10, x, b0)
                c11 = multiplyAdd(c11, x, b1)
            }
            if rows > 2 {
                x = Vector(repeating: a2[offset])
                c20 = multiplyAdd(c20, x, b0)
                c21 = multiplyAdd(c21, x, b1)
            }
            if rows > 3 {
                x = Vector(repeating: a3[offset])
                c30 = multiplyAdd(c30, x, b0)
                c31 = multiplyAdd(c31, x, b1)
            }
            if rows > 4 {
                x = Vector(repeating: a4[offset])
                c40 = multiplyAdd(c40, x, b0)
                c41 = multiplyAdd(c41, x, b1)
            }
            if rows > 5 {
                x = Vector(repeating: a5[offset])
                c50 = multiplyAdd(c50, x, b0)
                c51 = multiplyAdd(c51, x, b1)
            }
            offset &+= innerStride  // wrapping: a checked add here made LLVM spill three accumulators (56% of peak)
            bp += ldb
        }
        @inline(__always)
        func put(_ row: Int, _ v0: Vector, _ v1: Vector) {
            let p = c + row * ldc
            store(p, accumulate ? load(p) + v0 : v0)
            store(p + 8, accumulate ? load(p + 8) + v1 : v1)
        }
        put(0, c00, c01)
        if rows > 1 { put(1, c10, c11) }
        if rows > 2 { put(2, c20, c21) }
        if rows > 3 { put(3, c30, c31) }
        if rows > 4 { put(4, c40, c41) }
        if rows > 5 { put(5, c50, c51) }
    }
}
