import Foundation
import Testing

@testable import TesseraCLI

/// `tessera train eval-prompts`: a model's prompt adherence through the worker's render path, with the
/// chance level and the world's own renders as the floor and the ceiling.
@Suite(.serialized) struct PromptAdherenceTests {
    @Test func scoresEachPromptsPrototypeAndTheFullPassWithItsCeilingAndChance() throws {
        let (_, model) = try VideoRenderTests.model()
        defer { try? FileManager.default.removeItem(at: model) }
        let prompts = model.appendingPathComponent("prompts.jsonl"), out = model.appendingPathComponent("eval")
        try """
            {"prompt": "a red ball bouncing", "seed": 100, "orientation": "landscape", "duration": 0.5, "fps": 8}
            {"prompt": "a blue square on a white background", "seed": 101, "orientation": "portrait", "duration": 0, "fps": 24}
            """.write(to: prompts, atomically: true, encoding: .utf8)
        var command = try TesseraCommand.parseAsRoot([
            "train", "eval-prompts", "--prompts", prompts.path, "--out", out.path, "--dit", model.path, "--vae", model.path,
            "--text-encoder", VideoRenderTests.textEncoder.path, "--steps", "2", "--full", "1", "--threads", "1",
            "--sheet", out.appendingPathComponent("sheet.png").path,
        ])
        try command.run()
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as! [String: Any]
        #expect(report["prompts"] as? Int == 2)
        #expect((report["world"] as? Double ?? 0) >= 0.9, "the world's own renders follow their captions")
        let score = report["meanScore"] as? Double ?? -1
        #expect(score >= 0 && score < (report["world"] as? Double ?? 0), "random networks do worse than the world")
        #expect(report["full"] as? Int == 1)
        // What made the videos.
        #expect((report["model"] as? String)?.count == 16 && report["dit"] as? String == model.path && report["guide"] == nil)
        #expect(report["steps"] as? Int == 2 && report["guidance"] as? Double == 5 && report["autoguidance"] as? Double == 1)
        let ratio = report["sharpnessRatio"] as? Double ?? 0
        #expect(ratio.isFinite && ratio > 0)
        let rows = report["rows"] as? [[String: Any]] ?? []
        #expect(rows.count == 2)
        #expect(rows.first?["fullScore"] is Double)
        #expect(rows.last?["fullScore"] == nil, "only the first prompt has a full pass")
        let caption = (rows.first?["caption"] as? String ?? "").lowercased()
        #expect(caption.contains("red circle"), "scored against the expanded caption")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("sheet.png").path))
        // Facts counted by kind: one object in each caption, so two "present" facts, and one background.
        let facts = report["facts"] as? [[String: Any]] ?? []
        let byKind = Dictionary(uniqueKeysWithValues: facts.compactMap { f in (f["kind"] as? String).map { ($0, f) } })
        #expect(byKind["present"]?["total"] as? Int == 2, "\(facts)")
        #expect((byKind["background"]?["total"] as? Int ?? 0) >= 1, "\(facts)")
        #expect(facts.allSatisfy { ($0["satisfied"] as? Int ?? -1) >= 0 && ($0["satisfied"] as? Int ?? 0) <= ($0["total"] as? Int ?? -1) })
    }

    @Test func aBadPromptFileNamesItsLineAndRendersNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-evalp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("prompts.jsonl")
        try """
            {"prompt": "a red ball", "seed": 1, "orientation": "landscape", "duration": 1, "fps": 24}
            {"prompt": "a blue ball", "seed": 2, "orientation": "sideways", "duration": 1, "fps": 24}
            """.write(to: prompts, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("eval")
        do {
            var command = try TesseraCommand.parseAsRoot(["train", "eval-prompts", "--prompts", prompts.path, "--out", out.path])
            try command.run()
            Issue.record("a bad orientation was accepted")
        } catch {
            #expect("\(error)".contains("line 2"))
            #expect("\(error)".contains("orientation"))
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing was written")
    }

    /// Autoguidance without a guide is refused when the command line is parsed, by both commands that take it.
    @Test func autoguidanceWithoutAGuideIsRefusedAtParse() throws {
        for command in [["train", "eval-prompts", "--out", "/nonexistent/eval"], ["render", "a red ball", "--out", "/nonexistent/a.mp4"]] {
            #expect {
                _ = try TesseraCommand.parseAsRoot(command + ["--autoguidance", "2"])
            } throws: { error in
                TesseraCommand.message(for: error).contains("--autoguidance 2.0 needs --guide")
            }
            #expect(throws: Never.self) { _ = try TesseraCommand.parseAsRoot(command + ["--autoguidance", "2", "--guide", "/some/guide"]) }
            #expect(throws: Never.self) { _ = try TesseraCommand.parseAsRoot(command) }
        }
    }

    /// Stochastic steps: a value outside [0, 1], another solver or a malformed interval is refused when the
    /// command line is parsed, naming the option; good values parse.
    @Test func badStochasticityIsRefusedAtParse() throws {
        for command in [["train", "eval-prompts", "--out", "/nonexistent/eval"], ["render", "a red ball", "--out", "/nonexistent/a.mp4"]] {
            for (extra, message) in [
                (["--stochasticity", "1.5"], "--stochasticity must lie in [0, 1]"),
                (["--stochasticity=-0.1"], "--stochasticity must lie in [0, 1]"),
                (["--stochasticity", "1", "--solver", "heun"], "--stochasticity needs --solver euler, not heun"),
                (["--stochasticity", "1", "--stochastic-interval", "0.7,0.2"], "--stochastic-interval must be LOW,HIGH"),
                (["--guidance-interval", "0.5"], "--guidance-interval must be LOW,HIGH"),
            ] {
                #expect {
                    _ = try TesseraCommand.parseAsRoot(command + extra)
                } throws: { error in
                    TesseraCommand.message(for: error).contains(message)
                }
            }
            #expect(throws: Never.self) { _ = try TesseraCommand.parseAsRoot(command + ["--stochasticity", "1", "--stochastic-interval", "0.5,1"]) }
        }
    }
}
