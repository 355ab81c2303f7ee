import Foundation
import Testing
import TesseraWorld

@testable import TesseraCLI

/// `tessera train compare-prompts`: two eval-prompts reports paired prompt by prompt, and a clear refusal for
/// reports that do not pair.
@Suite struct ComparePromptsTests {
    static func report(_ folder: URL, _ rows: [(String, String, Double)], facts: Bool) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var object: [String: Any] = [
            "prompts": rows.count, "meanScore": rows.map(\.2).reduce(0, +) / Double(rows.count), "chance": 0.25,
            "rows": rows.map { ["prompt": $0.0, "orientation": $0.1, "score": $0.2, "caption": "c", "missed": [String]()] as [String: Any] },
        ]
        if facts { object["facts"] = [["kind": "present", "satisfied": 3, "total": 4], ["kind": "shape", "satisfied": 1, "total": 4]] }
        try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent("report.json"))
    }

    @Test func pairsTwoReportsAndRefusesOnesThatDoNotPair() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("compare-prompts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try Self.report(a, [("a red ball", "landscape", 0.5), ("a blue square", "portrait", 0.25), ("two stars", "landscape", 1)], facts: false)
        try Self.report(b, [("a red ball", "landscape", 0.75), ("a blue square", "portrait", 0.25), ("two stars", "landscape", 0.5)], facts: true)

        // A folder or its report.json, either way.
        let comparison = try TrainCommand.ComparePrompts.compare(baseline: a.path, candidate: b.appendingPathComponent("report.json").path)
        #expect(comparison.paired.prompts == 3 && comparison.paired.better == 1 && comparison.paired.worse == 1 && comparison.paired.equal == 1)
        #expect(abs(comparison.paired.meanDifference - (-0.25 / 3)) < 1e-12)
        #expect(comparison.landscape?.prompts == 2 && comparison.portrait?.prompts == 1)
        #expect(comparison.baselineFacts == nil && comparison.candidateFacts?.first?.kind == .present)
        var command = try TesseraCommand.parseAsRoot(["train", "compare-prompts", a.path, b.path])
        try command.run()

        let other = root.appendingPathComponent("other")
        try Self.report(other, [("a red ball", "landscape", 0.5), ("a blue square", "landscape", 0.25), ("two stars", "landscape", 1)], facts: true)
        do {
            _ = try TrainCommand.ComparePrompts.compare(baseline: a.path, candidate: other.path)
            Issue.record("reports of different prompts were paired")
        } catch {
            #expect("\(error)".contains("prompt 2 differs") && "\(error)".contains("portrait"), "\(error)")
        }
        let shorter = root.appendingPathComponent("shorter")
        try Self.report(shorter, [("a red ball", "landscape", 0.5)], facts: true)
        do {
            _ = try TrainCommand.ComparePrompts.compare(baseline: a.path, candidate: shorter.path)
            Issue.record("reports of different lengths were paired")
        } catch {
            #expect("\(error)".contains("scores 3 prompts") && "\(error)".contains("1"), "\(error)")
        }
        let notAReport = root.appendingPathComponent("loss.csv")
        try "step,loss\n".write(to: notAReport, atomically: true, encoding: .utf8)
        do {
            _ = try TrainCommand.ComparePrompts.compare(baseline: notAReport.path, candidate: b.path)
            Issue.record("a CSV was read as a report")
        } catch {
            #expect("\(error)".contains("\(notAReport.path) is not an eval-prompts report"), "\(error)")
        }
        do {
            _ = try TrainCommand.ComparePrompts.compare(baseline: root.appendingPathComponent("missing").path, candidate: b.path)
            Issue.record("a missing report was accepted")
        } catch {
            #expect("\(error)".contains("cannot read") && "\(error)".contains("missing"), "\(error)")
        }
    }

    /// `tessera train recipe-prompts`: several trainings read as one recipe, against another, and the same
    /// refusals as compare-prompts when a report does not pair.
    @Test func readsTrainingsAsOneRecipe() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-prompts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folders = (1...4).map { root.appendingPathComponent("t\($0)") }
        try Self.report(folders[0], [("a red ball", "landscape", 0.5), ("a blue square", "portrait", 0.5)], facts: true)
        try Self.report(folders[1], [("a red ball", "landscape", 0), ("a blue square", "portrait", 0.5)], facts: true)
        try Self.report(folders[2], [("a red ball", "landscape", 1), ("a blue square", "portrait", 0.5)], facts: false)
        try Self.report(folders[3], [("a red ball", "landscape", 0.25), ("a blue square", "portrait", 0.25)], facts: true)

        let result = try TrainCommand.RecipePrompts.read(reports: folders[0..<3].map(\.path), against: [folders[3].path])
        #expect(result.recipe.spread.means == [0.5, 0.25, 0.75] && result.recipe.spread.mean == 0.5)
        #expect(result.recipe.landscape?.means == [0.5, 0, 1] && result.recipe.portrait?.standardDeviation == 0)
        #expect(result.recipe.trainings.map(\.landscape) == [0.5, 0, 1] && result.recipe.trainings[0].report.hasSuffix("t1/report.json"))
        #expect(result.prompts.map(\.mean) == [0.5, 0.5] && result.prompts[0].scores == [0.5, 0, 1] && result.prompts[1].against == 0.25)
        let difference = try #require(result.difference)
        #expect(abs(difference.meanDifference - 0.25) < 1e-12 && difference.degreesOfFreedom == 2)
        // Facts summed over the two trainings that count them; the third was written before facts were counted.
        #expect(result.recipe.facts?.first { $0.kind == .present } == FactTally(kind: .present, satisfied: 6, total: 8))
        #expect(result.against?.facts?.first { $0.kind == .shape } == FactTally(kind: .shape, satisfied: 1, total: 4))
        var command = try TesseraCommand.parseAsRoot(["train", "recipe-prompts", folders[0].path, folders[1].path, "--against", folders[3].path])
        try command.run()
        command = try TesseraCommand.parseAsRoot(["train", "recipe-prompts", folders[0].path, "--against", folders[3].path, "--json"])
        try command.run()
        #expect(try TrainCommand.RecipePrompts.read(reports: [folders[0].path], against: [folders[3].path]).difference == nil,
                "two trainings in all show no spread")

        let other = root.appendingPathComponent("other")
        try Self.report(other, [("a red ball", "landscape", 0.5), ("a green star", "portrait", 0.5)], facts: true)
        for (reports, against) in [([folders[0].path, other.path], [String]()), ([folders[0].path], [other.path])] {
            do {
                _ = try TrainCommand.RecipePrompts.read(reports: reports, against: against)
                Issue.record("reports of different prompts were read as one recipe")
            } catch {
                #expect("\(error)".contains("prompt 2 differs") && "\(error)".contains("a green star"), "\(error)")
            }
        }
        do {
            _ = try TrainCommand.RecipePrompts.read(reports: [], against: [folders[0].path])
            Issue.record("a recipe of no reports was read")
        } catch {
            #expect("\(error)".contains("at least one"), "\(error)")
        }
    }
}
