// Deterministic physics for a scene (docs/WORLD.md, "Physics"): fixed 1 ms steps of semi-implicit Euler
// in world units, gravity for the objects that feel it, walls with each object's bounciness, elastic
// collisions between objects of one layer (masses ∝ radius², pinned objects immovable). Frames sample the
// state at their times by linear interpolation between steps, so a scene moves the same at any fps, and
// the whole simulation runs on one thread in a fixed order: same scene, same numbers everywhere.

/// Two objects touching for the first time since they last separated.
public struct CollisionEvent: Sendable, Equatable, Hashable, Codable {
    /// Seconds after the first frame.
    public var time: Double
    /// Object indices, `first < second`.
    public var first: Int
    public var second: Int
}

/// Where every object is in every frame, and which objects collided.
public struct Trajectory: Sendable, Equatable {
    /// `positions[frame][object]`: object centres in world units.
    public var positions: [[Vec2]]
    /// Collisions between the first and the last frame, in time order.
    public var collisions: [CollisionEvent]

    /// The path of one object, frame by frame.
    public func path(of object: Int) -> [Vec2] { positions.map { $0[object] } }
}

/// The world's physics.
public enum Physics {
    /// Integration step in seconds. At the fastest speeds sampled (about 3 units/s) an object moves 0.003
    /// units a step, far less than the smallest radius, so nothing tunnels through anything.
    public static let timeStep = 1.0 / 1000

    /// Runs `scene` from time 0 to its last frame.
    public static func simulate(_ scene: SceneSpec) -> Trajectory {
        var state = State(scene)
        var positions: [[Vec2]] = [state.position]
        positions.reserveCapacity(scene.frames)
        var step = 0
        while positions.count < scene.frames {
            let before = state.position
            let start = Double(step) * timeStep
            let end = Double(step + 1) * timeStep
            state.advance(to: end)
            while positions.count < scene.frames, scene.time(ofFrame: positions.count) <= end {
                let fraction = (scene.time(ofFrame: positions.count) - start) / timeStep
                positions.append(zip(before, state.position).map { $0 + ($1 - $0) * fraction })
            }
            step += 1
        }
        return Trajectory(positions: positions, collisions: state.collisions)
    }

    /// The mutable state of one simulation.
    struct State {
        let scene: SceneSpec
        var position: [Vec2]
        var velocity: [Vec2]
        let inverseMass: [Double]
        var touching: Set<Int> = []
        var collisions: [CollisionEvent] = []

        init(_ scene: SceneSpec) {
            self.scene = scene
            position = scene.objects.map(\.position)
            velocity = scene.objects.map { $0.pinned ? .zero : $0.velocity }
            inverseMass = scene.objects.map { $0.pinned ? 0 : 1 / ($0.radius * $0.radius) }
        }

        /// One step, ending at time `time`.
        mutating func advance(to time: Double) {
            let dt = Physics.timeStep
            let objects = scene.objects
            for i in objects.indices where !objects[i].pinned {
                if objects[i].gravity { velocity[i].y += scene.gravity * dt }
                position[i] += velocity[i] * dt
            }
            collide(at: time)
            for i in objects.indices where !objects[i].pinned {
                bounceOffWalls(i)
            }
        }

        /// Elastic collisions between overlapping objects of one layer that are moving together.
        mutating func collide(at time: Double) {
            let objects = scene.objects
            for i in objects.indices {
                for j in (i + 1)..<objects.count where objects[i].layer == objects[j].layer {
                    let pair = i * objects.count + j
                    let totalInverse = inverseMass[i] + inverseMass[j]
                    let offset = position[j] - position[i]
                    let distance = offset.length
                    let reach = objects[i].radius + objects[j].radius
                    guard totalInverse > 0, distance < reach, distance > 0 else {
                        if distance > reach * 1.001 { touching.remove(pair) }
                        continue
                    }
                    let normal = offset * (1 / distance)
                    let approach = (velocity[j] - velocity[i]).dot(normal)
                    if approach < 0 {
                        let impulse = -2 * approach / totalInverse
                        velocity[i] -= normal * (impulse * inverseMass[i])
                        velocity[j] += normal * (impulse * inverseMass[j])
                        if !touching.contains(pair) {
                            collisions.append(CollisionEvent(time: time, first: i, second: j))
                        }
                    }
                    touching.insert(pair)
                    // Push apart by the overlap, shared by inverse mass, so objects never sink into each other.
                    let correction = (reach - distance) / totalInverse
                    position[i] -= normal * (correction * inverseMass[i])
                    position[j] += normal * (correction * inverseMass[j])
                }
            }
        }

        /// Keeps object `i` inside the frame; its velocity into a wall is reflected and scaled by its bounciness.
        mutating func bounceOffWalls(_ i: Int) {
            let object = scene.objects[i]
            let r = object.radius, e = object.bounciness
            let extent = scene.extent
            if position[i].x < r {
                position[i].x = r
                if velocity[i].x < 0 { velocity[i].x = -e * velocity[i].x }
            } else if position[i].x > extent.width - r {
                position[i].x = extent.width - r
                if velocity[i].x > 0 { velocity[i].x = -e * velocity[i].x }
            }
            if position[i].y < r {
                position[i].y = r
                if velocity[i].y < 0 { velocity[i].y = -e * velocity[i].y }
            } else if position[i].y > extent.height - r {
                position[i].y = extent.height - r
                if velocity[i].y > 0 { velocity[i].y = -e * velocity[i].y }
            }
        }
    }
}
