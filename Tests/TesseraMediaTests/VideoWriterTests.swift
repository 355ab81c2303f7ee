// The H.264 writer, judged by ffprobe (codec, profile, size, frame count, duration, tags) and by reading the
// file's boxes (faststart), and by the project's own reader (frames and picture quality).

import CLibAV
import Foundation
import Testing
@testable import TesseraMedia

@Suite struct VideoWriterTests {
    /// Sizes from the issue: 1080p both ways with few frames (each 1080p frame is about 0.1 s to encode
    /// on 2 cores at `veryfast`), the prototype size both ways, and a single frame.
    @Test(arguments: [(1920, 1080, 3), (1080, 1920, 3), (512, 288, 12), (288, 512, 12), (512, 288, 1)])
    func writesH264ThatFFprobeAccepts(width: Int, height: Int, frames: Int) throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("out.mp4")
        let metadata = VideoMetadata(prompt: "a red fox in snow", jobID: "42", seed: 7, modelHash: "abc123")
        try writePattern(url, width: width, height: height, count: frames, metadata: metadata)

        let probe = try Probe(url)
        #expect(probe.codec == "h264")
        #expect(probe.profile == "High")
        #expect(probe.pixelFormat == "yuv420p")
        #expect(probe.width == width && probe.height == height)
        #expect(probe.frames == frames)
        #expect(probe.frameRate == "24/1")
        #expect(abs(probe.duration - Double(frames) / 24) < 0.001, "duration \(probe.duration)")
        #expect(probe.tags["title"] == "a red fox in snow")
        #expect(probe.tags["comment"] == "job=42 seed=7 model=abc123")
        let boxes = try topLevelBoxes(url)
        let moov = try #require(boxes.firstIndex(of: "moov")), mdat = try #require(boxes.firstIndex(of: "mdat"))
        #expect(moov < mdat, "faststart puts moov before mdat: \(boxes)")
        #expect(try folder.contents() == ["out.mp4"], "no temporary file is left beside the video")

        let decoded = try readAll(url)
        #expect(decoded.count == frames)
        #expect(decoded.allSatisfy { $0.width == width && $0.height == height })
    }

    /// A decode of the synthetic pattern matches the source: luma PSNR ≥ 37 dB (measured 40.3 dB at CRF 18
    /// here, 51 dB at CRF 1; decoding the same file with the BT.601 matrix instead scores 27 dB), and RGB
    /// PSNR ≥ 28 dB (measured 30.0 dB; bounded near 30.7 dB even at CRF 1 by yuv420p's half-resolution
    /// colour on the pattern's hard blue and red edges). The check can fail: the decode against the next
    /// source frame scores far lower.
    @Test func decodeMatchesSourceWithinPSNR() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("psnr.mp4")
        let source = try writePattern(url, width: 512, height: 288, count: 6)
        let decoded = try readAll(url)
        try #require(decoded.count == source.count)
        for (a, b) in zip(source, decoded) {
            let luma = try #require(RGBFrame.lumaPSNR(a, b)), rgb = try #require(RGBFrame.psnr(a, b))
            #expect(luma >= 37, "luma PSNR \(luma) dB")
            #expect(rgb >= 28, "RGB PSNR \(rgb) dB")
        }
        let shifted = try #require(RGBFrame.lumaPSNR(source[1], decoded[0]))
        #expect(shifted < 30, "a wrong frame must not pass: \(shifted) dB")
    }

    /// NTSC film rate: 24 frames at 24000/1001 last exactly 1.001 s.
    @Test func ntscFrameRateIsExact() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("ntsc.mp4")
        try writePattern(url, width: 64, height: 36, count: 24, frameRate: .ntsc24)
        let probe = try Probe(url)
        #expect(probe.frameRate == "24000/1001")
        #expect(probe.frames == 24)
        #expect(abs(probe.duration - 1.001) < 0.0005, "duration \(probe.duration)")
    }

    /// Channels-first floats in [-1, 1] (the VAE decoder's output) encode like the same picture in 8 bits.
    @Test func planarFloatFramesMatchTheirRGBEquivalent() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let (width, height) = (128, 72)
        let source = TestPattern.frame(3, width: width, height: height)
        let planar = source.planarFloats(range: -1...1)  // [3, H, W]
        #expect(try RGBFrame(planar: planar.withUnsafeBufferPointer { $0 }, width: width, height: height) == source)

        let url = folder.file("float.mp4")
        let writer = try VideoWriter(url: url, settings: VideoSettings(width: width, height: height, preset: .veryfast))
        try planar.withUnsafeBufferPointer { try writer.append(planar: $0, range: -1...1) }
        try writer.finish()
        let decoded = try #require(try readAll(url).first)
        #expect(try #require(RGBFrame.lumaPSNR(source, decoded)) >= 37)
    }

    /// Floats outside the range clamp, and NaN becomes black, rather than wrapping around.
    @Test func floatQuantizationClampsAndRounds() throws {
        let values: [Float] = [-3, -1, 0, 1, 5, .nan]  // [3, 1, 2]: two pixels
        let frame = try values.withUnsafeBufferPointer { try RGBFrame(planar: $0, width: 2, height: 1, range: -1...1) }
        // Pixel 0 = (R -3, G 0, B 5), pixel 1 = (R -1, G 1, B NaN).
        #expect(frame.pixels == [0, 128, 255, 0, 255, 0])
    }

    /// Odd sizes are refused with a message that says why, before any file is created.
    @Test(arguments: [(511, 288), (512, 287), (1, 2), (0, 0), (8194, 2)])
    func refusesSizesYUV420CannotHold(width: Int, height: Int) throws {
        let error = #expect(throws: MediaError.self) { try VideoSettings(width: width, height: height) }
        guard case .invalidSettings(let text) = error else {
            Issue.record("expected invalidSettings, got \(String(describing: error))")
            return
        }
        #expect(text.contains("\(width)x\(height)"))
    }

    @Test func refusesBadRateAndCRF() {
        #expect(throws: MediaError.self) { try VideoSettings(width: 64, height: 64, frameRate: FrameRate(0, 1)) }
        #expect(throws: MediaError.self) { try VideoSettings(width: 64, height: 64, crf: 52) }
        #expect(throws: MediaError.self) { try VideoSettings(width: 64, height: 64, crf: 0) }
        #expect(throws: MediaError.self) { try VideoSettings(width: 64, height: 64, crf: .nan) }
        #expect(FrameRate("23.976") == .ntsc24)
        #expect(FrameRate("30000/1001") == .ntsc30)
        #expect(FrameRate("0") == nil)
        #expect(FrameRate(48, 2) == .fps24)
    }

    /// The same frames make the same bytes, however many videos the process wrote before and whatever its
    /// freed memory holds, or a render is not reproducible. x264's AVX-512 kernels read memory it never
    /// wrote: on a CPU with AVX-512, before the writer held x264 to AVX2 (`LibAV.x264Kernels`), the second or a
    /// later of these encodes came out different (one x264 thread, so x264's own threads are not the cause).
    @Test func sameFramesGiveTheSameBytes() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let frames = (0..<24).map { TestPattern.frame($0, width: 96, height: 64) }
        var videos: [Data] = []
        for pass in 0..<6 {
            // Freed memory holding another byte each time, where the next encoder's buffers may come from.
            let blocks = (0..<64).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 16_384, alignment: 16) }
            for block in blocks { block.initializeMemory(as: UInt8.self, repeating: UInt8(pass * 37 + 1), count: 16_384) }
            for block in blocks { block.deallocate() }
            let url = folder.file("\(pass).mp4")
            let writer = try VideoWriter(url: url, settings: VideoSettings(width: 96, height: 64, threads: 1))
            for frame in frames { try writer.append(frame) }
            try writer.finish()
            videos.append(try Data(contentsOf: url))
        }
        let differing = videos.indices.filter { videos[$0] != videos[0] }
        #expect(differing.isEmpty, "encodes \(differing) of the same frames differ from the first")
    }

    /// libswscale's RGB readers load a few bytes past a packed picture's last pixel. A caller's buffer that
    /// ends right before an unmapped page must still encode: the frame here ends exactly at a guard page, so a
    /// read past its end is a crash, not a quiet read of a neighbour's bytes.
    @Test(arguments: [(96, 64), (100, 62), (512, 288), (288, 512), (6, 40)])
    func frameEndingAtAnUnmappedPageEncodes(width: Int, height: Int) throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let frame = TestPattern.frame(3, width: width, height: height)
        try GuardedBuffer.withBytes(frame.pixels) { pixels in
            let url = folder.file("guard.mp4")
            let writer = try VideoWriter(url: url, settings: VideoSettings(width: width, height: height, preset: .ultrafast))
            try writer.append(rgb: pixels)
            try writer.finish()
            #expect(try Probe(url).frames == 1)
            // The same bytes through a resize (RGB to RGB, as `RGBFrame.resized` does).
            let scaler = Scaler()
            try scaler.configure(
                source: (width, height, AV_PIX_FMT_RGB24), destination: (width / 2, height / 2, AV_PIX_FMT_RGB24),
                flags: SWS_BICUBIC, colorspace: SWS_CS_DEFAULT, sourceFullRange: true, destinationFullRange: true, path: "guard")
            var half = [UInt8](repeating: 0, count: (width / 2) * (height / 2) * 3)
            try half.withUnsafeMutableBufferPointer { out in
                try scaler.scale(
                    packed: pixels, stride: width * 3, height: height,
                    destination: [out.baseAddress, nil, nil, nil], destinationStrides: [Int32(width / 2 * 3), 0, 0, 0], path: "guard")
            }
            #expect(half.contains { $0 != 0 })
        }
    }

    /// A packed picture fed as two slices (`Scaler.scale(packed:…)`) converts to the very bytes one
    /// whole-picture call gives: to YUV 4:2:0 at the same size (the writer's path) and to half-size RGB (the
    /// resizer's), including a picture so narrow that its slack takes several rows.
    @Test(arguments: [(96, 64, false), (100, 62, false), (512, 288, false), (512, 288, true), (6, 40, false), (6, 40, true)])
    func packedSlicesGiveOneCallsBytes(width: Int, height: Int, resize: Bool) throws {
        let pixels = TestPattern.frame(5, width: width, height: height).pixels
        let (outWidth, outHeight) = resize ? (width / 2, height / 2) : (width, height)
        let planes: [(bytes: Int, stride: Int)] =
            resize
            ? [(outWidth * outHeight * 3, outWidth * 3)]
            : [(outWidth * outHeight, outWidth), (outWidth * outHeight / 4, outWidth / 2), (outWidth * outHeight / 4, outWidth / 2)]
        func convert(_ body: (Scaler, [UnsafeMutablePointer<UInt8>?], [Int32]) throws -> Void) throws -> [[UInt8]] {
            let scaler = Scaler()
            try scaler.configure(
                source: (width, height, AV_PIX_FMT_RGB24),
                destination: (outWidth, outHeight, resize ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUV420P),
                flags: SWS_BICUBIC, colorspace: SWS_CS_ITU709, sourceFullRange: true, destinationFullRange: resize, path: "slices")
            let buffers = planes.map { UnsafeMutablePointer<UInt8>.allocate(capacity: $0.bytes) }
            defer { buffers.forEach { $0.deallocate() } }
            for (buffer, plane) in zip(buffers, planes) { buffer.initialize(repeating: 0, count: plane.bytes) }
            var pointers: [UnsafeMutablePointer<UInt8>?] = buffers
            var strides = planes.map { Int32($0.stride) }
            while pointers.count < 4 { pointers.append(nil); strides.append(0) }
            try body(scaler, pointers, strides)
            return zip(buffers, planes).map { Array(UnsafeBufferPointer(start: $0, count: $1.bytes)) }
        }
        let sliced = try convert { scaler, destination, strides in
            try pixels.withUnsafeBufferPointer {
                try scaler.scale(packed: $0, stride: width * 3, height: height, destination: destination, destinationStrides: strides, path: "slices")
            }
        }
        let padded = pixels + [UInt8](repeating: 0, count: 256)
        let whole = try convert { scaler, destination, strides in
            try padded.withUnsafeBufferPointer {
                try scaler.scale(
                    source: [$0.baseAddress, nil, nil, nil], sourceStrides: [Int32(width * 3), 0, 0, 0], sourceHeight: height,
                    destination: destination, destinationStrides: strides, path: "whole")
            }
        }
        #expect(sliced == whole)
        #expect(whole[0].contains { $0 != 0 })
    }

    /// A frame of the wrong size is refused and does not end the video.
    @Test func wrongFrameSizeIsRefused() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("size.mp4")
        let writer = try VideoWriter(url: url, settings: VideoSettings(width: 64, height: 64, preset: .ultrafast))
        #expect(throws: MediaError.self) { try writer.append(RGBFrame(width: 32, height: 64, red: 0, green: 0, blue: 0)) }
        try writer.append(TestPattern.frame(0, width: 64, height: 64))
        try writer.finish()
        #expect(try Probe(url).frames == 1)
    }
}
