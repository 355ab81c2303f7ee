import CLibAV
import Foundation

/// One picture as 8-bit RGB, interleaved and tightly packed: `pixels` is `[H, W, 3]` in row-major order, with
/// no row padding. What the writers take and the reader returns.
public struct RGBFrame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `[H, W, 3]`: red, green, blue of pixel (x, y) at `3 * (y * width + x)`.
    public var pixels: [UInt8]

    /// A frame over existing pixels; throws `MediaError.invalidFrame` unless `pixels.count == width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw MediaError.invalidFrame("size \(width)x\(height) is empty") }
        guard pixels.count == width * height * 3 else {
            throw MediaError.invalidFrame("\(pixels.count) bytes for \(width)x\(height) RGB (expected \(width * height * 3))")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A frame of one colour.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) {
        self.width = max(width, 1)
        self.height = max(height, 1)
        var pixels = [UInt8](repeating: 0, count: self.width * self.height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = red
            pixels[i + 1] = green
            pixels[i + 2] = blue
        }
        self.pixels = pixels
    }

    /// Quantizes a channels-first float picture (`[3, H, W]`, as the VAE decoder produces) to 8 bits:
    /// `range.lowerBound` maps to 0 and `range.upperBound` to 255, rounding to nearest; values outside the
    /// range clamp, and NaN becomes 0.
    public init(planar: UnsafeBufferPointer<Float>, width: Int, height: Int, range: ClosedRange<Float> = -1...1) throws {
        guard width > 0, height > 0, planar.count == 3 * width * height else {
            throw MediaError.invalidFrame("\(planar.count) floats for a [3, \(height), \(width)] frame (expected \(3 * width * height))")
        }
        guard range.upperBound > range.lowerBound else { throw MediaError.invalidFrame("empty value range \(range)") }
        let plane = width * height
        let scale = 255 / (range.upperBound - range.lowerBound), offset = range.lowerBound
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            for channel in 0..<3 {
                let source = planar.baseAddress! + channel * plane
                for i in 0..<plane {
                    // Written so that NaN fails the first comparison and becomes 0.
                    let v = (source[i] - offset) * scale + 0.5
                    out[3 * i + channel] = v >= 1 ? (v < 255 ? UInt8(v) : 255) : 0
                }
            }
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Channels-first floats (`[3, H, W]`), 0 mapping to `range.lowerBound` and 255 to `range.upperBound`:
    /// the input a VAE encoder takes.
    public func planarFloats(range: ClosedRange<Float> = -1...1) -> [Float] {
        let plane = width * height
        let scale = (range.upperBound - range.lowerBound) / 255, offset = range.lowerBound
        var out = [Float](repeating: 0, count: 3 * plane)
        pixels.withUnsafeBufferPointer { source in
            for i in 0..<plane {
                for channel in 0..<3 { out[channel * plane + i] = Float(source[3 * i + channel]) * scale + offset }
            }
        }
        return out
    }

    /// The frame scaled to `width` x `height` (bicubic, through libswscale; aspect ratio as given).
    public func resized(width newWidth: Int, height newHeight: Int) throws -> RGBFrame {
        guard newWidth > 0, newHeight > 0 else { throw MediaError.invalidFrame("cannot resize to \(newWidth)x\(newHeight)") }
        if newWidth == width && newHeight == height { return self }
        let scaler = Scaler()
        try scaler.configure(
            source: (width, height, AV_PIX_FMT_RGB24), destination: (newWidth, newHeight, AV_PIX_FMT_RGB24),
            flags: SWS_BICUBIC | SWS_ACCURATE_RND, colorspace: SWS_CS_DEFAULT, sourceFullRange: true, destinationFullRange: true,
            path: "a \(width)x\(height) frame")
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        try pixels.withUnsafeBufferPointer { source in
            try out.withUnsafeMutableBufferPointer { destination in
                try scaler.scale(
                    packed: source, stride: width * 3, height: height,
                    destination: [destination.baseAddress, nil, nil, nil], destinationStrides: [Int32(newWidth * 3), 0, 0, 0],
                    path: "a \(width)x\(height) frame")
            }
        }
        return try RGBFrame(width: newWidth, height: newHeight, pixels: out)
    }

    /// The colour of pixel (x, y).
    public func pixel(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Peak signal-to-noise ratio in dB between two frames of the same size, over all three channels
    /// (infinity when identical, nil when the sizes differ). Through yuv420p this is bounded by the
    /// half-resolution colour on hard colour edges, whatever the codec's quality.
    public static func psnr(_ a: RGBFrame, _ b: RGBFrame) -> Double? {
        guard a.width == b.width, a.height == b.height else { return nil }
        var sum = 0.0
        for i in 0..<a.pixels.count {
            let d = Double(Int(a.pixels[i]) - Int(b.pixels[i]))
            sum += d * d
        }
        return decibels(meanSquaredError: sum / Double(a.pixels.count))
    }

    /// PSNR in dB of the BT.709 luma (0.2126 R + 0.7152 G + 0.0722 B) alone: the codec's loss at full
    /// resolution, without yuv420p's colour subsampling. A wrong colour matrix on either side shows here too.
    public static func lumaPSNR(_ a: RGBFrame, _ b: RGBFrame) -> Double? {
        guard a.width == b.width, a.height == b.height else { return nil }
        var sum = 0.0
        for i in stride(from: 0, to: a.pixels.count, by: 3) {
            let d = 0.2126 * (Double(a.pixels[i]) - Double(b.pixels[i])) + 0.7152 * (Double(a.pixels[i + 1]) - Double(b.pixels[i + 1]))
                + 0.0722 * (Double(a.pixels[i + 2]) - Double(b.pixels[i + 2]))
            sum += d * d
        }
        return decibels(meanSquaredError: sum / Double(a.width * a.height))
    }

    private static func decibels(meanSquaredError mse: Double) -> Double {
        mse == 0 ? .infinity : 10 * log10((255 * 255) / mse)
    }
}
