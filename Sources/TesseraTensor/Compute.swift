import Dispatch
import Synchronization

/// The engine's one thread setting and its one thread pool. OpenBLAS is kept to a single thread and every
/// kernel splits its own work into chunks run on `threads` threads (large products are split by rows,
/// each chunk one single-threaded `cblas_sgemm`). Measured here: letting OpenBLAS run its own threads
/// between kernels that use ours left its idle threads spinning on the two cores and the DiT forward ran at
/// a fifth of the sgemm peak.
public enum Compute {
    private static let configured = Atomic<Int>(1)

    /// Holds OpenBLAS to one thread from the first use of the engine on.
    private static let singleThreadedBLAS: Void = BLAS.setThreadCount(1)

    /// The thread count every kernel uses.
    public static var threads: Int {
        _ = singleThreadedBLAS
        return configured.load(ordering: .relaxed)
    }

    /// Sets the thread count for kernels (OpenBLAS itself stays at one thread).
    public static func setThreads(_ count: Int) {
        configured.store(max(1, count), ordering: .relaxed)
        BLAS.setThreadCount(1)
    }

    /// Runs `body(chunk)` for `chunk` in `0..<chunks` on up to `threads` threads. Not to be nested: a
    /// `body` calls only serial kernels (single-threaded BLAS included).
    public static func parallel(_ chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 0 else { return }
        let workers = min(threads, chunks)
        if workers <= 1 {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
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

    /// `body(0..<count)` on up to `threads` threads, results in index order; the first error (by index) is
    /// rethrown after all have run. For independent pieces of work that each take long (training samples).
    public static func map<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        let slots = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize().deallocate() }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            nonisolated(unsafe) let slots = slots
            parallel(count) { i in slots[i] = Result { try body(i) } }  // each index writes its own slot
        }
        return try slots.map { try $0!.get() }
    }
}
