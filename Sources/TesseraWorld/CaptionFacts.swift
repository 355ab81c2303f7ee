// What a caption states, as data (docs/WORLD.md, "Captions"). The captioner derives the facts of a clip
// from the scene and its simulated trajectory — the report's re-captioning, exact because the world knows
// its own state — and the writer turns them into sentences. The parser turns sentences back into facts and
// the evaluator checks each one against the pixels.

/// The facts of one clip.
public struct CaptionFacts: Sendable, Equatable, Codable {
    /// One object as a caption describes it. Any attribute may be missing from a parsed prompt.
    public struct Object: Sendable, Equatable, Hashable, Codable {
        public var colour: ObjectColour?
        public var shape: Shape?
        public var size: SizeClass?
        /// Where it is in the first frame.
        public var region: Region?
        /// How it moves (absent for a still image).
        public var motion: MotionClass?

        /// An object with whatever attributes are known.
        public init(
            colour: ObjectColour? = nil, shape: Shape? = nil, size: SizeClass? = nil, region: Region? = nil,
            motion: MotionClass? = nil
        ) {
            self.colour = colour
            self.shape = shape
            self.size = size
            self.region = region
            self.motion = motion
        }

        /// "large red circle", with whatever attributes are known.
        public var label: String {
            [size?.word, colour?.word, shape?.word ?? "object"].compactMap { $0 }.joined(separator: " ")
        }
    }

    /// Something two objects do together.
    public struct Event: Sendable, Equatable, Hashable, Codable {
        /// What the two objects do.
        public enum Kind: String, Sendable, Codable {
            /// They touch and bounce apart (objects of one layer).
            case collision
            /// `first` passes in front of `second`, hiding part of it (objects of different layers).
            case occlusion
        }
        public var kind: Kind
        /// Object indices; for an occlusion, `first` is in front.
        public var first: Int
        public var second: Int

        /// An event between objects `first` and `second` (for an occlusion, `first` is in front).
        public init(_ kind: Kind, _ first: Int, _ second: Int) {
            self.kind = kind
            self.first = first
            self.second = second
        }
    }

    public var objects: [Object]
    public var background: Background?
    public var framing: Framing?
    public var events: [Event]

    /// Facts as given.
    public init(objects: [Object] = [], background: Background? = nil, framing: Framing? = nil, events: [Event] = []) {
        self.objects = objects
        self.background = background
        self.framing = framing
        self.events = events
    }
}

/// Writes the exact facts of a clip.
public enum Captioner {
    /// An occlusion is worth a caption when the object behind loses at least this share of its area.
    public static let occlusionShare = 0.2

    /// The facts of `scene` given its simulated `trajectory`.
    public static func facts(_ scene: SceneSpec, trajectory: Trajectory) -> CaptionFacts {
        let extent = scene.extent
        let objects = scene.objects.indices.map { i -> CaptionFacts.Object in
            let object = scene.objects[i]
            let start = trajectory.positions[0][i]
            let samples = trajectory.positions.indices.map {
                MotionSample(time: scene.time(ofFrame: $0), position: trajectory.positions[$0][i])
            }
            return CaptionFacts.Object(
                colour: object.colour, shape: object.shape, size: object.size,
                region: Region(fractionX: start.x / extent.width, fractionY: start.y / extent.height),
                motion: MotionClassifier.classify(samples, gravity: scene.gravity))
        }
        var events: [CaptionFacts.Event] = []
        if scene.frames >= 3 {
            for collision in trajectory.collisions {
                let event = CaptionFacts.Event(.collision, collision.first, collision.second)
                if !events.contains(event) { events.append(event) }
            }
            for (back, front) in occlusions(scene, trajectory: trajectory) {
                events.append(CaptionFacts.Event(.occlusion, front, back))
            }
        }
        return CaptionFacts(objects: objects, background: scene.background, framing: scene.framing, events: events)
    }

    /// The facts of `scene`, simulating it first.
    public static func facts(_ scene: SceneSpec) -> CaptionFacts {
        facts(scene, trajectory: Physics.simulate(scene))
    }

    /// Pairs (behind, in front) of objects on different layers where, in some frame, the one in front hides
    /// at least `occlusionShare` of the one behind. Measured on a 24×24 grid over the object behind, in
    /// world units, so the answer does not depend on a render size.
    static func occlusions(_ scene: SceneSpec, trajectory: Trajectory) -> [(Int, Int)] {
        var found: [(Int, Int)] = []
        let objects = scene.objects
        for back in objects.indices {
            for front in objects.indices where objects[front].layer > objects[back].layer {
                let reach = objects[back].radius + objects[front].radius
                var worst = 0.0
                for positions in trajectory.positions where (positions[back] - positions[front]).length < reach {
                    worst = max(worst, hiddenShare(objects[back], at: positions[back], by: objects[front], at: positions[front]))
                    if worst >= occlusionShare { break }
                }
                if worst >= occlusionShare { found.append((back, front)) }
            }
        }
        return found
    }

    /// The share of `back`'s area that `front` covers.
    static func hiddenShare(_ back: SceneObject, at p: Vec2, by front: SceneObject, at q: Vec2) -> Double {
        let n = 24
        var inside = 0, hidden = 0
        for iy in 0..<n {
            for ix in 0..<n {
                let local = Vec2((Double(ix) + 0.5) / Double(n) * 2 - 1, (Double(iy) + 0.5) / Double(n) * 2 - 1)
                guard ShapeGeometry.signedDistance(back.shape, local) < 0 else { continue }
                inside += 1
                let world = p + local * back.radius
                if ShapeGeometry.signedDistance(front.shape, (world - q) * (1 / front.radius)) < 0 { hidden += 1 }
            }
        }
        return inside == 0 ? 0 : Double(hidden) / Double(inside)
    }
}
