// The world's small, fixed vocabulary (docs/WORLD.md, "Vocabulary"). Every caption the world writes uses
// exactly these words, which is what the text encoder (all-MiniLM-L6-v2) learns to tell apart; the prompt
// expander maps synonyms onto them, and the evaluator reads a video back into them.

import Foundation

/// An RGB colour with channels in [0, 1] (sRGB values, blended as they are).
public struct RGB: Sendable, Equatable, Hashable, Codable {
    public var r: Double
    public var g: Double
    public var b: Double

    /// A colour from 8-bit channels.
    public init(_ r: Int, _ g: Int, _ b: Int) {
        self.r = Double(r) / 255
        self.g = Double(g) / 255
        self.b = Double(b) / 255
    }

    /// A colour from unit channels.
    public init(r: Double, g: Double, b: Double) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Euclidean distance in unit RGB (0 for equal colours, √3 for black against white).
    public func distance(to other: RGB) -> Double {
        let dr = r - other.r, dg = g - other.g, db = b - other.b
        return (dr * dr + dg * dg + db * db).squareRoot()
    }

    /// `self·(1 − t) + other·t`.
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        RGB(r: r + (other.r - r) * t, g: g + (other.g - g) * t, b: b + (other.b - b) * t)
    }

    /// The distance from this colour to the segment between `a` and `b` (a gradient's colours).
    public func distance(toSegment a: RGB, _ b: RGB) -> Double {
        let ux = b.r - a.r, uy = b.g - a.g, uz = b.b - a.b
        let length2 = ux * ux + uy * uy + uz * uz
        guard length2 > 0 else { return distance(to: a) }
        let t = min(max(((r - a.r) * ux + (g - a.g) * uy + (self.b - a.b) * uz) / length2, 0), 1)
        return distance(to: a.mixed(with: b, t))
    }
}

/// The shapes objects come in. Each fits a box of half-extent `radius` around its centre (the star a
/// little less: its five points touch a circle of that radius).
public enum Shape: String, Sendable, Codable, CaseIterable {
    case circle, square, triangle, star, diamond

    /// The caption noun.
    public var word: String { rawValue }
}

/// Object colours, kept far apart so a colour identifies an object in a frame.
public enum ObjectColour: String, Sendable, Codable, CaseIterable {
    case red, orange, yellow, green, blue, purple, pink, white, black

    /// The exact colour the renderer paints.
    public var rgb: RGB {
        switch self {
        case .red: RGB(220, 38, 38)
        case .orange: RGB(249, 128, 22)
        case .yellow: RGB(250, 210, 30)
        case .green: RGB(34, 160, 70)
        case .blue: RGB(37, 90, 230)
        case .purple: RGB(130, 60, 200)
        case .pink: RGB(240, 100, 170)
        case .white: RGB(245, 245, 245)
        case .black: RGB(25, 25, 25)
        }
    }

    /// The caption adjective.
    public var word: String { rawValue }
}

/// Background colours: light or dark, so the object colours stand out against them.
public enum BackgroundColour: String, Sendable, Codable, CaseIterable {
    case white
    case black
    case lightGray = "light gray"
    case darkGray = "dark gray"
    case lightBlue = "light blue"
    case darkBlue = "dark blue"
    case beige
    case paleGreen = "pale green"

    /// The exact colour the renderer paints.
    public var rgb: RGB {
        switch self {
        case .white: RGB(250, 250, 250)
        case .black: RGB(12, 12, 12)
        case .lightGray: RGB(200, 200, 200)
        case .darkGray: RGB(64, 64, 64)
        case .lightBlue: RGB(170, 210, 245)
        case .darkBlue: RGB(18, 28, 76)
        case .beige: RGB(238, 222, 190)
        case .paleGreen: RGB(195, 232, 195)
        }
    }

    /// The caption words.
    public var word: String { rawValue }
}

/// Size classes. Radii are in units of the frame's shorter side, so a size means the same on any
/// resolution and orientation.
public enum SizeClass: String, Sendable, Codable, CaseIterable {
    case small, medium, large

    /// The nominal radius; sampled radii stay within ±`SizeClass.jitter` of it.
    public var radius: Double {
        switch self {
        case .small: 0.065
        case .medium: 0.10
        case .large: 0.15
        }
    }

    /// Relative spread of sampled radii around the nominal one; classes stay apart by more than twice it.
    public static let jitter = 0.07

    /// The class whose radius range holds `radius`: boundaries at the geometric means of neighbours.
    public static func classify(radius: Double) -> SizeClass {
        if radius < (SizeClass.small.radius * SizeClass.medium.radius).squareRoot() { return .small }
        if radius < (SizeClass.medium.radius * SizeClass.large.radius).squareRoot() { return .medium }
        return .large
    }

    /// The caption adjective.
    public var word: String { rawValue }
}

/// A ninth of the frame (thirds across and down), where an object is in the first frame.
public enum Region: String, Sendable, Codable, CaseIterable {
    case topLeft = "top left", top, topRight = "top right"
    case left, center, right
    case bottomLeft = "bottom left", bottom, bottomRight = "bottom right"

    /// Column 0...2 (left to right) and row 0...2 (top to bottom).
    public var cell: (column: Int, row: Int) {
        let index = Region.allCases.firstIndex(of: self)!
        return (index % 3, index / 3)
    }

    /// The region of a cell.
    public init(column: Int, row: Int) {
        self = Region.allCases[row * 3 + column]
    }

    /// The region of a point given in fractions of the frame's width and height.
    public init(fractionX x: Double, fractionY y: Double) {
        self.init(column: min(2, max(0, Int(x * 3))), row: min(2, max(0, Int(y * 3))))
    }

    /// "in the top left", "at the top", "on the left", "in the center".
    public var phrase: String {
        switch self {
        case .top, .bottom: "at the \(rawValue)"
        case .left, .right: "on the \(rawValue)"
        default: "in the \(rawValue)"
        }
    }

    /// The direction pointing from the centre towards this region (`nil` for the centre).
    public var direction: Direction? {
        let (column, row) = cell
        return Direction(dx: column - 1, dy: row - 1)
    }
}

/// Eight directions of motion in the image plane (up is towards the top of the frame).
public enum Direction: String, Sendable, Codable, CaseIterable {
    case left, right, up, down
    case upLeft = "up-left", upRight = "up-right", downLeft = "down-left", downRight = "down-right"

    /// The direction with the given signs of x (right positive) and y (down positive); `nil` for (0, 0).
    public init?(dx: Int, dy: Int) {
        switch (dx.signum(), dy.signum()) {
        case (-1, 0): self = .left
        case (1, 0): self = .right
        case (0, -1): self = .up
        case (0, 1): self = .down
        case (-1, -1): self = .upLeft
        case (1, -1): self = .upRight
        case (-1, 1): self = .downLeft
        case (1, 1): self = .downRight
        default: return nil
        }
    }

    /// The nearest of the eight directions to a displacement (y down), by 45° sectors.
    public init(displacementX x: Double, y: Double) {
        let sector = Int((atan2Positive(-y, x) / (Double.pi / 4)).rounded()) % 8
        let table: [Direction] = [.right, .upRight, .up, .upLeft, .left, .downLeft, .down, .downRight]
        self = table[sector]
    }

    /// Unit vector (x right, y down).
    public var unit: (x: Double, y: Double) {
        let d = 0.5.squareRoot()
        switch self {
        case .left: return (-1, 0)
        case .right: return (1, 0)
        case .up: return (0, -1)
        case .down: return (0, 1)
        case .upLeft: return (-d, -d)
        case .upRight: return (d, -d)
        case .downLeft: return (-d, d)
        case .downRight: return (d, d)
        }
    }

    /// "to the left", "upward", "up and to the right".
    public var phrase: String {
        switch self {
        case .left: "to the left"
        case .right: "to the right"
        case .up: "upward"
        case .down: "downward"
        case .upLeft: "up and to the left"
        case .upRight: "up and to the right"
        case .downLeft: "down and to the left"
        case .downRight: "down and to the right"
        }
    }
}

/// atan2 mapped to [0, 2π).
private func atan2Positive(_ y: Double, _ x: Double) -> Double {
    let angle = atan2(y, x)
    return angle < 0 ? angle + 2 * Double.pi : angle
}

/// How an object moves over a clip, as read from its trajectory by `MotionClassifier`. Encoded in JSON as
/// its `name`.
public enum MotionClass: Sendable, Equatable, Hashable, Codable {
    /// It does not move.
    case still
    /// It moves in a straight line (or is nudged) with no sharp reversal and no fall; net direction.
    case moving(Direction)
    /// It accelerates downward and never reverses sharply (it may land and stop).
    case falling
    /// It reverses sharply at least once: off the floor, a wall or another object.
    case bouncing

    /// A short stable name for reports: "still", "moving left", "falling", "bouncing".
    public var name: String {
        switch self {
        case .still: "still"
        case .moving(let direction): "moving \(direction.rawValue)"
        case .falling: "falling"
        case .bouncing: "bouncing"
        }
    }

    /// The class with this `name`.
    public init?(name: String) {
        switch name {
        case "still": self = .still
        case "falling": self = .falling
        case "bouncing": self = .bouncing
        default:
            guard name.hasPrefix("moving "), let direction = Direction(rawValue: String(name.dropFirst(7))) else {
                return nil
            }
            self = .moving(direction)
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = MotionClass(name: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown motion \(text)"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// Camera framing, named after the largest object: close-up (large), medium shot (medium), wide shot (small).
public enum Framing: String, Sendable, Codable, CaseIterable {
    case closeUp = "close-up"
    case mediumShot = "medium shot"
    case wideShot = "wide shot"

    /// The framing of a scene whose largest object has this size.
    public init(largest: SizeClass) {
        switch largest {
        case .large: self = .closeUp
        case .medium: self = .mediumShot
        case .small: self = .wideShot
        }
    }

    /// The size class of the largest object under this framing.
    public var largest: SizeClass {
        switch self {
        case .closeUp: .large
        case .mediumShot: .medium
        case .wideShot: .small
        }
    }
}
