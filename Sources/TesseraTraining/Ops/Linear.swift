import TesseraTensor

extension Tape {
    /// `x [N, I] · wᵀ + b` with `w [O, I]` (PyTorch layout), `b [O]` optional.  → `[N, O]`
    ///
    /// Gradients: `dx = dy·w`, `dw = dyᵀ·x`, `db = Σ_rows dy` — two more matrix products.
    public func linear(_ input: Variable, weight: Variable, bias: Variable? = nil) -> Variable {
        let x = value(input), w = value(weight), b = bias.map { value($0) }
        let y = Linear.forward(x, weight: w, bias: b)
        let n = x.rows, i = w.shape[1], o = w.shape[0]
        let operands = [input, weight] + (bias.map { [$0] } ?? [])
        let needX = needs(input), needW = needs(weight)
        return record(y, operands) { g in
            var dx: Tensor?
            if needX {
                var t = Tensor(uninitialized: [n, i])
                Linear.gemm(m: n, n: i, k: o, a: g.storage, transposeA: false, b: w.storage, transposeB: false, c: &t.storage)
                dx = t.reshaped(x.shape)
            }
            var dw: Tensor?
            if needW {
                var t = Tensor(uninitialized: [o, i])
                Linear.gemm(m: o, n: i, k: n, a: g.storage, transposeA: true, b: x.storage, transposeB: false, c: &t.storage)
                dw = t
            }
            var result: [Tensor?] = [dx, dw]
            if b != nil {
                var db = Tensor(zeros: [o])
                g.storage.withUnsafeBufferPointer { gs in
                    for row in 0..<n { for c in 0..<o { db.storage[c] += gs[row * o + c] } }
                }
                result.append(db)
            }
            return result
        }
    }
}
