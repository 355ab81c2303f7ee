import Foundation

/// Kernels over spacetime grids: patches, rotary positions and resampling of channels-last latents
/// `[F, H, W, C]`.
public enum Spacetime {
    /// Cuts a latent `[F, H, W, C]` into patches `(pt, ph, pw)`.  → `[T, P]`, tokens in (frame, row, column)
    /// order, each patch vector in (dt, dh, dw, c) order.
    public static func patchify(_ x: Tensor, patch: (Int, Int, Int)) -> Tensor {
        let (f, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(f % patch.0 == 0 && h % patch.1 == 0 && w % patch.2 == 0, "patchify: latent \(x.shape) is not divisible by patch \(patch)")
        let tokens = (f / patch.0) * (h / patch.1) * (w / patch.2)
        var out = Tensor(zeros: [tokens, patch.0 * patch.1 * patch.2 * c])  // [T, P]
        movePatches(latentShape: x.shape, patch: patch) { latent, token, count in
            out.storage[token..<(token + count)] = x.storage[latent..<(latent + count)]
        }
        return out
    }

    /// The inverse of `patchify`: tokens `[T, P]` back to a latent `[F, H, W, C]`.
    public static func unpatchify(_ tokens: Tensor, shape: [Int], patch: (Int, Int, Int)) -> Tensor {
        let count = (shape[0] / patch.0) * (shape[1] / patch.1) * (shape[2] / patch.2)
        precondition(tokens.shape == [count, patch.0 * patch.1 * patch.2 * shape[3]], "unpatchify: tokens \(tokens.shape) for latent \(shape)")
        var out = Tensor(zeros: shape)  // [F, H, W, C]
        movePatches(latentShape: shape, patch: patch) { latent, token, count in
            out.storage[latent..<(latent + count)] = tokens.storage[token..<(token + count)]
        }
        return out
    }

    /// Visits every contiguous run shared by a latent and its patch tokens: `move(latentOffset,
    /// tokenOffset, count)`, one patch row (`pw·C` values) at a time.
    static func movePatches(latentShape shape: [Int], patch: (Int, Int, Int), _ move: (Int, Int, Int) -> Void) {
        let (f, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (pt, ph, pw) = patch
        let run = pw * c
        var tokenOffset = 0
        for a in 0..<(f / pt) {
            for b in 0..<(h / ph) {
                for d in 0..<(w / pw) {
                    for dt in 0..<pt {
                        for dy in 0..<ph {
                            move((((a * pt + dt) * h + b * ph + dy) * w + d * pw) * c, tokenOffset, run)
                            tokenOffset += run
                        }
                    }
                }
            }
        }
    }

    /// Lowest and highest frequency of `framePositions`, in cycles per frame height or width.
    public static let framePositionCycles: (low: Double, high: Double) = (0.25, 4)

    /// Fixed sinusoidal features of where each token sits in its frame.  → `[T, width]`, the same for every frame.
    ///
    /// A token at row `i` of `height` and column `j` of `width` is at fractions `y = (i + 0.5)/height` and
    /// `x = (j + 0.5)/width` of the frame, so a prototype grid and its full grid, portrait or landscape, give the
    /// same features to the same place ("top right" is one place in every grid). The first half of the columns
    /// encode `y`, the second `x`, each as `width/4` (sin, cos) pairs of `2π·f_k·(fraction − ½)` with
    /// frequencies `f_k` spaced geometrically over `framePositionCycles`; up to 4 cycles a frame stays under the
    /// Nyquist limit of the shortest prototype side (9 tokens). Rotary positions are relative only, so without
    /// these a translation-equivariant network cannot tell the top of the frame from its middle.
    public static func framePositions(grid: Attention.Grid, width: Int) -> Tensor {
        precondition(width % 4 == 0 && width >= 8, "framePositions: width \(width) must be a multiple of 4, at least 8")
        let pairs = width / 4
        let (low, high) = framePositionCycles
        let frequencies = (0..<pairs).map { low * pow(high / low, Double($0) / Double(pairs - 1)) }
        func features(_ fraction: Double) -> [Float] {
            var out = [Float](repeating: 0, count: 2 * pairs)
            for (k, f) in frequencies.enumerated() {
                let angle = 2 * Double.pi * f * (fraction - 0.5)
                out[2 * k] = Float(sin(angle))
                out[2 * k + 1] = Float(cos(angle))
            }
            return out
        }
        let rows = (0..<grid.height).map { features((Double($0) + 0.5) / Double(grid.height)) }
        let columns = (0..<grid.width).map { features((Double($0) + 0.5) / Double(grid.width)) }
        var table = Tensor(zeros: [grid.count, width])
        var offset = 0
        for _ in 0..<grid.frames {
            for i in 0..<grid.height {
                for j in 0..<grid.width {
                    table.storage.replaceSubrange(offset..<(offset + width / 2), with: rows[i])
                    table.storage.replaceSubrange((offset + width / 2)..<(offset + width), with: columns[j])
                    offset += width
                }
            }
        }
        return table
    }

    /// Cosines and sines of the 3D rotary embedding for a token grid.  → two `[T, Dh/2]` tables.
    ///
    /// Positions are normalized so a prototype grid and its full grid share coordinates: `p_t = f`,
    /// `p_h = (i + 0.5)·S/m`, `p_w = (j + 0.5)·S/m` with `m = min(height, width)`.
    public static func ropeTables(grid: Attention.Grid, dims: (Int, Int, Int), referenceTokens: Double) -> (cos: Tensor, sin: Tensor) {
        let half = (dims.0 + dims.1 + dims.2) / 2
        var cosTable = Tensor(zeros: [grid.count, half])  // [T, Dh/2]
        var sinTable = Tensor(zeros: [grid.count, half])
        let unit = referenceTokens / Double(min(grid.height, grid.width))
        var token = 0
        for f in 0..<grid.frames {
            for i in 0..<grid.height {
                for j in 0..<grid.width {
                    let positions = [Double(f), (Double(i) + 0.5) * unit, (Double(j) + 0.5) * unit]
                    var column = 0
                    for (axis, width) in [dims.0, dims.1, dims.2].enumerated() {
                        for pair in 0..<(width / 2) {
                            let angle = positions[axis] * pow(10000, -2 * Double(pair) / Double(width))
                            cosTable.storage[token * half + column] = Float(cos(angle))
                            sinTable.storage[token * half + column] = Float(sin(angle))
                            column += 1
                        }
                    }
                    token += 1
                }
            }
        }
        return (cosTable, sinTable)
    }

    /// Rotates adjacent pairs of every head of `x [T, Nh·Dh]` by the tables.
    public static func applyRope(_ x: Tensor, heads: Int, cos: Tensor, sin: Tensor) -> Tensor {
        let d = x.columns, dh = d / heads, half = dh / 2
        precondition(cos.shape == [x.rows, half], "rope: tables \(cos.shape) for \(x.shape) with \(heads) heads")
        var y = x
        y.storage.withUnsafeMutableBufferPointer { ys in
            cos.storage.withUnsafeBufferPointer { cs in
                sin.storage.withUnsafeBufferPointer { ss in
                    let yp = ys.baseAddress!, cp = cs.baseAddress!, sp = ss.baseAddress!
                    Elementwise.forRows(x.rows) { start, end in
                        for t in start..<end {
                            for h in 0..<heads {
                                let base = yp + t * d + h * dh
                                for i in 0..<half {
                                    let c = cp[t * half + i], s = sp[t * half + i]
                                    let x0 = base[2 * i], x1 = base[2 * i + 1]
                                    base[2 * i] = x0 * c - x1 * s
                                    base[2 * i + 1] = x0 * s + x1 * c
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// QK-norm and RoPE in one pass, in place: for each token and head of the `d` columns starting at
    /// `offset` of `x [T, W]` (the query or key part of a fused QKV projection), RMS-normalize the head's
    /// `Dh` values with `weight [Dh]`, then rotate them as `applyRope` does.
    public static func normalizeAndRotate(
        _ x: inout Tensor, columns offset: Int, width d: Int, heads: Int, weight: Tensor, cos: Tensor, sin: Tensor, eps: Float = 1e-6
    ) {
        let w = x.columns, rows = x.rows, dh = d / heads, half = dh / 2
        precondition(offset + d <= w && d % heads == 0 && weight.count == dh && cos.shape == [rows, half] && sin.shape == cos.shape,
                     "normalizeAndRotate: \(x.shape), columns \(offset)+\(d), \(heads) heads, weight \(weight.shape), tables \(cos.shape)")
        x.storage.withUnsafeMutableBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                cos.storage.withUnsafeBufferPointer { cs in
                    sin.storage.withUnsafeBufferPointer { ss in
                        let xp = xs.baseAddress!, wp = ws.baseAddress!, cp = cs.baseAddress!, sp = ss.baseAddress!
                        Elementwise.forRows(rows) { start, end in
                            for t in start..<end {
                                let ct = cp + t * half, st = sp + t * half
                                for h in 0..<heads {
                                    let base = xp + t * w + offset + h * dh
                                    Elementwise.normalizeRMS(base, count: dh, weight: wp, eps: eps)
                                    for i in 0..<half {
                                        let x0 = base[2 * i], x1 = base[2 * i + 1]
                                        base[2 * i] = x0 * ct[i] - x1 * st[i]
                                        base[2 * i + 1] = x0 * st[i] + x1 * ct[i]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Trilinear resampling of `[F, H, W, C]` to `[F', H', W', C]` with half-pixel centres, clamped at
    /// the edges; done one axis at a time.
    public static func upsample(_ x: Tensor, to size: (Int, Int, Int)) -> Tensor {
        var y = x
        y = resample(y, axis: 0, to: size.0)
        y = resample(y, axis: 1, to: size.1)
        y = resample(y, axis: 2, to: size.2)
        return y
    }

    /// Linear interpolation along one axis of a channels-last rank-4 tensor.
    static func resample(_ x: Tensor, axis: Int, to length: Int) -> Tensor {
        let input = x.shape[axis]
        if input == length { return x }
        var shape = x.shape
        shape[axis] = length
        let outer = x.shape[0..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        var y = Tensor(zeros: shape)
        for o in 0..<length {
            var source = (Double(o) + 0.5) * Double(input) / Double(length) - 0.5
            source = min(max(source, 0), Double(input - 1))
            let i0 = Int(source.rounded(.down)), i1 = min(i0 + 1, input - 1)
            let weight = Float(source - Double(i0))
            for a in 0..<outer {
                let from0 = (a * input + i0) * inner, from1 = (a * input + i1) * inner, to = (a * length + o) * inner
                for i in 0..<inner {
                    y.storage[to + i] = x.storage[from0 + i] * (1 - weight) + x.storage[from1 + i] * weight
                }
            }
        }
        return y
    }
}
