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
    public func attention(q qv: Variable, k kv: Variable, v vv: Variable, heads: Int, groups: [AttentionGroup]) -> Variable {
        let q = value(qv), k = value(kv), v = value(vv)
        let d = q.columns, dh = d / heads
        precondition(k.shape == v.shape && k.columns == d && d % heads == 0, "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let scale = 1 / Float(dh).squareRoot()
        let units = groups.count * heads
        // probabilities[unit] = P [queries, keys] of that group and head.
        nonisolated(unsafe) var probabilities = [[Float]](repeating: [], count: units)
        var out = Tensor(zeros: q.shape)
        func rows(_ start: Int, _ stride: Int, _ count: Int) -> [Int] { (0..<count).map { start + $0 * stride } }
        func gather(_ t: UnsafePointer<Float>, _ rows: [Int], _ head: Int) -> [Float] {
            var m = [Float](repeating: 0, count: rows.count * dh)
            for (i, r) in rows.enumerated() { for c in 0..<dh { m[i * dh + c] = t[r * d + head * dh + c] } }
            return m
        }
        q.storage.withUnsafeBufferPointer { qs in
            k.storage.withUnsafeBufferPointer { ks in
                v.storage.withUnsafeBufferPointer { vs in
                    out.storage.withUnsafeMutableBufferPointer { os in
                        let qp = qs.baseAddress!, kp = ks.baseAddress!, vp = vs.baseAddress!, op = os.baseAddress!
                        probabilities.withUnsafeMutableBufferPointer { ps in
                            let pp = ps.baseAddress!
                            Compute.parallel(units) { unit in
                                let group = groups[unit / heads], head = unit % heads
                                let nq = group.queries, nk = group.keys
                                guard nq > 0, nk > 0 else { return }
                                let qRows = rows(group.q, group.stride, nq), kRows = rows(group.k, group.stride, nk)
                                let qg = gather(qp, qRows, head), kg = gather(kp, kRows, head), vg = gather(vp, kRows, head)
                                var p = [Float](repeating: 0, count: nq * nk)
                                serialProduct(m: nq, n: nk, k: dh, a: qg, lda: dh, transposeA: false, b: kg, ldb: dh, transposeB: true, c: &p, ldc: nk, alpha: scale)
                                for i in 0..<nq {
                                    var top = -Float.infinity
                                    for j in 0..<nk { top = max(top, p[i * nk + j]) }
                                    var total: Float = 0
                                    for j in 0..<nk { p[i * nk + j] = exp(p[i * nk + j] - top); total += p[i * nk + j] }
                                    for j in 0..<nk { p[i * nk + j] /= total }
                                }
                                var o = [Float](repeating: 0, count: nq * dh)
                                serialProduct(m: nq, n: dh, k: nk, a: p, lda: nk, transposeA: false, b: vg, ldb: dh, transposeB: false, c: &o, ldc: dh)
                                for (i, r) in qRows.enumerated() { for c in 0..<dh { op[r * d + head * dh + c] = o[i * dh + c] } }
                                (pp + unit).pointee = p
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
                                            let group = groups[unit / heads], head = unit % heads
                                            let nq = group.queries, nk = group.keys
                                            guard nq > 0, nk > 0 else { return }
                                            let qRows = rows(group.q, group.stride, nq), kRows = rows(group.k, group.stride, nk)
                                            let qg = gather(qp, qRows, head), kg = gather(kp, kRows, head), vg = gather(vp, kRows, head)
                                            let og = gather(gp, qRows, head)
                                            let p = saved[unit]
                                            var dvg = [Float](repeating: 0, count: nk * dh)
                                            serialProduct(m: nk, n: dh, k: nq, a: p, lda: nk, transposeA: true, b: og, ldb: dh, transposeB: false, c: &dvg, ldc: dh)
                                            var ds = [Float](repeating: 0, count: nq * nk)
                                            serialProduct(m: nq, n: nk, k: dh, a: og, lda: dh, transposeA: false, b: vg, ldb: dh, transposeB: true, c: &ds, ldc: nk)
                                            for i in 0..<nq {
                                                var dot: Float = 0
                                                for j in 0..<nk { dot += ds[i * nk + j] * p[i * nk + j] }
                                                for j in 0..<nk { ds[i * nk + j] = p[i * nk + j] * (ds[i * nk + j] - dot) }
                                            }
                                            var dqg = [Float](repeating: 0, count: nq * dh), dkg = [Float](repeating: 0, count: nk * dh)
                                            serialProduct(m: nq, n: dh, k: nk, a: ds, lda: nk, transposeA: false, b: kg, ldb: dh, transposeB: false, c: &dqg, ldc: dh, alpha: scale)
                                            serialProduct(m: nk, n: dh, k: nq, a: ds, lda: nk, transposeA: true, b: qg, ldb: dh, transposeB: false, c: &dkg, ldc: dh, alpha: scale)
                                            for (i, r) in qRows.enumerated() { for c in 0..<dh { dqp[r * d + head * dh + c] += dqg[i * dh + c] } }
                                            for (j, r) in kRows.enumerated() {
                                                for c in 0..<dh {
                                                    dkp[r * d + head * dh + c] += dkg[j * dh + c]
                                                    dvp[r * d + head * dh + c] += dvg[j * dh + c]
                                                }
                                            }
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

/// One single-threaded matrix product on arrays (inside a parallel loop, where the engine's threaded
/// products must not be nested).
func serialProduct(
    m: Int, n: Int, k: Int, a: [Float], lda: Int, transposeA: Bool, b: [Float], ldb: Int, transposeB: Bool, c: inout [Float], ldc: Int,
    alpha: Float = 1
) {
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                Linear.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, transposeA: transposeA, b: bp.baseAddress!, ldb: ldb,
                            transposeB: transposeB, c: cp.baseAddress!, ldc: ldc, beta: 0, alpha: alpha)
            }
        }
    }
}
