import Foundation
import Testing

@testable import TesseraCLI

/// `tessera train compare-loss`: several runs' curves on one chart, and nothing written for a bad folder.
@Suite struct CompareLossTests {
    static func run(_ folder: URL, losses: [Float]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lines = losses.enumerated().map { "\($0.offset),\($0.element),0.001,0.5,1.0" }
        try (["step,loss,learning_rate,gradient_norm,seconds"] + lines).joined(separator: "\n")
            .write(to: folder.appendingPathComponent("loss.csv"), atomically: true, encoding: .utf8)
    }

    @Test func twoRunsOnOneChartAndABadFolderWritesNothing() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("compare-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try Self.run(a, losses: (0..<50).map { 2 / Float($0 + 1) })
        try Self.run(b, losses: (0..<40).map { 3 / Float($0 + 1) })
        let chart = root.appendingPathComponent("chart.png")
        var command = try TesseraCommand.parseAsRoot(["train", "compare-loss", a.path, "\(b.path)=other recipe", "--out", chart.path])
        try command.run()
        let bytes = try Data(contentsOf: chart)
        #expect(bytes.count > 1000 && bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")

        let missing = root.appendingPathComponent("missing"), second = root.appendingPathComponent("second.png")
        do {
            var bad = try TesseraCommand.parseAsRoot(["train", "compare-loss", a.path, missing.path, "--out", second.path])
            try bad.run()
            Issue.record("a folder without loss.csv was accepted")
        } catch {
            #expect("\(error)".contains(missing.appendingPathComponent("loss.csv").path), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: second.path), "no chart for a bad folder")
    }
}
