import Foundation

/// A file written under a temporary name beside its final one, and renamed into place only once complete:
/// an error, a full disk or a crash never leaves a truncated file under the final name. The temporary name
/// is hidden (leading dot) and unique per writer, in the same directory so the rename is atomic.
struct PartialFile {
    let finalPath: String
    let temporaryPath: String

    init(final url: URL) {
        let directory = url.deletingLastPathComponent().path
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        finalPath = url.path
        temporaryPath = (directory as NSString).appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(random)")
    }

    /// Moves the finished file to its final name, replacing any file there.
    func commit() throws {
        guard rename(temporaryPath, finalPath) == 0 else {
            let message = String(cString: strerror(errno))
            discard()
            throw MediaError.io(operation: "rename \(temporaryPath) to", path: finalPath, message: message)
        }
    }

    /// Removes the temporary file (if it exists).
    func discard() { unlink(temporaryPath) }

    /// Writes `bytes` to the temporary file and commits it; on any error the temporary file is removed.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MediaError.io(operation: "create", path: finalPath, message: String(cString: strerror(errno))) }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                discard()
                throw MediaError.io(operation: "write", path: finalPath, message: message)
            }
            offset += written
        }
        guard close(fd) == 0 else {
            let message = String(cString: strerror(errno))
            discard()
            throw MediaError.io(operation: "close", path: finalPath, message: message)
        }
        try commit()
    }
}
