/// Deterministic synthetic frames for tests and the encode benchmark: the same index and size always give
/// the same bytes. Each frame mixes what video encoders meet in renders — smooth gradients that drift, a
/// moving disc with a hard edge, a coarse checkerboard of 32-pixel squares that scrolls, and faint per-pixel
/// grain — so motion search, intra prediction and rate control all have work, unlike a flat or pure-noise
/// picture.
public enum TestPattern {
    /// Frame `index` of the pattern at `width` x `height`.
    public static func frame(_ index: Int, width: Int, height: Int) -> RGBFrame {
        let w = max(width, 1), h = max(height, 1)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let t = index
        let discX = w / 4 + (t * 8) % max(w / 2, 1), discY = h / 2, radius = max(min(w, h) / 6, 1)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<h {
                let dy = y - discY
                let green = (y + 2 * t) * 255 / h
                for x in 0..<w {
                    let i = 3 * (y * w + x)
                    let dx = x - discX
                    // A cheap integer hash for grain in -4...3.
                    var n = UInt32(truncatingIfNeeded: x &* 73_856_093 ^ y &* 19_349_663 ^ t &* 83_492_791)
                    n = (n ^ (n >> 13)) &* 0x5bd1_e995
                    let grain = Int((n >> 24) & 7) - 4
                    var r = (x + 4 * t) * 255 / w, g = green, b: Int
                    b = ((x + 3 * t) / 32 + y / 32) % 2 == 0 ? 60 : 190
                    if dx * dx + dy * dy <= radius * radius {
                        r = 240; g = 220; b = 40
                    }
                    out[i] = UInt8(clamping: (r & 0xff) + grain)
                    out[i + 1] = UInt8(clamping: (g & 0xff) + grain)
                    out[i + 2] = UInt8(clamping: b + grain)
                }
            }
        }
        // The size is positive and the buffer matches it, so this cannot fail.
        return (try? RGBFrame(width: w, height: h, pixels: pixels)) ?? RGBFrame(width: w, height: h, red: 0, green: 0, blue: 0)
    }
}
