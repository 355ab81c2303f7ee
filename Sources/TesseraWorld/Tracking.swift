// From one colour's components over the frames to objects (docs/WORLD.md, "Evaluator"). Usually a colour is
// one object, possibly cut in pieces by another passing in front, so its components are taken together.
// When a colour is two or three objects — a prompt's "two yellow stars" — the frames showing at least that
// many components are linked into tracks, each component going to the track whose predicted centre is
// nearest (the assignment with the least total distance), and frames where they touch are left out.

/// A detected object and the frames it was seen in.
struct Detection: Sendable {
    var object: DetectedObject
    var track: [(frame: Int, observation: ColourObservation)]
}

extension VideoReading {
    /// How many objects `colour` most likely is: the most common component count over the frames it shows in,
    /// when at least half of them agree; else one.
    func likelyCount(of colour: ObjectColour) -> Int {
        let frames = colourFrames[colour] ?? []
        var votes: [Int: Int] = [:]
        for frame in frames { votes[min(frame.components.count, 3), default: 0] += 1 }
        guard let (count, agreeing) = votes.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) }),
              count > 1, 2 * agreeing >= frames.count else { return 1 }
        return count
    }

    /// The objects of `colour` when it is `count` objects (fewer when some are too rarely seen apart).
    func detections(of colour: ObjectColour, count: Int) -> [Detection] {
        let frames = colourFrames[colour] ?? []
        let tracks: [[(frame: Int, observation: ColourObservation)]]
        if count <= 1 {
            tracks = [frames.map { ($0.frame, ColourObservation.merged($0.components)) }]
        } else {
            // If the colour never shows as that many objects, it is read as one (a video with one yellow star
            // where the caption wants two still has one of them).
            let parts = split(frames, into: min(count, 3))
            tracks = parts.isEmpty ? [frames.map { ($0.frame, ColourObservation.merged($0.components)) }] : parts
        }
        return tracks.compactMap { track in detect(colour, track).map { Detection(object: $0, track: track) } }
    }

    /// Tracks for `count` objects of one colour, from the frames showing at least `count` components (the
    /// `count` largest: a piece cut off by an object in front is smaller than any object).
    func split(_ frames: [ColourFrame], into count: Int) -> [[(frame: Int, observation: ColourObservation)]] {
        let apart = frames.filter { $0.components.count >= count }.map { ($0.frame, Array($0.components.prefix(count))) }
        guard let (firstFrame, firstComponents) = apart.first else { return [] }
        // Start from the first such frame, left to right; link each later frame by the cheapest assignment to
        // where each track is heading (its last position moved on at its last velocity), so objects that
        // cross keep their identities.
        var tracks = firstComponents.sorted { ($0.centroidX, $0.centroidY) < ($1.centroidX, $1.centroidY) }
            .map { [(frame: firstFrame, observation: $0)] }
        let orders = permutations(count)
        for (frame, components) in apart.dropFirst() {
            let predicted = tracks.map { track -> (Double, Double) in
                let last = track[track.count - 1]
                guard track.count >= 2 else { return (last.observation.centroidX, last.observation.centroidY) }
                let before = track[track.count - 2]
                let steps = Double(frame - last.frame) / Double(last.frame - before.frame)
                return (last.observation.centroidX + (last.observation.centroidX - before.observation.centroidX) * steps,
                        last.observation.centroidY + (last.observation.centroidY - before.observation.centroidY) * steps)
            }
            let best = orders.min { a, b in cost(predicted, components, a) < cost(predicted, components, b) }!
            for t in 0..<count { tracks[t].append((frame, components[best[t]])) }
        }
        return tracks
    }

    private func cost(_ predicted: [(Double, Double)], _ next: [ColourObservation], _ order: [Int]) -> Double {
        zip(predicted, order).reduce(0) { total, pair in
            let b = next[pair.1]
            let dx = pair.0.0 - b.centroidX, dy = pair.0.1 - b.centroidY
            return total + (dx * dx + dy * dy).squareRoot()
        }
    }

    private func permutations(_ n: Int) -> [[Int]] {
        guard n > 1 else { return [[0]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    /// Shape, size, place and motion of one track, or nil when it shows in too few frames.
    func detect(_ colour: ObjectColour, _ track: [(frame: Int, observation: ColourObservation)]) -> DetectedObject? {
        guard !track.isEmpty, track.count >= max(1, Int((Evaluator.presenceShare * Double(frameCount)).rounded(.up))) else {
            return nil
        }
        let reference = track.map(\.observation.area).max()!
        let whole = track.filter { $0.observation.area >= Evaluator.wholeShare * reference }
        let short = Double(min(width, height))
        // Shape: the nearest signature by fill ratio and centroid offset (medians over whole frames).
        let fill = median(whole.map { Double($0.observation.pixels) / Double($0.observation.boxWidth * $0.observation.boxHeight) })
        let offset = median(whole.map { o in
            (o.observation.centroidY - Double(o.observation.minY + o.observation.maxY + 1) / 2) / Double(o.observation.boxHeight)
        })
        let shape = Shape.allCases.min { a, b in
            Self.shapeDistance(ShapeGeometry.signatures[a]!, fill, offset) < Self.shapeDistance(ShapeGeometry.signatures[b]!, fill, offset)
        }!
        let signature = ShapeGeometry.signatures[shape]!
        let extent = median(whole.map { Double(max($0.observation.boxWidth, $0.observation.boxHeight)) / 2 })
        let radius = extent / short / signature.halfExtent
        // Place: the box centre in the first whole frame, moved from the box centre to the shape's centre.
        let first = whole[0].observation
        let centreX = Double(first.minX + first.maxX + 1) / 2 / short - signature.boxCentreX * radius
        let centreY = Double(first.minY + first.maxY + 1) / 2 / short - signature.boxCentreY * radius
        let region = Region(fractionX: centreX * short / Double(width), fractionY: centreY * short / Double(height))
        var motion: MotionClass?
        if frameCount >= 3 {
            let samples = whole.map {
                MotionSample(
                    time: Double($0.frame) / fps, position: Vec2($0.observation.centroidX / short, $0.observation.centroidY / short))
            }
            motion = MotionClassifier.classify(samples, gravity: gravity) ?? .still
        }
        return DetectedObject(
            colour: colour, shape: shape, size: SizeClass.classify(radius: radius), radius: radius, region: region,
            motion: motion, framesSeen: track.count)
    }

    static func shapeDistance(_ signature: ShapeGeometry.Signature, _ fill: Double, _ offset: Double) -> Double {
        abs(fill - signature.fill) / 0.1 + abs(offset - signature.centroidOffset) / 0.05
    }
}
