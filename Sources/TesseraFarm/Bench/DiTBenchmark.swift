import Foundation
import TesseraModels
import TesseraTensor

/// `tessera bench dit`: the DiT forward's speed against the machine's own `cblas_sgemm` peak, and against
/// the numpy reference on the same weights and grid, in the same run. Each case runs in a child process
/// (`tessera bench dit-case`) so its peak RSS is its own.
public enum DiTBenchmark {
    /// One grid to time.
    public struct Case: Sendable, Codable {
        public var name: String
        /// Latent frames, height and width (pixels / 16 for the reference VAE).
        public var frames: Int, height: Int, width: Int
        /// Tessera's forwards, each paired with a peak measured just before it.
        public var repeats: Int
        public var numpy: Bool
        /// The numpy reference's forwards (its 5 s 1920x1088 forward takes four minutes).
        public var numpyRepeats: Int

        public var grid: Attention.Grid { .init(frames: frames, height: height / 2, width: width / 2) }
        public var tokens: Int { grid.count }
        public var layout: Attention.Layout { DiT.automaticLayout(grid: grid) }
        public var layoutName: String { layout == .full ? "full" : "factorized" }
    }

    /// The standard cases: a 5 s prototype at 512x288, a 1920x1088 image, and 5 s at 1920x1088.
    public static let standardCases = [
        Case(name: "prototype 512x288, 5 s", frames: 31, height: 18, width: 32, repeats: 5, numpy: true, numpyRepeats: 3),
        Case(name: "1920x1088, 1 frame", frames: 1, height: 68, width: 120, repeats: 5, numpy: true, numpyRepeats: 3),
        Case(name: "1920x1088, 5 s (31 latent frames)", frames: 31, height: 68, width: 120, repeats: 3, numpy: true, numpyRepeats: 1),
    ]

    /// What a child reports for one case.
    public typealias Measurement = DiTForwardCase.Measurement

    /// One line of the report.
    public struct Row: Sendable, Codable {
        public var name: String
        public var tokens: Int
        public var layout: String
        public var gflop: Double
        public var seconds: Double
        public var gflopsPerSecond: Double
        /// The median over forwards of (GFLOP/s of the forward) / (sgemm peak measured just before it).
        public var shareOfPeak: Double
        /// The median of this case's paired sgemm peaks, and each forward's own share, in order.
        public var sgemmGflops: Double
        public var shares: [Double]
        public var peakRSSBytes: Int
        public var numpySeconds: Double?
        public var numpyPeakRSSBytes: Int?
        public var speedRatio: Double?
        public var memoryRatio: Double?
        /// RSS after loading, both sides.
        public var loadedRSSBytes: Int?
        public var numpyLoadedRSSBytes: Int?
        /// (peak − loaded) of Tessera over the same for numpy: the forward's own working memory.
        public var workingMemoryRatio: Double?
    }

    public struct Report: Sendable, Codable {
        public var threads: Int
        public var sgemmGflops: Double
        public var config: DiTConfig
        public var rows: [Row]

        public init(threads: Int, sgemmGflops: Double, config: DiTConfig, rows: [Row]) {
            self.threads = threads
            self.sgemmGflops = sgemmGflops
            self.config = config
            self.rows = rows
        }
    }

    /// Median of a non-empty list.
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Deterministic random weights for a config (1/sqrt(fan-in) scale, norm weights 1), written in
    /// float16 — as `train export` ships models — with the config JSON into `folder` for both sides to load.
    public static func writeWeights(config: DiTConfig, folder: URL) throws {
        var tensors: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in config.expectedWeights.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            if name.hasSuffix("norm.weight") || name.hasSuffix("norm2.weight") {
                tensors[name] = Tensor(repeating: 1, shape: shape)
            } else {
                let scale = Float(1 / Double(shape.last ?? 1).squareRoot()) * (name.hasSuffix("bias") ? 0.1 : 1)
                tensors[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: 2026, stream: 3).fill(count, startingAt: offset).map { $0 * scale })
            }
            offset += count
        }
        try SafetensorsFile.write(tensors, to: folder.appendingPathComponent("dit.safetensors").path, halfPrecision: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(config).write(to: folder.appendingPathComponent("dit.json"))
    }

    /// The inputs of a case: latent noise and a 16-token caption with 12 real tokens.
    public static func writeInputs(_ benchCase: Case, config: DiTConfig, to path: String) throws {
        let latent = NoiseGenerator(seed: 5, stream: 0).tensor(shape: [benchCase.frames, benchCase.height, benchCase.width, config.latentChannels])
        let tokens = NoiseGenerator(seed: 6, stream: 0).tensor(shape: [16, config.textWidth])
        let pooled = NoiseGenerator(seed: 7, stream: 0).tensor(shape: [config.textWidth])
        try SafetensorsFile.write(
            ["input.x": latent, "input.ctx": tokens, "input.y": pooled, "input.t": Tensor(shape: [1], storage: [0.7])],
            metadata: ["input.ctx_length": "12", "layout": benchCase.layoutName], to: path)
    }

    /// A row from a case, its FLOPs, the Tessera measurement and the numpy one.
    /// Each forward's share is taken against the peak measured just before it (`tessera.sgemmGflops`), so a
    /// neighbour that slows the machine for a while slows both sides of the ratio; the row quotes the
    /// median share. A measurement without paired peaks is an error, not a share against nothing.
    public static func row(_ benchCase: Case, config: DiTConfig, tessera: Measurement, numpy: Measurement?) throws -> Row {
        let flops = DiT.flops(config: config, grid: benchCase.grid, textLength: 12, layout: benchCase.layout)
        let gflop = (flops.linear + flops.attention) / 1e9
        guard let peaks = tessera.sgemmGflops, peaks.count == tessera.seconds.count, !peaks.isEmpty, peaks.allSatisfy({ $0 > 0 }) else {
            throw BenchmarkError("\(benchCase.name): the case reported \(tessera.seconds.count) forwards but no sgemm peak beside each")
        }
        let shares = zip(tessera.seconds, peaks).map { gflop / $0 / $1 }
        let seconds = median(tessera.seconds)
        let numpySeconds = numpy.map { median($0.seconds) }
        return Row(
            name: benchCase.name, tokens: benchCase.tokens, layout: benchCase.layoutName, gflop: gflop, seconds: seconds,
            gflopsPerSecond: gflop / seconds, shareOfPeak: median(shares), sgemmGflops: median(peaks), shares: shares,
            peakRSSBytes: tessera.peakRSSBytes,
            numpySeconds: numpySeconds, numpyPeakRSSBytes: numpy?.peakRSSBytes, speedRatio: numpySeconds.map { $0 / seconds },
            memoryRatio: numpy.map { Double(tessera.peakRSSBytes) / Double($0.peakRSSBytes) },
            loadedRSSBytes: tessera.loadedRSSBytes, numpyLoadedRSSBytes: numpy?.loadedRSSBytes,
            workingMemoryRatio: workingRatio(tessera, numpy))
    }

    static func workingRatio(_ tessera: Measurement, _ numpy: Measurement?) -> Double? {
        guard let numpy, let ours = tessera.loadedRSSBytes, let theirs = numpy.loadedRSSBytes, numpy.peakRSSBytes > theirs else { return nil }
        return Double(max(0, tessera.peakRSSBytes - ours)) / Double(numpy.peakRSSBytes - theirs)
    }
}

