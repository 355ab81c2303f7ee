// Shape outlines as signed distance functions (negative inside), in a frame centred on the object with y
// down and the object's radius as the unit. The renderer turns the distance into anti-aliased coverage;
// the evaluator compares what it sees against each shape's fill ratio and centroid.

import Foundation

/// Geometry of the world's shapes.
public enum ShapeGeometry {
    /// Inner radius of the five-pointed star relative to the outer one: that of a regular pentagram,
    /// sin 18° / sin 54°.
    public static let starInnerRatio = sin(Double.pi / 10) / sin(3 * Double.pi / 10)

    /// Polygon corners at unit radius (nil for the circle and the square, which have closed forms).
    public static func vertices(_ shape: Shape) -> [Vec2]? {
        switch shape {
        case .circle, .square:
            return nil
        case .triangle:
            return [Vec2(0, -1), Vec2(1, 1), Vec2(-1, 1)]
        case .diamond:
            return [Vec2(0, -1), Vec2(1, 0), Vec2(0, 1), Vec2(-1, 0)]
        case .star:
            return (0..<10).map { k in
                let angle = -Double.pi / 2 + Double(k) * Double.pi / 5
                let r = k % 2 == 0 ? 1 : starInnerRatio
                return Vec2(r * cos(angle), r * sin(angle))
            }
        }
    }

    /// The tight bounding box at unit radius: (minX, minY, maxX, maxY).
    public static func bounds(_ shape: Shape) -> (minX: Double, minY: Double, maxX: Double, maxY: Double) {
        guard let corners = vertices(shape) else { return (-1, -1, 1, 1) }
        return (corners.map(\.x).min()!, corners.map(\.y).min()!, corners.map(\.x).max()!, corners.map(\.y).max()!)
    }

    /// Signed distance from `point` (unit radius, centred) to the outline.
    public static func signedDistance(_ shape: Shape, _ point: Vec2) -> Double {
        switch shape {
        case .circle:
            return point.length - 1
        case .square:
            let qx = abs(point.x) - 1, qy = abs(point.y) - 1
            let outside = Vec2(max(qx, 0), max(qy, 0)).length
            return outside + min(max(qx, qy), 0)
        default:
            return polygonDistance(vertices(shape)!, point)
        }
    }

    /// Signed distance to a simple polygon: the distance to the nearest edge, negative when an even-odd
    /// ray cast towards +x crosses the outline an odd number of times.
    public static func polygonDistance(_ corners: [Vec2], _ p: Vec2) -> Double {
        var nearest = Double.infinity
        var inside = false
        var j = corners.count - 1
        for i in corners.indices {
            let a = corners[j], b = corners[i]
            let edge = b - a, toPoint = p - a
            let t = min(max(toPoint.dot(edge) / edge.dot(edge), 0), 1)
            nearest = min(nearest, (toPoint - edge * t).length)
            if (a.y > p.y) != (b.y > p.y) {
                let crossX = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x)
                if p.x < crossX { inside.toggle() }
            }
            j = i
        }
        return inside ? -nearest : nearest
    }

    /// What the evaluator expects to see of a shape, measured once on a fine grid: the share of its bounding
    /// box it fills, and how far below the box's centre its area centroid lies (in box heights).
    public struct Signature: Sendable, Equatable {
        public var fill: Double
        public var centroidOffset: Double
        /// Half the longer side of the bounding box, in radii (the star's is under 1).
        public var halfExtent: Double
        /// Bounding-box centre relative to the object's centre, in radii.
        public var boxCentreX: Double
        public var boxCentreY: Double
    }

    /// Signatures of every shape.
    public static let signatures: [Shape: Signature] = {
        var table: [Shape: Signature] = [:]
        for shape in Shape.allCases {
            let box = bounds(shape)
            let n = 400
            var count = 0.0, sumY = 0.0
            for iy in 0..<n {
                let y = box.minY + (Double(iy) + 0.5) / Double(n) * (box.maxY - box.minY)
                for ix in 0..<n {
                    let x = box.minX + (Double(ix) + 0.5) / Double(n) * (box.maxX - box.minX)
                    if signedDistance(shape, Vec2(x, y)) < 0 {
                        count += 1
                        sumY += y
                    }
                }
            }
            let height = box.maxY - box.minY
            let centreY = (box.minY + box.maxY) / 2
            table[shape] = Signature(
                fill: count / Double(n * n), centroidOffset: (sumY / count - centreY) / height,
                halfExtent: max(box.maxX - box.minX, height) / 2, boxCentreX: (box.minX + box.maxX) / 2,
                boxCentreY: centreY)
        }
        return table
    }()
}
