import Foundation
import TesseraStorage

/// A temporary folder removed when the value is dropped.
final class Scratch {
    let url: URL

    init(_ label: String = "storage") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A file of `size` deterministic pseudo-random bytes (different for each seed).
    func file(_ name: String, size: Int, seed: UInt64 = 1) throws -> URL {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[i] = state
            }
        }
        for i in (size / 8 * 8)..<size { bytes[i] = UInt8(truncatingIfNeeded: i) }
        let url = self.url.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Whether two files hold the same bytes.
func sameBytes(_ a: URL, _ b: URL) throws -> Bool {
    try Data(contentsOf: a) == Data(contentsOf: b)
}

/// Files in a folder tree, relative paths, hidden ones included.
func allFiles(under root: URL) -> [String] {
    let walker = FileManager.default.enumerator(atPath: root.path)
    var files: [String] = []
    while let path = walker?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(path)
        }
    }
    return files.sorted()
}
