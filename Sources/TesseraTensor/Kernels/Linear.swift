import COpenBLAS

/// Matrix products. Above `blasThreshold` multiply-adds they go to single-threaded `cblas_sgemm`, split by
/// rows over `Compute.threads` (see `Compute`); below it a plain loop is faster than the BLAS call.
public enum Linear {
    /// Products smaller than this (m·n·k) use the plain loop.
    public static let blasThreshold = 32 * 32 * 32

    /// `x [N, I] · wᵀ + b` for a weight in PyTorch layout `w [O, I]`, `b [O]`.  → `[N, O]`
    public static func forward(_ x: Tensor, weight w: Tensor, bias b: Tensor?) -> Tensor {
        precondition(w.rank == 2 && x.columns == w.shape[1], "linear: x \(x.shape) and weight \(w.shape) do not match")
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [w.shape[0]])  // [N, O]
        forward(x, weight: w, bias: b, into: &y)
        return y
    }

    /// `forward` into a preallocated `[N, O]` output; with `accumulate` the product is added to what `out`
    /// holds (a residual connection without a temporary).
    public static func forward(_ x: Tensor, weight w: Tensor, bias b: Tensor?, into out: inout Tensor, accumulate: Bool = false) {
        precondition(w.rank == 2 && x.columns == w.shape[1], "linear: x \(x.shape) and weight \(w.shape) do not match")
        precondition(out.rows == x.rows && out.columns == w.shape[0], "linear: output \(out.shape) for \(x.rows) rows of \(w.shape[0])")
        x.storage.withUnsafeBufferPointer { xs in
            out.storage.withUnsafeMutableBufferPointer { os in
                apply(xs.baseAddress!, rows: x.rows, weight: w, bias: b, to: os.baseAddress!, accumulate: accumulate)
            }
        }
    }

    /// The raw-rows form: `out (+)= x · wᵀ + b` for `n` contiguous rows of x (width I) and of out (width O).
    public static func apply(
        _ x: UnsafePointer<Float>, rows n: Int, weight w: Tensor, bias b: Tensor?, to out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let i = w.shape[1], o = w.shape[0]
        guard n > 0 else { return }
        if let b {
            precondition(b.count == o, "linear: bias \(b.shape) for \(o) outputs")
            b.storage.withUnsafeBufferPointer { bias in
                let bp = bias.baseAddress!
                Elementwise.forRows(n) { start, end in
                    for row in start..<end {
                        let r = out + row * o
                        if accumulate { for c in 0..<o { r[c] += bp[c] } } else { r.update(from: bp, count: o) }
                    }
                }
            }
        }
        w.storage.withUnsafeBufferPointer { ws in
            parallelGemm(m: n, n: o, k: i, a: x, lda: i, transposeA: false, b: ws.baseAddress!, ldb: i, transposeB: true,
                         c: out, ldc: o, beta: (b != nil || accumulate) ? 1 : 0)
        }
    }

    /// `C = A·B + beta·C` (row-major), with A `[m, k]` (or `[k, m]` transposed) and B `[k, n]` (or `[n, k]`).
    public static func gemm(
        m: Int, n: Int, k: Int, a: [Float], transposeA: Bool, b: [Float], transposeB: Bool, c: inout [Float], beta: Float = 0
    ) {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    parallelGemm(m: m, n: n, k: k, a: a.baseAddress!, lda: transposeA ? m : k, transposeA: transposeA,
                                 b: b.baseAddress!, ldb: transposeB ? k : n, transposeB: transposeB, c: c.baseAddress!, ldc: n, beta: beta)
                }
            }
        }
    }

    /// Rows of C per block of `parallelGemm`. Fixed, not derived from the thread count: OpenBLAS may round a
    /// row differently depending on the shape of the product it is part of, so blocks that follow the thread
    /// count made results (and renders) differ between machines. With fixed blocks every thread count
    /// computes the same products. 256 rows keep the repacking of B per block under 0.5% of the work.
    public static let gemmRowBlock = 256

    /// The pointer form split into fixed blocks of `gemmRowBlock` rows of C, spread over the threads (each a
    /// single-threaded product); the same bits at any thread count.
    public static func parallelGemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool, b: UnsafePointer<Float>, ldb: Int,
        transposeB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0
    ) {
        let blocks = (m + gemmRowBlock - 1) / gemmRowBlock
        guard blocks > 1 else {
            gemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, beta: beta)
            return
        }
        Compute.parallel(blocks) { block in
            let start = block * gemmRowBlock, count = min(gemmRowBlock, m - start)
            gemm(
                m: count, n: n, k: k, a: transposeA ? a + start : a + start * lda, lda: lda, transposeA: transposeA,
                b: b, ldb: ldb, transposeB: transposeB, c: c + start * ldc, ldc: ldc, beta: beta)
        }
    }

    /// The plain loop for small products. Each output is `Σ_p a·b` summed in order of `p` from zero, then
    /// `alpha·sum + beta·c`; the loop runs over a row of B at a time (B transposed into a `[k, n]` copy first
    /// when it comes as `[n, k]`), so the compiler vectorizes across the columns without reordering any sum.
    static func smallGemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool, b: UnsafePointer<Float>, ldb: Int,
        transposeB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, alpha: Float
    ) {
        let rowsOfB = UnsafeMutablePointer<Float>.allocate(capacity: transposeB ? k * n : 0)  // B as [k, n]
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer {
            rowsOfB.deallocate()
            sums.deallocate()
        }
        if transposeB {
            for column in 0..<n {
                for p in 0..<k { rowsOfB[p * n + column] = b[column * ldb + p] }
            }
        }
        let bRows = transposeB ? UnsafePointer(rowsOfB) : b, bStride = transposeB ? n : ldb
        for row in 0..<m {
            sums.update(repeating: 0, count: n)
            for p in 0..<k {
                let av = transposeA ? a[p * lda + row] : a[row * lda + p]
                let bRow = bRows + p * bStride
                for column in 0..<n { sums[column] += av * bRow[column] }
            }
            let cRow = c + row * ldc
            if beta == 0 {
                for column in 0..<n { cRow[column] = alpha * sums[column] + 0 }  // + 0: the old loop's +0 for −0
            } else {
                for column in 0..<n { cRow[column] = alpha * sums[column] + beta * cRow[column] }
            }
        }
    }

    /// Pointer form with explicit leading dimensions, for kernels that multiply sub-blocks.
    public static func gemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool, b: UnsafePointer<Float>, ldb: Int,
        transposeB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0, alpha: Float = 1
    ) {
        guard m > 0, n > 0 else { return }
        if m * n * k < blasThreshold {
            smallGemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, beta: beta, alpha: alpha)
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
