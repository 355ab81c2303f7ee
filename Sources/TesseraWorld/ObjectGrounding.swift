// Grounded objects (docs/WORLD.md, "Grounding"): a caption's objects as attribute features and the box each
// starts in, for a DiT that takes them beside the caption (docs/ENGINE.md, "Grounded objects"). The facts
// come from the caption's words; the box from the scene that realises them — the training clip's own, or the
// prompt expander's scene at render time, which puts each object at a point of the place its words name.

/// A caption's objects as features and boxes.
public enum ObjectGrounding {
    /// Features per object: presence, then one-hots of colour, shape, size and motion (still, falling,
    /// bouncing, moving in each of eight directions).
    public static let featureCount = 1 + ObjectColour.allCases.count + Shape.allCases.count + SizeClass.allCases.count + 3
        + Direction.allCases.count

    /// An object's features; attributes the facts leave open stay zero.
    public static func features(_ object: CaptionFacts.Object) -> [Float] {
        var out = [Float](repeating: 0, count: featureCount)
        out[0] = 1
        var offset = 1
        func set<T: CaseIterable & Equatable>(_ value: T?, _ all: T.AllCases) {
            if let value, let index = Array(all).firstIndex(of: value) { out[offset + index] = 1 }
            offset += all.count
        }
        set(object.colour, ObjectColour.allCases)
        set(object.shape, Shape.allCases)
        set(object.size, SizeClass.allCases)
        switch object.motion {
        case .still: out[offset] = 1
        case .falling: out[offset + 1] = 1
        case .bouncing: out[offset + 2] = 1
        case .moving(let direction): out[offset + 3 + Direction.allCases.firstIndex(of: direction)!] = 1
        case nil: break
        }
        return out
    }

    /// Left, top, right and bottom of the square of half-side `radius` around `centre`, in fractions of the
    /// frame (world units over `extent`), clamped to the frame.
    public static func box(centre: Vec2, radius: Double, extent: Extent) -> [Double] {
        func clamp(_ v: Double) -> Double { min(1, max(0, v)) }
        return [
            clamp((centre.x - radius) / extent.width), clamp((centre.y - radius) / extent.height),
            clamp((centre.x + radius) / extent.width), clamp((centre.y + radius) / extent.height),
        ]
    }

    /// The objects of `scene` as `facts` describe them (the scene's own facts when nil): each object's
    /// features and the box it starts in. Facts that place an object elsewhere than the scene does (a caption
    /// that lies about its place) move its box to the centre of the region they name.
    public static func objects(_ scene: SceneSpec, facts: CaptionFacts? = nil) -> [(features: [Float], box: [Double])] {
        let facts = facts ?? Captioner.facts(scene)
        let extent = scene.extent
        return zip(scene.objects, facts.objects).map { object, fact in
            var centre = object.position
            if let region = fact.region, region != Region(fractionX: centre.x / extent.width, fractionY: centre.y / extent.height) {
                let (column, row) = region.cell
                centre = Vec2((Double(column) + 0.5) / 3 * extent.width, (Double(row) + 0.5) / 3 * extent.height)
            }
            return (features(fact), box(centre: centre, radius: object.radius, extent: extent))
        }
    }
}
