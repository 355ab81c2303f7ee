// What one frame shows, read from its pixels alone (docs/WORLD.md, "Evaluator"). The background is fitted
// per row (a line through the row medians, so it follows a vertical gradient and ignores the objects); a
// pixel belongs to an object colour when it lies on the segment from the background to that colour at least
// halfway (an anti-aliased edge pixel is a blend, so it is measured along the blend, not against the nearest
// palette colour, which would read a red edge on white as pink); pixels of one colour form 4-connected
// components, and components too small to be an object (noise, thin blends between two objects) are dropped.

/// One object colour's pixels in one frame.
public struct ColourObservation: Sendable, Equatable {
    /// Pixels assigned to the colour, in components large enough to count.
    public var pixels: Int
    /// Sum of the pixels' coverage (how far each lies from the background towards the colour, ≤ 1).
    public var area: Double
    /// Coverage-weighted centroid in pixels (x right, y down, pixel centres at +0.5).
    public var centroidX: Double
    public var centroidY: Double
    /// Bounding box of the pixels, inclusive.
    public var minX: Int, minY: Int, maxX: Int, maxY: Int

    /// Box width and height in pixels.
    public var boxWidth: Int { maxX - minX + 1 }
    public var boxHeight: Int { maxY - minY + 1 }

    /// Several observations as one: pixels and areas summed, centroids weighted by area, boxes joined.
    public static func merged(_ parts: [ColourObservation]) -> ColourObservation {
        var whole = parts[0]
        for part in parts.dropFirst() {
            let total = whole.area + part.area
            whole.centroidX = (whole.centroidX * whole.area + part.centroidX * part.area) / total
            whole.centroidY = (whole.centroidY * whole.area + part.centroidY * part.area) / total
            whole.pixels += part.pixels
            whole.area = total
            whole.minX = min(whole.minX, part.minX); whole.maxX = max(whole.maxX, part.maxX)
            whole.minY = min(whole.minY, part.minY); whole.maxY = max(whole.maxY, part.maxY)
        }
        return whole
    }
}

/// The reading of one frame.
public struct FrameAnalysis: Sendable {
    /// The fitted background at the top and bottom rows.
    public var backgroundTop: RGB
    public var backgroundBottom: RGB
    /// Per colour, its components large enough to count, largest first.
    public var components: [ObjectColour: [ColourObservation]]

    /// Per colour, all its components as one observation (one object that may be split by another in front).
    public var observations: [ObjectColour: ColourObservation] { components.mapValues(ColourObservation.merged) }
}

/// Reads frames of one size; reuses its buffers between frames.
public struct FrameAnalyzer {
    public let width: Int
    public let height: Int
    /// A pixel this close (unit RGB) to the background is background.
    public static let backgroundTolerance: Float = 0.12
    /// The most a pixel may stray from the background-to-colour segment and still be that colour.
    public static let colourTolerance: Float = 0.2
    /// Components smaller than this share of the shorter side squared are not objects (100 pixels at 288p;
    /// the smallest object is over 300).
    public static let minimumAreaShare = 0.0012

    private var labels: [UInt8]
    private var coverage: [Float]
    private var parent: [Int32]
    private let palette = ObjectColour.allCases
    private let none: UInt8 = 255

    /// An analyzer for frames of `width`×`height`.
    public init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "frame size must be positive")
        self.width = width
        self.height = height
        labels = [UInt8](repeating: 255, count: width * height)
        coverage = [Float](repeating: 0, count: width * height)
        parent = [Int32](repeating: 0, count: width * height)
    }

    /// Reads one frame [H, W, 3] in [-1, 1].
    public mutating func analyze(_ frame: [Float]) -> FrameAnalysis {
        precondition(frame.count == width * height * 3, "frame has \(frame.count) values, expected \(width * height * 3)")
        let background = fitBackground(frame)
        classify(frame, background)
        return FrameAnalysis(
            backgroundTop: background(0), backgroundBottom: background(height - 1), components: components())
    }

    /// Per-row medians (of 64 evenly spaced pixels: objects never cover half a row, so the median is the
    /// background), then per channel a line over the rows fitted three times, each time without the rows
    /// that stray far from the last fit (rows crossed by large objects).
    func fitBackground(_ frame: [Float]) -> (Int) -> RGB {
        let samples = min(width, 64)
        var medians = [[Double]](repeating: [0, 0, 0], count: height)
        var column = [Float](repeating: 0, count: samples)
        frame.withUnsafeBufferPointer { pixels in
            for y in 0..<height {
                for channel in 0..<3 {
                    for k in 0..<samples {
                        let x = (2 * k + 1) * width / (2 * samples)
                        column[k] = (pixels[(y * width + x) * 3 + channel] + 1) / 2
                    }
                    column.sort()
                    medians[y][channel] = Double(column[samples / 2])
                }
            }
        }
        let t = (0..<height).map { height > 1 ? Double($0) / Double(height - 1) : 0 }
        var keep = [Bool](repeating: true, count: height)
        var line = [(a: Double, b: Double)](repeating: (0, 0), count: 3)
        for _ in 0..<3 {
            for channel in 0..<3 {
                var n = 0.0, st = 0.0, sv = 0.0, stt = 0.0, stv = 0.0
                for y in 0..<height where keep[y] {
                    let v = medians[y][channel]
                    n += 1; st += t[y]; sv += v; stt += t[y] * t[y]; stv += t[y] * v
                }
                let denominator = n * stt - st * st
                let b = abs(denominator) > 1e-12 ? (n * stv - st * sv) / denominator : 0
                line[channel] = (n > 0 ? (sv - b * st) / n : 0.5, b)
            }
            let residuals = (0..<height).map { y in
                (0..<3).reduce(0.0) { $0 + abs(medians[y][$1] - line[$1].a - line[$1].b * t[y]) }
            }
            let sorted = residuals.sorted()
            let limit = max(0.03, 3 * sorted[sorted.count / 2])
            for y in 0..<height { keep[y] = residuals[y] <= limit }
        }
        return { y in
            let ty = height > 1 ? Double(y) / Double(height - 1) : 0
            return RGB(
                r: line[0].a + line[0].b * ty, g: line[1].a + line[1].b * ty, b: line[2].a + line[2].b * ty)
        }
    }

    /// Labels each pixel with its object colour (or none) and its coverage.
    mutating func classify(_ frame: [Float], _ background: (Int) -> RGB) {
        let count = palette.count
        let colours = palette.map { $0.rgb }
        let backgroundTolerance2 = Self.backgroundTolerance * Self.backgroundTolerance
        let colourTolerance2 = Self.colourTolerance * Self.colourTolerance
        var ux = [Float](repeating: 0, count: count), uy = ux, uz = ux, inverse = ux
        let width = width
        frame.withUnsafeBufferPointer { pixels in
            labels.withUnsafeMutableBufferPointer { labels in
                coverage.withUnsafeMutableBufferPointer { coverage in
                    for y in 0..<height {
                        let b = background(y)
                        let br = Float(b.r), bg = Float(b.g), bb = Float(b.b)
                        for k in 0..<count {
                            ux[k] = Float(colours[k].r) - br
                            uy[k] = Float(colours[k].g) - bg
                            uz[k] = Float(colours[k].b) - bb
                            let length2 = ux[k] * ux[k] + uy[k] * uy[k] + uz[k] * uz[k]
                            // A colour this close to the background cannot be told from it here.
                            inverse[k] = length2 > 0.0625 ? 1 / length2 : 0
                        }
                        for x in 0..<width {
                            let i = y * width + x
                            let dr = (pixels[i * 3] + 1) / 2 - br
                            let dg = (pixels[i * 3 + 1] + 1) / 2 - bg
                            let db = (pixels[i * 3 + 2] + 1) / 2 - bb
                            labels[i] = 255
                            guard dr * dr + dg * dg + db * db >= backgroundTolerance2 else { continue }
                            var best = colourTolerance2, label: UInt8 = 255, alpha: Float = 0
                            for k in 0..<count where inverse[k] > 0 {
                                let a = (dr * ux[k] + dg * uy[k] + db * uz[k]) * inverse[k]
                                guard a >= 0.5 && a <= 1.5 else { continue }
                                let er = dr - a * ux[k], eg = dg - a * uy[k], eb = db - a * uz[k]
                                let residual = er * er + eg * eg + eb * eb
                                if residual < best {
                                    best = residual
                                    label = UInt8(k)
                                    alpha = a
                                }
                            }
                            labels[i] = label
                            coverage[i] = min(alpha, 1)
                        }
                    }
                }
            }
        }
    }

    /// 4-connected components of equal labels (union–find), kept when large enough, largest first per colour.
    mutating func components() -> [ObjectColour: [ColourObservation]] {
        let width = width, height = height, none = none, count = width * height
        let minimum = Int32(max(4, Int(Self.minimumAreaShare * Double(min(width, height) * min(width, height)))))
        // Per kept component: its label and running sums.
        var index: [Int32: Int] = [:]
        var label: [Int] = [], pixels: [Int] = [], area: [Double] = [], sumX: [Double] = [], sumY: [Double] = []
        var minX: [Int] = [], minY: [Int] = [], maxX: [Int] = [], maxY: [Int] = []
        labels.withUnsafeBufferPointer { labels in
            coverage.withUnsafeBufferPointer { coverage in
                parent.withUnsafeMutableBufferPointer { parent in
                    func root(_ i: Int32) -> Int32 {
                        var i = i
                        while parent[Int(i)] != i {
                            parent[Int(i)] = parent[Int(parent[Int(i)])]
                            i = parent[Int(i)]
                        }
                        return i
                    }
                    for y in 0..<height {
                        for x in 0..<width {
                            let i = y * width + x
                            parent[i] = Int32(i)
                            let label = labels[i]
                            guard label != none else { continue }
                            if x > 0, labels[i - 1] == label { parent[i] = root(Int32(i - 1)) }
                            if y > 0, labels[i - width] == label {
                                let up = root(Int32(i - width)), mine = root(Int32(i))
                                if up != mine { parent[Int(max(up, mine))] = min(up, mine) }
                            }
                        }
                    }
                    // Component sizes, counted at each root; then every pixel points straight at its root.
                    var size = [Int32](repeating: 0, count: count)
                    for i in 0..<count where labels[i] != none {
                        let r = root(Int32(i))
                        parent[i] = r
                        size[Int(r)] += 1
                    }
                    for y in 0..<height {
                        for x in 0..<width {
                            let i = y * width + x
                            let r = parent[i]
                            guard labels[i] != none, size[Int(r)] >= minimum else { continue }
                            let k: Int
                            if let known = index[r] {
                                k = known
                            } else {
                                k = label.count
                                index[r] = k
                                label.append(Int(labels[i]))
                                pixels.append(0); area.append(0); sumX.append(0); sumY.append(0)
                                minX.append(x); minY.append(y); maxX.append(x); maxY.append(y)
                            }
                            let a = Double(coverage[i])
                            pixels[k] += 1
                            area[k] += a
                            sumX[k] += a * (Double(x) + 0.5)
                            sumY[k] += a * (Double(y) + 0.5)
                            minX[k] = min(minX[k], x); maxX[k] = max(maxX[k], x)
                            minY[k] = min(minY[k], y); maxY[k] = max(maxY[k], y)
                        }
                    }
                }
            }
        }
        var found: [ObjectColour: [ColourObservation]] = [:]
        for k in label.indices {
            found[palette[label[k]], default: []].append(ColourObservation(
                pixels: pixels[k], area: area[k], centroidX: sumX[k] / area[k], centroidY: sumY[k] / area[k],
                minX: minX[k], minY: minY[k], maxX: maxX[k], maxY: maxY[k]))
        }
        return found.mapValues { $0.sorted { $0.area > $1.area } }
    }
}
