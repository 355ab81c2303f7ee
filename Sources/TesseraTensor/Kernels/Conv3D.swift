import Foundation

/// Causal 3D convolution over channels-last video `[F, H, W, Ci]` with a PyTorch-layout weight
/// `[Co, Ci, kt, kh, kw]`: in time, `kt − 1` frames of history come first (copies of the first frame when
/// none are given, so a lone image is a valid 1-frame video); in space, zero padding of half the (odd)
/// kernel. Computed as im2col in bounded row chunks times the weight with `cblas_sgemm`.
public enum Conv3D {
    /// Upper bound on im2col floats per chunk (16 MiB), so memory does not grow with frame size.
    static let im2colBudget = 4 * 1024 * 1024

    /// Output frames, rows and columns for an input of `frames × height × width`.
    public static func outputSize(frames: Int, height: Int, width: Int, stride: (Int, Int, Int)) -> (Int, Int, Int) {
        ((frames - 1) / stride.0 + 1, (height + stride.1 - 1) / stride.1, (width + stride.2 - 1) / stride.2)
    }

    /// `history` holds the `kt − 1` input frames before `x` (a streaming decoder's causal cache); nil
    /// replicates the first frame.  → `[F', H', W', Co]`
    public static func forward(
        _ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int, Int) = (1, 1, 1), history: Tensor? = nil
    ) -> Tensor {
        let (f, h, w, ci) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        precondition(weight.shape[1] == ci && kh % 2 == 1 && kw % 2 == 1, "conv3d: weight \(weight.shape) for input \(x.shape)")
        let padded = causalFrames(x, kt: kt, history: history)  // [kt − 1 + F, H, W, Ci]
        let (fo, ho, wo) = outputSize(frames: f, height: h, width: w, stride: stride)
        let k = kt * kh * kw * ci
        let reordered = patchOrderedWeight(weight)  // [Co, K]
        var out = Tensor(uninitialized: [fo, ho, wo, co])  // [F', H', W', Co]
        let rowsPerChunk = max(1, im2colBudget / max(1, wo * k))
        let geometry = Geometry(input: (h, w, ci), kernel: (kt, kh, kw), stride: stride, output: (ho, wo))
        padded.storage.withUnsafeBufferPointer { input in
            out.storage.withUnsafeMutableBufferPointer { output in
                reordered.withUnsafeBufferPointer { wp in
                    var columns = [Float](repeating: 0, count: rowsPerChunk * wo * k)
                    for frame in 0..<fo {
                        var row0 = 0
                        while row0 < ho {
                            let rows = min(rowsPerChunk, ho - row0)
                            columns.withUnsafeMutableBufferPointer { cols in
                                let cp = cols.baseAddress!
                                geometry.gatherPatches(input.baseAddress!, frame: frame, rows: row0..<(row0 + rows), into: cp)
                                let target = output.baseAddress! + ((frame * ho + row0) * wo) * co
                                if let bias {
                                    for p in 0..<(rows * wo) { for o in 0..<co { target[p * co + o] = bias.storage[o] } }
                                }
                                Linear.parallelGemm(
                                    m: rows * wo, n: co, k: k, a: cp, lda: k, transposeA: false, b: wp.baseAddress!, ldb: k,
                                    transposeB: true, c: target, ldc: co, beta: bias == nil ? 0 : 1)
                            }
                            row0 += rows
                        }
                    }
                }
            }
        }
        return out
    }

    /// The weight `[Co, Ci, kt, kh, kw]` reordered to `[Co, kt, kh, kw, Ci]`, so a patch row reads input
    /// channels contiguously.  → `Co·K` values, `K = kt·kh·kw·Ci`
    public static func patchOrderedWeight(_ weight: Tensor) -> [Float] {
        let (co, ci, kt, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3], weight.shape[4])
        let k = kt * kh * kw * ci
        var reordered = [Float](repeating: 0, count: co * k)
        for o in 0..<co {
            for c in 0..<ci {
                for t in 0..<kt {
                    for y in 0..<kh {
                        for xw in 0..<kw {
                            reordered[o * k + ((t * kh + y) * kw + xw) * ci + c] = weight.storage[(((o * ci + c) * kt + t) * kh + y) * kw + xw]
                        }
                    }
                }
            }
        }
        return reordered
    }

    /// The inverse of `patchOrderedWeight` (for a weight's gradient).
    public static func weightFromPatchOrder(_ reordered: [Float], shape: [Int]) -> Tensor {
        let (co, ci, kt, kh, kw) = (shape[0], shape[1], shape[2], shape[3], shape[4])
        let k = kt * kh * kw * ci
        var weight = Tensor(zeros: shape)
        for o in 0..<co {
            for c in 0..<ci {
                for t in 0..<kt {
                    for y in 0..<kh {
                        for xw in 0..<kw {
                            weight.storage[(((o * ci + c) * kt + t) * kh + y) * kw + xw] = reordered[o * k + ((t * kh + y) * kw + xw) * ci + c]
                        }
                    }
                }
            }
        }
        return weight
    }

    /// Where each output position reads its patch in the causally padded input `[kt − 1 + F, H, W, Ci]`.
    public struct Geometry: Sendable {
        public var input: (height: Int, width: Int, channels: Int)
        public var kernel: (frames: Int, height: Int, width: Int)
        public var stride: (Int, Int, Int)
        public var output: (height: Int, width: Int)

        public init(input: (Int, Int, Int), kernel: (Int, Int, Int), stride: (Int, Int, Int), output: (Int, Int)) {
            self.input = input
            self.kernel = kernel
            self.stride = stride
            self.output = output
        }

        /// Floats per patch row: `kt·kh·kw·Ci`.
        public var patchSize: Int { kernel.frames * kernel.height * kernel.width * input.channels }

        /// For each output `(frame, row in rows, column)`, calls `body(patchRow, offset)` for every kernel tap
        /// with the input offset of its `Ci` channels, or nil where the tap falls in the zero padding.
        @inline(__always)
        func forEachTap(frame: Int, rows: Range<Int>, _ body: (Int, Int, Int?) -> Void) {
            let (h, w, ci) = input, (kt, kh, kw) = kernel
            let (padY, padX) = (kh / 2, kw / 2)
            for oy in rows {
                for ox in 0..<output.width {
                    let patch = (oy - rows.lowerBound) * output.width + ox
                    var column = 0
                    for t in 0..<kt {
                        let sf = frame * stride.0 + t
                        for y in 0..<kh {
                            let sy = oy * stride.1 + y - padY
                            for xw in 0..<kw {
                                let sx = ox * stride.2 + xw - padX
                                body(patch, column, (sy < 0 || sy >= h || sx < 0 || sx >= w) ? nil : ((sf * h + sy) * w + sx) * ci)
                                column += ci
                            }
                        }
                    }
                }
            }
        }

        /// im2col: the patches of output rows `rows` of output `frame`, one row of `patchSize` per position.
        public func gatherPatches(_ padded: UnsafePointer<Float>, frame: Int, rows: Range<Int>, into columns: UnsafeMutablePointer<Float>) {
            let k = patchSize, ci = input.channels
            forEachTap(frame: frame, rows: rows) { patch, column, offset in
                let dst = columns + patch * k + column
                if let offset { dst.update(from: padded + offset, count: ci) } else { dst.update(repeating: 0, count: ci) }
            }
        }

        /// col2im: adds each patch row's values back onto the input positions it was gathered from.
        public func scatterPatches(_ columns: UnsafePointer<Float>, frame: Int, rows: Range<Int>, into padded: UnsafeMutablePointer<Float>) {
            let k = patchSize, ci = input.channels
            forEachTap(frame: frame, rows: rows) { patch, column, offset in
                guard let offset else { return }
                let src = columns + patch * k + column, dst = padded + offset
                for c in 0..<ci { dst[c] += src[c] }
            }
        }
    }

    /// The input with its causal history in front: given frames, or copies of the first frame.
    public static func causalFrames(_ x: Tensor, kt: Int, history: Tensor?) -> Tensor {
        let frame = x.count / x.shape[0]
        guard kt > 1 else { return x }
        var storage: [Float] = []
        storage.reserveCapacity((kt - 1) * frame + x.count)
        if let history {
            precondition(history.shape == [kt - 1] + Array(x.shape.dropFirst()), "conv3d: history \(history.shape) for kernel depth \(kt)")
            storage += history.storage
        } else {
            for _ in 0..<(kt - 1) { storage += x.storage[0..<frame] }
        }
        storage += x.storage
        return Tensor(shape: [kt - 1 + x.shape[0]] + Array(x.shape.dropFirst()), storage: storage)
    }
}
