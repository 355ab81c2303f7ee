// The evaluator's validation (docs/WORLD.md, "Validation"): ground-truth renders score high against their
// own captions, noise and other scenes' captions score near chance.

import Foundation
import Testing
import TesseraTensor
import TesseraWorld

@Suite struct EvaluatorTests {
    /// Frames per validation clip: 33 at 24 fps (1.33 s), long enough for falls, bounces and encounters.
    static let frames = 33
    static let scenes = 50

    struct Averages {
        var truth = 0.0, noise = 0.0, mismatched = 0.0
        var worst: [(UInt64, Double, [FactCheck])] = []
    }

    static func measure(_ aspect: AspectBucket, seeds: Range<UInt64>) throws -> Averages {
        let (width, height) = aspect.size(shortSide: 288)
        let evaluator = Evaluator()
        var readings: [VideoReading] = []
        var captions: [String] = []
        for seed in seeds {
            let scene = SceneSampler.sample(seed: seed, extent: aspect.extent, frames: frames, fps: 24)
            let renderer = SceneRenderer(scene: scene, width: width, height: height)
            var source = TensorFrames(renderer.frames(), fps: 24)
            readings.append(try evaluator.read(&source))
            let phrasing = Phrasing.allCases[Int(seed % 3)]
            captions.append(Captioner.caption(Captioner.facts(scene, trajectory: renderer.trajectory), phrasing: phrasing))
        }
        var averages = Averages()
        let n = Double(seeds.count)
        for i in readings.indices {
            let own = evaluator.score(readings[i], caption: captions[i])
            averages.truth += own.score / n
            if own.score < 1 { averages.worst.append((seeds.lowerBound + UInt64(i), own.score, own.facts.filter { !$0.satisfied })) }
            averages.mismatched += evaluator.score(readings[i], caption: captions[(i + 1) % captions.count]).score / n
        }
        // Noise: uniform in [-1, 1], a fresh clip per caption (two of them: noise reads the same every time, as
        // nothing: no object survives the component filter and the background matches no colour).
        for i in 0..<2 {
            var state = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ 1
            let noise = (0..<frames).map { _ in
                Tensor(shape: [height, width, 3], storage: (0..<(width * height * 3)).map { _ in
                    // xorshift64*: cheap in a debug build, and the noise only has to be noise.
                    state ^= state >> 12
                    state ^= state << 25
                    state ^= state >> 27
                    return Float((state &* 0x2545_F491_4F6C_DD1D) >> 40) / Float(1 << 24) * 2 - 1
                })
            }
            var source = TensorFrames(noise, fps: 24)
            averages.noise += try evaluator.evaluate(&source, caption: captions[i]).score / 2
        }
        return averages
    }

    @Test(arguments: [AspectBucket.landscape, .portrait])
    func groundTruthScoresHighNoiseAndMismatchNearChance(_ aspect: AspectBucket) throws {
        let averages = try Self.measure(aspect, seeds: 1000..<(1000 + UInt64(Self.scenes)))
        print(String(format: "evaluator %@: truth %.3f, mismatched %.3f, noise %.3f", aspect.rawValue, averages.truth,
                     averages.mismatched, averages.noise))
        for (seed, score, misses) in averages.worst {
            print("  seed \(seed) \(String(format: "%.2f", score)): " + misses.map { "\($0.fact) wanted \($0.expected) saw \($0.observed)" }.joined(separator: "; "))
        }
        #expect(averages.truth >= 0.95)
        #expect(averages.mismatched <= 0.4)
        #expect(averages.noise <= 0.1)
    }
    /// A 3×3 box blur, Gaussian noise of standard deviation `sigma` and a colour shift (+shift on red, −shift
    /// on green and blue), clamped to [-1, 1]: roughly what a decoder's output looks like next to a render.
    static func degrade(_ frame: Tensor, sigma: Float, shift: Float, seed: UInt64) -> Tensor {
        let h = frame.shape[0], w = frame.shape[1]
        var across = frame.storage, out = frame.storage
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    let l = frame.storage[(y * w + max(x - 1, 0)) * 3 + c], r = frame.storage[(y * w + min(x + 1, w - 1)) * 3 + c]
                    across[(y * w + x) * 3 + c] = (l + frame.storage[(y * w + x) * 3 + c] + r) / 3
                }
            }
        }
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func uniform() -> Float {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return (Float((state &* 0x2545_F491_4F6C_DD1D) >> 40) + 0.5) / Float(1 << 24)
        }
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    let up = across[(max(y - 1, 0) * w + x) * 3 + c], down = across[(min(y + 1, h - 1) * w + x) * 3 + c]
                    let blurred = (up + across[(y * w + x) * 3 + c] + down) / 3
                    let normal = (-2 * log(uniform())).squareRoot() * cos(2 * Float.pi * uniform())
                    out[(y * w + x) * 3 + c] = min(max(blurred + sigma * normal + (c == 0 ? shift : -shift), -1), 1)
                }
            }
        }
        return Tensor(shape: frame.shape, storage: out)
    }

    /// Blurred, noisy, colour-shifted renders still read as their captions.
    @Test func degradedRendersStillRead() throws {
        var total = 0.0
        let seeds: Range<UInt64> = 2000..<2008
        for seed in seeds {
            let scene = SceneSampler.sample(seed: seed, extent: .landscape, frames: 25, fps: 24)
            let renderer = SceneRenderer(scene: scene, width: 384, height: 216)
            let frames = renderer.frames().map { Self.degrade($0, sigma: 0.05, shift: 0.04, seed: seed) }
            var source = TensorFrames(frames, fps: 24)
            let caption = Captioner.caption(Captioner.facts(scene, trajectory: renderer.trajectory))
            total += try Evaluator().evaluate(&source, caption: caption).score / Double(seeds.count)
        }
        print(String(format: "evaluator on degraded renders: %.3f", total))
        #expect(total >= 0.9)
    }

    /// Objects of one colour (which only prompts ask for) are told apart: the demo's prompts read back.
    @Test(arguments: [
        "two yellow stars drifting across a night sky", "three red balls bouncing", "a red ball bouncing on a blue floor",
        "a green square sliding left, then falling", "a purple circle and a white square colliding",
    ])
    func promptsWithAlikeObjectsReadBack(_ prompt: String) throws {
        for seed in 0..<3 as Range<UInt64> {
            let expanded = PromptExpander().expand(ExpansionRequest(prompt: prompt, seed: seed, frames: 33))
            let renderer = SceneRenderer(scene: expanded.scene, width: 256, height: 144)
            var source = TensorFrames(renderer.frames(), fps: 24)
            let report = try Evaluator().evaluate(&source, caption: expanded.caption)
            #expect(report.score >= 0.9, "\(prompt) seed \(seed): \(expanded.caption) → \(report.facts.filter { !$0.satisfied })")
        }
    }

    /// A caption asking for two objects of a colour the video shows once finds the one, not neither.
    @Test func oneOfTwoAlikeObjectsIsStillFound() throws {
        let star = SceneObject(shape: .star, colour: .yellow, size: .medium, position: Vec2(0.5, 0.5), velocity: Vec2(0.3, 0))
        let scene = SceneSpec(extent: .landscape, frames: 17, fps: 24, background: Background(.darkBlue), objects: [star])
        var source = TensorFrames(SceneRenderer(scene: scene, width: 256, height: 144).frames(), fps: 24)
        let report = try Evaluator().evaluate(&source, caption: "Two yellow stars drifting to the right on a dark blue background.")
        let present = report.facts.filter { $0.kind == .present }
        #expect(present.count == 2 && present.filter(\.satisfied).count == 1, "\(report.facts)")
        #expect(present.allSatisfy { $0.fact.hasSuffix(": present") })
        let tallies = FactTally.tally(report.facts)
        #expect(tallies.first == FactTally(kind: .present, satisfied: 1, total: 2), "\(tallies)")
        #expect(tallies.map(\.total).reduce(0, +) == report.total && tallies.map(\.satisfied).reduce(0, +) == report.satisfied)
        #expect(tallies.map(\.kind) == FactKind.allCases.filter { kind in report.facts.contains { $0.kind == kind } }, "in FactKind order")
    }

    /// Every fact a world caption states is checked under its own kind.
    @Test func factsCarryTheirKind() throws {
        let a = SceneObject(shape: .circle, colour: .red, size: .large, position: Vec2(0.3, 0.5), velocity: Vec2(0.4, 0))
        let b = SceneObject(shape: .square, colour: .blue, size: .small, position: Vec2(0.7, 0.5), velocity: Vec2(-0.4, 0))
        let scene = SceneSpec(extent: .landscape, frames: 25, fps: 24, background: Background(.white), objects: [a, b])
        let renderer = SceneRenderer(scene: scene, width: 256, height: 144)
        var source = TensorFrames(renderer.frames(), fps: 24)
        let caption = Captioner.caption(Captioner.facts(scene, trajectory: renderer.trajectory))
        let report = try Evaluator().evaluate(&source, caption: caption)
        let kinds = Set(report.facts.map(\.kind))
        #expect(kinds.isSuperset(of: [.present, .shape, .size, .position, .motion, .background]), "\(caption): \(report.facts)")
        for check in report.facts {
            switch check.kind {
            case .present, .shape, .size, .position, .motion: #expect(check.fact.hasSuffix(": \(check.kind.rawValue)"), "\(check)")
            case .background, .framing: #expect(check.fact == check.kind.rawValue, "\(check)")
            case .event: #expect(check.fact.hasSuffix(": collide") || check.fact.contains(" in front of "), "\(check)")
            }
        }
    }

    /// A lie changes exactly one fact of its kind, and its caption says so.
    @Test func captionsThatLieAboutOneKindOfFact() throws {
        let truth = CaptionFacts(
            objects: [.init(colour: .red, shape: .circle, size: .large, region: .topRight, motion: .moving(.left)),
                      .init(colour: .orange, shape: .square, size: .small, region: .center, motion: .still)],
            background: Background(top: .black, bottom: .beige), framing: .closeUp)
        let expected: [FactKind: CaptionFacts.Object] = [
            .present: .init(colour: .yellow, shape: .circle, size: .large, region: .topRight, motion: .moving(.left)),  // orange is taken
            .shape: .init(colour: .red, shape: .square, size: .large, region: .topRight, motion: .moving(.left)),
            .size: .init(colour: .red, shape: .circle, size: .small, region: .topRight, motion: .moving(.left)),
            .position: .init(colour: .red, shape: .circle, size: .large, region: .bottomLeft, motion: .moving(.left)),
            .motion: .init(colour: .red, shape: .circle, size: .large, region: .topRight, motion: .moving(.right)),
        ]
        for (kind, object) in expected {
            let lie = try #require(truth.altered(kind), "\(kind)")
            #expect(lie.objects == [object, truth.objects[1]] && lie.background == truth.background, "\(kind): \(lie)")
            for phrasing in Phrasing.allCases {
                #expect(CaptionParser.parse(Captioner.caption(lie, phrasing: phrasing)).facts.objects[0] == object, "\(kind) \(phrasing)")
            }
        }
        let background = try #require(truth.altered(.background))
        #expect(background.objects == truth.objects && background.background != truth.background && background.background?.isGradient == false)
        #expect(truth.altered(.framing) == nil && truth.altered(.event) == nil, "framing and events are not lied about on their own")
        let still = CaptionFacts(objects: [.init(colour: .blue, shape: .star, size: .medium, region: .center)])
        #expect(still.altered(.motion) == nil && still.altered(.background) == nil, "an image states no motion; no background, no lie")
        #expect(still.altered(.position)?.objects[0].region == .topLeft, "the centre has no mirror image")
    }

    /// Paired scores: the mean difference, its standard error and how many prompts went each way.
    @Test func pairedComparison() {
        let paired = PairedComparison(baseline: [0.5, 0.5, 1, 0.25], candidate: [1, 0.5, 0.5, 0.5])
        #expect(paired.prompts == 4 && paired.better == 2 && paired.worse == 1 && paired.equal == 1)
        #expect(abs(paired.meanDifference - 0.0625) < 1e-12)
        #expect(abs(paired.baselineMean - 0.5625) < 1e-12 && abs(paired.candidateMean - 0.625) < 1e-12)
        // differences 0.5, 0, −0.5, 0.25 about their mean 0.0625: squares sum to 0.546875, sample variance a third of that
        #expect(abs(paired.standardError - (0.546875 / 3 / 4).squareRoot()) < 1e-12)
        #expect(paired.summary == "+6.2 ± 21.3 points (2 better, 1 worse, 1 equal)", "\(paired.summary)")
        let one = PairedComparison(baseline: [0.3], candidate: [0.3])
        #expect(one.standardError == 0 && one.equal == 1)
    }

    /// Trainings of one recipe: the mean of their means, the seed-to-seed spread, and two recipes' difference
    /// with the spread pooled.
    @Test func recipeSpreadAndDifference() throws {
        // Means 0.5, 0.25 and 0.75 (two prompts each): mean 0.5, squares 0.125, SD √(0.125/2) = 0.25.
        let recipe = RecipeSpread(scores: [[0.5, 0.5], [0, 0.5], [1, 0.5]])
        #expect(recipe.trainings == 3 && recipe.means == [0.5, 0.25, 0.75] && recipe.mean == 0.5)
        #expect(abs(try #require(recipe.standardDeviation) - 0.25) < 1e-12)
        #expect(abs(try #require(recipe.standardError) - 0.25 / 3.0.squareRoot()) < 1e-12)
        #expect(recipe.summary == "50.0% over 3 trainings, 25.0–75.0%, seed-to-seed SD 25.0 points (SE of the mean 14.4)", "\(recipe.summary)")
        let single = RecipeSpread(scores: [[0.2, 0.4]])
        #expect(single.standardDeviation == nil && single.standardError == nil && abs(single.mean - 0.3) < 1e-12)
        #expect(single.summary == "30.0% over 1 training", "\(single.summary)")

        // Against one training: it borrows the recipe's spread; squares 0.125 over 3 + 1 − 2 = 2 degrees of freedom.
        let difference = try #require(RecipeDifference(baseline: single, candidate: recipe))
        #expect(abs(difference.meanDifference - 0.2) < 1e-12 && difference.degreesOfFreedom == 2)
        #expect(abs(difference.pooledStandardDeviation - 0.25) < 1e-12)
        #expect(abs(difference.standardError - 0.25 * (1 + 1.0 / 3).squareRoot()) < 1e-12)
        #expect(difference.summary == "+20.0 ± 28.9 points (pooled seed-to-seed SD 25.0, 2 degrees of freedom)", "\(difference.summary)")
        // Both sides spread: their squares add (0.125 + 0.02 over 3 + 2 − 2).
        let other = RecipeSpread(scores: [[0.1], [0.3]])
        let both = try #require(RecipeDifference(baseline: other, candidate: recipe))
        #expect(abs(both.pooledStandardDeviation - (0.145 / 3).squareRoot()) < 1e-12 && both.degreesOfFreedom == 3)
        #expect(RecipeDifference(baseline: single, candidate: RecipeSpread(scores: [[0.9]])) == nil, "two trainings show no spread")
    }
}
