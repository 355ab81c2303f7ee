// The batch form of `tessera eval`: whole-file checking with every bad line reported.

import Foundation
import Testing
import TesseraWorld

@Suite struct EvaluationBatchTests {
    @Test func parsesPairsRelativeToTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("a"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = """
            {"video": "a", "caption": "a red ball bouncing"}

            # comments and blank lines are skipped
            {"video": "a", "caption": "a blue box", "reference": "a"}
            """
        let pairs = try EvaluationBatch.parse(Data(text.utf8), folder: folder)
        #expect(pairs.map(\.line) == [1, 4])
        #expect(pairs[0].video.path == folder.appendingPathComponent("a").path && pairs[1].reference != nil)
    }

    @Test func reportsEveryBadLine() {
        let text = """
            {"video": "missing", "caption": "x"}
            not json
            {"video": "/", "caption": ""}
            {"video": "/", "caption": "x", "colour": "red"}
            """
        #expect {
            try EvaluationBatch.parse(Data(text.utf8), folder: URL(fileURLWithPath: "/nonexistent"))
        } throws: { error in
            let problems = (error as? EvaluationBatchError)?.problems ?? []
            return problems.count == 4 && problems[0].hasPrefix("line 1") && problems[1].hasPrefix("line 2")
                && problems[2].hasPrefix("line 3") && problems[3].contains("colour")
        }
        #expect(throws: EvaluationBatchError.self) { try EvaluationBatch.parse(Data(), folder: URL(fileURLWithPath: "/")) }
    }
}
