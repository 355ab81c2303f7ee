// Shared helpers: a scratch folder per test, ffprobe as an independent judge of the files, and a reader of
// MP4 top-level boxes (to check faststart without trusting libav).

import Foundation
import Testing
@testable import TesseraMedia

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct ScratchFolder {
    let url: URL

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-media-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The names in the folder, hidden ones (temporary files) included.
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs a program to completion (posix_spawn + waitpid; Foundation's Process was seen to leave children
/// unreaped here) and returns its exit status and standard output.
func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-media-test-\(UUID().uuidString).out").path
    defer { unlink(log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
    guard result == 0 else { throw MediaError.io(operation: "run", path: executable, message: String(cString: strerror(result))) }
    var raw: Int32 = 0
    while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return ((raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f), output)
}

/// What ffprobe reports about a file's first video stream (frames counted by decoding).
struct Probe {
    var codec: String
    var profile: String
    var pixelFormat: String
    var width: Int
    var height: Int
    var frames: Int
    var frameRate: String
    var duration: Double
    var tags: [String: String]

    init(_ url: URL) throws {
        let (status, output) = try runProgram(
            "ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_streams", "-show_format", "-of", "json", url.path])
        #expect(status == 0, "ffprobe failed on \(url.path)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let stream = try #require((json["streams"] as? [[String: Any]])?.first)
        let format = try #require(json["format"] as? [String: Any])
        codec = stream["codec_name"] as? String ?? ""
        profile = stream["profile"] as? String ?? ""
        pixelFormat = stream["pix_fmt"] as? String ?? ""
        width = stream["width"] as? Int ?? 0
        height = stream["height"] as? Int ?? 0
        frames = Int(stream["nb_read_frames"] as? String ?? "") ?? -1
        frameRate = stream["avg_frame_rate"] as? String ?? ""
        duration = Double(format["duration"] as? String ?? "") ?? -1
        tags = format["tags"] as? [String: String] ?? [:]
    }
}

/// The types of an MP4 file's top-level boxes, in file order ("ftyp", "moov", "free", "mdat").
func topLevelBoxes(_ url: URL) throws -> [String] {
    let data = try Data(contentsOf: url)
    var boxes: [String] = []
    var offset = 0
    while offset + 8 <= data.count {
        var size = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        let type = String(decoding: data[offset + 4..<offset + 8], as: UTF8.self)
        if size == 1, offset + 16 <= data.count { size = data[offset + 8..<offset + 16].reduce(0) { $0 << 8 | Int($1) } }
        if size == 0 { size = data.count - offset }
        guard size >= 8 else { break }
        boxes.append(type)
        offset += size
    }
    return boxes
}

/// Decodes every frame of a file with the project's reader at its stored size.
func readAll(_ url: URL, width: Int? = nil, height: Int? = nil, frameRate: FrameRate? = nil) throws -> [RGBFrame] {
    let reader = try VideoReader(url: url, width: width, height: height, frameRate: frameRate)
    var frames: [RGBFrame] = []
    try reader.forEachFrame { frames.append($0) }
    return frames
}

/// Writes `count` frames of the test pattern.
@discardableResult
func writePattern(_ url: URL, width: Int, height: Int, count: Int, frameRate: FrameRate = .fps24, preset: VideoSettings.Preset = .veryfast,
                  metadata: VideoMetadata = VideoMetadata()) throws -> [RGBFrame] {
    let writer = try VideoWriter(
        url: url, settings: VideoSettings(width: width, height: height, frameRate: frameRate, crf: 18, preset: preset, metadata: metadata))
    var frames: [RGBFrame] = []
    for index in 0..<count {
        let frame = TestPattern.frame(index, width: width, height: height)
        try writer.append(frame)
        frames.append(frame)
    }
    try writer.finish()
    return frames
}

/// Bytes placed so that they end exactly where an unmapped page begins: reading one byte past them is a
/// segmentation fault, so an over-read shows as a crash instead of passing unseen.
enum GuardedBuffer {
    static func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let usable = (bytes.count + page - 1) / page * page
        guard let region = mmap(nil, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            region != MAP_FAILED
        else { throw GuardError.mapFailed }
        defer { munmap(region, usable + page) }
        guard mprotect(region + usable, page, PROT_NONE) == 0 else { throw GuardError.mapFailed }
        let start = (region + usable - bytes.count).assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { source in start.update(from: source.baseAddress!, count: bytes.count) }
        return try body(UnsafeBufferPointer(start: start, count: bytes.count))
    }

    enum GuardError: Error { case mapFailed }
}
