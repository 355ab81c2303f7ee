import Foundation
import TesseraTensor

/// Element-wise and shape operations with their gradients.
extension Tape {
    /// `a + b` (same element count).
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        let x = value(a), y = value(b)
        precondition(x.count == y.count, "add: \(x.shape) and \(y.shape)")
        var out = x
        out.storage.withUnsafeMutableBufferPointer { o in
            y.storage.withUnsafeBufferPointer { yy in for i in 0..<o.count { o[i] += yy[i] } }
        }
        return record(out, [a, b]) { g in [g, g.reshaped(y.shape)] }
    }

    /// `x · factor` for a constant factor.
    public func scale(_ a: Variable, by factor: Float) -> Variable {
        let out = Elementwise.map(value(a)) { $0 * factor }
        return record(out, [a]) { g in [Elementwise.map(g) { $0 * factor }] }
    }

    /// The same values under another shape.
    public func reshape(_ a: Variable, _ shape: [Int]) -> Variable {
        let x = value(a)
        return record(x.reshaped(shape), [a]) { g in [g.reshaped(x.shape)] }
    }

    /// Columns `start..<start+count` of a rank-2 `[N, C]` value.  → `[N, count]`
    public func columns(_ a: Variable, _ start: Int, _ count: Int) -> Variable {
        let x = value(a), n = x.rows, c = x.columns
        precondition(start >= 0 && start + count <= c, "columns: \(start)+\(count) of \(x.shape)")
        var out = Tensor(uninitialized: [n, count])
        for row in 0..<n {
            for j in 0..<count { out.storage[row * count + j] = x.storage[row * c + start + j] }
        }
        return record(out, [a]) { g in
            var dx = Tensor(zeros: [n, c])
            for row in 0..<n {
                for j in 0..<count { dx.storage[row * c + start + j] = g.storage[row * count + j] }
            }
            return [dx.reshaped(x.shape)]
        }
    }

    /// `x ⊙ v` per row of `x [N, D]` with `v` of D values (an adaLN gate or a norm's weight).
    public func multiplyRows(_ a: Variable, _ v: Variable) -> Variable {
        let x = value(a), w = value(v), d = w.count, n = x.count / d
        precondition(x.count % d == 0, "multiplyRows: \(x.shape) by \(w.shape)")
        var out = x
        for row in 0..<n { for c in 0..<d { out.storage[row * d + c] *= w.storage[c] } }
        return record(out, [a, v]) { g in
            var dx = g, dw = Tensor(zeros: w.shape)
            for row in 0..<n {
                for c in 0..<d {
                    dx.storage[row * d + c] = g.storage[row * d + c] * w.storage[c]
                    dw.storage[c] += g.storage[row * d + c] * x.storage[row * d + c]
                }
            }
            return [dx, dw]
        }
    }

    /// `x + v` per row of `x [N, D]` with `v` of D values.
    public func addRows(_ a: Variable, _ v: Variable) -> Variable {
        let x = value(a), b = value(v), d = b.count, n = x.count / d
        precondition(x.count % d == 0, "addRows: \(x.shape) plus \(b.shape)")
        var out = x
        for row in 0..<n { for c in 0..<d { out.storage[row * d + c] += b.storage[c] } }
        return record(out, [a, v]) { g in
            var db = Tensor(zeros: b.shape)
            for row in 0..<n { for c in 0..<d { db.storage[c] += g.storage[row * d + c] } }
            return [g, db]
        }
    }

    /// adaLN modulation `x·(1 + scale) + shift` per row, `shift` and `scale` of D values.
    public func modulate(_ a: Variable, shift: Variable, scale: Variable) -> Variable {
        let x = value(a), sh = value(shift), sc = value(scale), d = sh.count, n = x.count / d
        var out = x
        for row in 0..<n { for c in 0..<d { out.storage[row * d + c] = x.storage[row * d + c] * (1 + sc.storage[c]) + sh.storage[c] } }
        return record(out, [a, shift, scale]) { g in
            var dx = g, dShift = Tensor(zeros: sh.shape), dScale = Tensor(zeros: sc.shape)
            for row in 0..<n {
                for c in 0..<d {
                    let gv = g.storage[row * d + c]
                    dx.storage[row * d + c] = gv * (1 + sc.storage[c])
                    dShift.storage[c] += gv
                    dScale.storage[c] += gv * x.storage[row * d + c]
                }
            }
            return [dx, dShift, dScale]
        }
    }

    /// SiLU `x·σ(x)`.
    public func silu(_ a: Variable) -> Variable {
        let x = value(a)
        return record(Elementwise.silu(x), [a]) { g in
            var dx = g
            for i in 0..<x.count {
                let v = x.storage[i], s = 1 / (1 + exp(-v))
                dx.storage[i] = g.storage[i] * s * (1 + v * (1 - s))
            }
            return [dx]
        }
    }

    /// GELU, tanh form (the engine's), `x·σ(2u)` with `u = sqrt(2/π)(x + 0.044715x³)`.
    public func gelu(_ a: Variable) -> Variable {
        let x = value(a)
        return record(Elementwise.gelu(x), [a]) { g in
            let k: Float = (2 / Float.pi).squareRoot()
            var dx = g
            for i in 0..<x.count {
                let v = x.storage[i]
                let s = 1 / (1 + exp(-2 * k * (v + 0.044715 * v * v * v)))
                dx.storage[i] = g.storage[i] * (s + v * s * (1 - s) * 2 * k * (1 + 3 * 0.044715 * v * v))
            }
            return [dx]
        }
    }

    /// Mean squared difference of two values of equal size.  → a scalar `[1]`
    public func meanSquaredError(_ a: Variable, _ b: Variable) -> Variable {
        let x = value(a), y = value(b)
        precondition(x.count == y.count, "meanSquaredError: \(x.shape) and \(y.shape)")
        var total: Double = 0
        for i in 0..<x.count { let d = Double(x.storage[i] - y.storage[i]); total += d * d }
        let n = Float(x.count)
        return record(Tensor(shape: [1], storage: [Float(total / Double(n))]), [a, b]) { g in
            let scale = 2 * g.storage[0] / n
            var dx = x
            for i in 0..<x.count { dx.storage[i] = scale * (x.storage[i] - y.storage[i]) }
            return [dx, Elementwise.map(dx) { -$0 }.reshaped(y.shape)]
        }
    }

    /// Spacetime patches of a `[F, H, W, C]` latent (a permutation; its gradient is the inverse one).
    public func patchify(_ a: Variable, patch: (Int, Int, Int)) -> Variable {
        let x = value(a)
        return record(Spacetime.patchify(x, patch: patch), [a]) { g in [Spacetime.unpatchify(g, shape: x.shape, patch: patch)] }
    }

    /// The inverse of `patchify`.
    public func unpatchify(_ a: Variable, shape: [Int], patch: (Int, Int, Int)) -> Variable {
        let tokens = value(a)
        return record(Spacetime.unpatchify(tokens, shape: shape, patch: patch), [a]) { g in
            [Spacetime.patchify(g, patch: patch).reshaped(tokens.shape)]
        }
    }
}
