// The caption side of the evaluator: parse the caption into facts and check each against a `VideoReading`
// (docs/WORLD.md, "Scoring"). Facts per object: present (its colour is seen), shape, size, place, motion;
// then the background, the framing, and events between objects. The score is the share satisfied.

extension Evaluator {
    /// Checks every fact of `caption` against `reading`.
    public func score(_ reading: VideoReading, caption: String) -> EvaluationReport {
        let facts = CaptionParser.parse(caption).facts
        var checks: [FactCheck] = []
        func check(_ kind: FactKind, _ fact: String, _ expected: String, _ observed: String?, _ satisfied: Bool) {
            checks.append(FactCheck(kind: kind, fact: fact, expected: expected, observed: observed ?? "-", satisfied: satisfied))
        }
        let found = assign(facts.objects, reading)
        for (object, detection) in zip(facts.objects, found) {
            let detected = detection?.object
            let name = object.label
            check(.present, "\(name): present", "present", detected == nil ? "absent" : "present", detected != nil)
            if let shape = object.shape {
                check(.shape, "\(name): shape", shape.word, detected?.shape.word, detected?.shape == shape)
            }
            if let size = object.size {
                check(.size, "\(name): size", size.word, detected?.size.word, detected?.size == size)
            }
            if let region = object.region {
                check(.position, "\(name): position", region.rawValue, detected?.region.rawValue, detected?.region == region)
            }
            if let motion = object.motion, reading.frameCount >= 3 {
                check(.motion, "\(name): motion", motion.name, detected?.motion?.name, detected?.motion == motion)
            }
        }
        if let background = facts.background {
            check(.background, "background", Self.describe(background), reading.background.map(Self.describe), reading.background == background)
        }
        if let framing = facts.framing {
            let largest = reading.objects.map(\.size).max { SizeClass.allCases.firstIndex(of: $0)! < SizeClass.allCases.firstIndex(of: $1)! }
            let observed = largest.map { Framing(largest: $0) }
            check(.framing, "framing", framing.rawValue, observed?.rawValue, observed == framing)
        }
        for event in facts.events where facts.objects.indices.contains(event.first) && facts.objects.indices.contains(event.second) {
            let a = facts.objects[event.first], b = facts.objects[event.second]
            let shown: Bool
            if let da = found[event.first], let db = found[event.second] {
                shown = event.kind == .collision
                    ? touched(da, db, short: Double(min(reading.width, reading.height))) : hid(front: da, behind: db)
            } else {
                shown = false
            }
            let name = event.kind == .collision
                ? "\(a.label) and \(b.label): collide" : "\(a.label) in front of \(b.label)"
            check(.event, name, "yes", shown ? "yes" : "no", shown)
        }
        let satisfied = checks.filter(\.satisfied).count
        return EvaluationReport(
            caption: caption, score: checks.isEmpty ? 0 : Double(satisfied) / Double(checks.count), satisfied: satisfied,
            total: checks.count, facts: checks, detected: reading.objects, background: reading.background.map(Self.describe),
            frames: reading.frameCount, width: reading.width, height: reading.height, fps: reading.fps)
    }

    /// The detected object each caption object refers to. Objects of one colour are matched with that colour's
    /// detections, read as many objects as the caption names in it, in the pairing that agrees on the most
    /// attributes; objects with no colour take the first unclaimed detection of their shape.
    func assign(_ objects: [CaptionFacts.Object], _ reading: VideoReading) -> [Detection?] {
        var result = [Detection?](repeating: nil, count: objects.count)
        var claimed: Set<ObjectColour> = []
        for colour in ObjectColour.allCases {
            let named = objects.indices.filter { objects[$0].colour == colour }
            guard !named.isEmpty else { continue }
            claimed.insert(colour)
            let detections = reading.detections(of: colour, count: named.count)
            var best: [Int?] = []
            var bestScore = -1
            for order in Self.orders(max(named.count, detections.count)) {
                let pairing = named.indices.map { order[$0] < detections.count ? order[$0] : nil }
                let score = zip(named, pairing).reduce(0) { total, pair in
                    total + (pair.1.map { Self.agreement(objects[pair.0], detections[$0].object) } ?? 0)
                }
                if score > bestScore { (best, bestScore) = (pairing, score) }
            }
            for (index, pick) in zip(named, best) { result[index] = pick.map { detections[$0] } }
        }
        for index in objects.indices where objects[index].colour == nil {
            for colour in ObjectColour.allCases where !claimed.contains(colour) {
                guard let detection = reading.detections(of: colour, count: 1).first,
                      objects[index].shape == nil || detection.object.shape == objects[index].shape else { continue }
                result[index] = detection
                claimed.insert(colour)
                break
            }
        }
        return result
    }

    /// How many of a caption object's attributes a detection shares (1 for being there at all).
    static func agreement(_ object: CaptionFacts.Object, _ detected: DetectedObject) -> Int {
        1 + (object.shape == detected.shape ? 1 : 0) + (object.size == detected.size ? 1 : 0)
            + (object.region == detected.region ? 1 : 0) + (object.motion != nil && object.motion == detected.motion ? 1 : 0)
    }

    /// Every order of 0..<n.
    static func orders(_ n: Int) -> [[Int]] {
        guard n > 1 else { return [[0]] }
        return orders(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    /// Whether two objects come within touching distance (their radii plus a fifth, plus two hundredths)
    /// in some frame where both are seen.
    func touched(_ a: Detection, _ b: Detection, short: Double) -> Bool {
        let byFrame = Dictionary(b.track.map { ($0.frame, $0.observation) }, uniquingKeysWith: { first, _ in first })
        let reach = 1.2 * (a.object.radius + b.object.radius) + 0.02
        for (frame, oa) in a.track {
            guard let ob = byFrame[frame] else { continue }
            let distance = Vec2((oa.centroidX - ob.centroidX) / short, (oa.centroidY - ob.centroidY) / short).length
            if distance <= reach { return true }
        }
        return false
    }

    /// Whether, in some frame, the object behind shows clearly less than its whole area while the one in
    /// front shows all of its own and their boxes overlap.
    func hid(front: Detection, behind: Detection) -> Bool {
        let fullFront = front.track.map(\.observation.area).max() ?? 0
        let fullBehind = behind.track.map(\.observation.area).max() ?? 0
        let byFrame = Dictionary(front.track.map { ($0.frame, $0.observation) }, uniquingKeysWith: { first, _ in first })
        for (frame, ob) in behind.track where ob.area < 0.85 * fullBehind {
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
