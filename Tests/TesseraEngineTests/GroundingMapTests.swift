import Testing
import TesseraModels
import TesseraTensor

/// Where a grounded object's features land on a token grid.
@Suite struct GroundingMapTests {
    let grid = Attention.Grid(frames: 2, height: 2, width: 4)

    func row(_ map: Tensor, frame: Int, row: Int, column: Int) -> [Float] {
        let t = (frame * grid.height + row) * grid.width + column, k = map.columns
        return Array(map.storage[(t * k)..<((t + 1) * k)])
    }

    /// A box covering one token exactly gives it the features and no other token anything; a box over half a
    /// token gives half; two objects add; only the frame the object names is touched.
    @Test func featuresLandInProportionToTheCoveredShareOfEachToken() {
        let whole = GroundedObject(features: [1, 2], box: [0.25, 0, 0.5, 0.5])  // token (row 0, column 1)
        let half = GroundedObject(features: [4, 0], box: [0.25, 0.25, 0.5, 0.5])  // lower half of the same token
        let map = Spacetime.groundingMap(grid: grid, objects: [whole, half], features: 2)
        #expect(map.shape == [grid.count, 2])
        #expect(row(map, frame: 0, row: 0, column: 1) == [3, 2])
        var others: Float = 0
        for f in 0..<2 { for r in 0..<2 { for c in 0..<4 where !(f == 0 && r == 0 && c == 1) { others += row(map, frame: f, row: r, column: c).reduce(0, +) } } }
        #expect(others == 0, "no other token, and nothing in the second frame")
    }

    /// A box straddling tokens splits by area; an object of a frame past the grid adds nothing; a window of a
    /// longer latent moves objects into its own frame count.
    @Test func boxesSplitByAreaAndWindowsShiftFrames() {
        let straddling = GroundedObject(features: [1], box: [0.125, 0.25, 0.375, 0.75], frame: 1)
        let map = Spacetime.groundingMap(grid: grid, objects: [straddling], features: 1)
        for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            #expect(abs(row(map, frame: 1, row: r, column: c)[0] - 0.25) < 1e-6, "token (\(r), \(c))")
        }
        #expect(map.storage.reduce(0, +) == 1)
        let later = GroundedObject(features: [1], box: [0, 0, 1, 1], frame: 5)
        #expect(Spacetime.groundingMap(grid: grid, objects: [later], features: 1).storage.allSatisfy { $0 == 0 })
        let caption = Caption(tokens: Tensor(zeros: [1, 2]), length: 1, pooled: Tensor(zeros: [2]), grounding: [later])
        #expect(caption.window(startingAt: 4).grounding[0].frame == 1)
        #expect(Spacetime.groundingMap(grid: grid, objects: caption.window(startingAt: 4).grounding, features: 1).storage.reduce(0, +) == 8)
    }
}
