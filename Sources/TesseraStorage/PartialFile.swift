import Foundation

/// A file being written (a download, a local put): a hidden temporary file in the destination's folder,
/// renamed onto the destination only when complete, so the rename is atomic and nothing partial shows.
final class PartialFile {
    let destination: URL
    let path: String
    let descriptor: Int32
    private var committed = false

    init(beside destination: URL) throws {
        self.destination = destination
        let folder = destination.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var template = Array(folder.appendingPathComponent(".\(destination.lastPathComponent).tessera-partial-XXXXXX").path.utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw StorageError.file(path: folder.path, message: "cannot create a temporary file: \(String(cString: strerror(errno)))") }
        // mkstemp creates 0600; a stored object (a video someone will open, a download) is a normal 0644 file.
        _ = fchmod(fd, 0o644)
        descriptor = fd
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Empties the file for another try.
    func restart() throws {
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw StorageError.file(path: path, message: String(cString: strerror(errno)))
        }
    }

    func size() throws -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw StorageError.file(path: path, message: String(cString: strerror(errno))) }
        return Int64(info.st_size)
    }

    /// Flushes the data and renames the file onto the destination.
    func commit() throws {
        guard fsync(descriptor) == 0, rename(path, destination.path) == 0 else {
            throw StorageError.file(path: destination.path, message: String(cString: strerror(errno)))
        }
        committed = true
    }

    /// Closes the file and removes it unless it was committed.
    func discard() {
        close(descriptor)
        if !committed { unlink(path) }
    }
}
