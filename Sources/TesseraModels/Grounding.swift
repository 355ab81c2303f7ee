import TesseraTensor

/// One object of a caption placed on the frame: its attributes as features and the box it starts in
/// (docs/ENGINE.md, "Grounded objects"). The caption's words say what an object is and where it is; the
/// prompt expander's scene puts it at a point of that place. A DiT with `DiTConfig.grounding` adds
/// `grounding.weight · features` to every token of latent frame `frame` in proportion to how much of the
/// token the box covers, so what an object is reaches the tokens where it is drawn — the binding of words
/// to one object in one place that a small network did not learn from the caption alone (docs/MODEL.md,
/// session 36).
public struct GroundedObject: Sendable, Equatable {
    /// The object's attributes (`DiTConfig.grounding` numbers).
    public var features: [Float]
    /// Left, top, right and bottom edges in fractions of the frame's width and height.
    public var box: [Double]
    /// The latent frame the box is in (0: the first frame, where a caption's places are).
    public var frame: Int

    /// An object in `box` (left, top, right, bottom, fractions) of latent frame `frame`.
    public init(features: [Float], box: [Double], frame: Int = 0) {
        precondition(box.count == 4, "a grounding box is left, top, right, bottom")
        self.features = features
        self.box = box
        self.frame = frame
    }

    /// The share of token (`row`, `column`) of a `height`×`width` grid that the box covers, 0…1.
    func coverage(row: Int, column: Int, height: Int, width: Int) -> Double {
        func overlap(_ low: Double, _ high: Double, _ cell: Int, _ cells: Int) -> Double {
            let a = Double(cell) / Double(cells), b = Double(cell + 1) / Double(cells)
            return max(0, min(high, b) - max(low, a)) * Double(cells)
        }
        return overlap(box[0], box[2], column, width) * overlap(box[1], box[3], row, height)
    }
}

extension Spacetime {
    /// The grounding input of a token grid: row `t` is `Σ coverage · features` over the objects whose frame
    /// holds token `t`. → `[T, features]`, zero where no object is. Objects whose frame lies outside the grid
    /// add nothing (a window of a long video that does not hold the first frame).
    public static func groundingMap(grid: Attention.Grid, objects: [GroundedObject], features: Int) -> Tensor {
        var map = Tensor(zeros: [grid.count, features])
        for object in objects where (0..<grid.frames).contains(object.frame) {
            precondition(object.features.count == features, "grounding features \(object.features.count), expected \(features)")
            let first = object.frame * grid.height * grid.width
            for row in 0..<grid.height {
                for column in 0..<grid.width {
                    let share = Float(object.coverage(row: row, column: column, height: grid.height, width: grid.width))
                    guard share > 0 else { continue }
                    let offset = (first + row * grid.width + column) * features
                    for k in 0..<features { map.storage[offset + k] += share * object.features[k] }
                }
            }
        }
        return map
    }
}
