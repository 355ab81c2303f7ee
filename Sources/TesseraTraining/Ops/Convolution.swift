import TesseraTensor

extension Tape {
    /// Causal 3D convolution (`Conv3D.forward` without history: the first frame is repeated in front).
    /// Gradients through the same patches (im2col): `dW = Σ dyᵀ·patches`, `dpatches = dy·W` added back
    /// onto the input (col2im), the repeated first-frame copies folding into frame 0; `db = Σ dy`.
    public func conv3d(_ input: Variable, weight: Variable, bias: Variable? = nil, stride: (Int, Int, Int) = (1, 1, 1)) -> Variable {
        let x = value(input), w = value(weight), b = bias.map { value($0) }
        let y = Conv3D.forward(x, weight: w, bias: b, stride: stride)
        let operands = [input, weight] + (bias.map { [$0] } ?? [])
        return record(y, operands) { g in
            let (f, h, wd, ci) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let (co, kt, kh, kw) = (w.shape[0], w.shape[2], w.shape[3], w.shape[4])
            let (fo, ho, wo) = (y.shape[0], y.shape[1], y.shape[2])
            let geometry = Conv3D.Geometry(input: (h, wd, ci), kernel: (kt, kh, kw), stride: stride, output: (ho, wo))
            let k = geometry.patchSize
            let padded = Conv3D.causalFrames(x, kt: kt, history: nil)
            let reordered = Conv3D.patchOrderedWeight(w)
            var dPadded = [Float](repeating: 0, count: padded.count)
            var dReordered = [Float](repeating: 0, count: co * k)
            var db = [Float](repeating: 0, count: co)
            let rowsPerChunk = max(1, (1 << 22) / max(1, wo * k))
            var columns = [Float](repeating: 0, count: rowsPerChunk * wo * k)
            var dColumns = [Float](repeating: 0, count: rowsPerChunk * wo * k)
            padded.storage.withUnsafeBufferPointer { input in
                g.storage.withUnsafeBufferPointer { gs in
                    reordered.withUnsafeBufferPointer { wp in
                        dReordered.withUnsafeMutableBufferPointer { dwp in
                            dPadded.withUnsafeMutableBufferPointer { dpp in
                                columns.withUnsafeMutableBufferPointer { cols in
                                    dColumns.withUnsafeMutableBufferPointer { dcols in
                                        for frame in 0..<fo {
                                            var row0 = 0
                                            while row0 < ho {
                                                let rows = min(rowsPerChunk, ho - row0), m = rows * wo
                                                let dy = gs.baseAddress! + ((frame * ho + row0) * wo) * co
                                                geometry.gatherPatches(input.baseAddress!, frame: frame, rows: row0..<(row0 + rows), into: cols.baseAddress!)
                                                Linear.parallelGemm(m: co, n: k, k: m, a: dy, lda: co, transposeA: true, b: cols.baseAddress!, ldb: k,
                                                                    transposeB: false, c: dwp.baseAddress!, ldc: k, beta: 1)
                                                Linear.parallelGemm(m: m, n: k, k: co, a: dy, lda: co, transposeA: false, b: wp.baseAddress!, ldb: k,
                                                                    transposeB: false, c: dcols.baseAddress!, ldc: k, beta: 0)
                                                geometry.scatterPatches(dcols.baseAddress!, frame: frame, rows: row0..<(row0 + rows), into: dpp.baseAddress!)
                                                for p in 0..<m { for o in 0..<co { db[o] += dy[p * co + o] } }
                                                row0 += rows
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Padded frames 0..<kt−1 are copies of frame 0; frame j of x is padded frame kt−1+j.
            let frameSize = h * wd * ci
            var dx = Tensor(shape: x.shape, storage: Array(dPadded[((kt - 1) * frameSize)...]))
            for copy in 0..<(kt - 1) {
                for i in 0..<frameSize { dx.storage[i] += dPadded[copy * frameSize + i] }
            }
            _ = f
            var result: [Tensor?] = [dx, Conv3D.weightFromPatchOrder(dReordered, shape: w.shape)]
            if b != nil { result.append(Tensor(shape: [co], storage: db)) }
            return result
        }
    }
}
