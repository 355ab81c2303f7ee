/// Vectorized exponential for the attention softmax, where one `expf` per score would cost more than the
/// matrix products around it.
///
/// `exp(x) = 2ⁿ·exp(r)` with `n = round(x·log2 e)` and `r = x − n·ln 2` (ln 2 split in two parts so `r`
/// is exact), `exp(r)` by a degree-6 Taylor–Horner polynomial on `|r| ≤ ln2/2`; relative error below
/// 3e-7, about 2.5 float32 ulps (tested against `exp` in Double). Inputs below −87 give 0, as softmax needs.
public enum FastMath {
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Clamp with comparisons: the generic pointwise min/max and Float→Int32 conversions of SIMD8 are
        // not vectorized (they showed up as the top symbols of a profile).
        var clamped = x.replacing(with: SIMD8(repeating: -87.3), where: x .< -87.3)
        clamped = clamped.replacing(with: SIMD8(repeating: 88.3), where: clamped .> 88.3)
        // n = round(x·log2 e): adding 1.5·2²³ rounds to nearest-even and leaves n in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
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
        let scaled = p * unsafeBitCast((nBits &+ 127) &<< 23, to: SIMD8<Float>.self)
        return scaled.replacing(with: SIMD8(repeating: 0), where: x .< -87.3)
    }

    /// `tanh(u) = 1 − 2/(exp(2u) + 1)`, with `u` clamped to ±9 where tanh is ±1 in float32.
    public static func tanh(_ u: SIMD8<Float>) -> SIMD8<Float> {
        var clamped = u.replacing(with: SIMD8(repeating: -9), where: u .< -9)
        clamped = clamped.replacing(with: SIMD8(repeating: 9), where: clamped .> 9)
        return 1 - 2 / (exp(2 * clamped) + 1)
    }

    /// Applies a SIMD8 function to `count` floats in place (the tail through a padded lane group).
    @inline(__always)
    public static func apply(_ values: UnsafeMutablePointer<Float>, count: Int, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        var j = 0
        while j + 8 <= count {
            let v = f(UnsafeRawPointer(values + j).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(values + j).storeBytes(of: v, as: SIMD8<Float>.self)
            j += 8
        }
        if j < count {
            var lane = SIMD8<Float>(repeating: 0)
            for i in 0..<(count - j) { lane[i] = values[j + i] }
            let v = f(lane)
            for i in 0..<(count - j) { values[j + i] = v[i] }
        }
    }

    /// `exp(x)` for one value with the same arithmetic as `exp(SIMD8)`, branch-free (clamps are selects),
    /// so loops that call it are vectorized by LLVM; a loop through the SIMD8 function measured 1.9 ns per
    /// value, because its mask selects stayed generic. Inputs below −87.3 give about 1e-38, not 0. Inlinable:
    /// called from another module (the trainer's GELU and SiLU backward) it was a call per value, unvectorized.
    @inlinable @inline(__always)
    public static func exp(_ value: Float) -> Float {
        var x = value < -87.3 ? -87.3 : value
        x = x > 88.3 ? 88.3 : x
        let shifted = multiplyAdd(x, 1.442_695_04, 12_582_912)
        let n = shifted - 12_582_912
        var r = multiplyAdd(n, -0.693_359_375, x)
        r = multiplyAdd(n, 2.121_944_4e-4, r)
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        return taylor6(r) * Float(bitPattern: exponent)
    }

    /// `2^x` for one value, branch-free like `exp(Float)`: `n = round(x)`, `r = x − n` (exact, `|r| ≤ ½`),
    /// `2^r` by a degree-6 Taylor polynomial in `r·ln 2`. Cheaper than `exp` (no range reduction by a split
    /// ln 2), for the attention softmax, which works in base 2 (log2 e folded into the score scale).
    /// Inputs below −126 give about 1e-38, not 0.
    @inlinable @inline(__always)
    public static func exp2(_ value: Float) -> Float {
        var x = value < -126 ? -126 : value
        x = x > 127 ? 127 : x
        let shifted = x + 12_582_912
        let r = (x - (shifted - 12_582_912)) * 0.693_147_18
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        return taylor6(r) * Float(bitPattern: exponent)
    }

    /// `exp(r)` for `|r| ≤ ln2/2` by its degree-6 Taylor polynomial, in Horner form.
    @inlinable @inline(__always)
    static func taylor6(_ r: Float) -> Float {
        var p: Float = 1.0 / 720
        p = multiplyAdd(p, r, 1.0 / 120)
        p = multiplyAdd(p, r, 1.0 / 24)
        p = multiplyAdd(p, r, 1.0 / 6)
        p = multiplyAdd(p, r, 0.5)
        p = multiplyAdd(p, r, 1)
        return multiplyAdd(p, r, 1)
    }

    /// `a·b + c`, fused (one rounding, one instruction) in the default build, which targets FMA; a multiply
    /// and an add in the portable one, where a fused multiply-add would be a library call per value. LLVM
    /// does not fuse `a * b + c` by itself: the exponentials' polynomials were separate multiplies and adds.
    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
        #if TESSERA_FMA
        return c.addingProduct(a, b)
        #else
        return a * b + c
        #endif
    }

    /// Whether `multiplyAdd` is fused in this build.
    public static let multiplyAddIsFused: Bool = {
        #if TESSERA_FMA
        return true
        #else
        return false
        #endif
    }()

    /// `row[j] = 2^(row[j] − shift)` for `count` values, returning their sum (a second, SIMD8 pass).
    @inline(__always)
    public static func exp2ShiftedSum(_ row: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        for j in 0..<count { row[j] = exp2(row[j] - shift) }
        return sum(row, count: count)
    }

    /// The largest of `count` values (and `start`). Eight independent running maxima, which LLVM turns
    /// into vector max instructions; a SIMD8 `pointwiseMax` compiled to scalar shuffles.
    @inline(__always)
    public static func maximum(_ row: UnsafePointer<Float>, count: Int, start: Float) -> Float {
        var m0 = start, m1 = start, m2 = start, m3 = start, m4 = start, m5 = start, m6 = start, m7 = start
        var j = 0
        while j + 8 <= count {
            let p = row + j
            m0 = p[0] > m0 ? p[0] : m0
            m1 = p[1] > m1 ? p[1] : m1
            m2 = p[2] > m2 ? p[2] : m2
            m3 = p[3] > m3 ? p[3] : m3
            m4 = p[4] > m4 ? p[4] : m4
            m5 = p[5] > m5 ? p[5] : m5
            m6 = p[6] > m6 ? p[6] : m6
            m7 = p[7] > m7 ? p[7] : m7
            j += 8
        }
        while j < count {
            m0 = row[j] > m0 ? row[j] : m0
            j += 1
        }
        return Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
    }

    /// The sum of `count` values, with eight running sums (a single running sum is a serial chain of
    /// additions that the compiler may not reorder).
    @inline(__always)
    public static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var total = SIMD8<Float>(repeating: 0)
        var j = 0
        while j + 8 <= count {
            total += UnsafeRawPointer(values + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var result = total.sum()
        while j < count {
            result += values[j]
            j += 1
        }
        return result
    }

    /// `Σ (values[j] − center)²`, with eight running sums.
    @inline(__always)
    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int, center: Float = 0) -> Float {
        var total = SIMD8<Float>(repeating: 0)
        let c = SIMD8<Float>(repeating: center)
        var j = 0
        while j + 8 <= count {
            let z = UnsafeRawPointer(values + j).loadUnaligned(as: SIMD8<Float>.self) - c
            total += z * z
            j += 8
        }
        var result = total.sum()
        while j < count {
            let z = values[j] - center
            result += z * z
            j += 1
        }
        return result
    }

    /// `target[j] = values[j] · factor` (in place when `target` is `values`).
    @inline(__always)
    public static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float, into target: UnsafeMutablePointer<Float>? = nil) {
        let target = target ?? values
        for j in 0..<count { target[j] = values[j] * factor }
    }
}
