// Prompt expansion: synonyms understood, open attributes filled from the seed, deterministically
// (docs/WORLD.md, "Prompt expansion").

import Foundation
import Testing
import TesseraWorld

@Suite struct PromptExpanderTests {
    static func expand(_ prompt: String, seed: UInt64 = 1, frames: Int = 49, extent: Extent = .landscape) -> ExpandedPrompt {
        PromptExpander().expand(ExpansionRequest(prompt: prompt, seed: seed, extent: extent, frames: frames))
    }

    /// Synonyms land on the world's words, and what the prompt asks for is what the caption says.
    @Test(arguments: [
        ("a red ball bouncing", ObjectColour.red, Shape.circle, MotionClass.bouncing),
        ("a crimson disc hopping", .red, .circle, .bouncing),
        ("a scarlet sphere dropping", .red, .circle, .falling),
        ("a green box sliding left", .green, .square, .moving(.left)),
        ("an emerald cube heading left", .green, .square, .moving(.left)),
        ("a golden star moving to the right", .yellow, .star, .moving(.right)),
        ("a violet pyramid rising", .purple, .triangle, .moving(.up)),
        ("a navy gem falling", .blue, .diamond, .falling),
        ("a magenta block sitting still", .pink, .square, .still),
        ("a white orb gliding up and to the left", .white, .circle, .moving(.upLeft)),
    ])
    func synonyms(_ prompt: String, _ colour: ObjectColour, _ shape: Shape, _ motion: MotionClass) {
        for seed in 0..<3 as Range<UInt64> {
            let expanded = Self.expand(prompt, seed: seed)
            let object = expanded.facts.objects[0]
            #expect(expanded.facts.objects.count == 1)
            #expect(object.colour == colour && object.shape == shape && object.motion == motion,
                    "\(prompt) (seed \(seed)) → \(expanded.caption)")
            #expect(expanded.notes.isEmpty, "\(expanded.notes)")
            // The caption is exact for the scene kept with it.
            #expect(CaptionParser.parse(expanded.caption).facts == Captioner.facts(expanded.scene))
        }
    }

    /// Backgrounds, sizes, places and framing words are understood too.
    @Test func otherAttributes() {
        let a = Self.expand("a big yellow square in the top left on a navy background", seed: 3)
        #expect(a.facts.objects[0].size == .large && a.facts.objects[0].region == .topLeft)
        #expect(a.facts.background == Background(.darkBlue))
        let b = Self.expand("a tiny pink star drifting across a night sky", seed: 3)
        #expect(b.facts.objects[0].size == .small && b.facts.background == Background(.darkBlue))
        if case .moving(let direction)? = b.facts.objects[0].motion {
            #expect(direction == .left || direction == .right)
        } else {
            Issue.record("drifting across should move left or right: \(b.caption)")
        }
        let c = Self.expand("close-up of a ball", seed: 3)
        #expect(c.facts.framing == .closeUp && c.facts.objects[0].size == .large)
        let d = Self.expand("a purple circle and a white square colliding", seed: 3)
        #expect(d.facts.objects.map(\.shape) == [.circle, .square])
        #expect(d.facts.events.contains(CaptionFacts.Event(.collision, 0, 1)), "\(d.caption)")
        let e = Self.expand("a pink diamond passes in front of a green ball", seed: 3)
        #expect(e.facts.events.contains(CaptionFacts.Event(.occlusion, 0, 1)), "\(e.caption)")
        let f = Self.expand("a red ball on a sandy beach", seed: 3)
        #expect(f.facts.background == Background(.beige))
    }

    /// Open attributes come from the seed: the same seed gives the same caption, other seeds others.
    @Test func seedFillsOpenAttributes() {
        let prompt = "a ball"
        let first = Self.expand(prompt, seed: 11)
        #expect(first == Self.expand(prompt, seed: 11))
        #expect(Set(first.filled).isSuperset(of: ["background", "object 1: colour", "object 1: size", "object 1: motion"]))
        let captions = Set((0..<12 as Range<UInt64>).map { Self.expand(prompt, seed: $0).caption })
        #expect(captions.count >= 10, "12 seeds gave only \(captions.count) different captions")
        // What the prompt fixes never varies with the seed.
        for seed in 0..<12 as Range<UInt64> {
            #expect(Self.expand(prompt, seed: seed).facts.objects[0].shape == .circle)
        }
    }

    /// What the world cannot show is noted, not silently dropped; a clash with the background is resolved.
    @Test func notesWhatCannotBeShown() {
        let spinning = Self.expand("an orange triangle spinning in place")
        #expect(spinning.notes.contains { $0.contains("spinning") })
        #expect(spinning.facts.objects[0].motion == .still)
        let clash = Self.expand("a white ball on a white background")
        #expect(clash.facts.objects[0].colour == .white && clash.facts.background != Background(.white))
        #expect(!clash.notes.isEmpty)
    }

    /// Images get a caption without motion; portrait frames work the same.
    @Test func imagesAndPortrait() {
        let image = Self.expand("a red ball bouncing", frames: 1)
        #expect(image.facts.objects[0].motion == nil && !image.caption.contains("bounce"))
        let portrait = Self.expand("a blue star falling", extent: .portrait)
        #expect(portrait.scene.extent == .portrait && portrait.facts.objects[0].motion == .falling)
    }
}
