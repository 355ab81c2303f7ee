import COpenBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

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

extension BLAS {
    /// This machine's `cblas_sgemm` peak in GFLOP/s: the best of `repeats` products of `size`³ with
    /// OpenBLAS's own threads (`Compute.threads` of them). The operands live in their own anonymous mapping,
    /// unmapped on return, so a process that measures its peak RSS afterwards gets its memory back (reset the
    /// high-water mark with `ProcessMemory.resetPeakRSS()`). OpenBLAS is left single-threaded, as the engine
    /// runs it, and its threads are given `settle` seconds to stop spinning before this returns.
    public static func peakGflops(size: Int = 2048, repeats: Int = 5, settle: Double = 0.2) -> Double {
        let count = size * size, bytes = 3 * count * MemoryLayout<Float>.stride
        guard let mapping = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapping != MAP_FAILED else {
            return 0
        }
        defer { munmap(mapping, bytes) }
        let a = mapping.bindMemory(to: Float.self, capacity: 3 * count), b = a + count, c = b + count
        // Values in [−0.5, 0.5): no denormals, nothing the kernel could shortcut.
        for i in 0..<(2 * count) { a[i] = Float((i &* 7_919) % 1_000) / 1_000 - 0.5 }
        setThreadCount(Compute.threads)
        var best = 0.0
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            sgemm(m: size, n: size, k: size, a: a, b: b, c: c)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, 2 * Double(size) * Double(size) * Double(size) / seconds / 1e9)
        }
        setThreadCount(1)
        if settle > 0 { usleep(useconds_t(settle * 1e6)) }
        return best
    }
}
