import Foundation
import TesseraModels
import TesseraTensor

/// `tessera bench vae`: the streamed, tiled VAE decode of a whole video into a sink that drops the frames,
/// timed, with its peak RSS, against the machine's own `cblas_sgemm` peak measured in the same run. Each case
/// runs in a child process (`tessera bench vae-case`) so its peak RSS is its own; the same frame size at two
/// lengths shows whether memory grows with the frame count.
public enum VAEBenchmark {
    /// One decode to time.
    public struct Case: Sendable, Codable, Equatable {
        /// Video frames (1 + 4k) and frame size in pixels (multiples of 16).
        public var frames: Int, height: Int, width: Int

        public init(frames: Int, height: Int, width: Int) {
            self.frames = frames
            self.height = height
            self.width = width
        }

        /// "1920x1088, 121 frames".
        public var name: String { "\(width)x\(height), \(frames) frames" }
    }

    /// 5 s and 10 s of 1080p24 (1920x1088: 68×120 latent pixels).
    public static let standardCases = [Case(frames: 121, height: 1088, width: 1920), Case(frames: 241, height: 1088, width: 1920)]
    /// A quick look at the same frame size: 9 and 17 frames.
    public static let quickCases = [Case(frames: 9, height: 1088, width: 1920), Case(frames: 17, height: 1088, width: 1920)]

    /// What a child reports for one case.
    public struct Measurement: Sendable, Codable {
        public var seconds: Double
        /// Seconds until the sink had the first frame (the first latent frame decoded).
        public var firstFrameSeconds: Double
        public var frames: Int
        public var tiles: Int
        public var peakRSSBytes: Int
        /// Floats in the decoder's causal caches after the last frame.
        public var cacheFloats: Int
        /// Process CPU seconds (both threads) of the whole decode, and of each decoder stage.
        public var cpuSeconds: Double
        public var stageCPUSeconds: [Double]
        /// Resident set size after each latent frame: flat when memory does not grow with length.
        public var residentBytes: [Int]
    }

    /// One line of the report.
    public struct Row: Sendable, Codable {
        public var name: String
        public var frames: Int, latentFrames: Int, height: Int, width: Int, tiles: Int
        public var seconds: Double
        public var secondsPerFrame: Double
        public var firstFrameSeconds: Double
        /// Nominal convolution multiply-adds (`macsPerPixel` × pixels × frames, tile overlap not counted) per second.
        public var gmacsPerSecond: Double
        /// `2 × gmacsPerSecond` over the sgemm peak in GFLOP/s.
        public var shareOfPeak: Double
        public var peakRSSBytes: Int
        public var cacheBytes: Int
        /// Process CPU seconds per frame: what the decode costs on an idle machine with its `threads` cores.
        public var cpuSecondsPerFrame: Double
        public var stages: [Stage]
        /// Resident set size after a quarter, half and all of the latent frames.
        public var residentQuartersBytes: [Int]
    }

    /// One decoder stage's share: nominal multiply-adds (tile overlap not counted) per CPU second.
    public struct Stage: Sendable, Codable {
        public var name: String
        public var macsPerPixel: Double
        public var cpuSeconds: Double
        public var gmacsPerCPUSecond: Double
    }

    /// What `tessera bench vae --json` prints.
    public struct Report: Sendable, Codable {
        public var threads: Int
        public var sgemmGflops: Double
        public var config: VAEConfig
        public var tile: TileSettings
        public var macsPerPixel: Double
        public var parameters: Int
        public var loadAverage: [Double]?
        public var rows: [Row]

        public init(
            threads: Int, sgemmGflops: Double, config: VAEConfig, tile: TileSettings, loadAverage: [Double]?, rows: [Row]
        ) {
            self.threads = threads
            self.sgemmGflops = sgemmGflops
            self.config = config
            self.tile = tile
            macsPerPixel = config.macsPerPixel.decoder
            parameters = config.parameterCounts.encoder + config.parameterCounts.decoder
            self.loadAverage = loadAverage
            self.rows = rows
        }
    }

    /// Runs one case in this process: random weights of `config`, a Philox latent, streamed tiled decode into
    /// a sink that only counts frames.
    public static func measure(_ benchCase: Case, config: VAEConfig = .small, tile: TileSettings = .standard) throws -> Measurement {
        let vae = try VAE(config: config, weights: VAE.randomWeights(config))
        let s = config.spatialFactor
        guard let latentFrames = config.latentFrames(forFrames: benchCase.frames), benchCase.height % s == 0, benchCase.width % s == 0 else {
            throw ModelError.badInput("\(benchCase.name): needs 1 + \(config.temporalFactor)k frames and sides that are multiples of \(s)")
        }
        let (h, w, c) = (benchCase.height / s, benchCase.width / s, config.latentChannels)
        let noise = NoiseGenerator(seed: 11, stream: 0)
        let stream = try VAEDecoderStream(decoder: vae.decoder, height: h, width: w, tile: tile, profile: true)
        var frames = 0
        var firstFrame = 0.0
        var resident: [Int] = []
        let start = DispatchTime.now().uptimeNanoseconds, startCPU = processCPUSeconds()
        for f in 0..<latentFrames {
            // One latent frame at a time, as the sampler's output would be read: the whole latent is never held.
            let latent = Tensor(shape: [1, h, w, c], storage: noise.fill(h * w * c, startingAt: f * h * w * c))  // [1, h, w, C]
            try stream.push(latent) { frame in
                precondition(frame.shape == [benchCase.height, benchCase.width, config.imageChannels])
                if frames == 0 { firstFrame = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
                frames += 1
            }
            resident.append(residentBytes())
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Measurement(
            seconds: seconds, firstFrameSeconds: firstFrame, frames: frames, tiles: stream.tileCount, peakRSSBytes: ProcessMemory.peakRSSBytes(),
            cacheFloats: stream.stateFloatCount, cpuSeconds: processCPUSeconds() - startCPU, stageCPUSeconds: stream.stageCPUSeconds ?? [],
            residentBytes: resident)
    }

    /// A report line from a case and its measurement.
    public static func row(_ benchCase: Case, config: VAEConfig, peak: Double, _ m: Measurement) -> Row {
        let pixels = Double(benchCase.height * benchCase.width * m.frames)
        let macs = config.macsPerPixel.decoder * pixels
        let stages = zip(config.stageMACsPerPixel.decoder, m.stageCPUSeconds).map { stage, cpu in
            Stage(name: stage.0, macsPerPixel: stage.1, cpuSeconds: cpu, gmacsPerCPUSecond: stage.1 * pixels / max(cpu, 1e-9) / 1e9)
        }
        return Row(
            name: benchCase.name, frames: m.frames, latentFrames: config.latentFrames(forFrames: benchCase.frames) ?? 0,
            height: benchCase.height, width: benchCase.width, tiles: m.tiles, seconds: m.seconds,
            secondsPerFrame: m.seconds / Double(max(1, m.frames)), firstFrameSeconds: m.firstFrameSeconds,
            gmacsPerSecond: macs / m.seconds / 1e9, shareOfPeak: 2 * macs / m.seconds / 1e9 / peak, peakRSSBytes: m.peakRSSBytes,
            cacheBytes: 4 * m.cacheFloats, cpuSecondsPerFrame: m.cpuSeconds / Double(max(1, m.frames)), stages: stages,
            residentQuartersBytes: m.residentBytes.isEmpty ? [] : [4, 2, 1].map { m.residentBytes[max(0, m.residentBytes.count / $0 - 1)] })
    }

    /// This process's resident set size now (from /proc/self/statm; 0 where it cannot be read).
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// CPU seconds used by this process so far, all threads together.
    public static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The 1-, 5- and 15-minute load averages.
    public static func loadAverage() -> [Double]? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        let values = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        return values.count == 3 ? values : nil
    }
}
