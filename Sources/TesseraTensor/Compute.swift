import Dispatch
import Synchronization

/// The engine's one thread setting. Kernels either hand a whole product to OpenBLAS (which then uses
/// `threads` threads) or split their own work into `threads` chunks — never both at once: a kernel that
/// runs its own parallel loop sets BLAS to one thread for its duration (see `Compute.parallel`).
public enum Compute {
    private static let configured = Atomic<Int>(1)

    /// The thread count every kernel uses.
    public static var threads: Int { configured.load(ordering: .relaxed) }

    /// Sets the thread count for kernels and for OpenBLAS.
    public static func setThreads(_ count: Int) {
        let count = max(1, count)
        configured.store(count, ordering: .relaxed)
        BLAS.setThreadCount(count)
    }

    /// Runs `body(chunk)` for `chunk` in `0..<chunks` on up to `threads` threads, with OpenBLAS held to one
    /// thread meanwhile so BLAS calls inside `body` do not nest thread pools.
    public static func parallel(_ chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 0 else { return }
        let workers = min(threads, chunks)
        if workers <= 1 {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(threads) }
        withoutActuallyEscaping(body) { body in
            // The chunks write disjoint parts of their outputs; the caller guarantees it.
            nonisolated(unsafe) let body = body
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if chunk >= chunks { break }
                    body(chunk)
                }
            }
        }
    }
}
