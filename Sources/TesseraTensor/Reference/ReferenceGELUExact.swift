import Foundation

extension ReferenceKernels {
    /// Exact GELU computed in Double: `0.5·x·(1 + erf(x/√2))`, one element at a time.
    public static func geluExact(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, storage: x.storage.map { v in
            let d = Double(v)
            return Float(0.5 * d * (1 + erf(d / 2.0.squareRoot())))
        })
    }
}
