import Foundation

/// The loss curve of a training run as CSV (`step,loss,learning_rate,gradient_norm,seconds`), appended a
/// line per step and flushed, so a killed run keeps its history. On resume from a checkpoint at step `s`,
/// lines after `s` (steps the checkpoint does not contain) are dropped, so the curve never shows work that
/// was redone.
public final class TrainingLog {
    public struct Entry: Sendable, Equatable {
        public var step: Int
        public var loss: Float
        public var learningRate: Float
        public var gradientNorm: Float
        public var seconds: Double
        public init(step: Int, loss: Float, learningRate: Float, gradientNorm: Float, seconds: Double) {
            self.step = step
            self.loss = loss
            self.learningRate = learningRate
            self.gradientNorm = gradientNorm
            self.seconds = seconds
        }
    }

    static let header = "step,loss,learning_rate,gradient_norm,seconds"
    public let path: String
    public private(set) var entries: [Entry] = []
    private let handle: FileHandle

    /// Opens (or creates) the log, keeping only entries with `step < keepBefore` (the checkpoint's step).
    public init(path: String, keepBefore: Int = 0) throws {
        self.path = path
        entries = Self.parse((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").filter { $0.step < keepBefore }
        let body = ([Self.header] + entries.map(Self.line)).joined(separator: "\n") + "\n"
        try body.write(toFile: path, atomically: true, encoding: .utf8)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw TrainingError.badData("cannot write the loss log \(path)") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// The entries of a loss log's text (the header and malformed lines are skipped).
    static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: ",")
            guard f.count == 5, let step = Int(f[0]), let loss = Float(f[1]), let rate = Float(f[2]), let norm = Float(f[3]),
                let seconds = Double(f[4])
            else { return nil }
            return Entry(step: step, loss: loss, learningRate: rate, gradientNorm: norm, seconds: seconds)
        }
    }

    /// Reads a run's loss log without touching it; an error names a missing or empty log.
    public static func read(path: String) throws -> [Entry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw TrainingError.badData("cannot read the loss log \(path)") }
        let entries = parse(text)
        guard !entries.isEmpty else { throw TrainingError.badData("\(path) holds no loss entries") }
        return entries
    }

    static func line(_ e: Entry) -> String {
        String(format: "%d,%.6g,%.6g,%.6g,%.3f", e.step, e.loss, e.learningRate, e.gradientNorm, e.seconds)
    }

    public func append(_ entry: Entry) throws {
        entries.append(entry)
        try handle.write(contentsOf: Data((Self.line(entry) + "\n").utf8))
    }

    /// The loss smoothed by an exponential moving average (for plots and progress lines).
    public func smoothedLoss(factor: Float = 0.98) -> [(step: Int, loss: Float)] {
        Self.smoothedLoss(entries, factor: factor)
    }

    /// `entries`' loss smoothed by an exponential moving average.
    public static func smoothedLoss(_ entries: [Entry], factor: Float = 0.98) -> [(step: Int, loss: Float)] {
        var average: Float?
        return entries.map { e in
            average = average.map { factor * $0 + (1 - factor) * e.loss } ?? e.loss
            return (e.step, average!)
        }
    }
}
