// The world's renderer (docs/WORLD.md, "Rendering"): each pixel is a pure function of the scene, the frame
// index and the frame size, so frames are identical however the rows are split over threads. Edges are
// anti-aliased analytically: a pixel's coverage is its centre's signed distance to the outline mapped
// through a one-pixel ramp, clamp(0.5 − d / pixel, 0, 1), which equals the exact area coverage for an edge
// crossing the pixel straight and is within a few per cent for the curves and corners here.

import Dispatch
import Foundation
import TesseraTensor

/// Renders one scene at one size.
public struct SceneRenderer: Sendable {
    public let scene: SceneSpec
    public let trajectory: Trajectory
    public let width: Int
    public let height: Int
    /// The most threads one frame may use. Never changes the pixels, only the speed.
    public var threads: Int

    /// A renderer for `scene` at `width`×`height`; the simulation runs once, here. The size should have the
    /// scene's aspect ratio; otherwise the picture is stretched to fit.
    public init(
        scene: SceneSpec, width: Int, height: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        precondition(width > 0 && height > 0 && threads >= 1, "render size and threads must be positive")
        self.scene = scene
        self.trajectory = Physics.simulate(scene)
        self.width = width
        self.height = height
        self.threads = threads
    }

    /// Frame `index` as a tensor [H, W, 3] of RGB in [-1, 1] (the VAE's range).
    public func frame(_ index: Int) -> Tensor {
        var pixels = [Float](repeating: 0, count: width * height * 3)  // [H, W, 3]
        pixels.withUnsafeMutableBufferPointer { render(index, into: $0) }
        for i in pixels.indices { pixels[i] = pixels[i] * 2 - 1 }
        return Tensor(shape: [height, width, 3], storage: pixels)
    }

    /// Frame `index` as 8-bit RGB, row-major [H, W, 3].
    public func frameBytes(_ index: Int) -> [UInt8] {
        var pixels = [Float](repeating: 0, count: width * height * 3)  // [H, W, 3]
        pixels.withUnsafeMutableBufferPointer { render(index, into: $0) }
        return pixels.map { UInt8(min(max($0 * 255, 0), 255).rounded()) }
    }

    /// Every frame as tensors [H, W, 3] in [-1, 1].
    public func frames() -> [Tensor] { (0..<scene.frames).map(frame) }

    /// Writes frame `index` as RGB in [0, 1] into `buffer` ([H, W, 3]).
    public func render(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) {
        precondition(buffer.count == width * height * 3 && (0..<scene.frames).contains(index), "bad frame buffer or index")
        let placed = placements(index)
        let rows = height
        let parts = max(1, min(threads, rows / 16))
        guard parts > 1 else {
            for y in 0..<rows { renderRow(y, placed, buffer) }
            return
        }
        let output = RowOutput(buffer: buffer)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for y in (rows * part / parts)..<(rows * (part + 1) / parts) { renderRow(y, placed, output.buffer) }
        }
    }

    /// One object as drawn in one frame: pixel-space centre, scale and clipped bounding box.
    struct Placement {
        var shape: Shape
        var colour: (Float, Float, Float)
        var centreX: Double, centreY: Double
        /// Pixels per radius along x and y.
        var radiusX: Double, radiusY: Double
        var x0: Int, x1: Int, y0: Int, y1: Int
        var corners: [Vec2]?
    }

    /// Where each object is in frame `index`, in drawing order.
    func placements(_ index: Int) -> [Placement] {
        let sx = Double(width) / scene.extent.width, sy = Double(height) / scene.extent.height
        return scene.drawingOrder.map { i in
            let object = scene.objects[i]
            let centre = trajectory.positions[index][i]
            let box = ShapeGeometry.bounds(object.shape)
            let cx = centre.x * sx, cy = centre.y * sy
            let rx = object.radius * sx, ry = object.radius * sy
            let rgb = object.colour.rgb
            return Placement(
                shape: object.shape, colour: (Float(rgb.r), Float(rgb.g), Float(rgb.b)), centreX: cx, centreY: cy,
                radiusX: rx, radiusY: ry,
                x0: max(0, Int((cx + box.minX * rx).rounded(.down)) - 1), x1: min(width - 1, Int((cx + box.maxX * rx).rounded(.up)) + 1),
                y0: max(0, Int((cy + box.minY * ry).rounded(.down)) - 1), y1: min(height - 1, Int((cy + box.maxY * ry).rounded(.up)) + 1),
                corners: ShapeGeometry.vertices(object.shape))
        }
    }

    /// Background, then each object over it with its coverage as opacity.
    func renderRow(_ y: Int, _ placed: [Placement], _ buffer: UnsafeMutableBufferPointer<Float>) {
        let background = scene.background.colour(atFraction: (Double(y) + 0.5) / Double(height))
        let (br, bg, bb) = (Float(background.r), Float(background.g), Float(background.b))
        let row = y * width * 3
        for x in 0..<width {
            buffer[row + x * 3] = br
            buffer[row + x * 3 + 1] = bg
            buffer[row + x * 3 + 2] = bb
        }
        let py = Double(y) + 0.5
        for object in placed where object.y0 <= y && y <= object.y1 && object.x0 <= object.x1 {
            // The ramp is one pixel wide: in radius units that is 1 / (pixels per radius).
            let pixelsPerRadius = (object.radiusX * object.radiusY).squareRoot()
            let ly = (py - object.centreY) / object.radiusY
            for x in object.x0...object.x1 {
                let lx = (Double(x) + 0.5 - object.centreX) / object.radiusX
                let distance: Double
                if let corners = object.corners {
                    distance = ShapeGeometry.polygonDistance(corners, Vec2(lx, ly))
                } else {
                    distance = ShapeGeometry.signedDistance(object.shape, Vec2(lx, ly))
                }
                let coverage = Float(min(max(0.5 - distance * pixelsPerRadius, 0), 1))
                guard coverage > 0 else { continue }
                let at = row + x * 3
                buffer[at] += (object.colour.0 - buffer[at]) * coverage
                buffer[at + 1] += (object.colour.1 - buffer[at + 1]) * coverage
                buffer[at + 2] += (object.colour.2 - buffer[at + 2]) * coverage
            }
        }
    }
}

/// The frame buffer shared by the row workers of one frame.
///
/// Unchecked because each worker writes only its own rows and `concurrentPerform` returns after all finish.
private struct RowOutput: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
}

extension SceneRenderer {
    /// Where the objects are on a latent grid: `[F', H / factor, W / factor]` of 1 where some object's
    /// bounding box (anti-aliasing margin included) touches the `factor`×`factor` pixel cell in any frame of
    /// the latent frame, 0 elsewhere. Latent frames group video frames as a causal VAE does: the first alone,
    /// then `temporal` at a time (`F' = 1 + (F − 1) / temporal`). A trainer weighs its loss with it, so the few
    /// cells that hold the objects count for more than the background around them.
    public func objectCells(factor: Int, temporal: Int) -> Tensor {
        precondition(factor >= 1 && temporal >= 1 && width % factor == 0 && height % factor == 0
                     && (scene.frames - 1) % temporal == 0, "objectCells: \(width)x\(height), \(scene.frames) frames do not divide into \(factor)-pixel cells and groups of \(temporal)")
        let (rows, columns) = (height / factor, width / factor)
        let latentFrames = 1 + (scene.frames - 1) / temporal
        var cells = [Float](repeating: 0, count: latentFrames * rows * columns)
        for frame in 0..<scene.frames {
            let latent = frame == 0 ? 0 : 1 + (frame - 1) / temporal
            for object in placements(frame) where object.x0 <= object.x1 && object.y0 <= object.y1 {
                for row in (object.y0 / factor)...(object.y1 / factor) {
                    let base = (latent * rows + row) * columns
                    for column in (object.x0 / factor)...(object.x1 / factor) { cells[base + column] = 1 }
                }
            }
        }
        return Tensor(shape: [latentFrames, rows, columns], storage: cells)
    }
}
