// A scene: what is in a clip and how it starts (docs/WORLD.md, "Scenes"). Everything is in world units —
// fractions of the frame's shorter side, x to the right and y down, time in seconds — so one scene renders
// at any resolution of its aspect ratio and any frame rate.

import Foundation

/// A 2D vector in world units (x right, y down).
public struct Vec2: Sendable, Equatable, Hashable, Codable {
    public var x: Double
    public var y: Double

    /// The vector (x, y).
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }

    public static let zero = Vec2(0, 0)

    public static func + (a: Vec2, b: Vec2) -> Vec2 { Vec2(a.x + b.x, a.y + b.y) }
    public static func - (a: Vec2, b: Vec2) -> Vec2 { Vec2(a.x - b.x, a.y - b.y) }
    public static func * (a: Vec2, s: Double) -> Vec2 { Vec2(a.x * s, a.y * s) }
    public static func += (a: inout Vec2, b: Vec2) { a = a + b }
    public static func -= (a: inout Vec2, b: Vec2) { a = a - b }

    /// Dot product.
    public func dot(_ other: Vec2) -> Double { x * other.x + y * other.y }
    /// Euclidean length.
    public var length: Double { (x * x + y * y).squareRoot() }
}

/// The frame's size in world units: the shorter side is 1, the longer one the aspect ratio.
public struct Extent: Sendable, Equatable, Hashable, Codable {
    public var width: Double
    public var height: Double

    /// The extent of a `width`×`height` pixel frame.
    public init(pixelWidth width: Int, height: Int) {
        precondition(width > 0 && height > 0, "a frame needs a positive size, got \(width)x\(height)")
        let short = Double(min(width, height))
        self.width = Double(width) / short
        self.height = Double(height) / short
    }

    /// 16:9 landscape (1.78 × 1).
    public static let landscape = Extent(pixelWidth: 16, height: 9)
    /// 9:16 portrait (1 × 1.78).
    public static let portrait = Extent(pixelWidth: 9, height: 16)
    /// 1:1.
    public static let square = Extent(pixelWidth: 1, height: 1)

    /// "landscape", "portrait" or "square".
    public var orientation: String {
        width > height * 1.01 ? "landscape" : height > width * 1.01 ? "portrait" : "square"
    }
}

/// The background: one colour, or a vertical gradient from `top` to `bottom`.
public struct Background: Sendable, Equatable, Hashable, Codable {
    public var top: BackgroundColour
    public var bottom: BackgroundColour

    /// A solid background.
    public init(_ colour: BackgroundColour) {
        top = colour
        bottom = colour
    }

    /// A vertical gradient.
    public init(top: BackgroundColour, bottom: BackgroundColour) {
        self.top = top
        self.bottom = bottom
    }

    /// Whether the colour changes from top to bottom.
    public var isGradient: Bool { top != bottom }

    /// The colour at a height given as a fraction of the frame (0 top, 1 bottom).
    public func colour(atFraction y: Double) -> RGB {
        top.rgb.mixed(with: bottom.rgb, min(max(y, 0), 1))
    }
}

/// One object: what it looks like, where it starts and how physics treats it.
public struct SceneObject: Sendable, Equatable, Hashable, Codable {
    public var shape: Shape
    public var colour: ObjectColour
    public var size: SizeClass
    /// Half-extent in world units (within ±`SizeClass.jitter` of the class radius); also the collision radius.
    public var radius: Double
    /// Centre at time 0.
    public var position: Vec2
    /// World units per second at time 0.
    public var velocity: Vec2
    /// Whether gravity pulls it down.
    public var gravity: Bool
    /// Share of speed kept when it hits a wall or the floor: 0 lands dead, 1 is perfectly elastic.
    public var bounciness: Double
    /// Pinned objects never move; moving objects bounce off them as off a wall.
    public var pinned: Bool
    /// Objects on the same layer collide; on different layers the higher one passes in front (occlusion).
    public var layer: Int

    /// An object; `radius` defaults to the size class's nominal radius.
    public init(
        shape: Shape, colour: ObjectColour, size: SizeClass, radius: Double? = nil, position: Vec2,
        velocity: Vec2 = .zero, gravity: Bool = false, bounciness: Double = 1, pinned: Bool = false, layer: Int = 0
    ) {
        self.shape = shape
        self.colour = colour
        self.size = size
        self.radius = radius ?? size.radius
        self.position = position
        self.velocity = velocity
        self.gravity = gravity
        self.bounciness = bounciness
        self.pinned = pinned
        self.layer = layer
    }
}

/// A whole clip: frame shape, timing, background, objects. Same spec, same pixels.
public struct SceneSpec: Sendable, Equatable, Hashable, Codable {
    public var extent: Extent
    /// Frame count; 1 is a still image.
    public var frames: Int
    public var fps: Double
    public var background: Background
    /// In drawing order among objects of one layer.
    public var objects: [SceneObject]
    /// Downward acceleration in world units per second squared.
    public var gravity: Double

    /// The default gravity: a fall across a landscape frame's full height takes about one second.
    public static let standardGravity = 2.0

    /// A scene; needs at least one frame and a positive fps.
    public init(
        extent: Extent, frames: Int, fps: Double, background: Background, objects: [SceneObject],
        gravity: Double = SceneSpec.standardGravity
    ) {
        precondition(frames >= 1 && fps > 0, "a scene needs at least one frame and a positive fps")
        self.extent = extent
        self.frames = frames
        self.fps = fps
        self.background = background
        self.objects = objects
        self.gravity = gravity
    }

    /// Seconds from the first frame to the last.
    public var duration: Double { Double(frames - 1) / fps }

    /// The time of frame `index`.
    public func time(ofFrame index: Int) -> Double { Double(index) / fps }

    /// Object indices in drawing order: by layer, then by index.
    public var drawingOrder: [Int] {
        objects.indices.sorted { (objects[$0].layer, $0) < (objects[$1].layer, $1) }
    }

    /// The framing: named after the largest object (wide shot when there are none).
    public var framing: Framing {
        let largest = objects.map(\.size).max { SizeClass.allCases.firstIndex(of: $0)! < SizeClass.allCases.firstIndex(of: $1)! }
        return Framing(largest: largest ?? .small)
    }
}
