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
        public var repeats: Int
        public var numpy: Bool

        public var grid: Attention.Grid { .init(frames: frames, height: height / 2, width: width / 2) }
        public var tokens: Int { grid.count }
        public var layout: Attention.Layout { DiT.automaticLayout(grid: grid) }
        public var layoutName: String { layout == .full ? "full" : "factorized" }
    }

    /// The standard cases: a 5 s prototype at 512x288, a 1920x1088 image, and 5 s at 1920x1088.
    public static let standardCases = [
        Case(name: "prototype 512x288, 5 s", frames: 31, height: 18, width: 32, repeats: 3, numpy: true),
        Case(name: "1920x1088, 1 frame", frames: 1, height: 68, width: 120, repeats: 3, numpy: true),
        Case(name: "1920x1088, 5 s (31 latent frames)", frames: 31, height: 68, width: 120, repeats: 1, numpy: true),
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
        public var shareOfPeak: Double
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
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// One `cblas_sgemm` call on 2048³ with OpenBLAS's own threads (`Compute.threads` of them), the
    /// machine's peak as its BLAS sees it: the best of `repeats` runs, in GFLOP/s.
    public static func sgemmPeak(size: Int = 2048, repeats: Int = 5) -> Double {
        let a = NoiseGenerator(seed: 1, stream: 9).fill(size * size), b = NoiseGenerator(seed: 2, stream: 9).fill(size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = 0.0
        BLAS.setThreadCount(Compute.threads)
        defer { BLAS.setThreadCount(1) }
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemm(m: size, n: size, k: size, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, 2 * pow(Double(size), 3) / seconds / 1e9)
        }
        return best
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
    public static func row(_ benchCase: Case, config: DiTConfig, peak: Double, tessera: Measurement, numpy: Measurement?) -> Row {
        let flops = DiT.flops(config: config, grid: benchCase.grid, textLength: 12, layout: benchCase.layout)
        let gflop = (flops.linear + flops.attention) / 1e9
        let seconds = median(tessera.seconds)
        let numpySeconds = numpy.map { median($0.seconds) }
        return Row(
            name: benchCase.name, tokens: benchCase.tokens, layout: benchCase.layoutName, gflop: gflop, seconds: seconds,
            gflopsPerSecond: gflop / seconds, shareOfPeak: gflop / seconds / peak, peakRSSBytes: tessera.peakRSSBytes,
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
