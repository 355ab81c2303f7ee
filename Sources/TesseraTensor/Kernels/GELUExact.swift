import Foundation

extension Elementwise {
    /// Elements per parallel chunk of `geluExact`: one `erff` costs a few nanoseconds, so chunks this size
    /// keep the thread hand-off small against the work.
    static let geluExactChunk = 16_384

    /// GELU, exact form: `0.5·x·(1 + erf(x/√2))` — what BERT checkpoints (all-MiniLM-L6-v2's
    /// `hidden_act: "gelu"`) were trained with. The tanh form of `gelu` differs from it by up to 5e-4, which
    /// would cost the text encoder its 1e-4 agreement with the reference. `erff` is glibc's (≤ 1 ulp).
    public static func geluExact(_ x: Tensor) -> Tensor {
        var y = x
        let half: Float = 0.5, inverseRoot2: Float = 0.707_106_77
        y.storage.withUnsafeMutableBufferPointer { ys in
            let p = ys.baseAddress!, count = ys.count
            Compute.parallel((count + geluExactChunk - 1) / geluExactChunk) { chunk in
                let start = chunk * geluExactChunk, end = min(count, start + geluExactChunk)
                for i in start..<end {
                    let v = p[i]
                    p[i] = half * v * (1 + erff(v * inverseRoot2))
                }
            }
        }
        return y
    }
}
