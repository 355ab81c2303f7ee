// Grounded objects: a caption's objects as features and the box each starts in (docs/WORLD.md, "Grounding").

import Testing
import TesseraWorld

@Suite struct ObjectGroundingTests {
    /// Every object of 100 random scenes: presence, one colour, one shape, one size and (in a clip) one motion,
    /// each at its place in the features; and a box of the object's size around where it starts.
    @Test func featuresAndBoxesDescribeEachObjectWhereItStarts() {
        #expect(ObjectGrounding.featureCount == 1 + 9 + 5 + 3 + 11)
        for seed in 0..<100 as Range<UInt64> {
            let clip = ClipShape.sample(seed: seed)
            let scene = SceneSampler.sample(seed: seed, extent: clip.aspect.extent, frames: clip.frames, fps: clip.fps)
            let facts = Captioner.facts(scene)
            let grounded = ObjectGrounding.objects(scene)
            #expect(grounded.count == scene.objects.count)
            for (index, (features, box)) in grounded.enumerated() {
                let object = scene.objects[index]
                #expect(features[0] == 1)
                #expect(features[1 + ObjectColour.allCases.firstIndex(of: object.colour)!] == 1)
                #expect(features[10 + Shape.allCases.firstIndex(of: object.shape)!] == 1)
                #expect(features[15 + SizeClass.allCases.firstIndex(of: object.size)!] == 1)
                #expect(features.reduce(0, +) == (facts.objects[index].motion == nil ? 4 : 5), "seed \(seed) object \(index)")
                let x = object.position.x / scene.extent.width, y = object.position.y / scene.extent.height
                #expect(box[0] <= x && x <= box[2] && box[1] <= y && y <= box[3], "seed \(seed): the box holds the start")
                let inside = box[0] > 0 && box[2] < 1
                if inside { #expect(abs((box[2] - box[0]) * scene.extent.width - 2 * object.radius) < 1e-9) }
            }
        }
    }

    /// Facts that lie about an object change its features, or move its box to the centre of the region they
    /// name; the truth leaves the scene's own.
    @Test func liesMoveTheBoxOrChangeTheFeatures() throws {
        let scene = SceneSampler.sample(seed: 11, extent: .landscape, frames: 9, fps: 24)
        let truth = Captioner.facts(scene)
        let own = ObjectGrounding.objects(scene)
        let stated = ObjectGrounding.objects(scene, facts: truth)
        #expect(zip(own, stated).allSatisfy { $0.features == $1.features && $0.box == $1.box })
        let moved = try #require(truth.altered(.position))
        let lied = ObjectGrounding.objects(scene, facts: moved)
        let region = try #require(moved.objects[0].region)
        let centre = ((lied[0].box[0] + lied[0].box[2]) / 2, (lied[0].box[1] + lied[0].box[3]) / 2)
        #expect(Region(fractionX: centre.0, fractionY: centre.1) == region && region != truth.objects[0].region)
        #expect(lied[0].features == own[0].features)
        let recoloured = ObjectGrounding.objects(scene, facts: try #require(truth.altered(.present)))
        #expect(recoloured[0].box == own[0].box && recoloured[0].features != own[0].features)
    }

    /// The prompt expander's scene grounds what the prompt asked for where it asked.
    @Test func anExpandedPromptGroundsItsObjectsWhereThePromptPutsThem() {
        let expanded = PromptExpander().expand(ExpansionRequest(prompt: "a red ball in the top left", seed: 4, frames: 1))
        let grounded = ObjectGrounding.objects(expanded.scene, facts: expanded.facts)
        #expect(grounded.count == 1)
        let (features, box) = grounded[0]
        #expect(features[1 + ObjectColour.allCases.firstIndex(of: .red)!] == 1 && features[10 + Shape.allCases.firstIndex(of: .circle)!] == 1)
        #expect(Region(fractionX: (box[0] + box[2]) / 2, fractionY: (box[1] + box[3]) / 2) == .topLeft)
    }
}
