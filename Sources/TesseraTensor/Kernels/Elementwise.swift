import Foundation

/// Row-wise and element-wise kernels. Each is a plain loop over rows, split across `Compute.threads` for
/// large inputs; the loops are simple enough that they serve as their own reference.
public enum Elementwise {
    /// Rows per parallel chunk: small inputs stay on one thread.
    static let rowsPerChunk = 256

    /// Calls `body(rowStart, rowEnd)` over `rows`, in parallel chunks.
    static func forRows(_ rows: Int, _ body: (Int, Int) -> Void) {
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        Compute.parallel(chunks) { chunk in
            body(chunk * rowsPerChunk, min(rows, (chunk + 1) * rowsPerChunk))
        }
    }

    /// Per row of `[N, D]`: `(x − mean)/sqrt(var + eps)`, then `·w + b` when given (biased variance).
    public static func layerNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-6) -> Tensor {
        var y = Tensor(uninitialized: x.shape)
        layerNorm(x, multiplier: weight?.storage, offset: bias?.storage, eps: eps, into: &y)
        return y
    }

    /// LayerNorm into a preallocated output, `x̂·multiplier + offset` (each optional, of width D): the
    /// norm's own affine, or adaLN's modulation folded in (multiplier `1 + scale`, offset `shift`).
    public static func layerNorm(_ x: Tensor, multiplier: [Float]?, offset: [Float]?, eps: Float = 1e-6, into y: inout Tensor) {
        let d = x.shape.last ?? 1, n = x.count / max(d, 1)
        precondition(y.count == x.count, "layerNorm: output \(y.shape) for \(x.shape)")
        precondition((multiplier?.count ?? d) == d && (offset?.count ?? d) == d, "layerNorm: affine of width \(multiplier?.count ?? offset?.count ?? 0) for rows of \(d)")
        let ones = multiplier == nil ? [Float](repeating: 1, count: d) : [], zeros = offset == nil ? [Float](repeating: 0, count: d) : []
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                (multiplier ?? ones).withUnsafeBufferPointer { ms in
                    (offset ?? zeros).withUnsafeBufferPointer { os in
                        let xp = xs.baseAddress!, yp = ys.baseAddress!, mp = ms.baseAddress!, op = os.baseAddress!
                        forRows(n) { start, end in
                            for row in start..<end {
                                let r = xp + row * d, o = yp + row * d
                                let mean = FastMath.sum(r, count: d) / Float(d)
                                let variance = FastMath.sumOfSquares(r, count: d, center: mean) / Float(d)
                                let inverse = 1 / (variance + eps).squareRoot()
                                for c in 0..<d { o[c] = (r[c] - mean) * inverse * mp[c] + op[c] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Per row of `[N, d]`: `x / sqrt(mean(x²) + eps) · w`.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
        var y = x
        rmsNorm(&y, weight: weight, eps: eps)
        return y
    }

    /// `rmsNorm` in place.
    public static func rmsNorm(_ x: inout Tensor, weight: Tensor, eps: Float = 1e-6) {
        let d = weight.count, n = x.count / d
        precondition(x.count % d == 0, "rmsNorm: \(x.shape) is not rows of \(d)")
        x.storage.withUnsafeMutableBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                let xp = xs.baseAddress!, wp = ws.baseAddress!
                forRows(n) { start, end in
                    for row in start..<end { normalizeRMS(xp + row * d, count: d, weight: wp, eps: eps) }
                }
            }
        }
    }

    /// One RMS-normalized vector in place: `v / sqrt(mean(v²) + eps) · w`.
    @inline(__always)
    static func normalizeRMS(_ v: UnsafeMutablePointer<Float>, count d: Int, weight: UnsafePointer<Float>, eps: Float) {
        let inverse = 1 / (FastMath.sumOfSquares(v, count: d) / Float(d) + eps).squareRoot()
        for c in 0..<d { v[c] = v[c] * inverse * weight[c] }
    }

    /// Applies `f` to every element.
    public static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var y = x
        y.storage.withUnsafeMutableBufferPointer { ys in
            let p = ys.baseAddress!
            forRows(ys.count) { start, end in
                for i in start..<end { p[i] = f(p[i]) }
            }
        }
        return y
    }

    /// Applies a SIMD8 function to every element, in parallel chunks.
    static func mapSIMD(_ x: Tensor, _ f: (SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        var y = x
        let chunk = 16_384
        y.storage.withUnsafeMutableBufferPointer { ys in
            let p = ys.baseAddress!, count = ys.count
            Compute.parallel((count + chunk - 1) / chunk) { c in
                FastMath.apply(p + c * chunk, count: min(chunk, count - c * chunk), f)
            }
        }
        return y
    }

    /// GELU, tanh form: `0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))`, computed as the identical
    /// `x·sigmoid(2u)` = `x / (1 + exp(−2u))` (one exponential, no tanh).
    public static func gelu(_ x: Tensor) -> Tensor {
        var y = x
        gelu(&y)
        return y
    }

    /// `gelu` in place.
    public static func gelu(_ x: inout Tensor) {
        x.storage.withUnsafeMutableBufferPointer { xs in gelu(xs.baseAddress!, count: xs.count) }
    }

    /// `gelu` in place on raw values, in parallel chunks (a scalar loop over the branch-free
    /// `FastMath.exp`, which LLVM vectorizes).
    public static func gelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let k: Float = 2 * (2 / Float.pi).squareRoot()
        let chunk = 16_384
        Compute.parallel((count + chunk - 1) / chunk) { c in
            let p = values + c * chunk
            for j in 0..<min(chunk, count - c * chunk) {
                let v = p[j]
                p[j] = v / (1 + FastMath.exp(-k * (v + 0.044715 * v * v * v)))
            }
        }
    }

    /// SiLU: `x·sigmoid(x)`.
    public static func silu(_ x: Tensor) -> Tensor {
        mapSIMD(x) { v in v / (1 + FastMath.exp(-v)) }
    }

    /// Softmax over the last dimension, max-subtracted.
    public static func softmax(_ x: Tensor) -> Tensor {
        let d = x.shape.last ?? 1, n = x.count / max(d, 1)
        var y = x
        y.storage.withUnsafeMutableBufferPointer { ys in
            let p = ys.baseAddress!
            forRows(n) { start, end in
                for row in start..<end {
                    let r = p + row * d
                    var top = -Float.infinity
                    for c in 0..<d { top = max(top, r[c]) }
                    var total: Float = 0
                    for c in 0..<d { r[c] = expf(r[c] - top); total += r[c] }
                    let inverse = 1 / total
                    for c in 0..<d { r[c] *= inverse }
                }
            }
        }
        return y
    }

    /// `x·(1 + scale) + shift` per row, with `shift` and `scale` of width D.
    public static func modulate(_ x: Tensor, shift: Tensor, scale: Tensor) -> Tensor {
        let d = shift.count, n = x.count / d
        var y = x
        y.storage.withUnsafeMutableBufferPointer { ys in
            shift.storage.withUnsafeBufferPointer { sh in
                scale.storage.withUnsafeBufferPointer { sc in
                    let p = ys.baseAddress!, shp = sh.baseAddress!, scp = sc.baseAddress!
                    forRows(n) { start, end in
                        for row in start..<end {
                            let r = p + row * d
                            for c in 0..<d { r[c] = r[c] * (1 + scp[c]) + shp[c] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `x + gate·y` per row (a residual with an adaLN gate of width D; no gate means 1).
    public static func addScaled(_ x: Tensor, _ y: Tensor, gate: Tensor? = nil) -> Tensor {
        precondition(x.count == y.count, "addScaled: \(x.shape) vs \(y.shape)")
        var out = x
        out.storage.withUnsafeMutableBufferPointer { os in
            y.storage.withUnsafeBufferPointer { ys in
                let op = os.baseAddress!, yp = ys.baseAddress!
                if let gate {
                    let d = gate.count
                    gate.storage.withUnsafeBufferPointer { gs in
                        let gp = gs.baseAddress!
                        forRows(os.count / d) { start, end in
                            for row in start..<end { for c in 0..<d { op[row * d + c] += gp[c] * yp[row * d + c] } }
                        }
                    }
                } else {
                    forRows(os.count) { start, end in for i in start..<end { op[i] += yp[i] } }
                }
            }
        }
        return out
    }

    /// The sinusoidal embedding of a diffusion time `t ∈ [0, 1]` (scaled by 1000), `[cos…, sin…]`.
    public static func timestepEmbedding(_ t: Float, width: Int = 256) -> Tensor {
        let half = width / 2
        var out = Tensor(zeros: [width])  // [256]
        for i in 0..<half {
            let frequency = exp(-log(10000.0) * Double(i) / Double(half))
            let angle = 1000 * Double(t) * frequency
            out.storage[i] = Float(cos(angle))
            out.storage[half + i] = Float(sin(angle))
        }
        return out
    }
}
