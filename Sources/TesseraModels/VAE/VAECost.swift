import Foundation

extension VAEConfig {
    /// Multiply-adds per video pixel (per frame, asymptotically in the frame count) of the encoder (per input
    /// pixel) and of the decoder (per output pixel), counting the convolutions: one at level `i` costs
    /// `Co·Ci·kt·9` per pixel and frame of that level, which stands for `s²·t` video pixels (`s` the level's
    /// spatial factor, `t` its temporal one). Element-wise steps and tile overlap are not counted.
    public var macsPerPixel: (encoder: Double, decoder: Double) {
        let top = levels - 1, pixels = imageChannels * patch * patch
        func scale(_ level: Int) -> Double {
            let s = Double(patch << level), t = Double(1 << temporalDown.prefix(level).filter { $0 }.count)
            return s * s * t
        }
        func conv(_ co: Int, _ ci: Int, _ kt: Int, level: Int) -> Double { Double(co * ci * kt * 9) / scale(level) }
        var encoder = conv(channels[0], pixels, temporalKernel[0], level: 0)
        var decoder = conv(channels[top], latentChannels, temporalKernel[top], level: top)
        for i in 0..<levels {
            let block = Double(blocks[i]) * 2 * conv(channels[i], channels[i], temporalKernel[i], level: i)
            encoder += block
            decoder += block
            if i < top { encoder += conv(channels[i + 1], channels[i], temporalDown[i] ? 3 : 1, level: i + 1) }
            if i > 0 { decoder += conv(4 * channels[i - 1], channels[i], 1, level: i) }
        }
        encoder += conv(2 * latentChannels, channels[top], temporalKernel[top], level: top)
        decoder += conv(pixels, channels[0], temporalKernel[0], level: 0)
        return (encoder, decoder)
    }
}
