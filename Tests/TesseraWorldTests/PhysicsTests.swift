// Physics invariants (docs/WORLD.md, "Physics").

import Foundation
import Testing
import TesseraWorld

@Suite struct PhysicsTests {
    static func scene(_ objects: [SceneObject], extent: Extent = .landscape, frames: Int = 121, fps: Double = 24) -> SceneSpec {
        SceneSpec(extent: extent, frames: frames, fps: fps, background: Background(.white), objects: objects)
    }

    /// Objects of 200 random scenes stay inside the frame in every frame.
    @Test func objectsStayInFrame() {
        for seed in 0..<200 as Range<UInt64> {
            let clip = ClipShape.sample(seed: seed)
            let scene = SceneSampler.sample(seed: seed, extent: clip.aspect.extent, frames: max(clip.frames, 49), fps: 24)
            let trajectory = Physics.simulate(scene)
            #expect(trajectory.positions.count == scene.frames)
            for frame in trajectory.positions {
                for (object, p) in zip(scene.objects, frame) {
                    let r = object.radius - 1e-9
                    #expect(p.x >= r && p.y >= r && p.x <= scene.extent.width - r && p.y <= scene.extent.height - r,
                            "seed \(seed): \(object.colour) at \(p)")
                }
            }
        }
    }

    /// A wall reverses the velocity and keeps `bounciness` of the speed.
    @Test func wallBounceReversesVelocity() {
        let ball = SceneObject(shape: .circle, colour: .red, size: .medium, position: Vec2(1.5, 0.5), velocity: Vec2(1, 0))
        let path = Physics.simulate(Self.scene([ball], frames: 25)).path(of: 0)
        let right = Extent.landscape.width - ball.radius
        #expect(path.map(\.x).max()! <= right + 1e-9)
        #expect(path.map(\.x).max()! > right - 0.05, "it reaches the wall")
        // Velocity over the last frames points left at the same speed (elastic).
        let v = (path[24].x - path[23].x) * 24
        #expect(abs(v + 1) < 1e-6)

        var soft = ball
        soft.bounciness = 0.5
        let softPath = Physics.simulate(Self.scene([soft], frames: 25)).path(of: 0)
        #expect(abs((softPath[24].x - softPath[23].x) * 24 + 0.5) < 1e-6)
    }

    /// Gravity accelerates: a dropped object's fall distance grows as ½·g·t².
    @Test func gravityAccelerates() {
        let ball = SceneObject(shape: .circle, colour: .red, size: .small, position: Vec2(0.5, 0.1), gravity: true)
        let path = Physics.simulate(Self.scene([ball], frames: 13)).path(of: 0)
        for (i, p) in path.enumerated() {
            let t = Double(i) / 24
            // Semi-implicit Euler with 1 ms steps is within g·t·dt of the exact fall.
            #expect(abs((p.y - 0.1) - 0.5 * SceneSpec.standardGravity * t * t) <= SceneSpec.standardGravity * t * 0.0011)
        }
        let speeds = (1..<path.count).map { path[$0].y - path[$0 - 1].y }
        #expect(zip(speeds, speeds.dropFirst()).allSatisfy { $0 < $1 })
    }

    /// A falling object that lands dead stays on the floor; a bouncy one comes back up.
    @Test func landingAndBouncing() {
        var dead = SceneObject(shape: .square, colour: .red, size: .medium, position: Vec2(0.5, 0.2), gravity: true, bounciness: 0)
        var bouncy = dead
        bouncy.position.x = 1.2
        bouncy.bounciness = 0.85
        dead.layer = 1
        let trajectory = Physics.simulate(Self.scene([dead, bouncy], frames: 49))
        let floor = 1 - dead.radius
        #expect(abs(trajectory.positions[48][0].y - floor) < 1e-9)
        let bouncyPath = trajectory.path(of: 1).map(\.y)
        let landing = bouncyPath.firstIndex { $0 > floor - 0.01 }!
        #expect(bouncyPath[landing...].min()! < floor - 0.2, "it rises again after landing")
    }

    /// Equal objects meeting head-on exchange velocities, and the collision is recorded once.
    @Test func elasticCollisionExchangesVelocities() {
        let a = SceneObject(shape: .circle, colour: .red, size: .medium, position: Vec2(0.4, 0.5), velocity: Vec2(0.5, 0))
        let b = SceneObject(shape: .circle, colour: .blue, size: .medium, position: Vec2(1.4, 0.5), velocity: Vec2(-0.5, 0))
        let trajectory = Physics.simulate(Self.scene([a, b], frames: 25))
        #expect(trajectory.collisions.count == 1)
        let pa = trajectory.path(of: 0), pb = trajectory.path(of: 1)
        #expect(abs((pa[24].x - pa[23].x) * 24 + 0.5) < 1e-6)
        #expect(abs((pb[24].x - pb[23].x) * 24 - 0.5) < 1e-6)
        // On different layers they pass through each other instead.
        var behind = b
        behind.layer = 1
        let passing = Physics.simulate(Self.scene([a, behind], frames: 49))
        #expect(passing.collisions.isEmpty)
        #expect(abs(passing.positions[48][0].x - 1.4) < 1e-9 && abs(passing.positions[48][1].x - 0.4) < 1e-9)
    }

    /// A pinned object never moves, even when hit.
    @Test func pinnedObjectsStay() {
        let wall = SceneObject(shape: .square, colour: .black, size: .large, position: Vec2(0.9, 0.5), pinned: true)
        let ball = SceneObject(shape: .circle, colour: .red, size: .small, position: Vec2(0.3, 0.5), velocity: Vec2(0.8, 0))
        let trajectory = Physics.simulate(Self.scene([wall, ball], frames: 25))
        #expect(trajectory.path(of: 0).allSatisfy { $0 == wall.position })
        #expect((trajectory.positions[24][1].x - trajectory.positions[23][1].x) < 0, "the ball bounced back")
    }

    /// The same scene simulates to the same numbers, and frames at a higher fps lie on the same path.
    @Test func deterministicAndFrameRateIndependent() {
        let scene = SceneSampler.sample(seed: 7, extent: .landscape, frames: 49, fps: 24)
        #expect(Physics.simulate(scene) == Physics.simulate(scene))
        var doubled = scene
        doubled.frames = 97
        doubled.fps = 48
        let a = Physics.simulate(scene), b = Physics.simulate(doubled)
        for frame in 0..<49 {
            for object in scene.objects.indices {
                #expect((a.positions[frame][object] - b.positions[2 * frame][object]).length < 1e-9)
            }
        }
    }
}
