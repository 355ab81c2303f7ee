import TesseraTensor

extension Tape {
    /// LayerNorm without affine over the last dimension: `x̂ = (x − μ)·r`, `r = 1/sqrt(var + eps)`.
    /// Gradient: `dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂))` per row.
    public func layerNorm(_ input: Variable, eps: Float = 1e-6) -> Variable {
        let x = value(input)
        let y = Elementwise.layerNorm(x, eps: eps)
        let d = x.shape.last ?? 1, n = x.count / d
        return record(y, [input]) { g in
            var dx = g
            for row in 0..<n {
                let base = row * d
                var mean: Float = 0, variance: Float = 0
                for c in 0..<d { mean += x.storage[base + c] }
                mean /= Float(d)
                for c in 0..<d { let z = x.storage[base + c] - mean; variance += z * z }
                let r = 1 / (variance / Float(d) + eps).squareRoot()
                var meanG: Float = 0, meanGX: Float = 0
                for c in 0..<d {
                    meanG += g.storage[base + c]
                    meanGX += g.storage[base + c] * y.storage[base + c]
                }
                meanG /= Float(d)
                meanGX /= Float(d)
                for c in 0..<d { dx.storage[base + c] = r * (g.storage[base + c] - meanG - y.storage[base + c] * meanGX) }
            }
            return [dx]
        }
    }

    /// RMSNorm over groups of `weight.count` values (a head, for QK-norm): `y = x·r·w`, `r = 1/sqrt(mean(x²) + eps)`.
    /// Gradient: `dx = r·(w ⊙ dy) − x·r³·mean(w ⊙ dy ⊙ x)` per group; `dw = Σ dy ⊙ x·r`.
    public func rmsNorm(_ input: Variable, weight: Variable, eps: Float = 1e-6) -> Variable {
        let x = value(input), w = value(weight)
        let y = Elementwise.rmsNorm(x, weight: w, eps: eps)
        let d = w.count, groups = x.count / d
        return record(y, [input, weight]) { g in
            var dx = g, dw = Tensor(zeros: w.shape)
            for group in 0..<groups {
                let base = group * d
                var squares: Float = 0
                for c in 0..<d { squares += x.storage[base + c] * x.storage[base + c] }
                let r = 1 / (squares / Float(d) + eps).squareRoot()
                var dot: Float = 0
                for c in 0..<d { dot += w.storage[c] * g.storage[base + c] * x.storage[base + c] }
                let correction = r * r * r * dot / Float(d)
                for c in 0..<d {
                    dx.storage[base + c] = r * w.storage[c] * g.storage[base + c] - x.storage[base + c] * correction
                    dw.storage[c] += g.storage[base + c] * x.storage[base + c] * r
                }
            }
            return [dx, dw]
        }
    }

    /// Rotary embedding of every head of `x [T, Nh·Dh]` by the tables (a rotation per pair; its gradient
    /// is the rotation by the opposite angle).
    public func rope(_ input: Variable, heads: Int, cos: Tensor, sin: Tensor) -> Variable {
        let y = Spacetime.applyRope(value(input), heads: heads, cos: cos, sin: sin)
        let negatedSin = Elementwise.map(sin) { -$0 }
        return record(y, [input]) { g in [Spacetime.applyRope(g, heads: heads, cos: cos, sin: negatedSin)] }
    }
}
