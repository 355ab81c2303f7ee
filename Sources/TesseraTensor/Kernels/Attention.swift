import Foundation

/// Multi-head attention, blocked with an online softmax: scores are made one (query block × key block)
/// tile at a time with `MicroKernel` products, folded into a running max, sum and output, so no `Tq × Tk`
/// matrix is ever stored. Work is split over (group, head, query block) across `Compute.threads`.
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
        // Units in contiguous runs, each run with one scratch buffer sized for the largest unit: the
        // factorized layout's temporal units are small (31 queries and keys at 5 s) and many (a head per
        // token of a frame), where an allocation per unit showed in the profile.
        let runs = min(units, max(1, Compute.threads) * 16), perRun = (units + runs - 1) / runs
        let largest = groups.reduce((queries: 0, keys: 0)) { (max($0.queries, min(queryBlock, $1.queries)), max($0.keys, $1.keys)) }
        let scratchCount = tileScratch(queries: largest.queries, keys: largest.keys, dh: dh)
        Compute.parallel((units + perRun - 1) / perRun) { run in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            for unit in (run * perRun)..<min(units, (run + 1) * perRun) {
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
                    queries: nq, keys: group.keys, dh: dh, scratch: scratch)
            }
        }
    }

    /// Floats of scratch `tile` needs for up to `queries` queries and `keys` keys of width `dh`.
    static func tileScratch(queries: Int, keys: Int, dh: Int) -> Int {
        let padded = (queries + MicroKernel.columns - 1) / MicroKernel.columns * MicroKernel.columns
        let groups = (dh + MicroKernel.rows - 1) / MicroKernel.rows, blockKeys = min(keyBlock, keys)
        return padded * dh + padded * blockKeys + groups * MicroKernel.rows * blockKeys + dh * padded + 5 * padded
    }

    /// One head, one block of queries against all keys of its group: the online-softmax loop, on
    /// `MicroKernel` panels of 16 queries.
    ///
    /// The queries are transposed and scaled once, into one `Qᵀ [Dh, 16]` panel per 16 queries (the last
    /// padded with zero queries). Per key block: the scores come out transposed, `Sᵀ = K·Qᵀ`, one `[bk, 16]`
    /// panel per 16 queries, reading the keys where they lie; the softmax's maxima, exponentials and sums run
    /// down each panel, 16 queries at a time, leaving `Pᵀ` in place of `Sᵀ`; the values are copied into
    /// panels of 6 head dimensions, `[bk, 6]`; and `Oᵀ += Vᵀ·Pᵀ` reads both panels front to back.
    /// `Oᵀ [Dh, nq']` is transposed back, divided by the sums, into `out`.
    static func tile(
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int, queries nq: Int, keys nk: Int, dh: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        guard nq > 0 else { return }
        if nk == 0 {
            for i in 0..<nq { (out + i * ldo).update(repeating: 0, count: dh) }
            return
        }
        // Scores in base 2: log2 e folded into the scale, so the softmax needs 2^x, not e^x.
        let scale = 1.442_695_04 / Float(dh).squareRoot()
        let width = MicroKernel.columns, group = MicroKernel.rows
        let strips = (nq + width - 1) / width, padded = strips * width, groups = (dh + group - 1) / group
        let blockKeys = min(keyBlock, nk)
        // Panels in `scratch` (`tileScratch` floats): Qᵀ, strip s, dim d at (s·Dh + d)·16; Sᵀ, strip s, key j
        // at (s·bk + j)·16; V, group g, key j at (g·bk + j)·6; Oᵀ [Dh, nq']; and per query: running max and
        // sum, this block's max, sum and rescaling factor.
        let queries = scratch
        let scores = queries + strips * dh * width
        let values = scores + strips * blockKeys * width
        let accumulator = values + groups * blockKeys * group
        let runningMax = accumulator + dh * padded, runningSum = runningMax + padded, top = runningSum + padded
        let blockSum = top + padded, factor = blockSum + padded
        // Query by query (each read once, front to back) into its column of its panel.
        queries.update(repeating: 0, count: strips * dh * width)
        for i in 0..<nq {
            let source = q + i &* ldq, column = queries + (i / width) &* dh &* width + i % width
            for d in 0..<dh { column[d &* width] = scale * source[d] }
        }
        var k0 = 0
        while k0 < nk {
            let bk = min(blockKeys, nk - k0)
            // Sᵀ = K·(scale·Qᵀ) for this key block (in units of log2), panel by panel.
            for strip in 0..<strips {
                MicroKernel.panel(
                    m: bk, depth: dh, a: k + k0 * ldk, blockStride: group * ldk, rowStride: ldk, innerStride: 1,
                    b: queries + strip * dh * width, ldb: width, c: scores + strip * bk * width, ldc: width, accumulate: false)
            }
            // The softmax down each panel: maxima, then 2^(s − max) in place and its sums.
            for strip in 0..<strips {
                softmaxDown(
                    scores + strip * bk * width, rows: bk, start: k0 == 0 ? nil : runningMax + strip * width,
                    max: top + strip * width, sum: blockSum + strip * width)
            }
            if k0 == 0 {
                runningSum.update(from: blockSum, count: padded)
            } else {
                for i in 0..<padded {
                    factor[i] = FastMath.exp2(runningMax[i] - top[i])
                    runningSum[i] = FastMath.multiplyAdd(runningSum[i], factor[i], blockSum[i])
                }
                for d in 0..<dh {
                    let row = accumulator + d * padded
                    for i in 0..<padded { row[i] *= factor[i] }
                }
            }
            runningMax.update(from: top, count: padded)
            // The values into panels of 6 dimensions (the last group may be narrower).
            for g in 0..<groups {
                let dims = min(group, dh - g * group)
                for j in 0..<bk {
                    let source = v + (k0 + j) * ldv + g * group, target = values + (g * bk + j) * group
                    if dims == 6 {  // a constant count: six moves, not a call to memmove
                        for r in 0..<6 { target[r] = source[r] }
                    } else {
                        for r in 0..<dims { target[r] = source[r] }
                    }
                }
            }
            // Oᵀ = Vᵀ·Pᵀ for the first key block, Oᵀ += Vᵀ·Pᵀ after.
            for strip in 0..<strips {
                MicroKernel.panel(
                    m: dh, depth: bk, a: values, blockStride: group * bk, rowStride: 1, innerStride: group,
                    b: scores + strip * bk * width, ldb: width, c: accumulator + strip * width, ldc: padded, accumulate: k0 > 0)
            }
            k0 += bk
        }
        for i in 0..<nq {
            let inverse = 1 / runningSum[i]
            let row = out + i &* ldo, column = UnsafePointer(accumulator + i)
            for d in 0..<dh { row[d] = column[d &* padded] * inverse }
        }
    }

    /// Down one `[rows, 16]` score panel: each column's max (with `start`'s when given) into `max`, the panel
    /// replaced by `2^(s − max)`, each column's sum into `sum`. The maxima and sums live in a local buffer
    /// while the panel is read (through the output pointers, which might alias the panel as far as the
    /// compiler knows, every step was a load and a store).
    @inline(__always)
    static func softmaxDown(
        _ panel: UnsafeMutablePointer<Float>, rows: Int, start: UnsafePointer<Float>?, max: UnsafeMutablePointer<Float>,
        sum: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { local in
            let t = local.baseAddress!, total = t + 16
            for c in 0..<16 { t[c] = start?[c] ?? panel[c] }
            for j in 0..<rows {
                let row = panel + j * 16
                for c in 0..<16 { t[c] = row[c] > t[c] ? row[c] : t[c] }
            }
            for c in 0..<16 { total[c] = 0 }
            for j in 0..<rows {
                let row = panel + j * 16
                for c in 0..<16 {
                    let e = FastMath.exp2(row[c] - t[c])
                    row[c] = e
                    total[c] += e
                }
            }
            max.update(from: t, count: 16)
            sum.update(from: total, count: 16)
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
