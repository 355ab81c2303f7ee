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
    static let queryBlock = 128
    static let keyBlock = 512

    /// `softmax(q·kᵀ/sqrt(Dh))·v` per head; `q [Tq, D]`, `k, v [Tk, D]`; keys at or past `keyLength` are
    /// masked (a padded caption).  → `[Tq, D]`
    public static func attend(q: Tensor, k: Tensor, v: Tensor, heads: Int, keyLength: Int? = nil) -> Tensor {
        precondition(k.shape == v.shape && q.columns == k.columns && q.columns % heads == 0, "attention: q \(q.shape), k \(k.shape), v \(v.shape), heads \(heads)")
        let keys = min(k.rows, keyLength ?? k.rows)
        return run(q: q, k: k, v: v, heads: heads, groups: [Group(q: 0, k: 0, stride: 1, queries: q.rows, keys: keys)])
    }

    /// Self-attention over a token grid in the given layout.  → `[T, D]`
    public static func selfAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, grid: Grid, layout: Layout) -> Tensor {
        precondition(q.rows == grid.count && k.rows == grid.count, "attention: \(q.rows) tokens for grid \(grid)")
        switch layout {
        case .full:
            return attend(q: q, k: k, v: v, heads: heads)
        case .factorized:
            let plane = grid.height * grid.width
            let spatial = (0..<grid.frames).map { Group(q: $0 * plane, k: $0 * plane, stride: 1, queries: plane, keys: plane) }
            let o1 = run(q: q, k: k, v: v, heads: heads, groups: spatial)
            let temporal = (0..<plane).map { Group(q: $0, k: $0, stride: plane, queries: grid.frames, keys: grid.frames) }
            return run(q: q, k: k, v: o1, heads: heads, groups: temporal)
        case .windowed(let wt, let wh, let ww):
            return windowed(q: q, k: k, v: v, heads: heads, grid: grid, window: (max(1, wt), max(1, wh), max(1, ww)))
        }
    }

    /// Rows `base + i·stride` for `i < count` of q (and of k and v, with their own base).
    struct Group {
        var q: Int, k: Int, stride: Int, queries: Int, keys: Int
    }

    static func run(q: Tensor, k: Tensor, v: Tensor, heads: Int, groups: [Group]) -> Tensor {
        let d = q.columns, dh = d / heads
        var out = Tensor(zeros: [q.rows, d])  // [Tq, D]
        let blocksPerGroup = groups.map { ($0.queries + queryBlock - 1) / queryBlock }
        var firstUnit: [Int] = []
        var units = 0
        for blocks in blocksPerGroup {
            firstUnit.append(units)
            units += blocks * heads
        }
        q.storage.withUnsafeBufferPointer { qs in
            k.storage.withUnsafeBufferPointer { ks in
                v.storage.withUnsafeBufferPointer { vs in
                    out.storage.withUnsafeMutableBufferPointer { os in
                        let qp = qs.baseAddress!, kp = ks.baseAddress!, vp = vs.baseAddress!, op = os.baseAddress!
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
                            let ld = group.stride * d
                            tile(
                                q: qp + (group.q + q0 * group.stride) * d + head * dh, k: kp + group.k * d + head * dh,
                                v: vp + group.k * d + head * dh, out: op + (group.q + q0 * group.stride) * d + head * dh,
                                ld: ld, queries: nq, keys: group.keys, dh: dh)
                        }
                    }
                }
            }
        }
        return out
    }

    /// One head, one block of queries against all keys of its group: the online-softmax loop.
    static func tile(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        ld: Int, queries nq: Int, keys nk: Int, dh: Int
    ) {
        guard nq > 0 else { return }
        if nk == 0 {
            for i in 0..<nq { for c in 0..<dh { out[i * ld + c] = 0 } }
            return
        }
        let scale = 1 / Float(dh).squareRoot()
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: nq * keyBlock)  // [nq, bk]
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: nq * dh)  // [nq, Dh]
        let runningMax = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        let runningSum = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        defer {
            scores.deallocate()
            accumulator.deallocate()
            runningMax.deallocate()
            runningSum.deallocate()
        }
        accumulator.initialize(repeating: 0, count: nq * dh)
        runningMax.initialize(repeating: -Float.infinity, count: nq)
        runningSum.initialize(repeating: 0, count: nq)
        var k0 = 0
        while k0 < nk {
            let bk = min(keyBlock, nk - k0)
            // S = scale · Q·Kᵀ for this key block.
            Linear.gemm(
                m: nq, n: bk, k: dh, a: q, lda: ld, transposeA: false, b: k + k0 * ld, ldb: ld, transposeB: true,
                c: scores, ldc: bk, beta: 0, alpha: scale)
            for i in 0..<nq {
                let row = scores + i * bk
                let top = FastMath.maximum(row, count: bk, start: runningMax[i])
                let factor = runningMax[i] == -Float.infinity ? 0 : expf(runningMax[i] - top)
                let sum = FastMath.expShiftedSum(row, count: bk, shift: top)
                runningSum[i] = runningSum[i] * factor + sum
                runningMax[i] = top
                if factor != 1 { for c in 0..<dh { accumulator[i * dh + c] *= factor } }
            }
            // O += P·V for this key block.
            Linear.gemm(
                m: nq, n: dh, k: bk, a: scores, lda: bk, transposeA: false, b: v + k0 * ld, ldb: ld, transposeB: false,
                c: accumulator, ldc: dh, beta: 1)
            k0 += bk
        }
        for i in 0..<nq {
            let inverse = 1 / runningSum[i]
            for c in 0..<dh { out[i * ld + c] = accumulator[i * dh + c] * inverse }
        }
    }

    /// Windowed attention: each window's tokens are gathered into contiguous rows, attended, scattered back.
    static func windowed(q: Tensor, k: Tensor, v: Tensor, heads: Int, grid: Grid, window: (Int, Int, Int)) -> Tensor {
        let d = q.columns
        var windows: [[Int]] = []  // token indices of each window
        for f0 in stride(from: 0, to: grid.frames, by: window.0) {
            for h0 in stride(from: 0, to: grid.height, by: window.1) {
                for w0 in stride(from: 0, to: grid.width, by: window.2) {
                    var members: [Int] = []
                    for f in f0..<min(grid.frames, f0 + window.0) {
                        for h in h0..<min(grid.height, h0 + window.1) {
                            for w in w0..<min(grid.width, w0 + window.2) { members.append((f * grid.height + h) * grid.width + w) }
                        }
                    }
                    windows.append(members)
                }
            }
        }
        // Gather in window order: windows become contiguous groups.
        let order = windows.flatMap { $0 }
        func gather(_ x: Tensor) -> Tensor {
            var y = Tensor(zeros: x.shape)
            for (to, from) in order.enumerated() {
                for c in 0..<d { y.storage[to * d + c] = x.storage[from * d + c] }
            }
            return y
        }
        var groups: [Group] = []
        var start = 0
        for members in windows {
            groups.append(Group(q: start, k: start, stride: 1, queries: members.count, keys: members.count))
            start += members.count
        }
        let gathered = run(q: gather(q), k: gather(k), v: gather(v), heads: heads, groups: groups)
        var out = Tensor(zeros: q.shape)
        for (from, to) in order.enumerated() {
            for c in 0..<d { out.storage[to * d + c] = gathered.storage[from * d + c] }
        }
        return out
    }
}
