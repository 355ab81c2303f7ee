import Foundation
import TesseraTensor

/// Which rows attend to which in a training attention: groups of query rows `q + i·stride` (`i < queries`)
/// see key rows `k + j·stride` (`j < keys`). Groups are disjoint, like the engine's layouts.
public struct AttentionGroup: Sendable, Equatable {
    public var q: Int, k: Int, stride: Int, queries: Int, keys: Int
    public init(q: Int, k: Int, stride: Int, queries: Int, keys: Int) {
        self.q = q
        self.k = k
        self.stride = stride
        self.queries = queries
        self.keys = keys
    }

    /// All queries against the first `keys` keys.
    public static func all(queries: Int, keys: Int) -> [AttentionGroup] {
        [AttentionGroup(q: 0, k: 0, stride: 1, queries: queries, keys: keys)]
    }

    /// Within each frame of a grid (the spatial half of the factorized layout).
    public static func spatial(_ grid: Attention.Grid) -> [AttentionGroup] {
        let plane = grid.height * grid.width
        return (0..<grid.frames).map { AttentionGroup(q: $0 * plane, k: $0 * plane, stride: 1, queries: plane, keys: plane) }
    }

    /// Across frames at each position (the temporal half).
    public static func temporal(_ grid: Attention.Grid) -> [AttentionGroup] {
        let plane = grid.height * grid.width
        return (0..<plane).map { AttentionGroup(q: $0, k: $0, stride: plane, queries: grid.frames, keys: grid.frames) }
    }
}

extension Tape {
    /// Multi-head attention `softmax(q·kᵀ/sqrt(Dh))·v` within groups, with the probabilities kept for the
    /// backward pass (training grids are small). Gradients per group and head, with `P` the probabilities:
    /// `dv = Pᵀ·do`, `dS = P ⊙ (do·vᵀ − rowsum(P ⊙ do·vᵀ))`, `dq = dS·k/sqrt(Dh)`, `dk = dSᵀ·q/sqrt(Dh)`.
    ///
    /// Each (group, head) is one unit of work on one thread: its rows are read and written in place through
    /// strided products (a group's rows are `stride` rows apart), the softmax runs in base 2 with the
    /// engine's vectorized `2^x` (log2 e folded into the score scale), and the backward adds into the
    /// gradients with `beta = 1` — groups are disjoint, so no two units touch the same rows of one head.
    public func attention(q qv: Variable, k kv: Variable, v vv: Variable, heads: Int, groups: [AttentionGroup]) -> Variable {
        let q = value(qv), k = value(kv), v = value(vv)
        let d = q.columns, dh = d / heads
        precondition(k.shape == v.shape && k.columns == d && d % heads == 0, "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let scale = 1 / Float(dh).squareRoot()
        let units = groups.count * heads
        // probabilities[unit] = P [queries, keys] of that group and head.
        nonisolated(unsafe) var probabilities = [[Float]](repeating: [], count: units)
        var out = Tensor(zeros: q.shape)
        q.storage.withUnsafeBufferPointer { qs in
            k.storage.withUnsafeBufferPointer { ks in
                v.storage.withUnsafeBufferPointer { vs in
                    out.storage.withUnsafeMutableBufferPointer { os in
                        let qp = qs.baseAddress!, kp = ks.baseAddress!, vp = vs.baseAddress!, op = os.baseAddress!
                        probabilities.withUnsafeMutableBufferPointer { ps in
                            let pp = ps.baseAddress!
                            Compute.parallel(units) { unit in
                                let group = groups[unit / heads], column = (unit % heads) * dh
                                let nq = group.queries, nk = group.keys, ld = group.stride * d
                                guard nq > 0, nk > 0 else { return }
                                let qRows = qp + group.q * d + column, kRows = kp + group.k * d + column, vRows = vp + group.k * d + column
                                (pp + unit).pointee = [Float](unsafeUninitializedCapacity: nq * nk) { p, initialized in
                                    let scores = p.baseAddress!
                                    // Scores in units of log2, so the softmax is 2^(s − max) / Σ.
                                    Linear.gemm(m: nq, n: nk, k: dh, a: qRows, lda: ld, transposeA: false, b: kRows, ldb: ld, transposeB: true,
                                                c: scores, ldc: nk, beta: 0, alpha: scale * 1.442_695_04)
                                    for i in 0..<nq {
                                        let row = scores + i * nk
                                        let total = FastMath.exp2ShiftedSum(row, count: nk, shift: FastMath.maximum(row, count: nk, start: -Float.infinity))
                                        FastMath.scale(row, count: nk, by: 1 / total)
                                    }
                                    Linear.gemm(m: nq, n: dh, k: nk, a: scores, lda: nk, transposeA: false, b: vRows, ldb: ld, transposeB: false,
                                                c: op + group.q * d + column, ldc: ld, beta: 0)
                                    initialized = nq * nk
                                }
                            }
                        }
                    }
                }
            }
        }
        let saved = probabilities
        return record(out, [qv, kv, vv]) { g in
            var dq = Tensor(zeros: q.shape), dk = Tensor(zeros: k.shape), dv = Tensor(zeros: v.shape)
            q.storage.withUnsafeBufferPointer { qs in
                k.storage.withUnsafeBufferPointer { ks in
                    v.storage.withUnsafeBufferPointer { vs in
                        g.storage.withUnsafeBufferPointer { gs in
                            dq.storage.withUnsafeMutableBufferPointer { dqs in
                                dk.storage.withUnsafeMutableBufferPointer { dks in
                                    dv.storage.withUnsafeMutableBufferPointer { dvs in
                                        let qp = qs.baseAddress!, kp = ks.baseAddress!, vp = vs.baseAddress!, gp = gs.baseAddress!
                                        let dqp = dqs.baseAddress!, dkp = dks.baseAddress!, dvp = dvs.baseAddress!
                                        Compute.parallel(units) { unit in
                                            let group = groups[unit / heads], column = (unit % heads) * dh
                                            let nq = group.queries, nk = group.keys, ld = group.stride * d
                                            guard nq > 0, nk > 0 else { return }
                                            let queryOffset = group.q * d + column, keyOffset = group.k * d + column
                                            let ds = UnsafeMutablePointer<Float>.allocate(capacity: nq * nk)  // [nq, nk]
                                            defer { ds.deallocate() }
                                            saved[unit].withUnsafeBufferPointer { pb in
                                                let p = pb.baseAddress!
                                                // dv += Pᵀ·do; dS = do·vᵀ, then P ⊙ (dS − rowsum(P ⊙ dS)).
                                                Linear.gemm(m: nk, n: dh, k: nq, a: p, lda: nk, transposeA: true, b: gp + queryOffset, ldb: ld,
                                                            transposeB: false, c: dvp + keyOffset, ldc: ld, beta: 1)
                                                Linear.gemm(m: nq, n: nk, k: dh, a: gp + queryOffset, lda: ld, transposeA: false, b: vp + keyOffset,
                                                            ldb: ld, transposeB: true, c: ds, ldc: nk, beta: 0)
                                                for i in 0..<nq {
                                                    let dsRow = ds + i * nk, pRow = p + i * nk
                                                    var dot: Float = 0
                                                    for j in 0..<nk { dot += dsRow[j] * pRow[j] }
                                                    for j in 0..<nk { dsRow[j] = pRow[j] * (dsRow[j] - dot) }
                                                }
                                            }
                                            // dq += dS·k/sqrt(Dh); dk += dSᵀ·q/sqrt(Dh).
                                            Linear.gemm(m: nq, n: dh, k: nk, a: ds, lda: nk, transposeA: false, b: kp + keyOffset, ldb: ld,
                                                        transposeB: false, c: dqp + queryOffset, ldc: ld, beta: 1, alpha: scale)
                                            Linear.gemm(m: nk, n: dh, k: nq, a: ds, lda: nk, transposeA: true, b: qp + queryOffset, ldb: ld,
                                                        transposeB: false, c: dkp + keyOffset, ldc: ld, beta: 1, alpha: scale)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [dq, dk, dv]
        }
    }
}
