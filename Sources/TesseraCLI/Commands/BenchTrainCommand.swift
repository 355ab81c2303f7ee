import ArgumentParser
import Foundation
import TesseraFarm
import TesseraModels
import TesseraTensor
import TesseraTraining

extension BenchCommand {
    /// Seconds per DiT training step (forward, backward, AdamW) at a latent grid: what sets the training
    /// budget of docs/MODEL.md.
    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-step", abstract: "Seconds per DiT training step at a latent grid (random weights).")

        @Option(help: "Latent frames, height and width, e.g. 1x36x64 (a 512x288 image on the world VAE).")
        var grid = "1x36x64"
        @Option(help: "DiT preset: world (the default model's), small or tiny.")
        var preset = "world"
        @Option(help: "Steps to time (after one warm-up step).")
        var steps = 3
        @Option(help: "Threads for kernels.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        func run() throws {
            Compute.setThreads(threads)
            let sizes = grid.split(separator: "x").compactMap { Int($0) }
            guard sizes.count == 3 else { throw CLIError("--grid must be FxHxW, e.g. 1x36x64") }
            let presets = ["world": DiTConfig.world, "small": DiTConfig.small, "tiny": DiTConfig.tiny]
            guard let config = presets[preset] else { throw CLIError("--preset must be world, small or tiny, not \(preset)") }
            var weights: [String: Tensor] = [:]
            var offset = 0
            for (name, shape) in config.expectedWeights.sorted(by: { $0.key < $1.key }) {
                let count = shape.reduce(1, *)
                let isNorm = name.hasSuffix("norm.weight") || name.hasSuffix("norm2.weight")
                let scale = 1 / Float(shape.last!).squareRoot()
                weights[name] = Tensor(shape: shape, storage: isNorm ? [Float](repeating: 1, count: count)
                    : NoiseGenerator(seed: 1, stream: 2).fill(count, startingAt: offset).map { $0 * scale })
                offset += count
            }
            let caption = Caption(tokens: NoiseGenerator(seed: 3, stream: 1).tensor(shape: [16, config.textWidth]), length: 12,
                                  pooled: NoiseGenerator(seed: 4, stream: 1).tensor(shape: [config.textWidth]))
            var trainer = FlowMatchingTrainer(config: config, parameters: weights, settings: AdamW.Settings(), emptyCaption: caption, seed: 1)
            let sample = FlowSample(latent: NoiseGenerator(seed: 5, stream: 1).tensor(shape: sizes + [config.latentChannels]), caption: caption)
            try trainer.step([sample])
            var seconds: [Double] = []
            for _ in 0..<steps {
                let start = DispatchTime.now().uptimeNanoseconds
                try trainer.step([sample])
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let tokens = config.grid(latent: sizes).count
            let median = seconds.sorted()[seconds.count / 2]
            print(String(format: "%@ preset, grid %@ (%d tokens): %.2f s per step (median of %d), peak RSS %@", preset, grid, tokens, median, steps,
                         megabytes(ProcessMemory.peakRSSBytes())))
        }
    }
}
