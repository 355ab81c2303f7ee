// Reads a video back and scores it against its caption (docs/WORLD.md, "Evaluator"). Each object colour
// seen in enough frames becomes an object; its shape comes from how much of its bounding box it fills and
// where its area sits in the box, its size from the box, its place from the first frame where it is whole,
// and its motion from its centroid over the frames where it is whole, through the same `MotionClassifier`
// the captioner uses. The caption is parsed into facts and the score is the share of facts the video shows.

import Foundation
import TesseraTensor

/// A source of RGB frames, [H, W, 3] in [-1, 1], read one at a time (so a long video never sits in memory).
public protocol FrameSource {
    var width: Int { get }
    var height: Int { get }
    var fps: Double { get }
    /// The next frame, or nil after the last.
    mutating func nextFrame() throws -> Tensor?
}

/// Frames already in memory.
public struct TensorFrames: FrameSource {
    public let frames: [Tensor]
    public let fps: Double
    private var index = 0

    /// Frames [H, W, 3] in [-1, 1], all of one size, shown at `fps`.
    public init(_ frames: [Tensor], fps: Double) {
        precondition(!frames.isEmpty && frames.allSatisfy { $0.shape == frames[0].shape && $0.rank == 3 && $0.shape[2] == 3 },
                     "frames must be non-empty [H, W, 3] tensors of one size")
        self.frames = frames
        self.fps = fps
    }

    public var width: Int { frames[0].shape[1] }
    public var height: Int { frames[0].shape[0] }

    public mutating func nextFrame() throws -> Tensor? {
        guard index < frames.count else { return nil }
        defer { index += 1 }
        return frames[index]
    }
}

/// An object the evaluator found.
public struct DetectedObject: Sendable, Equatable, Codable {
    public var colour: ObjectColour
    public var shape: Shape
    public var size: SizeClass
    /// Estimated radius in world units.
    public var radius: Double
    public var region: Region
    /// Nil for videos under three frames.
    public var motion: MotionClass?
    public var framesSeen: Int
}

/// Everything read from one video, before any caption is compared.
public struct VideoReading: Sendable {
    public var width: Int
    public var height: Int
    public var fps: Double
    public var frameCount: Int
    /// Nil when the fitted background is not near any background colour (noise, say).
    public var background: Background?
    /// The objects found, one per colour unless a colour clearly shows several (`Tracking.swift`).
    public var objects: [DetectedObject]
    /// Per colour, its components in each frame where it shows (kept so a caption naming two objects of one
    /// colour can ask for two).
    var colourFrames: [ObjectColour: [ColourFrame]]
    /// The gravity falls are judged against.
    var gravity: Double
}

/// One colour's components in one frame.
struct ColourFrame: Sendable {
    var frame: Int
    var components: [ColourObservation]
}

/// What a caption fact is about: an object's presence (its colour is seen), shape, size, place or motion,
/// the background, the framing, or an event between two objects.
public enum FactKind: String, Sendable, Equatable, Codable, CaseIterable {
    case present, shape, size, position, motion, background, framing, event
}

/// One caption fact and whether the video shows it.
public struct FactCheck: Sendable, Equatable, Codable {
    public var kind: FactKind
    public var fact: String
    public var expected: String
    public var observed: String
    public var satisfied: Bool
}

/// How many facts of one kind a set of videos shows, of how many their captions state.
public struct FactTally: Sendable, Equatable, Codable {
    public var kind: FactKind
    public var satisfied: Int
    public var total: Int
    public init(kind: FactKind, satisfied: Int, total: Int) {
        self.kind = kind
        self.satisfied = satisfied
        self.total = total
    }

    /// Share satisfied, 0...1.
    public var rate: Double { total == 0 ? 0 : Double(satisfied) / Double(total) }

    /// One tally per kind that occurs in `checks`, in `FactKind` order.
    public static func tally(_ checks: some Sequence<FactCheck>) -> [FactTally] {
        var counts: [FactKind: (satisfied: Int, total: Int)] = [:]
        for check in checks { counts[check.kind, default: (0, 0)].satisfied += check.satisfied ? 1 : 0; counts[check.kind]!.total += 1 }
        return FactKind.allCases.compactMap { kind in counts[kind].map { FactTally(kind: kind, satisfied: $0.satisfied, total: $0.total) } }
    }

    /// "shape 12% (4/33)" for each tally, joined with commas.
    public static func describe(_ tallies: [FactTally]) -> String {
        tallies.map { String(format: "%@ %.0f%% (%d/%d)", $0.kind.rawValue, $0.rate * 100, $0.satisfied, $0.total) }.joined(separator: ", ")
    }
}

/// The evaluator's answer for one video and caption.
public struct EvaluationReport: Sendable, Codable {
    public var caption: String
    /// Share of the caption's facts the video shows, 0...1 (0 for a caption with no facts).
    public var score: Double
    public var satisfied: Int
    public var total: Int
    public var facts: [FactCheck]
    public var detected: [DetectedObject]
    public var background: String?
    public var frames: Int
    public var width: Int
    public var height: Int
    public var fps: Double
}

/// Reads videos and scores them against captions.
public struct Evaluator: Sendable {
    /// The gravity motion is judged against (the world's).
    public var gravity: Double
    /// An object must appear in at least this share of frames.
    public static let presenceShare = 0.3
    /// Frames where an object shows at least this share of its largest area show it whole.
    public static let wholeShare = 0.9

    /// An evaluator judging falls against `gravity` (the world's by default).
    public init(gravity: Double = SceneSpec.standardGravity) {
        self.gravity = gravity
    }

    /// Reads `source` and scores it against `caption`.
    public func evaluate(_ source: inout some FrameSource, caption: String) throws -> EvaluationReport {
        score(try read(&source), caption: caption)
    }

    /// Reads every frame of `source`.
    public func read(_ source: inout some FrameSource) throws -> VideoReading {
        let width = source.width, height = source.height
        var analyzer = FrameAnalyzer(width: width, height: height)
        var colourFrames: [ObjectColour: [ColourFrame]] = [:]
        var tops: [RGB] = [], bottoms: [RGB] = []
        var count = 0
        while let frame = try source.nextFrame() {
            guard frame.shape == [height, width, 3] else {
                throw EvaluatorError("frame \(count) is \(frame.shape), expected [\(height), \(width), 3]")
            }
            let analysis = analyzer.analyze(frame.storage)
            tops.append(analysis.backgroundTop)
            bottoms.append(analysis.backgroundBottom)
            for (colour, components) in analysis.components {
                colourFrames[colour, default: []].append(ColourFrame(frame: count, components: components))
            }
            count += 1
        }
        guard count > 0 else { throw EvaluatorError("the video has no frames") }
        var reading = VideoReading(
            width: width, height: height, fps: source.fps, frameCount: count,
            background: Self.background(top: median(tops), bottom: median(bottoms)), objects: [],
            colourFrames: colourFrames, gravity: gravity)
        for colour in ObjectColour.allCases where colourFrames[colour] != nil {
            reading.objects += reading.detections(of: colour, count: reading.likelyCount(of: colour)).map(\.object)
        }
        return reading
    }

    /// The nearest background colours to the fitted top and bottom, if both are near one.
    static func background(top: RGB, bottom: RGB) -> Background? {
        func nearest(_ colour: RGB) -> BackgroundColour? {
            let best = BackgroundColour.allCases.min { $0.rgb.distance(to: colour) < $1.rgb.distance(to: colour) }!
            return best.rgb.distance(to: colour) < 0.15 ? best : nil
        }
        guard let t = nearest(top), let b = nearest(bottom) else { return nil }
        return Background(top: t, bottom: b)
    }
}

/// A video the evaluator cannot read.
public struct EvaluatorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func median(_ colours: [RGB]) -> RGB {
    RGB(r: median(colours.map(\.r)), g: median(colours.map(\.g)), b: median(colours.map(\.b)))
}
