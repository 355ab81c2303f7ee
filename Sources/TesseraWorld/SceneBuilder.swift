// Turns motion intents into starting conditions (docs/WORLD.md, "Distributions"). Shared by the scene
// sampler and the prompt expander, so a prompt's "a ball falling" is set up exactly as training scenes are.

/// Adds objects to a scene, each placed so its intent plays out within the clip.
public struct SceneBuilder: Sendable {
    public var scene: SceneSpec

    /// Margin kept between an object and the frame's edge at the start.
    static let edgeMargin = 0.01
    /// Bounciness of objects set up to bounce (objects set up to fall land dead: 0).
    public static let bounciness = 0.85
    /// The fastest a drifting object is made to move, in units per second.
    static let maxDriftSpeed = 1.2

    /// A builder adding to `scene` (usually with no objects yet).
    public init(scene: SceneSpec) {
        self.scene = scene
    }

    /// Adds one object; returns false (and adds nothing) when no placement fits after many tries.
    @discardableResult
    public mutating func add(
        shape: Shape, colour: ObjectColour, size: SizeClass, intent: MotionIntent, layer: Int, region: Region? = nil,
        _ random: inout WorldRandom
    ) -> Bool {
        let r = size.radius * (1 + random.uniform(-SizeClass.jitter...SizeClass.jitter))
        let extent = scene.extent
        let lo = r + Self.edgeMargin
        let hi = Vec2(extent.width - r - Self.edgeMargin, extent.height - r - Self.edgeMargin)
        let duration = scene.duration
        let gravity = scene.gravity
        for _ in 0..<80 {
            var object = SceneObject(shape: shape, colour: colour, size: size, radius: r, position: .zero, layer: layer)
            switch intent {
            case .still:
                object.pinned = true
                guard let p = point(in: region, lo: Vec2(lo, lo), hi: hi, &random) else { return false }
                object.position = p
            case .moving(let direction):
                let u = Vec2(direction.unit.x, direction.unit.y)
                var span = Double.infinity
                if u.x != 0 { span = min(span, (hi.x - lo) / abs(u.x)) }
                if u.y != 0 { span = min(span, (hi.y - lo) / abs(u.y)) }
                var distance = random.uniform(0.15...max(0.15, min(0.9 * span, 0.7)))
                if duration > 0 { distance = min(distance, Self.maxDriftSpeed * duration) } else { distance = 0 }
                // Start where the whole path stays inside the frame.
                let startLo = Vec2(max(lo, lo - distance * u.x), max(lo, lo - distance * u.y))
                let startHi = Vec2(min(hi.x, hi.x - distance * u.x), min(hi.y, hi.y - distance * u.y))
                guard let p = point(in: region, lo: startLo, hi: startHi, &random) else { continue }
                object.position = p
                object.velocity = duration > 0 ? u * (distance / duration) : u * 0.3
            case .falling:
                object.gravity = true
                object.bounciness = 0
                let top = Vec2(hi.x, max(lo, min(hi.y, 0.45 * extent.height)))
                guard let p = point(in: region, lo: Vec2(lo, lo), hi: region == nil ? top : hi, &random) else { return false }
                object.position = p
            case .bouncing:
                object.gravity = true
                object.bounciness = Self.bounciness
                object.velocity = Vec2(
                    (random.chance(0.5) ? -1 : 1) * random.uniform(0.15...0.5), random.uniform(0...0.3))
                if region == nil {
                    // Drop from a height that reaches the floor between 15% and 60% of the way through.
                    let hit = random.uniform(0.15...0.6) * max(duration, 0.5)
                    let drop = object.velocity.y * hit + 0.5 * gravity * hit * hit
                    let y = min(max(hi.y - drop, lo), hi.y)
                    object.position = Vec2(random.uniform(lo...hi.x), y)
                } else {
                    guard let p = point(in: region, lo: Vec2(lo, lo), hi: hi, &random) else { return false }
                    object.position = p
                }
            }
            if fits(object) {
                scene.objects.append(object)
                return true
            }
        }
        return false
    }

    /// Adds two objects set up to meet halfway through the clip, along the frame's longer side: on one layer
    /// they collide and bounce apart, on two layers the upper one passes in front of the other (the first
    /// object in front when `firstInFront`, else chosen at random).
    @discardableResult
    public mutating func addEncounter(
        shapes: (Shape, Shape), colours: (ObjectColour, ObjectColour), sizes: (SizeClass, SizeClass), collide: Bool,
        firstInFront: Bool? = nil, _ random: inout WorldRandom
    ) -> Bool {
        let extent = scene.extent
        let horizontal = extent.width >= extent.height
        let along = horizontal ? extent.width : extent.height
        let across = horizontal ? extent.height : extent.width
        let ra = sizes.0.radius * (1 + random.uniform(-SizeClass.jitter...SizeClass.jitter))
        let rb = sizes.1.radius * (1 + random.uniform(-SizeClass.jitter...SizeClass.jitter))
        let layers = collide ? (0, 0) : ((firstInFront ?? random.chance(0.5)) ? (1, 0) : (0, 1))
        let duration = scene.duration
        guard duration > 0 else { return false }
        for _ in 0..<80 {
            let meet = random.uniform(0.3...0.6) * duration
            let m = Self.edgeMargin
            let lane = random.uniform((max(ra, rb) + m)...(across - max(ra, rb) - m))
            let offset = random.uniform(-0.3...0.3) * min(ra, rb)
            let a = random.uniform((ra + m)...max(ra + m, along / 2 - ra - 0.05))
            let b = random.uniform(min(along - rb - m, along / 2 + rb + 0.05)...(along - rb - m))
            let gap = b - a - (collide ? ra + rb : 0)
            let closing = gap / meet
            guard gap > 0.05, closing <= 2 else { continue }
            let share = random.uniform(0.3...0.7)
            func vec(_ u: Double, _ v: Double) -> Vec2 { horizontal ? Vec2(u, v) : Vec2(v, u) }
            let first = SceneObject(
                shape: shapes.0, colour: colours.0, size: sizes.0, radius: ra, position: vec(a, lane),
                velocity: vec(closing * share, 0), layer: layers.0)
            let second = SceneObject(
                shape: shapes.1, colour: colours.1, size: sizes.1, radius: rb, position: vec(b, lane + offset),
                velocity: vec(-closing * (1 - share), 0), layer: layers.1)
            guard fits(first), b - a > ra + rb + 0.05 else { continue }
            scene.objects.append(first)
            guard fits(second) else {
                scene.objects.removeLast()
                continue
            }
            scene.objects.append(second)
            return true
        }
        return false
    }

    /// Inside the frame, clear of the other objects, and clear of the lines between regions.
    func fits(_ object: SceneObject) -> Bool {
        let p = object.position, r = object.radius, extent = scene.extent
        guard p.x >= r, p.y >= r, p.x <= extent.width - r, p.y <= extent.height - r else { return false }
        for other in scene.objects where (other.position - p).length < other.radius + r + SceneSampler.spacing {
            return false
        }
        for k in 1...2 {
            if abs(p.x - extent.width * Double(k) / 3) < SceneSampler.regionMargin { return false }
            if abs(p.y - extent.height * Double(k) / 3) < SceneSampler.regionMargin { return false }
        }
        return true
    }

    /// A uniform point in the box `lo...hi`, within `region`'s cell when one is asked for.
    func point(in region: Region?, lo: Vec2, hi: Vec2, _ random: inout WorldRandom) -> Vec2? {
        var lo = lo, hi = hi
        if let region {
            let (column, row) = region.cell
            let w = scene.extent.width / 3, h = scene.extent.height / 3
            lo = Vec2(max(lo.x, Double(column) * w), max(lo.y, Double(row) * h))
            hi = Vec2(min(hi.x, Double(column + 1) * w), min(hi.y, Double(row + 1) * h))
        }
        guard lo.x <= hi.x, lo.y <= hi.y else { return nil }
        return Vec2(random.uniform(lo.x...hi.x), random.uniform(lo.y...hi.y))
    }
}
