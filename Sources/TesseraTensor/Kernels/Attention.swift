import Foundation

/// Multi-head attention, blocked with an online softmax: scores are made one (query block × key block)
/// tile at a time with `cblas_sgemm`, folded into a running max, sum and output, so no `Tq × Tk` matrix is
/// ever stored. Work is split over (group, head, query block) across `Compute.threads`.
public enum Attention {
    /// Which keys each query of a `frames × height × width` token grid sees in self-attention.
    public enum Layout: Sendable, Equatable {
        /// Every key.
        case full
        /// Keys of its own frame, then keys at its own position in every frame (spatial, then temporal).
        case factorized
        /// Keys of its own window of `frames × height × width` tokens (non-overlapping; edges may be smaller).
        case windowed(frames: Int, height: Int, width: Int)
    }

    /// A token grid: tokens are ordered by frame, then row, then column.
    public struct Grid: Sendable, Equatable {
        public var frames: Int, height: Int, width: Int
        public init(frames: Int, height: Int, width: Int) {
            self.frames = frames
            self.height = height
            self.width = width
        }
        public var count: Int { frames * height * width }
    }

    /// Query rows per tile and key rows per tile.
    static let queryBlock = 256
    static let keyBlock = 512

    /// `softmax(q·kᵀ/sqrt(Dh))·v` per head; `q [Tq, D]`, `k, v [Tk, D]`; keys at or past `keyLength` are
    /// masked (a padded caption).  → `[Tq, D]`
    public static func attend(q: Tensor, k: Tensor, v: Tensor, heads: Int, keyLength: Int? = nil) -> Tensor {
        var out = Tensor(uninitialized: [q.rows, q.columns])
        attend(q: q, k: k, v: v, heads: heads, keyLength: keyLength, into: &out)
        return out
    }

    /// `attend` into a preallocated `[Tq, D]` output.
    public static func attend(q: Tensor, k: Tensor, v: Tensor, heads: Int, keyLength: Int? = nil, into out: inout Tensor) {
        precondition(k.shape == v.shape && q.columns == k.columns && q.columns % heads == 0, "attention: q \(q.shape), k \(k.shape), v \(v.shape), heads \(heads)")
        precondition(out.rows == q.rows && out.columns == q.columns, "attention: output \(out.shape) for q \(q.shape)")
        let keys = min(k.rows, keyLength ?? k.rows), d = q.columns
        let groups = [Group(q: 0, k: 0, stride: 1, queries: q.rows, keys: keys)]
        withOperands(q, k, v, &out) { qp, kp, vp, op in
            run(Operands(q: qp, ldq: d, k: kp, ldk: d, v: vp, ldv: d, out: op, ldo: d, width: d), heads: heads, groups: groups)
        }
    }

    /// Self-attention over a token grid in the given layout.  → `[T, D]`
    public static func selfAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, grid: Grid, layout: Layout) -> Tensor {
        precondition(q.shape == k.shape && k.shape == v.shape && q.rank == 2, "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let d = q.columns
        var qkv = Tensor(uninitialized: [q.rows, 3 * d])
        qkv.storage.withUnsafeMutableBufferPointer { packed in
            for (part, source) in [q, k, v].enumerated() {
                source.storage.withUnsafeBufferPointer { s in
                    for row in 0..<q.rows {
                        (packed.baseAddress! + row * 3 * d + part * d).update(from: s.baseAddress! + row * d, count: d)
                    }
                }
            }
        }
        var out = Tensor(uninitialized: [q.rows, d]), scratch = Tensor(uninitialized: [q.rows, d])
        selfAttention(qkv: qkv, heads: heads, grid: grid, layout: layout, into: &out, scratch: &scratch)
        return out
    }

    /// Self-attention with queries, keys and values packed side by side in `qkv [T, 3D]` (the layout of a
    /// fused QKV projection), into a preallocated `out [T, D]`. The factorized layout needs a `[T, D]`
    /// intermediate: `scratch` when given (its contents are overwritten), else a new one.
    public static func selfAttention(qkv: Tensor, heads: Int, grid: Grid, layout: Layout, into out: inout Tensor, scratch: inout Tensor) {
        let d = qkv.columns / 3
        precondition(qkv.rank == 2 && qkv.columns == 3 * d && qkv.rows == grid.count && d % heads == 0,
                     "attention: qkv \(qkv.shape) for grid \(grid) and \(heads) heads")
        precondition(out.rows == grid.count && out.columns == d, "attention: output \(out.shape) for \(grid.count) tokens of width \(d)")
        switch layout {
        case .full:
            let groups = [Group(q: 0, k: 0, stride: 1, queries: grid.count, keys: grid.count)]
            withPacked(qkv, &out) { qp, op in
                run(Operands(q: qp, ldq: 3 * d, k: qp + d, ldk: 3 * d, v: qp + 2 * d, ldv: 3 * d, out: op, ldo: d, width: d), heads: heads, groups: groups)
            }
        case .factorized:
            // Spatial within each frame into a scratch buffer, then temporal at each position with that
            // buffer as the values.
            let plane = grid.height * grid.width
            let spatial = (0..<grid.frames).map { Group(q: $0 * plane, k: $0 * plane, stride: 1, queries: plane, keys: plane) }
            let temporal = (0..<plane).map { Group(q: $0, k: $0, stride: plane, queries: grid.frames, keys: grid.frames) }
            precondition(scratch.count == grid.count * d, "attention: scratch \(scratch.shape) for \(grid.count) tokens of width \(d)")
            withPacked(qkv, &scratch) { qp, sp in
                run(Operands(q: qp, ldq: 3 * d, k: qp + d, ldk: 3 * d, v: qp + 2 * d, ldv: 3 * d, out: sp, ldo: d, width: d), heads: heads, groups: spatial)
            }
            scratch.storage.withUnsafeBufferPointer { s in
                withPacked(qkv, &out) { qp, op in
                    run(Operands(q: qp, ldq: 3 * d, k: qp + d, ldk: 3 * d, v: s.baseAddress!, ldv: d, out: op, ldo: d, width: d), heads: heads, groups: temporal)
                }
            }
        case .windowed(let wt, let wh, let ww):
            windowed(qkv: qkv, heads: heads, grid: grid, window: (max(1, wt), max(1, wh), max(1, ww)), into: &out)
        }
    }

    /// Rows `base + i·stride` for `i < count` of q (and of k and v, with their own base).
    struct Group {
        var q: Int, k: Int, stride: Int, queries: Int, keys: Int
    }

    /// Where queries, keys, values and the output live: base pointers (column 0 of head 0) and row strides.
    struct Operands: @unchecked Sendable {
        var q: UnsafePointer<Float>, ldq: Int
        var k: UnsafePointer<Float>, ldk: Int
        var v: UnsafePointer<Float>, ldv: Int
        var out: UnsafeMutablePointer<Float>, ldo: Int
        /// D: the width of all heads together.
        var width: Int
    }

    static func withOperands(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ out: inout Tensor,
                             _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        q.storage.withUnsafeBufferPointer { qs in
            k.storage.withUnsafeBufferPointer { ks in
                v.storage.withUnsafeBufferPointer { vs in
                    out.storage.withUnsafeMutableBufferPointer { os in body(qs.baseAddress!, ks.baseAddress!, vs.baseAddress!, os.baseAddress!) }
                }
            }
        }
    }

    static func withPacked(_ qkv: Tensor, _ out: inout Tensor, _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        qkv.storage.withUnsafeBufferPointer { qs in
            out.storage.withUnsafeMutableBufferPointer { os in body(qs.baseAddress!, os.baseAddress!) }
        }
    }

    static func run(_ o: Operands, heads: Int, groups: [Group]) {
        let dh = o.width / heads
        let blocksPerGroup = groups.map { ($0.queries + queryBlock - 1) / queryBlock }
        var firstUnit: [Int] = []
        var units = 0
        for blocks in blocksPerGroup {
            firstUnit.append(units)
            units += blocks * heads
        }
        Compute.parallel(units) { unit in
            // Which group, head and query block this unit is.
            var low = 0, high = groups.count - 1  // last group whose first unit ≤ unit
            while low < high {
                let middle = (low + high + 1) / 2
                if firstUnit[middle] <= unit { low = middle } else { high = middle - 1 }
            }
            let g = low
            let local = unit - firstUnit[g]
            let head = local % heads, block = local / heads
            let group = groups[g]
            let q0 = block * queryBlock, nq = min(queryBlock, group.queries - q0)
            let firstQuery = group.q + q0 * group.stride
            tile(
                q: o.q + firstQuery * o.ldq + head * dh, ldq: group.stride * o.ldq,
                k: o.k + group.k * o.ldk + head * dh, ldk: group.stride * o.ldk,
                v: o.v + group.k * o.ldv + head * dh, ldv: group.stride * o.ldv,
                out: o.out + firstQuery * o.ldo + head * dh, ldo: group.stride * o.ldo,
                queries: nq, keys: group.keys, dh: dh)
        }
    }

    /// One head, one block of queries against all keys of its group: the online-softmax loop.
    static func tile(
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int, queries nq: Int, keys nk: Int, dh: Int
    ) {
        guard nq > 0 else { return }
        if nk == 0 {
            for i in 0..<nq { (out + i * ldo).update(repeating: 0, count: dh) }
            return
        }
        // Scores in base 2: log2 e folded into the scale, so the softmax needs 2^x, not e^x.
        let scale = 1.442_695_04 / Float(dh).squareRoot()
        let blockKeys = min(keyBlock, nk)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: nq * blockKeys)  // [nq, bk]
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: nq * dh)  // [nq, Dh]
        let runningMax = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        let runningSum = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        defer {
            scores.deallocate()
            accumulator.deallocate()
            runningMax.deallocate()
            runningSum.deallocate()
        }
        var k0 = 0
        while k0 < nk {
            let bk = min(blockKeys, nk - k0)
            // S = scale · Q·Kᵀ for this key block (in units of log2).
            Linear.gemm(
                m: nq, n: bk, k: dh, a: q, lda: ldq, transposeA: false, b: k + k0 * ldk, ldb: ldk, transposeB: true,
                c: scores, ldc: bk, beta: 0, alpha: scale)
            for i in 0..<nq {
                let row = scores + i * bk
                if k0 == 0 {
                    let top = FastMath.maximum(row, count: bk, start: -Float.infinity)
                    runningSum[i] = FastMath.exp2ShiftedSum(row, count: bk, shift: top)
                    runningMax[i] = top
                } else {
                    let top = FastMath.maximum(row, count: bk, start: runningMax[i])
                    let factor = exp2f(runningMax[i] - top)
                    runningSum[i] = runningSum[i] * factor + FastMath.exp2ShiftedSum(row, count: bk, shift: top)
                    runningMax[i] = top
                    if factor != 1 { FastMath.scale(accumulator + i * dh, count: dh, by: factor) }
                }
            }
            // O = P·V for the first key block, O += P·V after.
            Linear.gemm(
                m: nq, n: dh, k: bk, a: scores, lda: bk, transposeA: false, b: v + k0 * ldv, ldb: ldv, transposeB: false,
                c: accumulator, ldc: dh, beta: k0 == 0 ? 0 : 1)
            k0 += bk
        }
        for i in 0..<nq {
            FastMath.scale(accumulator + i * dh, count: dh, by: 1 / runningSum[i], into: out + i * ldo)
        }
    }

    /// Windowed attention: each window's tokens are gathered into contiguous rows, attended, scattered back.
    static func windowed(qkv: Tensor, heads: Int, grid: Grid, window: (Int, Int, Int), into out: inout Tensor) {
        let width = qkv.columns, d = width / 3
        var order: [Int] = []  // token indices, window after window
        var groups: [Group] = []
        for f0 in stride(from: 0, to: grid.frames, by: window.0) {
            for h0 in stride(from: 0, to: grid.height, by: window.1) {
                for w0 in stride(from: 0, to: grid.width, by: window.2) {
                    let start = order.count
                    for f in f0..<min(grid.frames, f0 + window.0) {
                        for h in h0..<min(grid.height, h0 + window.1) {
                            for w in w0..<min(grid.width, w0 + window.2) { order.append((f * grid.height + h) * grid.width + w) }
                        }
                    }
                    groups.append(Group(q: start, k: start, stride: 1, queries: order.count - start, keys: order.count - start))
                }
            }
        }
        // Gather in window order: windows become contiguous groups.
        var gathered = Tensor(uninitialized: qkv.shape)
        qkv.storage.withUnsafeBufferPointer { source in
            gathered.storage.withUnsafeMutableBufferPointer { target in
                for (to, from) in order.enumerated() {
                    (target.baseAddress! + to * width).update(from: source.baseAddress! + from * width, count: width)
                }
            }
        }
        var attended = Tensor(uninitialized: out.shape)
        withPacked(gathered, &attended) { qp, op in
            run(Operands(q: qp, ldq: width, k: qp + d, ldk: width, v: qp + 2 * d, ldv: width, out: op, ldo: d, width: d), heads: heads, groups: groups)
        }
        attended.storage.withUnsafeBufferPointer { source in
            out.storage.withUnsafeMutableBufferPointer { target in
                for (from, to) in order.enumerated() {
                    (target.baseAddress! + to * d).update(from: source.baseAddress! + from * d, count: d)
                }
            }
        }
    }
}
