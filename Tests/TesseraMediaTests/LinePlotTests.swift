import Foundation
import Testing

@testable import TesseraMedia

@Suite struct LinePlotTests {
    @Test func drawsTheCurveInsideTheAxesInItsColour() throws {
        var points: [(x: Double, y: Double)] = []
        for i in 0..<100 {
            let y: Double = 2.0 * exp(-Double(i) / 30.0) + 0.01
            points.append((x: Double(i), y: y))
        }
        let plot = LinePlot(title: "LOSS", xLabel: "STEP", series: [.init(name: "TRAIN", points: points, color: (200, 30, 30))])
        let frame = plot.render()
        #expect(frame.width == 800 && frame.height == 450)
        func isCurve(_ x: Int, _ y: Int) -> Bool { let p = frame.pixel(x: x, y: y); return p.red == 200 && p.green == 30 && p.blue == 30 }
        var curvePixels = 0
        for y in 0..<frame.height { for x in 0..<frame.width where isCurve(x, y) { curvePixels += 1 } }
        #expect(curvePixels > 600, "the curve spans the plot")
        // The first point is high on the left, the last low on the right (a falling curve).
        let leftColumn = (0..<frame.height).first { isCurve(LinePlot.left, $0) }
        let rightColumn = (0..<frame.height).last { isCurve(800 - LinePlot.right - 1, $0) }
        #expect(leftColumn != nil && rightColumn != nil && leftColumn! < rightColumn!)
        // It round-trips through PNG.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-plot-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: path) }
        try frame.writePNG(to: path)
        #expect(try RGBFrame(contentsOf: path) == frame)
    }

    @Test func emptyOrUnplottableDataGivesAnEmptyChartNotACrash() {
        let frame = LinePlot(title: "EMPTY", xLabel: "STEP", series: [.init(name: "A", points: [(x: 1, y: 0), (x: 2, y: -1)], color: (0, 0, 255))]).render()
        var blue = 0
        for y in 0..<frame.height { for x in 0..<frame.width where frame.pixel(x: x, y: y) == (0, 0, 255) { blue += 1 } }
        #expect(blue == 0, "non-positive values are left off a logarithmic axis")
    }
}
