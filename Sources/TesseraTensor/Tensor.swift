/// A dense, row-major Float32 tensor: a shape and its contiguous storage.
///
/// A value type (copy-on-write through the array), so kernels take inputs by value and return new
/// tensors; hot loops use `withUnsafeBufferPointer` on `storage`.
public struct Tensor: Sendable, Equatable {
    /// Sizes, outermost first.
    public private(set) var shape: [Int]
    /// `shape.reduce(1, *)` elements, row-major.
    public var storage: [Float]

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        storage = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor whose values are left unset, for outputs a kernel writes in full (it skips the zero fill
    /// and its page faults, which showed in profiles of the DiT forward).
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        storage = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// A tensor over existing values; the count must match the shape.
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor filled with one value.
    public init(repeating value: Float, shape: [Int]) {
        self.shape = shape
        storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// Number of elements.
    public var count: Int { storage.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// Element access by multi-index (for tests and small code; kernels index storage directly).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, size) in zip(index, shape) {
            precondition(i >= 0 && i < size, "index \(index) out of shape \(shape)")
            flat = flat * size + i
        }
        return flat
    }

    /// Rows of a rank-2 view: the first dimension, with the rest flattened into columns.
    public var rows: Int { shape.first ?? 1 }
    public var columns: Int { rows == 0 ? 0 : count / rows }
}
