// Failure paths: each is a typed MediaError naming the file, never a crash, and never a file (whole or
// truncated) under the final name, nor a temporary file left behind.

import Foundation
import Testing
@testable import TesseraMedia

@Suite struct MediaErrorTests {
    static func settings(_ width: Int = 64, _ height: Int = 36) throws -> VideoSettings {
        try VideoSettings(width: width, height: height, preset: .ultrafast)
    }

    /// A missing parent directory, and a parent that is a regular file: the writer refuses at once.
    @Test func unwritableDirectoryIsATypedError() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let missing = folder.file("no-such-dir/out.mp4")
        try Data("x".utf8).write(to: folder.file("plain-file"))
        let underFile = folder.file("plain-file/out.mp4")
        for target in [missing, underFile] {
            let error = #expect(throws: MediaError.self) { try VideoWriter(url: target, settings: try Self.settings()) }
            guard case .libav(let operation, let path, _, let message) = error else {
                Issue.record("expected a libav error, got \(String(describing: error))")
                continue
            }
            #expect(operation == "create" && path == target.path && !message.isEmpty, "\(message)")
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
        #expect(throws: MediaError.self) { try RGBFrame(width: 4, height: 4, red: 0, green: 0, blue: 0).writePNG(to: missing) }
        #expect(try folder.contents() == ["plain-file"])
    }

    /// A directory the process may not write: a read-only folder, or, as root (which ignores permissions),
    /// sysfs, where nobody may create files.
    @Test func readOnlyDirectoryIsATypedError() throws {
        if getuid() == 0 {
            let target = URL(fileURLWithPath: "/sys/tessera-media-test.mp4")
            #expect(throws: MediaError.self) { try VideoWriter(url: target, settings: try Self.settings()) }
            #expect(!FileManager.default.fileExists(atPath: target.path))
            return
        }
        let folder = try ScratchFolder()
        defer {
            chmod(folder.url.path, 0o755)
            folder.remove()
        }
        chmod(folder.url.path, 0o555)
        #expect(throws: MediaError.self) { try VideoWriter(url: folder.file("out.mp4"), settings: try Self.settings()) }
        #expect(try folder.contents().isEmpty)
    }

    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as on the development machine; not
    /// in most containers), tried once.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let folder = try? ScratchFolder("mountprobe") else { return false }
        defer { folder.remove() }
        guard (try? runProgram("mount", ["-t", "tmpfs", "-o", "size=64k", "tessera-mount-probe", folder.url.path]))?.status == 0 else { return false }
        _ = try? runProgram("umount", [folder.url.path])
        return true
    }()

    /// A full disk: a 256 KiB tmpfs cannot hold 1 s of 512x288 at CRF 1. The error is typed and the
    /// partial file is gone. Needs permission to mount a tmpfs (skipped without it).
    @Test(.enabled(if: canMountTmpfs)) func fullDiskIsATypedErrorAndLeavesNothing() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let mountPoint = folder.url.path
        let (mounted, _) = try runProgram("mount", ["-t", "tmpfs", "-o", "size=256k", "tessera-full-disk-test", mountPoint])
        try #require(mounted == 0, "could not mount a tmpfs")
        defer { _ = try? runProgram("umount", [mountPoint]) }
        let target = folder.file("full.mp4")
        var caught: MediaError?
        do {
            let writer = try VideoWriter(url: target, settings: VideoSettings(width: 512, height: 288, crf: 1, preset: .ultrafast))
            for index in 0..<24 { try writer.append(TestPattern.frame(index, width: 512, height: 288)) }
            try writer.finish()
        } catch let error as MediaError {
            caught = error
        }
        let error = try #require(caught, "writing 24 frames at CRF 1 into 256 KiB must fail")
        #expect(error.path == target.path)
        #expect(error.description.contains("No space left on device"), "\(error)")
        #expect(try folder.contents().isEmpty, "no final or temporary file remains")
    }

    /// Files that are not media, an empty file, a missing file, and an MP4 whose index is damaged.
    @Test func corruptInputIsATypedError() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        var generator = SystemRandomNumberGenerator()
        let garbage = folder.file("garbage.mp4")
        try Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: garbage)
        let empty = folder.file("empty.mp4")
        try Data().write(to: empty)
        let text = folder.file("text.png")
        try Data("not a picture\n".utf8).write(to: text)
        let damaged = folder.file("damaged.mp4")
        try writePattern(damaged, width: 64, height: 36, count: 4)
        var bytes = try Data(contentsOf: damaged)
        let moov = try #require(bytes.range(of: Data("moov".utf8)))
        for i in moov.upperBound..<min(moov.upperBound + 400, bytes.count) { bytes[i] = 0xff }
        try bytes.write(to: damaged)

        for url in [garbage, empty, text, damaged, folder.file("missing.mp4")] {
            let error = #expect(throws: MediaError.self) { try readAll(url) }
            #expect(error?.path == url.path, "\(String(describing: error))")
        }
    }

    /// Truncated media data (the download that stopped partway): the demuxer sees the index promise more
    /// than the file holds ("partial file") and decoding ends in a typed error, not a short video.
    @Test func truncatedVideoIsATypedError() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let url = folder.file("cut.mp4")
        try writePattern(url, width: 128, height: 72, count: 12)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count * 2 / 3).write(to: url)
        let error = #expect(throws: MediaError.self) { try readAll(url) }
        #expect(error?.path == url.path)
    }

    /// Cancelling, dropping an unfinished writer, and finishing with no frames leave no file at all; a file
    /// already at the final name survives any of them untouched.
    @Test func abandonedWritersLeaveNothing() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let target = folder.file("keep.mp4")
        try Data("previous render".utf8).write(to: target)

        let cancelled = try VideoWriter(url: target, settings: try Self.settings())
        try cancelled.append(TestPattern.frame(0, width: 64, height: 36))
        #expect(try folder.contents().count == 2, "the temporary file exists beside the target while writing")
        cancelled.cancel()
        #expect(throws: MediaError.writerClosed(path: target.path)) { try cancelled.append(TestPattern.frame(1, width: 64, height: 36)) }
        #expect(throws: MediaError.writerClosed(path: target.path)) { try cancelled.finish() }

        do {
            let dropped = try VideoWriter(url: target, settings: try Self.settings())
            try dropped.append(TestPattern.frame(0, width: 64, height: 36))
        }

        let empty = try VideoWriter(url: target, settings: try Self.settings())
        #expect(throws: MediaError.self) { try empty.finish() }

        #expect(try folder.contents() == ["keep.mp4"])
        #expect(try Data(contentsOf: target) == Data("previous render".utf8))
    }
}
