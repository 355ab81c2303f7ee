/// Keeps freed memory in the process for reuse instead of handing it back to the kernel.
///
/// A training step allocates and frees the same large tensors (activations, convolution columns, gradients)
/// every time. glibc serves blocks above its mmap threshold with fresh mappings and unmaps them on free, so
/// each step paid for page faults and zeroing of every page again: profiled, 56% of a VAE step's CPU time was
/// in the kernel. Raising the thresholds made the same step 2.2× faster (docs/PERFORMANCE.md, "Training").
/// Memory then stays at its peak between steps, which a trainer reaches on its first step anyway.
public enum HeapSettings {
    public static func keepFreedMemory() {
        #if os(Linux)
        // <malloc.h> is not in Swift's Glibc module; its parameter numbers are fixed by the glibc ABI.
        _ = glibcMallopt(-3, 32 << 20)  // M_MMAP_THRESHOLD: glibc's largest allowed value
        _ = glibcMallopt(-1, Int32.max)  // M_TRIM_THRESHOLD
        _ = glibcMallopt(-2, 256 << 20)  // M_TOP_PAD
        #endif
    }
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
