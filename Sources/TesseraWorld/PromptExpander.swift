// Prompt expansion (docs/WORLD.md, "Prompt expansion"), as the report does with GPT: a short prompt such as
// "a red ball bouncing" becomes a caption in the training style. The rule-based expander parses the prompt
// with the caption parser's synonyms, fills every attribute the prompt leaves open from the prompt's seed,
// builds the scene those attributes describe, simulates it, and writes the exact caption of what happens —
// so the expanded caption is also a scene the world can render as a reference.
//
// `PromptExpanding` is the seam for other expanders: one backed by an OpenAI-compatible chat endpoint would
// send the prompt with a system message holding the caption grammar and a few examples, parse the reply
// with `CaptionParser`, and fall back to `PromptExpander` when the endpoint fails or the reply does not parse.

/// What to expand: the prompt and the clip it is for.
public struct ExpansionRequest: Sendable, Equatable, Codable {
    public var prompt: String
    /// Open attributes are drawn from this seed (the job's seed).
    public var seed: UInt64
    public var extent: Extent
    public var frames: Int
    public var fps: Double

    /// A request; `frames` below 1 becomes 1.
    public init(prompt: String, seed: UInt64, extent: Extent = .landscape, frames: Int = 49, fps: Double = 24) {
        self.prompt = prompt
        self.seed = seed
        self.extent = extent
        self.frames = max(1, frames)
        self.fps = fps
    }
}

/// An expanded prompt: the caption to condition on, and how it was reached.
public struct ExpandedPrompt: Sendable, Equatable, Codable {
    public var prompt: String
    /// The training-style caption (the `.prose` phrasing).
    public var caption: String
    /// Which expander wrote it ("rules-1").
    public var expander: String
    /// The scene the caption describes exactly.
    public var scene: SceneSpec
    public var facts: CaptionFacts
    /// Attributes the prompt left open and the seed chose, like "object 1: colour".
    public var filled: [String]
    /// What the prompt asked for that the world cannot show, or that had to change (a colour the background
    /// would hide, a motion the clip is too short for).
    public var notes: [String]
}

/// Anything that turns a prompt into a training-style caption.
public protocol PromptExpanding: Sendable {
    func expand(_ request: ExpansionRequest) throws -> ExpandedPrompt
}

/// The rule-based expander: synonyms in, the world's caption out, open attributes from the seed.
public struct PromptExpander: PromptExpanding {
    /// The name recorded in `ExpandedPrompt.expander`; bump it when captions for a prompt change.
    public static let name = "rules-1"
    /// Attempts at a scene whose simulation does what the prompt asks before the best one is taken.
    public static let attempts = 24

    public init() {}

    /// Expands one prompt; deterministic in the request.
    public func expand(_ request: ExpansionRequest) -> ExpandedPrompt {
        let parsed = CaptionParser.parse(request.prompt)
        var random = WorldRandom(seed: request.seed, stream: WorldRandom.Streams.expansion)
        var filled: [String] = []
        var notes = parsed.ignored.map { "not understood or not shown: \($0)" }
        var wanted = parsed.objects.isEmpty ? [ParsedObject()] : Array(parsed.objects.prefix(3))
        if parsed.objects.count > 3 { notes.append("only the first 3 objects are kept") }
        func name(_ i: Int) -> String { "object \(i + 1)" }

        // Background first: requested object colours must stand out on it.
        let requestedColours = wanted.compactMap(\.colour)
        var background: Background
        if let asked = parsed.background {
            background = asked
            if let clash = requestedColours.first(where: { !SceneSampler.allowed($0, on: asked) }) {
                notes.append("\(clash.word) would not stand out on \(Evaluator.describe(asked)): background chosen from the seed")
                background = Self.background(allowing: requestedColours, &random)
                filled.append("background")
            }
        } else {
            background = Self.background(allowing: requestedColours, &random)
            filled.append("background")
        }
        let palette = ObjectColour.allCases.filter { SceneSampler.allowed($0, on: background) }
        for i in wanted.indices where wanted[i].colour == nil {
            let free = palette.filter { c in !wanted.contains { $0.colour == c } }
            wanted[i].colour = random.pick(free.isEmpty ? palette : free)
            filled.append("\(name(i)): colour")
        }
        for i in wanted.indices where wanted[i].shape == nil {
            wanted[i].shape = random.pick(Shape.allCases)
            filled.append("\(name(i)): shape")
        }
        // Sizes: a requested framing needs its size on some object; others stay no larger.
        let order = SizeClass.allCases
        if let framing = parsed.framing, !wanted.contains(where: { $0.size == framing.largest }),
           let open = wanted.firstIndex(where: { $0.size == nil }) {
            wanted[open].size = framing.largest
        }
        for i in wanted.indices where wanted[i].size == nil {
            let cap = parsed.framing.map { order.firstIndex(of: $0.largest)! } ?? order.count - 1
            var choices = Array(order[0...cap])
            // Objects alike in colour and shape ("two yellow stars") get different sizes where they can, so
            // the caption can tell them apart.
            let taken = wanted.filter { $0.colour == wanted[i].colour && $0.shape == wanted[i].shape }.compactMap(\.size)
            if choices.contains(where: { !taken.contains($0) }) { choices.removeAll { taken.contains($0) } }
            wanted[i].size = random.pick(choices)
            filled.append("\(name(i)): size")
        }
        let encounters = parsed.events.filter { wanted.indices.contains($0.first) && wanted.indices.contains($0.second) }
        let inEncounter = Set(encounters.flatMap { [$0.first, $0.second] })
        for i in wanted.indices where !inEncounter.contains(i) {
            if wanted[i].motion == nil {
                filled.append("\(name(i)): motion")
            } else if wanted[i].motion == .moving, wanted[i].direction == nil {
                wanted[i].direction = random.chance(0.5) ? .left : .right
                filled.append("\(name(i)): direction")
            }
        }

        // Build, simulate, and keep the first attempt whose motion and events are what was asked.
        if let framing = parsed.framing, !wanted.contains(where: { $0.size == framing.largest }) {
            notes.append("\(framing.rawValue) asks for a \(framing.largest.word) object; the caption follows the sizes asked for")
        }
        var best: (scene: SceneSpec, facts: CaptionFacts, misses: [String])?
        for _ in 0..<Self.attempts {
            let (scene, placed) = Self.build(request, background, wanted, encounters, &random)
            let facts = Captioner.facts(scene)
            let misses = Self.misses(wanted, placed, encounters, facts, frames: request.frames)
            if best == nil || misses.count < best!.misses.count { best = (scene, facts, misses) }
            if misses.isEmpty { break }
        }
        notes += best!.misses
        return ExpandedPrompt(
            prompt: request.prompt, caption: Captioner.caption(best!.facts, phrasing: .prose), expander: Self.name,
            scene: best!.scene, facts: best!.facts, filled: filled, notes: notes)
    }

    /// A background on which every requested colour stands out.
    static func background(allowing colours: [ObjectColour], _ random: inout WorldRandom) -> Background {
        for _ in 0..<64 {
            let candidate = SceneSampler.sampleBackground(&random)
            if colours.allSatisfy({ SceneSampler.allowed($0, on: candidate) }) { return candidate }
        }
        return Background(colours.contains(.black) ? .white : .black)
    }

    /// One scene for the wanted objects, in their order, and the wanted index of each object placed.
    static func build(
        _ request: ExpansionRequest, _ background: Background, _ wanted: [ParsedObject],
        _ encounters: [CaptionFacts.Event], _ random: inout WorldRandom
    ) -> (SceneSpec, [Int]) {
        var builder = SceneBuilder(
            scene: SceneSpec(extent: request.extent, frames: request.frames, fps: request.fps, background: background, objects: []))
        var placed: [Int] = []  // wanted index of each scene object
        for event in encounters where !placed.contains(event.first) && !placed.contains(event.second) {
            let a = wanted[event.first], b = wanted[event.second]
            if builder.addEncounter(
                shapes: (a.shape!, b.shape!), colours: (a.colour!, b.colour!), sizes: (a.size!, b.size!),
                collide: event.kind == .collision, firstInFront: event.kind == .occlusion ? true : nil, &random) {
                placed += [event.first, event.second]
            }
        }
        // Objects of one colour share a layer, so they bump instead of overlapping (where even a person
        // could not tell which is which).
        var layers: [ObjectColour: Int] = [:]
        for (i, object) in wanted.enumerated() where !placed.contains(i) {
            let layer = layers[object.colour!] ?? random.int(below: 2)
            layers[object.colour!] = layer
            let intent: MotionIntent
            switch object.motion {
            case .still?: intent = .still
            case .falling?: intent = .falling
            case .bouncing?: intent = .bouncing
            case .moving?: intent = .moving(object.direction ?? .right)
            case nil: intent = SceneSampler.sampleIntent(&random)
            }
            if builder.add(
                shape: object.shape!, colour: object.colour!, size: object.size!, intent: intent,
                layer: layer, region: object.region, &random) {
                placed.append(i)
            }
        }
        // Back to the prompt's order.
        var scene = builder.scene
        let order = placed.indices.sorted { placed[$0] < placed[$1] }
        scene.objects = order.map { builder.scene.objects[$0] }
        return (scene, order.map { placed[$0] })
    }

    /// What the simulated facts fail to show of the request.
    static func misses(
        _ wanted: [ParsedObject], _ placed: [Int], _ encounters: [CaptionFacts.Event], _ facts: CaptionFacts, frames: Int
    ) -> [String] {
        var misses: [String] = []
        if facts.objects.count < wanted.count { misses.append("only \(facts.objects.count) of \(wanted.count) objects fit in the frame") }
        guard frames >= 3 else { return misses }
        for (index, w) in placed.enumerated() {
            guard let motion = facts.objects[index].motion, let asked = wanted[w].motionClass, asked != motion else { continue }
            misses.append("\(wanted[w].fact.label) \(motion.name) instead of \(asked.name)")
        }
        for event in encounters {
            guard let a = placed.firstIndex(of: event.first), let b = placed.firstIndex(of: event.second) else { continue }
            let pair = event.kind == .collision ? CaptionFacts.Event(.collision, min(a, b), max(a, b)) : CaptionFacts.Event(.occlusion, a, b)
            if !facts.events.contains(pair) { misses.append("\(event.kind.rawValue) of objects \(event.first + 1) and \(event.second + 1) did not happen") }
        }
        return misses
    }
}
