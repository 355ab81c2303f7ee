// The caption side of the evaluator: parse the caption into facts and check each against a `VideoReading`
// (docs/WORLD.md, "Scoring"). Facts per object: present (its colour is seen), shape, size, place, motion;
// then the background, the framing, and events between objects. The score is the share satisfied.

extension Evaluator {
    /// Checks every fact of `caption` against `reading`.
    public func score(_ reading: VideoReading, caption: String) -> EvaluationReport {
        let facts = CaptionParser.parse(caption).facts
        var checks: [FactCheck] = []
        func check(_ fact: String, _ expected: String, _ observed: String?, _ satisfied: Bool) {
            checks.append(FactCheck(fact: fact, expected: expected, observed: observed ?? "-", satisfied: satisfied))
        }
        let found = facts.objects.map { object in find(object, in: reading) }
        for (object, detected) in zip(facts.objects, found) {
            let name = object.label
            check("\(name): present", "present", detected == nil ? "absent" : "present", detected != nil)
            if let shape = object.shape {
                check("\(name): shape", shape.word, detected?.shape.word, detected?.shape == shape)
            }
            if let size = object.size {
                check("\(name): size", size.word, detected?.size.word, detected?.size == size)
            }
            if let region = object.region {
                check("\(name): position", region.rawValue, detected?.region.rawValue, detected?.region == region)
            }
            if let motion = object.motion, reading.frameCount >= 3 {
                check("\(name): motion", motion.name, detected?.motion?.name, detected?.motion == motion)
            }
        }
        if let background = facts.background {
            check("background", Self.describe(background), reading.background.map(Self.describe), reading.background == background)
        }
        if let framing = facts.framing {
            let largest = reading.objects.map(\.size).max { SizeClass.allCases.firstIndex(of: $0)! < SizeClass.allCases.firstIndex(of: $1)! }
            let observed = largest.map { Framing(largest: $0) }
            check("framing", framing.rawValue, observed?.rawValue, observed == framing)
        }
        for event in facts.events where facts.objects.indices.contains(event.first) && facts.objects.indices.contains(event.second) {
            let a = facts.objects[event.first], b = facts.objects[event.second]
            let shown: Bool
            if let da = found[event.first], let db = found[event.second] {
                shown = event.kind == .collision ? touched(da, db, reading) : hid(front: da, behind: db, reading)
            } else {
                shown = false
            }
            let name = event.kind == .collision
                ? "\(a.label) and \(b.label): collide" : "\(a.label) in front of \(b.label)"
            check(name, "yes", shown ? "yes" : "no", shown)
        }
        let satisfied = checks.filter(\.satisfied).count
        return EvaluationReport(
            caption: caption, score: checks.isEmpty ? 0 : Double(satisfied) / Double(checks.count), satisfied: satisfied,
            total: checks.count, facts: checks, detected: reading.objects, background: reading.background.map(Self.describe),
            frames: reading.frameCount, width: reading.width, height: reading.height, fps: reading.fps)
    }

    /// The detected object a caption object refers to: by colour, else by shape.
    func find(_ object: CaptionFacts.Object, in reading: VideoReading) -> DetectedObject? {
        if let colour = object.colour { return reading.objects.first { $0.colour == colour } }
        return reading.objects.first { object.shape == nil || $0.shape == object.shape }
    }

    /// Whether two objects come within touching distance (their radii plus a fifth, plus two hundredths)
    /// in some frame where both are seen.
    func touched(_ a: DetectedObject, _ b: DetectedObject, _ reading: VideoReading) -> Bool {
        guard let ta = reading.tracks[a.colour], let tb = reading.tracks[b.colour] else { return false }
        let short = Double(min(reading.width, reading.height))
        let byFrame = Dictionary(uniqueKeysWithValues: tb.map { ($0.frame, $0.observation) })
        let reach = 1.2 * (a.radius + b.radius) + 0.02
        for (frame, oa) in ta {
            guard let ob = byFrame[frame] else { continue }
            let distance = Vec2((oa.centroidX - ob.centroidX) / short, (oa.centroidY - ob.centroidY) / short).length
            if distance <= reach { return true }
        }
        return false
    }

    /// Whether, in some frame, the object behind shows clearly less than its whole area while the one in
    /// front shows all of its own and their boxes overlap.
    func hid(front: DetectedObject, behind: DetectedObject, _ reading: VideoReading) -> Bool {
        guard let tf = reading.tracks[front.colour], let tb = reading.tracks[behind.colour] else { return false }
        let fullFront = tf.map(\.observation.area).max() ?? 0
        let fullBehind = tb.map(\.observation.area).max() ?? 0
        let byFrame = Dictionary(uniqueKeysWithValues: tf.map { ($0.frame, $0.observation) })
        for (frame, ob) in tb where ob.area < 0.85 * fullBehind {
            guard let of = byFrame[frame], of.area >= Self.wholeShare * fullFront else { continue }
            let overlaps = of.minX <= ob.maxX + 2 && ob.minX <= of.maxX + 2 && of.minY <= ob.maxY + 2 && ob.minY <= of.maxY + 2
            if overlaps { return true }
        }
        return false
    }

    /// "light blue", or "dark blue to black" for a gradient.
    static func describe(_ background: Background) -> String {
        background.isGradient ? "\(background.top.word) to \(background.bottom.word)" : background.top.word
    }
}
