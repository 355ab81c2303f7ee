// The contact sheet (grid of evenly spaced frames with a caption) and the bitmap font it draws with.

import Foundation
import Testing
@testable import TesseraMedia

@Suite struct ContactSheetTests {
    @Test func indicesAreEvenlySpacedWithBothEnds() {
        #expect(ContactSheet.indices(total: 48, count: 4) == [0, 16, 31, 47])
        #expect(ContactSheet.indices(total: 8, count: 4) == [0, 2, 5, 7])
        #expect(ContactSheet.indices(total: 3, count: 12) == [0, 1, 2])
        #expect(ContactSheet.indices(total: 100, count: 1) == [0])
        #expect(ContactSheet.indices(total: 0, count: 4) == [])
    }

    /// Eight flat frames on a 2-column sheet of 4: the layout has the computed size, each cell shows the
    /// frame chosen for it, and the caption band has ink.
    @Test func gridShowsChosenFramesAndCaption() throws {
        let colours: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (128, 128, 128), (255, 255, 255)]
        let frames = colours.map { RGBFrame(width: 64, height: 36, red: $0.0, green: $0.1, blue: $0.2) }
        let sheet = try ContactSheet(count: 4, columns: 2, cellWidth: 32, caption: "fox, seed 7")
        let chosen = ContactSheet.indices(total: frames.count, count: 4)
        let image = try sheet.render(chosen.map { frames[$0] })
        let gap = ContactSheet.spacing, cellHeight = 18, captionHeight = 7 * 2 + 2 * gap
        #expect(image.width == 2 * 32 + 3 * gap)
        #expect(image.height == 2 * cellHeight + 3 * gap + captionHeight)
        for (cell, index) in chosen.enumerated() {
            let x = gap + (cell % 2) * (32 + gap) + 16, y = gap + (cell / 2) * (cellHeight + gap) + 9
            let p = image.pixel(x: x, y: y)
            #expect((p.red, p.green, p.blue) == colours[index], "cell \(cell) shows frame \(index)")
        }
        let band = (image.height - captionHeight)..<image.height
        let ink = band.reduce(0) { sum, y in sum + (0..<image.width).filter { image.pixel(x: $0, y: y).red == 255 }.count }
        #expect(ink > 50, "the caption is drawn")
        let plain = try ContactSheet(count: 4, columns: 2, cellWidth: 32).render(frames)
        #expect(plain.height == 2 * cellHeight + 3 * gap, "no caption, no band")
    }

    /// From a video file: the right frames are picked while streaming, labelled, and written as a PNG.
    @Test func sheetFromVideoFile() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let video = folder.file("grey.mp4")
        try VideoReaderTests.writeGreyVideo(video, frames: 24)
        let sheet = try ContactSheet(count: 4, columns: 4, cellWidth: 64, caption: "grey ramp")
        let png = folder.file("sheet.png")
        try sheet.write(video: video, to: png)
        let image = try RGBFrame(contentsOf: png)
        let gap = ContactSheet.spacing
        #expect(image.width == 4 * 64 + 5 * gap)
        for (cell, index) in ContactSheet.indices(total: 24, count: 4).enumerated() {
            let level = Int(image.pixel(x: gap + cell * (64 + gap) + 40, y: gap + 25).green)
            #expect(abs(level - (20 + 9 * index)) <= 4, "cell \(cell): level \(level) for frame \(index)")
        }
        #expect(try Probe(png).codec == "png")
    }

    @Test func fontGlyphsAreFiveBySeven() {
        #expect(BitmapFont.characters.count >= 60)
        for character in BitmapFont.characters {
            let rows = BitmapFont.glyph(for: character)
            #expect(rows.count == 7 && rows.allSatisfy { $0 < 32 }, "glyph \(character)")
        }
        #expect(BitmapFont.glyph(for: "A") == [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001])
        #expect(BitmapFont.glyph(for: "a") == BitmapFont.glyph(for: "A"))
        #expect(BitmapFont.glyph(for: "é") == BitmapFont.glyph(for: "?"))
        #expect(BitmapFont.width(of: "AB", scale: 2) == 22)
    }

    /// Drawing "T" at scale 2 inks exactly its glyph's pixels, each as a 2×2 square, and clips at the edge.
    @Test func fontDrawsExactPixels() {
        var frame = RGBFrame(width: 20, height: 20, red: 0, green: 0, blue: 0)
        BitmapFont.draw("T", into: &frame, x: 1, y: 1, scale: 2, color: (255, 0, 0))
        let inked = stride(from: 0, to: frame.pixels.count, by: 3).filter { frame.pixels[$0] == 255 }.count
        #expect(inked == (5 + 6) * 4)
        #expect(frame.pixel(x: 1, y: 1).red == 255 && frame.pixel(x: 10, y: 2).red == 255)
        #expect(frame.pixel(x: 1, y: 3).red == 0)
        var small = RGBFrame(width: 3, height: 3, red: 0, green: 0, blue: 0)
        BitmapFont.draw("W", into: &small, x: -2, y: -2)
        #expect(small.pixels.contains(255))
    }
}
