import COpenBLAS

/// The one Swift owner of OpenBLAS. Matrix products go through here so the thread count is set in one
/// place and never nested inside another parallel loop. The engine (issue 3) builds on it.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for each product.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The thread count OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Row-major C = alpha * A·B + beta * C, with A [m, k], B [k, n], C [m, n].
    public static func sgemm(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        beta: Float = 0, c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a, Int32(k), b,
            Int32(n), beta, c, Int32(n))
    }
}
