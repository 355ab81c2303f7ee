// Captions are exact: the facts written for a scene, parsed back from every phrasing, are the facts of the
// scene (docs/WORLD.md, "Captions").

import Foundation
import Testing
import TesseraWorld

@Suite struct CaptionTests {
    /// Every phrasing of 300 random scenes (all aspects, images and clips) parses back to the scene's facts.
    @Test func captionsParseBackToTheirFacts() {
        var failures: [String] = []
        for seed in 0..<300 as Range<UInt64> {
            let clip = ClipShape.sample(seed: seed)
            let scene = SceneSampler.sample(seed: seed, extent: clip.aspect.extent, frames: clip.frames, fps: clip.fps)
            let facts = Captioner.facts(scene)
            for phrasing in Phrasing.allCases {
                let text = Captioner.caption(facts, phrasing: phrasing)
                let parsed = CaptionParser.parse(text)
                if parsed.facts != facts || !parsed.ignored.isEmpty {
                    failures.append("seed \(seed) \(phrasing): \(text)\n  parsed \(parsed.facts)\n  wanted \(facts)\n  ignored \(parsed.ignored)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) captions misread; first: \(failures.first ?? "")")
    }

    /// The examples in docs/WORLD.md, written out by hand.
    @Test func writesTheDocumentedExample() {
        let facts = CaptionFacts(
            objects: [
                .init(colour: .red, shape: .circle, size: .large, region: .center, motion: .bouncing),
                .init(colour: .green, shape: .star, size: .small, region: .topRight, motion: .moving(.left)),
            ],
            background: Background(.lightBlue), framing: .closeUp, events: [.init(.occlusion, 0, 1)])
        #expect(Captioner.caption(facts, phrasing: .prose) == """
            A large red circle in the center bounces on a light blue background, while a small green star in the top \
            right drifts to the left. The red circle passes in front of the green star. Close-up, static camera.
            """)
        #expect(Captioner.caption(facts, phrasing: .backgroundFirst) == """
            On a light blue background, a large red circle in the center bounces around. A small green star in the \
            top right moves to the left. The green star passes behind the red circle. The camera is static: a close-up.
            """)
        #expect(Captioner.caption(facts, phrasing: .list) == """
            Background: light blue. Objects: a large red circle in the center, bouncing; a small green star in the \
            top right, moving to the left. The red circle crosses in front of the green star. Camera: static close-up.
            """)
        for phrasing in Phrasing.allCases {
            #expect(CaptionParser.parse(Captioner.caption(facts, phrasing: phrasing)).facts == facts)
        }
    }

    /// A changed fact changes the parse: the round trip is not vacuous.
    @Test func aChangedWordChangesTheFacts() {
        let facts = CaptionFacts(
            objects: [.init(colour: .red, shape: .circle, size: .large, region: .center, motion: .moving(.left))],
            background: Background(top: .darkBlue, bottom: .black), framing: .closeUp)
        let text = Captioner.caption(facts)
        #expect(CaptionParser.parse(text).facts == facts)
        for (from, to) in [("red", "blue"), ("circle", "square"), ("large", "small"), ("center", "top"), ("left", "right"),
                           ("dark blue at the top", "black at the top"), ("Close-up", "Wide shot")] {
            #expect(CaptionParser.parse(text.replacingOccurrences(of: from, with: to)).facts != facts, "\(from) → \(to)")
        }
    }
}
