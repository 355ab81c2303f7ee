/// Vectorized exponential for the attention softmax, where one `expf` per score would cost more than the
/// matrix products around it.
///
/// `exp(x) = 2ⁿ·exp(r)` with `n = round(x·log2 e)` and `r = x − n·ln 2` (ln 2 split in two parts so `r`
/// is exact), `exp(r)` by a degree-6 Taylor–Horner polynomial on `|r| ≤ ln2/2`; relative error below
/// 3e-7, about 2.5 float32 ulps (tested against `exp` in Double). Inputs below −87 give 0, as softmax needs.
public enum FastMath {
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.3))
        let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
        // r = x − n·ln2, with ln2 = 0.693359375 − 2.12194440e-4 so the first product is exact.
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2ⁿ through the exponent bits.
        let bits = (SIMD8<Int32>(n) &+ 127) &<< 23
        let scaled = p * unsafeBitCast(bits, to: SIMD8<Float>.self)
        return x.replacing(with: SIMD8(repeating: 0), where: x .< -87.3)
            .replacing(with: scaled, where: x .>= -87.3)
    }

    /// `row[j] = exp(row[j] − shift)` for `count` values, returning their sum.
    @inline(__always)
    public static func expShiftedSum(_ row: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        var sum = SIMD8<Float>(repeating: 0)
        var j = 0
        let s = SIMD8<Float>(repeating: shift)
        while j + 8 <= count {
            let v = exp(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) - s)
            UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: SIMD8<Float>.self)
            sum += v
            j += 8
        }
        var total = sum.sum()
        while j < count {
            var lane = SIMD8<Float>(repeating: -100)
            lane[0] = row[j] - shift
            let v = exp(lane)[0]
            row[j] = v
            total += v
            j += 1
        }
        return total
    }

    /// The largest of `count` values.
    @inline(__always)
    public static func maximum(_ row: UnsafePointer<Float>, count: Int, start: Float) -> Float {
        var top = SIMD8<Float>(repeating: start)
        var j = 0
        while j + 8 <= count {
            top = pointwiseMax(top, UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self))
            j += 8
        }
        var result = top.max()
        while j < count {
            result = Swift.max(result, row[j])
            j += 1
        }
        return result
    }
}
