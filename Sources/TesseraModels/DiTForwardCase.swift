import Foundation
import TesseraTensor

/// One timed DiT forward in this process, the child side of `tessera bench dit`: loads a model folder
/// (`dit.json`, `dit.safetensors`) and an inputs file, times the forward and reports this process's memory.
/// It lives with the network rather than the farm so `tessera-dit-case`, which links the engine alone, can
/// run it: then the process measured holds what the numpy side holds — a runtime, a BLAS, the weights.
public enum DiTForwardCase {
    /// What a child reports for one case.
    public struct Measurement: Sendable, Codable {
        public var seconds: [Double]
        public var peakRSSBytes: Int
        /// Resident memory once weights and inputs are loaded, before the first forward: what the process
        /// holds before the forward's own working memory (runtime, libraries, weights, inputs).
        public var loadedRSSBytes: Int?
        /// The `cblas_sgemm` peak (GFLOP/s) measured just before each forward, when asked (`--peak`): the
        /// baseline of each forward's share, taken in the same moment of a shared machine.
        public var sgemmGflops: [Double]?

        public init(seconds: [Double], peakRSSBytes: Int, loadedRSSBytes: Int?, sgemmGflops: [Double]? = nil) {
            self.seconds = seconds
            self.peakRSSBytes = peakRSSBytes
            self.loadedRSSBytes = loadedRSSBytes
            self.sgemmGflops = sgemmGflops
        }
    }

    /// Loads weights and inputs, times `repeats` forwards, reports peak RSS. With `pairedPeak`, each forward
    /// follows a measurement of the machine's `cblas_sgemm` peak (best of 3), whose operands are unmapped
    /// and whose memory is taken out of the peak RSS again before the forward starts.
    public static func measure(weights folder: URL, inputs path: String, repeats: Int, pairedPeak: Bool = false) throws -> Measurement {
        let dit = try DiT(
            configPath: folder.appendingPathComponent("dit.json").path, weightsPath: folder.appendingPathComponent("dit.safetensors").path)
        let file = try SafetensorsFile(path: path)
        let caption = Caption(tokens: try file.tensor("input.ctx"), length: Int(file.metadata["input.ctx_length"] ?? "") ?? 0, pooled: try file.tensor("input.y"))
        let x = try file.tensor("input.x")
        let loaded = ProcessMemory.currentRSSBytes()
        var seconds: [Double] = [], peaks: [Double] = []
        var peakRSS = ProcessMemory.peakRSSBytes()  // loading's own high-water mark counts
        for _ in 0..<max(1, repeats) {
            if pairedPeak {
                peaks.append(BLAS.peakGflops(repeats: 3))
                guard ProcessMemory.resetPeakRSS() else { throw ModelError.badInput("--peak needs /proc/self/clear_refs to keep the peak measurement out of the peak RSS") }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try dit.velocity(x, time: 0.7, caption: caption)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            peakRSS = max(peakRSS, ProcessMemory.peakRSSBytes())
        }
        return Measurement(seconds: seconds, peakRSSBytes: peakRSS, loadedRSSBytes: loaded, sgemmGflops: pairedPeak ? peaks : nil)
    }

    /// `tessera-dit-case WEIGHTS_FOLDER INPUTS REPEATS [--threads N] [--peak]` and `tessera bench dit-case …`: runs one
    /// case and prints its measurement as one JSON line.
    public static func main(arguments: [String]) throws -> String {
        var positional: [String] = []
        var threads = 1, pairedPeak = false
        var index = 0
        while index < arguments.count {
            if arguments[index] == "--threads", index + 1 < arguments.count, let n = Int(arguments[index + 1]), n > 0 {
                threads = n
                index += 2
            } else if arguments[index] == "--peak" {
                pairedPeak = true
                index += 1
            } else {
                positional.append(arguments[index])
                index += 1
            }
        }
        guard positional.count == 3, let repeats = Int(positional[2]) else {
            throw ModelError.badInput("usage: tessera-dit-case WEIGHTS_FOLDER INPUTS.safetensors REPEATS [--threads N] [--peak]")
        }
        Compute.setThreads(threads)
        let measurement = try measure(weights: URL(fileURLWithPath: positional[0]), inputs: positional[1], repeats: repeats, pairedPeak: pairedPeak)
        return String(decoding: try JSONEncoder().encode(measurement), as: UTF8.self)
    }
}
