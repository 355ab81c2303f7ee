// Names how an object moves from its positions over time (docs/WORLD.md, "Motion"). The captioner runs it on
// the exact simulated positions and the evaluator on positions tracked in the pixels, so a caption's motion
// words mean exactly what the evaluator can check.

/// One observed position of an object.
public struct MotionSample: Sendable, Equatable {
    /// Seconds after the first frame.
    public var time: Double
    /// Centre in world units.
    public var position: Vec2

    /// A sample at `time` seconds of the centre `position`.
    public init(time: Double, position: Vec2) {
        self.time = time
        self.position = position
    }
}

/// Trajectory → `MotionClass`, with every threshold in world units and seconds.
public enum MotionClassifier {
    /// An object whose centre never strays this far from where it starts is still (about 9 pixels at 288p).
    public static let stillDistance = 0.03
    /// Velocities are averaged over at least this many seconds before and after each sample.
    public static let window = 0.1
    /// A reversal needs both averaged speeds above this (units per second) ...
    public static let reversalSpeed = 0.05
    /// ... and a jump in velocity above this plus twice what gravity alone could add over the two windows,
    /// so the smooth top of a throw never counts as a bounce.
    public static let reversalJump = 0.2
    /// A fall needs a fitted downward acceleration above this share of gravity.
    public static let fallShare = 0.4

    /// The motion of an object seen at `samples` (in time order), or nil when fewer than three samples leave
    /// it undetermined (a still image says nothing about motion).
    public static func classify(_ samples: [MotionSample], gravity: Double) -> MotionClass? {
        guard samples.count >= 3 else { return nil }
        let start = samples[0].position
        var farthest = start, reach = 0.0
        for sample in samples {
            let distance = (sample.position - start).length
            if distance > reach {
                reach = distance
                farthest = sample.position
            }
        }
        if reach < stillDistance { return .still }
        if hasReversal(samples, gravity: gravity) { return .bouncing }
        if isFalling(samples, gravity: gravity) { return .falling }
        let offset = farthest - start
        return .moving(Direction(displacementX: offset.x, y: offset.y))
    }

    /// Whether the velocity along x or y flips sharply somewhere.
    static func hasReversal(_ samples: [MotionSample], gravity: Double) -> Bool {
        let n = samples.count
        var before = 0
        var after = 0
        for k in 1..<(n - 1) {
            let t = samples[k].time
            // Latest sample at least `window` before, earliest at least `window` after (or the neighbours).
            while before + 1 < k, t - samples[before + 1].time >= window - 1e-9 { before += 1 }
            after = max(after, k + 1)
            while after < n - 1, samples[after].time - t < window - 1e-9 { after += 1 }
            let a = samples[before], b = samples[after], c = samples[k]
            let vIn = (c.position - a.position) * (1 / (c.time - a.time))
            let vOut = (b.position - c.position) * (1 / (b.time - c.time))
            let span = b.time - a.time
            if flips(vIn.x, vOut.x, extra: 0) || flips(vIn.y, vOut.y, extra: gravity * span) { return true }
        }
        return false
    }

    private static func flips(_ incoming: Double, _ outgoing: Double, extra: Double) -> Bool {
        incoming * outgoing < 0 && min(abs(incoming), abs(outgoing)) > reversalSpeed
            && abs(outgoing - incoming) > reversalJump + extra
    }

    /// Whether the object accelerates downward while it moves: a least-squares parabola y(t) over the samples
    /// up to where it comes to rest (so a fall that lands still counts).
    static func isFalling(_ samples: [MotionSample], gravity: Double) -> Bool {
        let end = samples[samples.count - 1].position
        var last = samples.count - 1
        while last > 0, (samples[last - 1].position - end).length <= 0.01 { last -= 1 }
        let moving = Array(samples[0...min(samples.count - 1, last)])
        guard moving.count >= 4, end.y - samples[0].position.y > stillDistance else { return false }
        return fittedAcceleration(moving) > fallShare * gravity
    }

    /// Twice the t² coefficient of the least-squares parabola through (t, y).
    static func fittedAcceleration(_ samples: [MotionSample]) -> Double {
        let t0 = samples[0].time
        // Normal equations for y = a + b·t + c·t² with t measured from the first sample.
        var s = [Double](repeating: 0, count: 5)
        var r = [Double](repeating: 0, count: 3)
        for sample in samples {
            let t = sample.time - t0, y = sample.position.y
            var power = 1.0
            for k in 0..<5 {
                s[k] += power
                if k < 3 { r[k] += power * y }
                power *= t
            }
        }
        let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]]
        func det(_ a: [[Double]]) -> Double {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        }
        let d = det(m)
        guard abs(d) > 1e-18 else { return 0 }
        // Cramer's rule for the t² coefficient.
        var mc = m
        for row in 0..<3 { mc[row][2] = r[row] }
        return 2 * det(mc) / d
    }
}
