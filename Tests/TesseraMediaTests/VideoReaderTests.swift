// The streaming reader: frame-rate resampling, resizing and centre crops, other containers and codecs,
// container tags, and PNG stills (lossless, so they must read back byte for byte).

import Foundation
import Testing
@testable import TesseraMedia

@Suite struct VideoReaderTests {
    /// Frame i is flat grey at level 20 + 9 i, so a decoded frame tells its source index within ±4 levels.
    static func greyFrame(_ index: Int, width: Int = 64, height: Int = 36) -> RGBFrame {
        let level = UInt8(20 + 9 * index)
        return RGBFrame(width: width, height: height, red: level, green: level, blue: level)
    }

    static func sourceIndex(of frame: RGBFrame) -> Int {
        let level = Int(frame.pixel(x: frame.width / 2, y: frame.height / 2).green)
        return Int((Double(level - 20) / 9).rounded())
    }

    static func writeGreyVideo(_ url: URL, frames: Int, rate: FrameRate = .fps24) throws {
        let writer = try VideoWriter(url: url, settings: VideoSettings(width: 64, height: 36, frameRate: rate, preset: .ultrafast))
        for index in 0..<frames { try writer.append(greyFrame(index)) }
        try writer.finish()
    }

    /// 24 frames at 24 fps read at 12, 24 and 48 fps: each output frame is the nearest source frame in time.
    @Test(arguments: [(12, Array(stride(from: 0, to: 24, by: 2))), (24, Array(0..<24)), (48, (0..<48).map { $0 / 2 })])
    func resamplesFrameRate(rate: Int, expected: [Int]) throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("grey.mp4")
        try Self.writeGreyVideo(url, frames: 24)
        let frames = try readAll(url, frameRate: FrameRate(rate))
        #expect(frames.map(Self.sourceIndex) == expected)
    }

    /// Without a rate every decoded frame comes back, with its time; the declared facts match what was written.
    @Test func nativeRateAndInfo() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("ntsc.mp4")
        try Self.writeGreyVideo(url, frames: 10, rate: .ntsc30)
        let reader = try VideoReader(url: url)
        #expect(reader.info.codec == "h264")
        #expect(reader.info.frameRate == .ntsc30)
        #expect(reader.info.frameCount == 10)
        #expect(reader.info.width == 64 && reader.info.height == 36)
        var times: [Double] = []
        while let frame = try reader.nextFrame() {
            #expect(Self.sourceIndex(of: frame) == times.count)
            times.append(reader.time)
        }
        #expect(times.count == 10)
        #expect(abs(times[9] - 9 * 1001 / 30000.0) < 1e-6)
    }

    /// A 512x288 picture with red and blue 112-pixel side bands: `stretch` to a square keeps the bands,
    /// `fill` crops exactly them away; one given side keeps the aspect ratio.
    @Test func resizesStretchesAndCrops() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        var picture = RGBFrame(width: 512, height: 288, red: 128, green: 128, blue: 128)
        for y in 0..<288 {
            for x in 0..<512 where x < 112 || x >= 400 {
                let i = 3 * (y * 512 + x)
                picture.pixels[i] = x < 112 ? 230 : 20
                picture.pixels[i + 1] = 20
                picture.pixels[i + 2] = x < 112 ? 20 : 230
            }
        }
        let url = folder.file("bands.png")
        try picture.writePNG(to: url)

        let stretched = try #require(try readAll(url, width: 144, height: 144).first)
        #expect(stretched.width == 144 && stretched.height == 144)
        #expect(stretched.pixel(x: 2, y: 72).red > 200)
        #expect(stretched.pixel(x: 141, y: 72).blue > 200)

        let filled = try #require(try VideoReader(url: url, width: 144, height: 144, resize: .fill).nextFrame())
        for x in [0, 1, 72, 142, 143] {
            let p = filled.pixel(x: x, y: 72)
            #expect(abs(Int(p.red) - 128) <= 3 && abs(Int(p.blue) - 128) <= 3, "column \(x) is \(p)")
        }

        let half = try #require(try VideoReader(url: url, width: 256).nextFrame())
        #expect(half.width == 256 && half.height == 144)
    }

    /// Files the project did not write: MKV with MPEG-4 Part 2 and WebM with VP9, made by the ffmpeg CLI.
    @Test(arguments: [("clip.mkv", "mpeg4", "matroska"), ("clip.webm", "libvpx-vp9", "matroska")])
    func readsOtherContainersAndCodecs(name: String, encoder: String, container: String) throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file(name)
        let (status, _) = try runProgram("ffmpeg", [
            "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=12:duration=1", "-c:v", encoder,
            "-deadline", "realtime", "-cpu-used", "8", url.path,
        ])
        try #require(status == 0)
        let reader = try VideoReader(url: url, width: 48, height: 32, frameRate: 12)
        #expect(reader.info.container.contains(container))
        #expect(reader.info.width == 96 && reader.info.height == 64)
        var count = 0
        while let frame = try reader.nextFrame() {
            #expect(frame.width == 48 && frame.height == 32)
            count += 1
        }
        #expect(count == 12)
    }

    /// The title and comment the writer stores come back through the reader (ffprobe checks them too, in
    /// VideoWriterTests).
    @Test func readsContainerTags() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("tags.mp4")
        try writePattern(url, width: 64, height: 36, count: 2, metadata: VideoMetadata(prompt: "ünïcode prompt", jobID: "j-9", seed: -3, modelHash: "f00"))
        let info = try VideoReader(url: url).info
        #expect(info.metadata["title"] == "ünïcode prompt")
        #expect(info.metadata["comment"] == "job=j-9 seed=-3 model=f00")
    }

    /// PNG is lossless: an odd-sized still reads back byte for byte, and ffprobe agrees on what it is.
    @Test func pngStillRoundTrips() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("still.png")
        let picture = TestPattern.frame(5, width: 33, height: 17)
        try picture.writePNG(to: url)
        #expect(try RGBFrame(contentsOf: url) == picture)
        let probe = try Probe(url)
        #expect(probe.codec == "png" && probe.width == 33 && probe.height == 17)
        #expect(try folder.contents() == ["still.png"])
    }
}
