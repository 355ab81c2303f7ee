// The fixed evaluation prompts (eval/prompts.jsonl) that training uses to measure prompt adherence: each is
// understood in full, and a render of its expansion reads back as its caption (docs/WORLD.md, "Evaluation
// prompts").

import Foundation
import Testing
import TesseraWorld

@Suite struct EvalPromptsTests {
    struct Line: Decodable {
        var prompt: String
        var seed: UInt64
        var orientation: String
        var duration: Double
        var fps: Double
    }

    static let lines: [Line] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("eval/prompts.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }()

    /// The request a job with this line's settings makes: frames = duration × fps + 1, one frame for 0 s.
    static func request(_ line: Line) -> ExpansionRequest {
        ExpansionRequest(
            prompt: line.prompt, seed: line.seed, extent: line.orientation == "portrait" ? .portrait : .landscape,
            frames: line.duration == 0 ? 1 : Int((line.duration * line.fps).rounded()) + 1, fps: line.fps)
    }

    @Test func fiftyPromptsInBothOrientations() {
        #expect(Self.lines.count == 50)
        #expect(Set(Self.lines.map(\.orientation)) == ["landscape", "portrait"])
        #expect(Set(Self.lines.map(\.seed)).count == 50)
    }

    /// Every word that matters is understood, and every attribute a prompt fixes is in its expanded caption.
    @Test func everyPromptIsUnderstoodAndKept() {
        for line in Self.lines {
            let expanded = PromptExpander().expand(Self.request(line))
            #expect(expanded.notes.isEmpty, "\(line.prompt): \(expanded.notes)")
            let asked = CaptionParser.parse(line.prompt)
            #expect(expanded.facts.objects.count == asked.objects.count, "\(line.prompt) → \(expanded.caption)")
            for (want, got) in zip(asked.objects, expanded.facts.objects) {
                #expect(want.colour == nil || want.colour == got.colour, "\(line.prompt) → \(expanded.caption)")
                #expect(want.shape == nil || want.shape == got.shape, "\(line.prompt) → \(expanded.caption)")
                #expect(want.size == nil || want.size == got.size, "\(line.prompt) → \(expanded.caption)")
                #expect(want.region == nil || want.region == got.region, "\(line.prompt) → \(expanded.caption)")
                #expect(want.motionClass == nil || got.motion == nil || want.motionClass == got.motion,
                        "\(line.prompt) → \(expanded.caption)")
            }
            if let background = asked.background { #expect(expanded.facts.background == background, "\(line.prompt)") }
            for event in asked.events { #expect(expanded.facts.events.contains(event), "\(line.prompt) → \(expanded.caption)") }
        }
    }

    /// The scenes behind the expansions, rendered small, score at least 0.9 against their expanded captions:
    /// the evaluator can judge the prompts' captions (every fifth prompt, to keep the debug build quick).
    @Test func expansionsReadBack() throws {
        var scores: [Double] = []
        for line in Self.lines.enumerated().filter({ $0.offset % 5 == 0 }).map(\.element) {
            var request = Self.request(line)
            request.frames = min(request.frames, 49)
            let expanded = PromptExpander().expand(request)
            let (width, height) = line.orientation == "portrait" ? (144, 256) : (256, 144)
            var frames = TensorFrames(SceneRenderer(scene: expanded.scene, width: width, height: height).frames(), fps: line.fps)
            let report = try Evaluator().evaluate(&frames, caption: expanded.caption)
            scores.append(report.score)
            #expect(report.score >= 0.9, "\(line.prompt): \(report.facts.filter { !$0.satisfied })")
        }
        print("expanded prompts read back: mean \(scores.reduce(0, +) / Double(scores.count)) over \(scores.count)")
    }
}
