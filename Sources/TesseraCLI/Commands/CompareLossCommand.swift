import ArgumentParser
import Foundation
import TesseraMedia
import TesseraTraining

extension TrainCommand {
    /// `tessera train compare-loss`: the smoothed loss curves of several runs on one chart, to compare recipes
    /// that share their batches (the same seed: the curves are paired step by step).
    struct CompareLoss: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare-loss",
            abstract: "Plot the smoothed loss of several training runs on one chart (PNG).",
            discussion: "Each RUN is a training folder holding loss.csv, optionally followed by =LABEL (the folder's name otherwise).")

        @Argument(help: "Training folders, each FOLDER or FOLDER=LABEL.")
        var runs: [String]
        @Option(help: "The PNG to write.")
        var out: String
        @Option(help: "The chart's title.")
        var title = "SMOOTHED LOSS"
        @Option(help: "Only steps below this one (0: all).")
        var steps = 0

        static let colors: [(UInt8, UInt8, UInt8)] = [(60, 60, 60), (200, 40, 40), (40, 110, 200), (40, 150, 60), (200, 130, 20), (140, 60, 170)]

        func run() throws {
            guard !runs.isEmpty else { throw CLIError("name at least one training folder") }
            guard runs.count <= Self.colors.count else { throw CLIError("at most \(Self.colors.count) runs on one chart, not \(runs.count)") }
            guard steps >= 0 else { throw CLIError("--steps must be 0 or more, not \(steps)") }
            // Every log is read before anything is written: a bad folder leaves no chart.
            let series = try runs.enumerated().map { index, run -> LinePlot.Series in
                let parts = run.split(separator: "=", maxSplits: 1).map(String.init)
                let folder = parts[0], label = parts.count > 1 ? parts[1] : URL(fileURLWithPath: folder).lastPathComponent
                let entries = try TrainingLog.read(path: URL(fileURLWithPath: folder).appendingPathComponent("loss.csv").path)
                    .filter { steps == 0 || $0.step < steps }
                let points = TrainingLog.smoothedLoss(entries).map { (x: Double($0.step), y: Double($0.loss)) }
                let (r, g, b) = Self.colors[index]
                return .init(name: label.uppercased(), points: points, color: (r, g, b))
            }
            try LinePlot(title: title.uppercased(), xLabel: "STEP", series: series).render().writePNG(to: URL(fileURLWithPath: out))
            print("wrote \(out)")
        }
    }
}
