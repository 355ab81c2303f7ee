import Foundation
import TesseraTensor

/// How a frame is cut into spatial tiles, in latent pixels. Each tile is encoded or decoded as a video of its
/// own (zero padding at its borders); neighbours overlap by at least `overlap`, and in the overlap their
/// outputs are mixed with weights that ramp linearly across it, after skipping `margin` latent pixels at
/// each tile edge (weight 0 there, where the tile's own border shows). With `margin` at least the network's
/// reach (`VAEConfig.decoderReach`), tiled equals untiled up to rounding (`seamless`); a smaller margin shows
/// the tile borders as seams.
public struct TileSettings: Sendable, Equatable, Codable {
    /// Largest tile height and width, latent pixels (tiles are shrunk evenly to the least that covers).
    public var height: Int, width: Int
    /// Least overlap between neighbouring tiles, latent pixels.
    public var overlap: Int
    /// Latent pixels at each inner tile edge given no weight.
    public var margin: Int

    public init(height: Int, width: Int, overlap: Int, margin: Int = 0) throws {
        self.height = height
        self.width = width
        self.overlap = overlap
        self.margin = margin
        try validate()
    }

    public func validate() throws {
        guard height > overlap, width > overlap, overlap >= 0, margin >= 0, overlap == 0 ? margin == 0 : 2 * margin < overlap else {
            throw ModelError.badInput(
                "tiles \(height)x\(width) with overlap \(overlap) and margin \(margin): need tiles larger than the overlap, and 2·margin < overlap")
        }
    }

    /// One tile: the whole frame (exact, memory grows with frame size).
    public static let none = try! TileSettings(height: Int.max / 4, width: Int.max / 4, overlap: 0)

    /// Tiles of up to `size` latent pixels whose margin covers `reach` (a config's `decoderReach` or
    /// `encoderReach`), with 2 latent pixels of linear blending between the margins: tiled equals untiled up to
    /// float rounding.
    public static func seamless(reach: Double, size: Int) throws -> TileSettings {
        let margin = Int(reach.rounded(.up))
        return try TileSettings(height: size, width: size, overlap: 2 * margin + 2, margin: margin)
    }

    /// The decoder's default: seamless for the small preset (reach 6.4 → margin 7, overlap 16) with tiles of
    /// up to 72×72 latent pixels (1152×1152 pixels): 1920x1088 is 2 tiles of 68×68, 13% more work than one
    /// tile, and memory is bounded by the tile, not the frame. Smaller tiles with a small margin cost as much
    /// and show seams (docs/ENGINE.md).
    public static let standard = try! seamless(reach: VAEConfig.small.decoderReach, size: 72)
}

/// The tiles of one frame size: latent ranges and, per axis, each tile's normalized blending weights.
struct TilePlan: Sendable {
    struct Tile: Sendable {
        let rows: Range<Int>, columns: Range<Int>  // latent pixels
        let rowWeights: [Float], columnWeights: [Float]  // per output pixel, normalized over tiles
    }

    let tiles: [Tile]

    /// `scale` is output pixels per latent pixel: the spatial factor for a decoder, 1 for an encoder.
    init(height: Int, width: Int, settings: TileSettings, scale: Int) {
        let rows = Self.axis(length: height, tile: settings.height, overlap: settings.overlap)
        let columns = Self.axis(length: width, tile: settings.width, overlap: settings.overlap)
        let rowWeights = Self.weights(rows, length: height, margin: settings.margin, scale: scale)
        let columnWeights = Self.weights(columns, length: width, margin: settings.margin, scale: scale)
        var tiles: [Tile] = []
        for (i, r) in rows.enumerated() {
            for (j, c) in columns.enumerated() {
                tiles.append(Tile(rows: r, columns: c, rowWeights: rowWeights[i], columnWeights: columnWeights[j]))
            }
        }
        self.tiles = tiles
    }

    /// Ranges covering `0..<length`: the fewest tiles of at most `tile` with overlaps of at least `overlap`,
    /// all of one size, spread evenly (the last ends at `length`).
    static func axis(length: Int, tile: Int, overlap: Int) -> [Range<Int>] {
        guard length > tile else { return [0..<length] }
        let count = (length - overlap + (tile - overlap) - 1) / (tile - overlap)
        let size = (length + (count - 1) * overlap + count - 1) / count
        return (0..<count).map { i in
            let start = i * (length - size) / (count - 1)
            return start..<(start + size)
        }
    }

    /// Per tile, a weight per output pixel: 0 in the margin next to an inner edge, then a linear ramp across
    /// the rest of the overlap with the neighbour, 1 elsewhere; normalized so the tiles sum to 1 everywhere.
    static func weights(_ ranges: [Range<Int>], length: Int, margin: Int, scale: Int) -> [[Float]] {
        let raw: [[Double]] = ranges.enumerated().map { i, range in
            (range.lowerBound * scale..<range.upperBound * scale).map { x in
                let p = Double(x) + 0.5
                var weight = 1.0
                if i > 0 {  // the overlap with the previous tile: ramp up
                    let start = Double((range.lowerBound + margin) * scale), end = Double((ranges[i - 1].upperBound - margin) * scale)
                    weight = min(weight, max(0, min(1, (p - start) / max(end - start, 1))))
                }
                if i < ranges.count - 1 {  // the overlap with the next tile: ramp down
                    let start = Double((ranges[i + 1].lowerBound + margin) * scale), end = Double((range.upperBound - margin) * scale)
                    weight = min(weight, max(0, min(1, (end - p) / max(end - start, 1))))
                }
                return weight
            }
        }
        var total = [Double](repeating: 0, count: length * scale)
        for (range, w) in zip(ranges, raw) { for (k, v) in w.enumerated() { total[range.lowerBound * scale + k] += v } }
        precondition(total.allSatisfy { $0 > 0 }, "tile weights leave a pixel uncovered")
        return zip(ranges, raw).map { range, w in w.enumerated().map { k, v in Float(v / total[range.lowerBound * scale + k]) } }
    }
}

enum TileBlend {
    /// The rows × columns window of a channels-last frame `[H, W, C]` (or video `[F, H, W, C]` with one frame).
    static func crop(_ x: Tensor, rows: Range<Int>, columns: Range<Int>) -> Tensor {
        let (h, w) = (x.shape[x.rank - 3], x.shape[x.rank - 2]), c = x.shape[x.rank - 1]
        let frames = x.count / (h * w * c)
        if rows == 0..<h && columns == 0..<w { return x }
        var y = Tensor(uninitialized: Array(x.shape.dropLast(3)) + [rows.count, columns.count, c])  // [(F,) h, w, C]
        x.storage.withUnsafeBufferPointer { xs in
            y.storage.withUnsafeMutableBufferPointer { ys in
                for f in 0..<frames {
                    for (r, row) in rows.enumerated() {
                        (ys.baseAddress! + ((f * rows.count + r) * columns.count) * c)
                            .update(from: xs.baseAddress! + ((f * h + row) * w + columns.lowerBound) * c, count: columns.count * c)
                    }
                }
            }
        }
        return y
    }

    /// `target[offset + y, x] += rowWeights[y] · columnWeights[x] · tile[y, x]` for a tile `[h, w, C]` and a
    /// frame `[H, W, C]`.
    static func accumulate(_ tile: Tensor, weights rowWeights: [Float], _ columnWeights: [Float], at origin: (Int, Int), into target: inout Tensor) {
        let (h, w, c) = (tile.shape[tile.rank - 3], tile.shape[tile.rank - 2], tile.shape[tile.rank - 1])
        let width = target.shape[target.rank - 2]
        precondition(rowWeights.count == h && columnWeights.count == w, "tile \(tile.shape) with weights \(rowWeights.count)x\(columnWeights.count)")
        tile.storage.withUnsafeBufferPointer { ts in
            target.storage.withUnsafeMutableBufferPointer { out in
                rowWeights.withUnsafeBufferPointer { rw in
                    columnWeights.withUnsafeBufferPointer { cw in
                        let tp = ts.baseAddress!, op = out.baseAddress!, rp = rw.baseAddress!, cp = cw.baseAddress!
                        Compute.parallel((h + 63) / 64) { part in
                            for y in (part * 64)..<min(h, (part + 1) * 64) where rp[y] != 0 {
                                let source = tp + y * w * c, dest = op + ((origin.0 + y) * width + origin.1) * c
                                for x in 0..<w {
                                    let weight = rp[y] * cp[x]
                                    for k in 0..<c { dest[x * c + k] += weight * source[x * c + k] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
