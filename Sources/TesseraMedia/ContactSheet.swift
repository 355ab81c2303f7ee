import Foundation

/// A preview of a video as one PNG: `count` evenly spaced frames in a grid of `columns`, each labelled with
/// its frame number, over a caption line drawn with `BitmapFont`. Frames of any size; each cell keeps the
/// first frame's aspect ratio.
///
/// ```
/// ┌──────┬──────┬──────┬──────┐
/// │#0    │#16   │#32   │#47   │   evenly spaced: first and last frame included
/// ├──────┴──────┴──────┴──────┤
/// │ A RED FOX IN SNOW - SEED 7│   caption (upper case, clipped with "...")
/// └───────────────────────────┘
/// ```
public struct ContactSheet: Sendable {
    /// Frames shown (fewer when the video is shorter).
    public let count: Int
    public let columns: Int
    /// Width of each cell in pixels; the height follows the frames' aspect ratio.
    public let cellWidth: Int
    /// One line under the grid; drawn in upper case.
    public let caption: String
    /// Font pixels per caption pixel (labels use 1).
    public let captionScale: Int
    /// Gap between and around cells, in pixels.
    public static let spacing = 4
    static let background: (UInt8, UInt8, UInt8) = (24, 24, 24)

    /// Throws `MediaError.invalidSettings` for a non-positive count, column count or cell width.
    public init(count: Int = 12, columns: Int = 4, cellWidth: Int = 320, caption: String = "", captionScale: Int = 2) throws {
        guard count > 0, columns > 0, (8...4096).contains(cellWidth), (1...8).contains(captionScale) else {
            throw MediaError.invalidSettings("contact sheet of \(count) frames in \(columns) columns of \(cellWidth) px (scale \(captionScale))")
        }
        self.count = count
        self.columns = columns
        self.cellWidth = cellWidth
        self.caption = caption
        self.captionScale = captionScale
    }

    /// `count` indices spread evenly over `0..<total`, first and last included: round(k (total-1) / (count-1)).
    public static func indices(total: Int, count: Int) -> [Int] {
        guard total > 0, count > 0 else { return [] }
        if count >= total { return Array(0..<total) }
        if count == 1 { return [0] }
        return (0..<count).map { k in Int((Double(k * (total - 1)) / Double(count - 1)).rounded()) }
    }

    /// The sheet for frames already chosen, labelled with `labels` (frame numbers, for instance).
    public func render(_ frames: [RGBFrame], labels: [String] = []) throws -> RGBFrame {
        guard let first = frames.first else { throw MediaError.invalidFrame("a contact sheet needs at least one frame") }
        let cellHeight = max(1, Int((Double(cellWidth) * Double(first.height) / Double(first.width)).rounded()))
        let cells = frames.prefix(count)
        let rows = (cells.count + columns - 1) / columns
        let gap = Self.spacing
        let captionHeight = caption.isEmpty ? 0 : BitmapFont.glyphHeight * captionScale + 2 * gap
        let width = columns * cellWidth + (columns + 1) * gap
        let height = rows * cellHeight + (rows + 1) * gap + captionHeight
        var sheet = RGBFrame(width: width, height: height, red: Self.background.0, green: Self.background.1, blue: Self.background.2)
        for (index, frame) in cells.enumerated() {
            let cell = try frame.resized(width: cellWidth, height: cellHeight)
            let left = gap + (index % columns) * (cellWidth + gap), top = gap + (index / columns) * (cellHeight + gap)
            sheet.pixels.withUnsafeMutableBufferPointer { out in
                cell.pixels.withUnsafeBufferPointer { source in
                    for y in 0..<cellHeight {
                        let target = 3 * ((top + y) * width + left)
                        (out.baseAddress! + target).update(from: source.baseAddress! + 3 * y * cellWidth, count: 3 * cellWidth)
                    }
                }
            }
            if index < labels.count { Self.label(labels[index], on: &sheet, x: left, y: top) }
        }
        if !caption.isEmpty {
            let room = (width - 2 * gap) / ((BitmapFont.glyphWidth + 1) * captionScale)
            let text = caption.count <= room ? caption : String(caption.prefix(max(room - 3, 0))) + "..."
            BitmapFont.draw(text, into: &sheet, x: gap, y: height - captionHeight + gap, scale: captionScale)
        }
        return sheet
    }

    /// The sheet for a video file, decoded as a stream: only the chosen frames are kept, at cell size. When
    /// the container does not declare its frame count (MKV, WebM), a first pass counts the frames.
    public func render(video url: URL) throws -> RGBFrame {
        var total = try VideoReader(url: url, width: 16, height: 16).info.frameCount
        if total == nil {
            let counter = try VideoReader(url: url, width: 16, height: 16)
            var frames = 0
            while try counter.nextFrame() != nil { frames += 1 }
            total = frames
        }
        let wanted = Self.indices(total: total ?? 0, count: count)
        let reader = try VideoReader(url: url, width: cellWidth)
        var chosen: [RGBFrame] = [], labels: [String] = []
        var index = 0
        while chosen.count < wanted.count, let frame = try reader.nextFrame() {
            if index == wanted[chosen.count] {
                chosen.append(frame)
                labels.append("#\(index)")
            }
            index += 1
        }
        return try render(chosen, labels: labels)
    }

    /// Renders the sheet for a video file and writes it as PNG.
    public func write(video: URL, to png: URL) throws {
        try render(video: video).writePNG(to: png)
    }

    /// A label in white on a dark box in a cell's top-left corner.
    private static func label(_ text: String, on sheet: inout RGBFrame, x: Int, y: Int) {
        let boxWidth = BitmapFont.width(of: text) + 4, boxHeight = BitmapFont.glyphHeight + 4
        let width = sheet.width
        sheet.pixels.withUnsafeMutableBufferPointer { out in
            for py in y..<min(y + boxHeight, sheet.height) {
                for px in x..<min(x + boxWidth, width) {
                    let i = 3 * (py * width + px)
                    out[i] = 0; out[i + 1] = 0; out[i + 2] = 0
                }
            }
        }
        BitmapFont.draw(text, into: &sheet, x: x + 2, y: y + 2)
    }
}
