import Foundation
import TesseraTensor

/// Element-wise and shape operations with their gradients.
extension Tape {
    /// Calls `body(row, vector)` for each of `n` rows of width `d` of `x`, in place.
    static func rows(_ n: Int, _ d: Int, _ x: inout Tensor, _ v: Tensor, _ body: (UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void) {
        x.storage.withUnsafeMutableBufferPointer { xs in
            v.storage.withUnsafeBufferPointer { vs in
                for row in 0..<n { body(xs.baseAddress! + row * d, vs.baseAddress!) }
            }
        }
    }

    /// `Σ_rows g` (when `x` is nil) or `Σ_rows g ⊙ x`, for `n` rows of width `d`.  → `[d]`
    static func columnSums(_ n: Int, _ d: Int, _ g: Tensor, _ x: Tensor?) -> Tensor {
        var sums = [Float](repeating: 0, count: d)
        g.storage.withUnsafeBufferPointer { gs in
            sums.withUnsafeMutableBufferPointer { ss in
                if let x {
                    x.storage.withUnsafeBufferPointer { xs in
                        for row in 0..<n { for c in 0..<d { ss[c] += gs[row * d + c] * xs[row * d + c] } }
                    }
                } else {
                    for row in 0..<n { for c in 0..<d { ss[c] += gs[row * d + c] } }
                }
            }
        }
        return Tensor(shape: [d], storage: sums)
    }

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
        x.storage.withUnsafeBufferPointer { xs in
            out.storage.withUnsafeMutableBufferPointer { os in
                for row in 0..<n { (os.baseAddress! + row * count).update(from: xs.baseAddress! + row * c + start, count: count) }
            }
        }
        return record(out, [a]) { g in
            var dx = Tensor(zeros: [n, c])
            g.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    for row in 0..<n { (ds.baseAddress! + row * c + start).update(from: gs.baseAddress! + row * count, count: count) }
                }
            }
            return [dx.reshaped(x.shape)]
        }
    }

    /// `x ⊙ v` per row of `x [N, D]` with `v` of D values (an adaLN gate or a norm's weight).
    public func multiplyRows(_ a: Variable, _ v: Variable) -> Variable {
        let x = value(a), w = value(v), d = w.count, n = x.count / d
        precondition(x.count % d == 0, "multiplyRows: \(x.shape) by \(w.shape)")
        var out = x
        Self.rows(n, d, &out, w) { o, wp in for c in 0..<d { o[c] *= wp[c] } }
        return record(out, [a, v]) { g in
            var dx = g
            Self.rows(n, d, &dx, w) { o, wp in for c in 0..<d { o[c] *= wp[c] } }
            return [dx, Self.columnSums(n, d, g, x)]
        }
    }

    /// `x + v` per row of `x [N, D]` with `v` of D values.
    public func addRows(_ a: Variable, _ v: Variable) -> Variable {
        let x = value(a), b = value(v), d = b.count, n = x.count / d
        precondition(x.count % d == 0, "addRows: \(x.shape) plus \(b.shape)")
        var out = x
        Self.rows(n, d, &out, b) { o, bp in for c in 0..<d { o[c] += bp[c] } }
        return record(out, [a, v]) { g in [g, Self.columnSums(n, d, g, nil)] }
    }

    /// adaLN modulation `x·(1 + scale) + shift` per row, `shift` and `scale` of D values.
    public func modulate(_ a: Variable, shift: Variable, scale: Variable) -> Variable {
        let x = value(a), sh = value(shift), sc = value(scale), d = sh.count, n = x.count / d
        let onePlus = Tensor(shape: [d], storage: sc.storage.map { 1 + $0 })
        var out = x
        Self.rows(n, d, &out, onePlus) { o, mp in for c in 0..<d { o[c] *= mp[c] } }
        Self.rows(n, d, &out, sh) { o, bp in for c in 0..<d { o[c] += bp[c] } }
        return record(out, [a, shift, scale]) { g in
            var dx = g
            Self.rows(n, d, &dx, onePlus) { o, mp in for c in 0..<d { o[c] *= mp[c] } }
            return [dx, Self.columnSums(n, d, g, nil), Self.columnSums(n, d, g, x)]
        }
    }

    /// SiLU `x·σ(x)`.
    public func silu(_ a: Variable) -> Variable {
        let x = value(a)
        return record(Elementwise.silu(x), [a]) { g in
            var dx = g
            dx.storage.withUnsafeMutableBufferPointer { ds in
                x.storage.withUnsafeBufferPointer { xs in
                    for i in 0..<ds.count {
                        let v = xs[i], s = 1 / (1 + FastMath.exp(-v))
                        ds[i] *= s * (1 + v * (1 - s))
                    }
                }
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
            dx.storage.withUnsafeMutableBufferPointer { ds in
                x.storage.withUnsafeBufferPointer { xs in
                    for i in 0..<ds.count {
                        let v = xs[i]
                        let s = 1 / (1 + FastMath.exp(-2 * k * (v + 0.044715 * v * v * v)))
                        ds[i] *= s + v * s * (1 - s) * 2 * k * (1 + 3 * 0.044715 * v * v)
                    }
                }
            }
            return [dx]
        }
    }

    /// Mean squared difference of two values of equal size, each squared difference times its weight when
    /// `weights` are given.  → a scalar `[1]`
    public func meanSquaredError(_ a: Variable, _ b: Variable, weights: Tensor? = nil) -> Variable {
        let x = value(a), y = value(b)
        precondition(x.count == y.count, "meanSquaredError: \(x.shape) and \(y.shape)")
        // Weights, when given, are per leading position and shared by the `share` trailing elements of each
        // (one weight per latent cell for all its channels): the mean of w·(x − y)².
        let share = weights.map { x.count / max(1, $0.count) } ?? 1
        precondition(weights.map { $0.count * share == x.count } ?? true, "meanSquaredError: weights \(weights!.shape) do not divide \(x.shape)")
        func weight(_ i: Int) -> Float { weights.map { $0.storage[i / share] } ?? 1 }
        var total: Double = 0
        for i in 0..<x.count { let d = Double(x.storage[i] - y.storage[i]); total += Double(weight(i)) * d * d }
        let n = Float(x.count)
        return record(Tensor(shape: [1], storage: [Float(total / Double(n))]), [a, b]) { g in
            let scale = 2 * g.storage[0] / n
            var dx = x
            for i in 0..<x.count { dx.storage[i] = scale * weight(i) * (x.storage[i] - y.storage[i]) }
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

/// Operations for the VAE's latent: element-wise products and exponentials, and means.
extension Tape {
    /// `a ⊙ b` (same element count).
    public func multiply(_ a: Variable, _ b: Variable) -> Variable {
        let x = value(a), y = value(b)
        precondition(x.count == y.count, "multiply: \(x.shape) and \(y.shape)")
        var out = x
        for i in 0..<out.count { out.storage[i] *= y.storage[i] }
        return record(out, [a, b]) { g in
            var dx = g, dy = g
            for i in 0..<g.count {
                dx.storage[i] *= y.storage[i]
                dy.storage[i] *= x.storage[i]
            }
            return [dx.reshaped(x.shape), dy.reshaped(y.shape)]
        }
    }

    /// `exp(x · factor)`.
    public func exponential(_ a: Variable, scale factor: Float = 1) -> Variable {
        let out = Elementwise.map(value(a)) { Foundation.exp($0 * factor) }
        return record(out, [a]) { g in
            var dx = g
            for i in 0..<g.count { dx.storage[i] *= factor * out.storage[i] }
            return [dx]
        }
    }

    /// The mean of all elements.  → `[1]`
    public func mean(_ a: Variable) -> Variable {
        let x = value(a)
        var total: Double = 0
        for v in x.storage { total += Double(v) }
        let n = Float(x.count)
        return record(Tensor(shape: [1], storage: [Float(total / Double(n))]), [a]) { g in
            [Tensor(repeating: g.storage[0] / n, shape: x.shape)]
        }
    }
}
