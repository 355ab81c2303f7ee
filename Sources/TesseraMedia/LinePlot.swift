import Foundation

/// A line chart drawn into an `RGBFrame`: one or more series over a shared x axis, the y axis linear or
/// logarithmic, with a title and tick labels in `BitmapFont`. Used for training loss curves
/// (`docs/MODEL.md`); written as PNG by the caller.
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: (red: UInt8, green: UInt8, blue: UInt8)
        public init(name: String, points: [(x: Double, y: Double)], color: (red: UInt8, green: UInt8, blue: UInt8)) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var series: [Series]
    public var logarithmicY: Bool
    public var width: Int
    public var height: Int

    public init(title: String, xLabel: String, series: [Series], logarithmicY: Bool = true, width: Int = 800, height: Int = 450) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
        self.logarithmicY = logarithmicY
        self.width = width
        self.height = height
    }

    /// Margins around the plotting area, in pixels.
    static let left = 70, right = 20, top = 34, bottom = 40

    public func render() -> RGBFrame {
        var frame = RGBFrame(width: width, height: height, red: 255, green: 255, blue: 255)
        let ink: (red: UInt8, green: UInt8, blue: UInt8) = (40, 40, 40), grid: (red: UInt8, green: UInt8, blue: UInt8) = (225, 225, 225)
        let usable = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logarithmicY || $0.y > 0) }
        let plotWidth = width - Self.left - Self.right, plotHeight = height - Self.top - Self.bottom
        BitmapFont.draw(title, into: &frame, x: Self.left, y: 10, scale: 2, color: ink)
        guard let first = usable.first, plotWidth > 10, plotHeight > 10 else { return frame }
        var (x0, x1, y0, y1) = (first.x, first.x, first.y, first.y)
        for p in usable {
            x0 = min(x0, p.x)
            x1 = max(x1, p.x)
            y0 = min(y0, p.y)
            y1 = max(y1, p.y)
        }
        func ty(_ y: Double) -> Double { logarithmicY ? log10(y) : y }
        var (low, high) = (ty(y0), ty(y1))
        if logarithmicY {
            low = floor(low)
            high = ceil(high)
        }
        if high - low < 1e-12 { high = low + 1 }
        if x1 - x0 < 1e-12 { x1 = x0 + 1 }
        func px(_ x: Double) -> Int { Self.left + Int(((x - x0) / (x1 - x0) * Double(plotWidth - 1)).rounded()) }
        func py(_ y: Double) -> Int { Self.top + plotHeight - 1 - Int(((ty(y) - low) / (high - low) * Double(plotHeight - 1)).rounded()) }

        // Grid and y labels: decades on a log axis, five steps on a linear one.
        let ticks: [Double] = logarithmicY
            ? stride(from: low, through: high, by: 1).map { pow(10, $0) }
            : (0...4).map { low + (high - low) * Double($0) / 4 }
        for tick in ticks {
            let y = py(tick)
            line(&frame, (Self.left, y), (Self.left + plotWidth - 1, y), grid)
            let label = logarithmicY ? String(format: "1E%d", Int(log10(tick).rounded())) : String(format: "%.3g", tick)
            BitmapFont.draw(label, into: &frame, x: Self.left - 8 - BitmapFont.width(of: label), y: y - 3, color: ink)
        }
        for i in 0...4 {
            let x = x0 + (x1 - x0) * Double(i) / 4
            let label = String(format: "%.0f", x)
            BitmapFont.draw(label, into: &frame, x: px(x) - BitmapFont.width(of: label) / 2, y: Self.top + plotHeight + 6, color: ink)
        }
        BitmapFont.draw(xLabel, into: &frame, x: Self.left + plotWidth / 2 - BitmapFont.width(of: xLabel) / 2, y: height - 14, color: ink)
        line(&frame, (Self.left, Self.top), (Self.left, Self.top + plotHeight - 1), ink)
        line(&frame, (Self.left, Self.top + plotHeight - 1), (Self.left + plotWidth - 1, Self.top + plotHeight - 1), ink)

        // Series, and a legend at the top right.
        var legendY = Self.top + 4
        for s in series {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmicY || $0.y > 0) }
            for (a, b) in zip(points, points.dropFirst()) { line(&frame, (px(a.x), py(a.y)), (px(b.x), py(b.y)), s.color) }
            if points.count == 1 { line(&frame, (px(points[0].x), py(points[0].y)), (px(points[0].x), py(points[0].y)), s.color) }
            let legendX = Self.left + plotWidth - 8 - BitmapFont.width(of: s.name) - 16
            line(&frame, (legendX, legendY + 3), (legendX + 10, legendY + 3), s.color)
            BitmapFont.draw(s.name, into: &frame, x: legendX + 14, y: legendY, color: ink)
            legendY += 11
        }
        return frame
    }

    /// A one-pixel line (Bresenham), clipped to the frame.
    func line(_ frame: inout RGBFrame, _ from: (Int, Int), _ to: (Int, Int), _ color: (red: UInt8, green: UInt8, blue: UInt8)) {
        var (x, y) = from
        let dx = abs(to.0 - x), dy = -abs(to.1 - y), sx = x < to.0 ? 1 : -1, sy = y < to.1 ? 1 : -1
        var error = dx + dy
        let w = frame.width, h = frame.height
        while true {
            if x >= 0, x < w, y >= 0, y < h {
                let i = 3 * (y * w + x)
                frame.pixels[i] = color.red
                frame.pixels[i + 1] = color.green
                frame.pixels[i + 2] = color.blue
            }
            if x == to.0 && y == to.1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }
}
