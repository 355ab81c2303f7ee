// Random scenes and clip shapes from a seed (docs/WORLD.md, "Distributions"). A scene is drawn as intents —
// this object rests, that one drifts left, this one falls — turned into starting positions and velocities
// that make the intent happen within the clip; the caption is then read off the simulation, so it stays
// exact even when objects meet and change each other's course.

/// Aspect-ratio buckets used in training.
public enum AspectBucket: String, Sendable, Codable, CaseIterable {
    case landscape, portrait, square

    /// The frame extent in world units.
    public var extent: Extent {
        switch self {
        case .landscape: .landscape
        case .portrait: .portrait
        case .square: .square
        }
    }

    /// Pixel size with the given shorter side; the longer side is rounded to a multiple of 32 (so the VAE's
    /// 16× reduction and 2×2 patches divide it): 288 gives 512x288, 288x512 or 288x288.
    public func size(shortSide: Int) -> (width: Int, height: Int) {
        let long = max(32, Int((Double(shortSide) * 16 / 9 / 32).rounded()) * 32)
        switch self {
        case .landscape: return (long, shortSide)
        case .portrait: return (shortSide, long)
        case .square: return (shortSide, shortSide)
        }
    }
}

/// The shape of one training clip: aspect, frame count and rate.
public struct ClipShape: Sendable, Equatable, Codable {
    public var aspect: AspectBucket
    public var frames: Int
    public var fps: Double

    /// A clip shape as given.
    public init(aspect: AspectBucket, frames: Int, fps: Double) {
        self.aspect = aspect
        self.frames = frames
        self.fps = fps
    }

    /// Aspect weights: landscape 50%, portrait 30%, square 20%.
    public static let aspectWeights: [(AspectBucket, Double)] = [(.landscape, 0.5), (.portrait, 0.3), (.square, 0.2)]
    /// Frame counts (1 + 4k, the causal VAE's lengths; 1 is an image) and their weights.
    public static let frameWeights: [(Int, Double)] = [(1, 0.15), (17, 0.2), (33, 0.2), (49, 0.3), (121, 0.15)]
    /// Clips are rendered at 24 frames per second.
    public static let fps = 24.0

    /// A clip shape from a seed.
    public static func sample(seed: UInt64) -> ClipShape {
        var random = WorldRandom(seed: seed, stream: WorldRandom.Streams.scene &+ 1)
        return ClipShape(aspect: random.pick(aspectWeights), frames: random.pick(frameWeights), fps: fps)
    }
}

/// The motion an object is set up to make.
public enum MotionIntent: Sendable, Equatable {
    case still
    case moving(Direction)
    case falling
    case bouncing
}

/// Draws random scenes.
public enum SceneSampler {
    /// How many objects a scene has: one 40%, two 35%, three 25%.
    public static let objectCountWeights: [(Int, Double)] = [(1, 0.4), (2, 0.35), (3, 0.25)]
    /// Share of backgrounds that are a vertical gradient.
    public static let gradientShare = 0.25
    /// Share of scenes with two or more objects that are set up to collide (and as many to cross).
    public static let encounterShare = 0.2
    /// An object colour must be at least this far (unit RGB) from every colour of the background.
    public static let backgroundContrast = 0.4
    /// Objects keep at least this much space from each other in the first frame, and their centres this far
    /// from the lines between regions, so the first frame's positions read unambiguously.
    static let spacing = 0.02
    static let regionMargin = 0.012

    /// The scene for `seed` on a frame of `extent` with `frames` frames at `fps`; `objectCounts` weighs how
    /// many objects it has (a trainer's own mix; the world's is `objectCountWeights`).
    public static func sample(seed: UInt64, extent: Extent, frames: Int, fps: Double,
                              objectCounts: [(Int, Double)] = objectCountWeights) -> SceneSpec {
        var random = WorldRandom(seed: seed, stream: WorldRandom.Streams.scene)
        let background = sampleBackground(&random)
        let count = random.pick(objectCounts)
        let palette = ObjectColour.allCases.filter { allowed($0, on: background) }
        var colours: [ObjectColour] = []
        while colours.count < count {
            let colour = random.pick(palette)
            if !colours.contains(colour) { colours.append(colour) }
        }
        var builder = SceneBuilder(
            scene: SceneSpec(extent: extent, frames: frames, fps: fps, background: background, objects: []))
        let duration = Double(frames - 1) / fps
        let encounter = count >= 2 && duration >= 0.5 && random.chance(2 * encounterShare)
        var placed = 0
        if encounter {
            let collide = random.chance(0.5)
            placed = builder.addEncounter(
                shapes: (random.pick(Shape.allCases), random.pick(Shape.allCases)),
                colours: (colours[0], colours[1]),
                sizes: (random.pick(SizeClass.allCases), random.pick(SizeClass.allCases)), collide: collide, &random) ? 2 : 0
        }
        for colour in colours.dropFirst(placed) {
            let intent = sampleIntent(&random)
            _ = builder.add(
                shape: random.pick(Shape.allCases), colour: colour, size: random.pick(SizeClass.allCases), intent: intent,
                layer: random.int(below: 2), &random)
        }
        return builder.scene
    }

    /// Whether `colour` stands out on every shade of `background`.
    public static func allowed(_ colour: ObjectColour, on background: Background) -> Bool {
        colour.rgb.distance(toSegment: background.top.rgb, background.bottom.rgb) >= backgroundContrast
    }

    static func sampleBackground(_ random: inout WorldRandom) -> Background {
        while true {
            let top = random.pick(BackgroundColour.allCases)
            var background = Background(top)
            if random.chance(gradientShare) {
                background.bottom = random.pick(BackgroundColour.allCases.filter { $0 != top })
            }
            // Enough object colours must stay usable (at least three) for the background to be worth having.
            if ObjectColour.allCases.filter({ allowed($0, on: background) }).count >= 3 { return background }
        }
    }

    /// Intents: still 15%, moving 35% (eight directions alike), falling 20%, bouncing 30%.
    static func sampleIntent(_ random: inout WorldRandom) -> MotionIntent {
        switch random.pick([(0, 0.15), (1, 0.35), (2, 0.2), (3, 0.3)]) {
        case 0: return .still
        case 1: return .moving(random.pick(Direction.allCases))
        case 2: return .falling
        default: return .bouncing
        }
    }
}

/// One training example from one seed: clip shape, scene, pixel size and caption (in a phrasing chosen by the
/// seed), so a trainer needs a single call per example.
public struct TrainingSample: Sendable {
    public var seed: UInt64
    public var clip: ClipShape
    public var scene: SceneSpec
    public var width: Int
    public var height: Int
    public var phrasing: Phrasing
    public var caption: String

    /// The example for `seed` with the given shorter side (288 gives 512x288, 288x512 or 288x288); `frames`
    /// overrides the sampled clip length (a trainer's own choice of lengths), `objectCounts` the world's mix
    /// of one, two and three objects.
    public init(seed: UInt64, shortSide: Int = 288, frames: Int? = nil,
                objectCounts: [(Int, Double)] = SceneSampler.objectCountWeights) {
        self.seed = seed
        clip = ClipShape.sample(seed: seed)
        if let frames { clip.frames = frames }
        (width, height) = clip.aspect.size(shortSide: shortSide)
        scene = SceneSampler.sample(seed: seed, extent: Extent(pixelWidth: width, height: height), frames: clip.frames, fps: clip.fps,
                                   objectCounts: objectCounts)
        var random = WorldRandom(seed: seed, stream: WorldRandom.Streams.scene &+ 2)
        phrasing = Phrasing.allCases[random.int(below: Phrasing.allCases.count)]
        caption = Captioner.caption(Captioner.facts(scene), phrasing: phrasing)
    }

    /// A renderer for the example's frames ([H, W, 3] in [-1, 1] via `frame(_:)`).
    public func renderer(threads: Int = 1) -> SceneRenderer {
        SceneRenderer(scene: scene, width: width, height: height, threads: threads)
    }
}
