import Foundation

/// Plain, obviously-correct versions of the optimised kernels, computed in Double. Tests use them as the
/// oracle; nothing in the engine calls them.
public enum ReferenceKernels {
    /// `x [N, I] · wᵀ + b` with a triple loop.
    public static func linear(_ x: Tensor, weight w: Tensor, bias b: Tensor?) -> Tensor {
        let n = x.rows, i = w.shape[1], o = w.shape[0]
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [o])
        for row in 0..<n {
            for out in 0..<o {
                var sum = Double(b?.storage[out] ?? 0)
                for p in 0..<i { sum += Double(x.storage[row * i + p]) * Double(w.storage[out * i + p]) }
                y.storage[row * o + out] = Float(sum)
            }
        }
        return y
    }

    /// Attention with the whole score matrix materialised, per head, with an optional mask of allowed
    /// (query, key) pairs and a key-length limit.
    public static func attention(
        q: Tensor, k: Tensor, v: Tensor, heads: Int, keyLength: Int? = nil, allowed: ((Int, Int) -> Bool)? = nil
    ) -> Tensor {
        let tq = q.rows, tk = k.rows, d = q.columns, dh = d / heads
        let scale = 1 / Double(dh).squareRoot()
        var out = Tensor(zeros: [tq, d])
        for h in 0..<heads {
            for i in 0..<tq {
                var scores = [Double](repeating: -Double.infinity, count: tk)
                for j in 0..<min(tk, keyLength ?? tk) where allowed?(i, j) ?? true {
                    var dot = 0.0
                    for c in 0..<dh { dot += Double(q.storage[i * d + h * dh + c]) * Double(k.storage[j * d + h * dh + c]) }
                    scores[j] = dot * scale
                }
                let top = scores.max() ?? 0
                let weights = scores.map { $0 == -Double.infinity ? 0 : exp($0 - top) }
                let total = weights.reduce(0, +)
                for c in 0..<dh {
                    var sum = 0.0
                    for j in 0..<tk where weights[j] != 0 { sum += weights[j] * Double(v.storage[j * d + h * dh + c]) }
                    out.storage[i * d + h * dh + c] = Float(total > 0 ? sum / total : 0)
                }
            }
        }
        return out
    }
}

extension ReferenceKernels {
    /// Causal 3D convolution by direct summation (first-frame replication in time, zero padding in space).
    public static func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int, Int) = (1, 1, 1)) -> Tensor {
        let (f, h, w, ci) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        let fo = (f - 1) / stride.0 + 1, ho = (h + stride.1 - 1) / stride.1, wo = (w + stride.2 - 1) / stride.2
        var out = Tensor(zeros: [fo, ho, wo, co])
        for of in 0..<fo {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    for o in 0..<co {
                        var sum = Double(bias?.storage[o] ?? 0)
                        for t in 0..<kt {
                            let sf = max(0, of * stride.0 + t - (kt - 1))  // padded frames are copies of frame 0
                            for y in 0..<kh {
                                let sy = oy * stride.1 + y - kh / 2
                                guard sy >= 0 && sy < h else { continue }
                                for xw in 0..<kw {
                                    let sx = ox * stride.2 + xw - kw / 2
                                    guard sx >= 0 && sx < w else { continue }
                                    for c in 0..<ci {
                                        sum += Double(x[sf, sy, sx, c]) * Double(weight[o, c, t, y, xw])
                                    }
                                }
                            }
                        }
                        out[of, oy, ox, o] = Float(sum)
                    }
                }
            }
        }
        return out
    }
}
