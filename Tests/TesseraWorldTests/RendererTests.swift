// The renderer: deterministic across threads, anti-aliased, any size (docs/WORLD.md, "Rendering").

import Foundation
import Testing
import TesseraTensor
import TesseraWorld

@Suite struct RendererTests {
    /// Same seed, same pixels, whatever the thread count; another seed, other pixels.
    @Test func samePixelsAcrossThreadCounts() {
        let scene = SceneSampler.sample(seed: 42, extent: .landscape, frames: 9, fps: 24)
        let frames = [1, 2, 3, 8].map { threads in
            (0..<9).map { SceneRenderer(scene: scene, width: 320, height: 180, threads: threads).frame($0) }
        }
        for other in frames.dropFirst() {
            #expect(other.map(\.storage) == frames[0].map(\.storage))
        }
        let again = SceneSampler.sample(seed: 42, extent: .landscape, frames: 9, fps: 24)
        #expect(again == scene)
        let different = SceneSampler.sample(seed: 43, extent: .landscape, frames: 9, fps: 24)
        #expect(SceneRenderer(scene: different, width: 320, height: 180).frame(0).storage != frames[0][0].storage)
    }

    /// Pixels of a known scene: background far away, object colour at the centre, and edge pixels that are
    /// blends strictly between the two (anti-aliasing), with coverage matching the analytic area.
    @Test func edgesAreBlends() {
        let disc = SceneObject(shape: .circle, colour: .red, size: .large, position: Vec2(0.5, 0.5), pinned: true)
        let scene = SceneSpec(extent: .square, frames: 1, fps: 24, background: Background(.white), objects: [disc])
        let size = 200
        let frame = SceneRenderer(scene: scene, width: size, height: size).frame(0)  // [H, W, 3]
        func pixel(_ x: Int, _ y: Int) -> RGB {
            let i = (y * size + x) * 3
            return RGB(r: Double(frame.storage[i] + 1) / 2, g: Double(frame.storage[i + 1] + 1) / 2, b: Double(frame.storage[i + 2] + 1) / 2)
        }
        #expect(pixel(0, 0).distance(to: BackgroundColour.white.rgb) < 1e-6)
        #expect(pixel(100, 100).distance(to: ObjectColour.red.rgb) < 1e-6)
        // Along the row through the centre, the edge at x = 100 ± 30 crosses exactly one blended pixel each side.
        let row = (0..<size).map { pixel($0, 100).g }
        let red = ObjectColour.red.rgb.g, white = BackgroundColour.white.rgb.g
        let blends = row.filter { $0 > red + 1e-4 && $0 < white - 1e-4 }
        #expect(blends.count >= 2)
        // Total coverage equals the disc's area in pixels, π·30², within a fraction of a per cent.
        let coverage = (0..<size).flatMap { y in (0..<size).map { x in (white - pixel(x, y).g) / (white - red) } }.reduce(0, +)
        #expect(abs(coverage - Double.pi * 900) / (Double.pi * 900) < 0.005)
    }

    /// Full HD renders in both orientations, with the same scene content at any resolution.
    @Test(arguments: [(1920, 1080), (1080, 1920)])
    func rendersFullHD(_ width: Int, _ height: Int) {
        let scene = SceneSampler.sample(seed: 5, extent: Extent(pixelWidth: width, height: height), frames: 2, fps: 24)
        let big = SceneRenderer(scene: scene, width: width, height: height).frame(1)
        #expect(big.shape == [height, width, 3])
        #expect(big.storage.allSatisfy { $0 >= -1 && $0 <= 1 })
        // Downsampled 4x by averaging, it is close to a render at a quarter of the size.
        let small = SceneRenderer(scene: scene, width: width / 4, height: height / 4).frame(1)
        var error = 0.0
        for y in 0..<(height / 4) {
            for x in 0..<(width / 4) {
                for c in 0..<3 {
                    var sum: Float = 0
                    for dy in 0..<4 { for dx in 0..<4 { sum += big.storage[((y * 4 + dy) * width + x * 4 + dx) * 3 + c] } }
                    error += Double(abs(sum / 16 - small.storage[(y * (width / 4) + x) * 3 + c]))
                }
            }
        }
        #expect(error / Double(small.count) < 0.01)
    }

    /// Frames written as a raw video read back exactly (8-bit), and PPM has the right header and size.
    @Test func rawVideoRoundTrip() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-raw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let scene = SceneSampler.sample(seed: 9, extent: .portrait, frames: 5, fps: 12)
        let report = try WorldExport.write(scene, width: 72, height: 128, to: folder, seed: 9, framesAsPPM: true)
        #expect(report.files.contains("frame_0004.ppm"))
        var reader = try RawVideoReader(url: folder)
        #expect(reader.width == 72 && reader.height == 128 && reader.fps == 12)
        let renderer = SceneRenderer(scene: scene, width: 72, height: 128)
        for index in 0..<5 {
            let frame = try #require(try reader.nextFrame())
            #expect(frame.storage.map { UInt8(($0 + 1) * 127.5 + 0.5) } == renderer.frameBytes(index))
        }
        #expect(try reader.nextFrame() == nil)
        let ppm = try Data(contentsOf: folder.appendingPathComponent("frame_0000.ppm"))
        #expect(ppm.starts(with: Data("P6\n72 128\n255\n".utf8)) && ppm.count == 14 + 72 * 128 * 3)
        // A cut-short frames file is refused with a clear error.
        let data = folder.appendingPathComponent("frames.rgb")
        try Data(try Data(contentsOf: data).prefix(100)).write(to: data)
        #expect(throws: EvaluatorError.self) { try RawVideoReader(url: folder) }
    }

    /// PSNR: infinite for equal frames, 10·log10(4/σ²) for a known error, and lower for a larger error.
    @Test func psnrOfKnownErrors() {
        let a = Tensor(repeating: 0.25, shape: [4, 4, 3])
        #expect(psnr([a, a], [a, a]) == .infinity)
        let b = Tensor(repeating: 0.35, shape: [4, 4, 3])
        #expect(abs(psnr([a], [b]) - 10 * log10(4 / 0.01)) < 1e-4)
        let c = Tensor(repeating: 0.45, shape: [4, 4, 3])
        #expect(psnr([a], [c]) < psnr([a], [b]))
        var accumulator = PSNRAccumulator()
        accumulator.add(a, a)
        accumulator.add(a, b)
        #expect(abs(accumulator.psnr - 10 * log10(4 / 0.005)) < 1e-4)
    }

    /// A training example is one call from a seed, the same every time, and covers the buckets.
    @Test func trainingSamples() {
        let samples = (0..<200 as Range<UInt64>).map { TrainingSample(seed: $0) }
        #expect(TrainingSample(seed: 17).caption == samples[17].caption && TrainingSample(seed: 17).scene == samples[17].scene)
        #expect(Set(samples.map(\.clip.aspect)) == Set(AspectBucket.allCases))
        #expect(Set(samples.map(\.phrasing)) == Set(Phrasing.allCases))
        #expect(Set(samples.map(\.clip.frames)) == Set(ClipShape.frameWeights.map(\.0)))
        let sizes = Set(samples.map { "\($0.width)x\($0.height)" })
        #expect(sizes == ["512x288", "288x512", "288x288"])
        for sample in samples.prefix(20) {
            #expect(CaptionParser.parse(sample.caption).facts == Captioner.facts(sample.scene))
        }
    }

    /// The object mask on a latent grid marks the cells an object covers, in the latent frame of the video
    /// frames it is in, and nothing else.
    @Test func objectCellsFollowTheObjects() {
        // One pinned disc at the centre of a 64x64 frame: radius 0.1 of the height is ~6 px, inside cells 3–4.
        let disc = SceneObject(shape: .circle, colour: .red, size: .small, position: Vec2(0.5, 0.5), pinned: true)
        let still = SceneSpec(extent: .square, frames: 9, fps: 24, background: Background(.white), objects: [disc])
        let renderer = SceneRenderer(scene: still, width: 64, height: 64)
        let cells = renderer.objectCells(factor: 8, temporal: 4)
        #expect(cells.shape == [3, 8, 8])
        for latent in 0..<3 {
            let marked = (0..<64).filter { cells.storage[latent * 64 + $0] == 1 }
            #expect(marked == [27, 28, 35, 36], "latent frame \(latent): \(marked)")
        }
        #expect(cells.storage.allSatisfy { $0 == 0 || $0 == 1 })
        // Every pixel an object colours in any frame lies in a marked cell of its latent frame.
        let scene = SceneSampler.sample(seed: 11, extent: .landscape, frames: 9, fps: 24, objectCounts: [(3, 1)])
        let moving = SceneRenderer(scene: scene, width: 256, height: 144)
        let mask = moving.objectCells(factor: 8, temporal: 4)
        let empty = SceneSpec(extent: .landscape, frames: 9, fps: 24, background: scene.background, objects: [])
        let background = SceneRenderer(scene: empty, width: 256, height: 144)
        var touched = 0
        for frame in 0..<9 {
            let latent = frame == 0 ? 0 : 1 + (frame - 1) / 4
            let (a, b) = (moving.frame(frame), background.frame(frame))
            for y in 0..<144 {
                for x in 0..<256 where a.storage[(y * 256 + x) * 3] != b.storage[(y * 256 + x) * 3] {
                    touched += 1
                    #expect(mask.storage[(latent * 18 + y / 8) * 32 + x / 8] == 1)
                }
            }
        }
        #expect(touched > 0 && mask.storage.contains(0))
    }

    /// A trainer's own mix of object counts: all three-object scenes when asked, the world's mix otherwise.
    @Test func objectCountsMix() {
        let three = (0..<40 as Range<UInt64>).map { TrainingSample(seed: $0, objectCounts: [(3, 1)]).scene.objects.count }
        #expect(three.allSatisfy { $0 == 3 }, "\(three)")
        let one = (0..<40 as Range<UInt64>).map { TrainingSample(seed: $0, objectCounts: [(1, 1)]).scene.objects.count }
        #expect(one.allSatisfy { $0 == 1 })
        let world = Set((0..<100 as Range<UInt64>).map { TrainingSample(seed: $0).scene.objects.count })
        #expect(world == [1, 2, 3])
    }
}
