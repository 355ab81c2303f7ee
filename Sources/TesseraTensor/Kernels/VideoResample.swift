import Foundation

/// Resolution changes of channels-last video `[F, H, W, C]` that only move data: depth-to-space (the
/// sub-pixel upsampling after a convolution), its inverse space-to-depth (the VAE's input patches), and the
/// causal temporal upsampling (frames repeated, or frames taken from channel halves). The loops are plain copies; `ReferenceKernels` holds the
/// element-by-element definitions they are tested against.
public enum VideoResample {
    /// `[F, H, W, r²·C]` → `[F, r·H, r·W, C]`: `y[f, r·i + a, r·j + b, c] = x[f, i, j, (a·r + b)·C + c]`.
    /// (Channels-last order: each sub-pixel's `C` values are contiguous, unlike PyTorch's `pixel_shuffle`.)
    public static func depthToSpace(_ x: Tensor, factor r: Int) -> Tensor {
        let (f, h, w, rc) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(r >= 1 && rc % (r * r) == 0, "depthToSpace: \(rc) channels are not a multiple of \(r * r)")
        let c = rc / (r * r)
        var y = Tensor(uninitialized: [f, h * r, w * r, c])  // [F, rH, rW, C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                let xp = xs.baseAddress!, yp = ys.baseAddress!
                Elementwise.forRows(f * h) { start, end in
                    for row in start..<end {
                        let frame = row / h, i = row % h
                        for a in 0..<r {
                            let target = yp + ((frame * h * r + i * r + a) * w * r) * c
                            for j in 0..<w {
                                // Sub-pixels (a, 0..<r) of input pixel (i, j) are r·C contiguous values in both.
                                (target + j * r * c).update(from: xp + (row * w + j) * rc + a * r * c, count: r * c)
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// The inverse of `depthToSpace`: `[F, r·H, r·W, C]` → `[F, H, W, r²·C]`.
    public static func spaceToDepth(_ x: Tensor, factor r: Int) -> Tensor {
        let (f, rh, rw, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(r >= 1 && rh % r == 0 && rw % r == 0, "spaceToDepth: \(rh)x\(rw) is not a multiple of \(r)")
        let (h, w) = (rh / r, rw / r)
        var y = Tensor(uninitialized: [f, h, w, r * r * c])  // [F, H, W, r²C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                let xp = xs.baseAddress!, yp = ys.baseAddress!
                Elementwise.forRows(f * h) { start, end in
                    for row in start..<end {
                        let frame = row / h, i = row % h
                        for a in 0..<r {
                            let source = xp + ((frame * rh + i * r + a) * rw) * c
                            for j in 0..<w {
                                (yp + (row * w + j) * r * r * c + a * r * c).update(from: source + j * r * c, count: r * c)
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Causal temporal upsampling by 2: each frame twice, except the video's first frame, which stays one
    /// frame (so `1 + n` frames become `1 + 2n`). `firstIsVideoStart` is false for a streamed chunk that
    /// does not begin the video.
    public static func repeatFrames(_ x: Tensor, firstIsVideoStart: Bool) -> Tensor {
        let f = x.shape[0], frame = x.count / max(f, 1)
        let copies = (0..<f).map { $0 == 0 && firstIsVideoStart ? 1 : 2 }
        var y = Tensor(uninitialized: [copies.reduce(0, +)] + Array(x.shape.dropFirst()))  // [F', H, W, C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                var out = 0
                for (i, n) in copies.enumerated() {
                    for _ in 0..<n {
                        (ys.baseAddress! + out * frame).update(from: xs.baseAddress! + i * frame, count: frame)
                        out += 1
                    }
                }
            }
        }
        return y
    }

    /// Causal temporal upsampling by 2 that makes new frames instead of copies (depth-to-time): each frame's
    /// channels `[0, C)` become one frame and `[C, 2C)` the next, except the video's first frame, which gives
    /// only its first half (so `1 + n` frames of `2C` become `1 + 2n` frames of `C`). `firstIsVideoStart` is
    /// false for a streamed chunk that does not begin the video.
    public static func splitFrames(_ x: Tensor, firstIsVideoStart: Bool) -> Tensor {
        let (f, pixels, c) = splitLayout(x.shape)
        var y = Tensor(uninitialized: [splitCount(frames: f, firstIsVideoStart: firstIsVideoStart)] + Array(x.shape.dropFirst().dropLast()) + [c])  // [F', H, W, C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                forEachSplit(frames: f, firstIsVideoStart: firstIsVideoStart) { i, half, out in
                    let source = xs.baseAddress! + i * pixels * 2 * c + half * c, target = ys.baseAddress! + out * pixels * c
                    for p in 0..<pixels { (target + p * c).update(from: source + p * 2 * c, count: c) }
                }
            }
        }
        return y
    }

    /// The gradient of `splitFrames` for an input of `shape`: each output frame's values go back to the
    /// channel half they came from; the video's first frame's second half was not used and gets zeros.
    public static func splitFramesGradient(_ g: Tensor, inputShape shape: [Int], firstIsVideoStart: Bool) -> Tensor {
        let (f, pixels, c) = splitLayout(shape)
        precondition(g.count == splitCount(frames: f, firstIsVideoStart: firstIsVideoStart) * pixels * c,
                     "splitFramesGradient: \(g.shape) is not the split of \(shape)")
        var dx = Tensor(zeros: shape)
        g.storage.withUnsafeBufferPointer { gs in
            dx.storage.withUnsafeMutableBufferPointer { ds in
                forEachSplit(frames: f, firstIsVideoStart: firstIsVideoStart) { i, half, out in
                    let source = gs.baseAddress! + out * pixels * c, target = ds.baseAddress! + i * pixels * 2 * c + half * c
                    for p in 0..<pixels { (target + p * 2 * c).update(from: source + p * c, count: c) }
                }
            }
        }
        return dx
    }

    /// Frames, pixels a frame and channels a half of `splitFrames`' input shape `[F, H, W, 2C]`.
    private static func splitLayout(_ shape: [Int]) -> (frames: Int, pixels: Int, half: Int) {
        let f = shape[0], twice = shape[shape.count - 1]
        precondition(twice % 2 == 0, "splitFrames: \(twice) channels are not even")
        return (f, shape.reduce(1, *) / max(f * twice, 1), twice / 2)
    }

    private static func splitCount(frames: Int, firstIsVideoStart: Bool) -> Int {
        frames == 0 ? 0 : 2 * frames - (firstIsVideoStart ? 1 : 0)
    }

    /// Calls `body(input frame, channel half, output frame)` for each frame `splitFrames` makes, in order.
    private static func forEachSplit(frames: Int, firstIsVideoStart: Bool, _ body: (Int, Int, Int) -> Void) {
        var out = 0
        for i in 0..<frames {
            for half in 0..<(i == 0 && firstIsVideoStart ? 1 : 2) {
                body(i, half, out)
                out += 1
            }
        }
    }
}
