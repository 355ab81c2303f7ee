// A plain uncompressed video format for the world and the evaluator until MP4 reading arrives (docs/WORLD.md,
// "Files"): `frames.rgb` holds the frames back to back, 8-bit RGB, row-major, top row first; `video.json`
// beside it says their size, count and rate. PPM (P6) images for looking at frames and contact sheets.

import Foundation
import TesseraTensor

/// The sidecar of a raw video.
public struct RawVideoHeader: Sendable, Equatable, Codable {
    /// Always `RawVideoHeader.formatName`.
    public var format: String
    public var width: Int
    public var height: Int
    public var frames: Int
    public var fps: Double
    /// The frames file, relative to the sidecar's folder.
    public var data: String

    /// The `format` value of every sidecar.
    public static let formatName = "tessera-rgb24"

    /// A sidecar for frames in `data`.
    public init(width: Int, height: Int, frames: Int, fps: Double, data: String = "frames.rgb") {
        format = Self.formatName
        self.width = width
        self.height = height
        self.frames = frames
        self.fps = fps
        self.data = data
    }

    /// Bytes per frame.
    public var frameBytes: Int { width * height * 3 }
}

/// Reads a raw video frame by frame.
public struct RawVideoReader: FrameSource {
    public let header: RawVideoHeader
    private let handle: FileHandle
    private var index = 0

    /// Opens the video whose sidecar is at `url`: a `.json` file, a folder holding `video.json`, or a `.rgb`
    /// file with a `.json` of the same name (or a `video.json`) beside it.
    public init(url: URL) throws {
        var sidecar = url
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            sidecar = url.appendingPathComponent("video.json")
        } else if url.pathExtension == "rgb" {
            // NAME.json beside NAME.rgb, else the folder's video.json (what `tessera world render` writes).
            sidecar = url.deletingPathExtension().appendingPathExtension("json")
            if !FileManager.default.fileExists(atPath: sidecar.path) {
                sidecar = url.deletingLastPathComponent().appendingPathComponent("video.json")
            }
        }
        let header: RawVideoHeader
        do {
            header = try JSONDecoder().decode(RawVideoHeader.self, from: Data(contentsOf: sidecar))
        } catch {
            throw EvaluatorError("cannot read the raw video sidecar \(sidecar.path): \(error.localizedDescription)")
        }
        guard header.format == RawVideoHeader.formatName, header.width > 0, header.height > 0, header.frames > 0, header.fps > 0 else {
            throw EvaluatorError("\(sidecar.path) is not a \(RawVideoHeader.formatName) sidecar with a positive size, count and fps")
        }
        let data = sidecar.deletingLastPathComponent().appendingPathComponent(header.data)
        let size = (try? FileManager.default.attributesOfItem(atPath: data.path)[.size] as? Int) ?? nil
        guard let size, size == header.frames * header.frameBytes else {
            throw EvaluatorError("\(data.path) should hold \(header.frames) frames of \(header.frameBytes) bytes")
        }
        self.header = header
        do {
            handle = try FileHandle(forReadingFrom: data)
        } catch {
            throw EvaluatorError("cannot open \(data.path): \(error.localizedDescription)")
        }
    }

    public var width: Int { header.width }
    public var height: Int { header.height }
    public var fps: Double { header.fps }

    public mutating func nextFrame() throws -> Tensor? {
        guard index < header.frames else { return nil }
        guard let bytes = try handle.read(upToCount: header.frameBytes), bytes.count == header.frameBytes else {
            throw EvaluatorError("frame \(index) of the raw video is cut short")
        }
        index += 1
        return Tensor(shape: [header.height, header.width, 3], storage: bytes.map { Float($0) / 127.5 - 1 })  // [H, W, 3]
    }
}

/// Writes a raw video frame by frame.
public final class RawVideoWriter {
    public let header: RawVideoHeader
    private let handle: FileHandle
    private let folder: URL
    private var written = 0

    /// Creates `folder` if needed and starts `frames.rgb` in it; `finish()` writes `video.json`.
    public init(folder: URL, width: Int, height: Int, frames: Int, fps: Double) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        header = RawVideoHeader(width: width, height: height, frames: frames, fps: fps)
        // An old sidecar goes first: a sidecar must only ever describe complete frames.
        let sidecar = folder.appendingPathComponent("video.json")
        if FileManager.default.fileExists(atPath: sidecar.path) { try FileManager.default.removeItem(at: sidecar) }
        let data = folder.appendingPathComponent(header.data)
        guard FileManager.default.createFile(atPath: data.path, contents: nil) else {
            throw EvaluatorError("cannot create \(data.path)")
        }
        handle = try FileHandle(forWritingTo: data)
        try handle.truncate(atOffset: 0)
        self.folder = folder
    }

    deinit { try? handle.close() }

    /// Appends one 8-bit frame [H, W, 3].
    public func append(_ frame: [UInt8]) throws {
        precondition(frame.count == header.frameBytes && written < header.frames, "wrong frame size or too many frames")
        try handle.write(contentsOf: frame)
        written += 1
    }

    /// Closes the frames and writes the sidecar (after the frames, so a sidecar means a complete video).
    public func finish() throws {
        guard written == header.frames else {
            throw EvaluatorError("wrote \(written) of \(header.frames) frames")
        }
        try handle.close()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(header).write(to: folder.appendingPathComponent("video.json"), options: .atomic)
    }
}

/// Binary PPM (P6) images.
public enum PPM {
    /// The bytes of a PPM image of 8-bit RGB pixels [H, W, 3].
    public static func encode(width: Int, height: Int, pixels: [UInt8]) -> Data {
        precondition(pixels.count == width * height * 3, "PPM pixels must be [H, W, 3]")
        var data = Data("P6\n\(width) \(height)\n255\n".utf8)
        data.append(contentsOf: pixels)
        return data
    }

    /// Frames laid out left to right, top to bottom, `columns` to a row, with a 4-pixel dark gutter.
    public static func contactSheet(frames: [[UInt8]], width: Int, height: Int, columns: Int) -> (width: Int, height: Int, pixels: [UInt8]) {
        let gutter = 4
        let columns = max(1, min(columns, frames.count))
        let rows = (frames.count + columns - 1) / columns
        let sheetWidth = columns * width + (columns + 1) * gutter
        let sheetHeight = rows * height + (rows + 1) * gutter
        var sheet = [UInt8](repeating: 40, count: sheetWidth * sheetHeight * 3)
        for (k, frame) in frames.enumerated() {
            let left = gutter + (k % columns) * (width + gutter), top = gutter + (k / columns) * (height + gutter)
            for y in 0..<height {
                let source = y * width * 3, target = ((top + y) * sheetWidth + left) * 3
                sheet.replaceSubrange(target..<(target + width * 3), with: frame[source..<(source + width * 3)])
            }
        }
        return (sheetWidth, sheetHeight, sheet)
    }
}
