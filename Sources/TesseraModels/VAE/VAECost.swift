import Foundation

extension VAEConfig {
    /// Multiply-adds per video pixel (per frame, asymptotically in the frame count) of each stage, by stage
    /// name: encoder stages per input pixel, decoder stages per output pixel, counting the convolutions. A
    /// convolution at level `i` costs `Co·Ci·kt·9` per pixel and frame of that level, which stands for `s²·t`
    /// video pixels (`s` the level's spatial factor, `t` its temporal one). Element-wise steps and tile
    /// overlap are not counted.
    public var stageMACsPerPixel: (encoder: [(String, Double)], decoder: [(String, Double)]) {
        let top = levels - 1, pixels = imageChannels * patch * patch
        func scale(_ level: Int) -> Double {
            let s = Double(patch << level), t = Double(1 << temporalDown.prefix(level).filter { $0 }.count)
            return s * s * t
        }
        func conv(_ co: Int, _ ci: Int, _ kt: Int, level: Int) -> Double { Double(co * ci * kt * 9) / scale(level) }
        func residualBlocks(_ prefix: String, _ i: Int) -> [(String, Double)] {
            (0..<blocks[i]).map { j in ("\(prefix).levels.\(i).blocks.\(j)", 2 * conv(channels[i], channels[i], temporalKernel[i], level: i)) }
        }
        var encoder = [("encoder.conv_in", conv(channels[0], pixels, temporalKernel[0], level: 0))]
        for i in 0..<levels {
            encoder += residualBlocks("encoder", i)
            if i < top { encoder.append(("encoder.levels.\(i).down", conv(channels[i + 1], channels[i], temporalDown[i] ? 3 : 1, level: i + 1))) }
        }
        encoder += [("encoder.norm_out", 0), ("encoder.conv_out", conv(2 * latentChannels, channels[top], temporalKernel[top], level: top))]
        var decoder = [("decoder.conv_in", conv(channels[top], latentChannels, temporalKernel[top], level: top))]
        for i in stride(from: top, through: 0, by: -1) {
            decoder += residualBlocks("decoder", i)
            if i > 0 { decoder.append(("decoder.levels.\(i).up", conv(upChannels(level: i), channels[i], 1, level: i))) }
        }
        decoder += [("decoder.norm_out", 0), ("decoder.conv_out", conv(pixels, channels[0], temporalKernel[0], level: 0))]
        return (encoder, decoder)
    }

    /// Multiply-adds per pixel of the whole encoder (per input pixel) and decoder (per output pixel).
    public var macsPerPixel: (encoder: Double, decoder: Double) {
        let stages = stageMACsPerPixel
        return (stages.encoder.reduce(0) { $0 + $1.1 }, stages.decoder.reduce(0) { $0 + $1.1 })
    }

    /// How far, in latent pixels, a decoded pixel's value reaches into the latent: the sum of the 3×3 kernels'
    /// radii (one pixel of their level each, a level-`i` pixel being `2^(i − top)` latent pixels). A tile
    /// whose blended pixels are at least this far from its inner edges decodes them exactly. 6.375 for both
    /// presets.
    public var decoderReach: Double {
        let top = levels - 1
        func size(_ level: Int) -> Double { pow(2, Double(level - top)) }
        var reach = 1.0  // conv_in
        for i in 0..<levels { reach += Double(2 * blocks[i]) * size(i) + (i > 0 ? size(i) : 0) }
        return reach + size(0)  // conv_out
    }

    /// The same for the encoder: how far, in latent pixels, a latent pixel's value reaches into the video.
    /// 5.5 for both presets.
    public var encoderReach: Double {
        let top = levels - 1
        func size(_ level: Int) -> Double { pow(2, Double(level - top)) }
        var reach = size(0)  // conv_in
        for i in 0..<levels { reach += Double(2 * blocks[i]) * size(i) + (i < top ? size(i) : 0) }
        return reach + 1  // conv_out
    }
}
