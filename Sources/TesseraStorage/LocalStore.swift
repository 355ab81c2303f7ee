import Foundation

/// Objects as files under a root folder: the embedded default (`$TESSERA_HOME/objects`) and a stand-in for
/// S3 on one machine. A key's segments are folders (`renders/b7/job-42.mp4`). Writes go to a hidden
/// temporary file in the destination's folder and are renamed into place, so a reader sees either the old
/// object, the whole new one, or nothing. Keys are `ObjectKey`s (no `..`, no leading `/`), and the resolved
/// folder is checked to lie under the root, so a symbolic link inside the root cannot lead a write out.
public struct LocalStore: ObjectStore {
    public let root: URL

    /// Names of in-progress writes; never listed, never valid as a key's segment here.
    static let partialMarker = ".tessera-partial-"

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw StorageError.file(path: root.path, message: "cannot create the object folder: \(error.localizedDescription)")
        }
    }

    @discardableResult
    public func put(file: URL, key: ObjectKey, contentType: String?, progress: (@Sendable (TransferProgress) throws -> Void)?) throws -> ObjectInfo {
        let destination = try path(for: key, creatingFolders: true)
        let source = try SourceFile(path: file.path)
        let partial = try PartialFile(beside: destination)
        defer { partial.discard() }
        try copy(from: source.descriptor, to: partial.descriptor, path: file.path)
        try progress?(TransferProgress(bytesDone: source.size, totalBytes: source.size, partsDone: 1, partCount: 1))
        try partial.commit()
        return try head(key: key) ?? ObjectInfo(key: key, size: source.size)
    }

    public func head(key: ObjectKey) throws -> ObjectInfo? {
        let file = try path(for: key, creatingFolders: false)
        var info = stat()
        guard stat(file.path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw StorageError.file(path: file.path, message: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        return ObjectInfo(key: key, size: Int64(info.st_size), lastModified: Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec)))
    }

    @discardableResult
    public func get(key: ObjectKey, to file: URL) throws -> ObjectInfo {
        let sourcePath = try path(for: key, creatingFolders: false)
        guard let info = try head(key: key) else { throw StorageError.notFound(key: key.rawValue) }
        let source = try SourceFile(path: sourcePath.path)
        let partial = try PartialFile(beside: file)
        defer { partial.discard() }
        try copy(from: source.descriptor, to: partial.descriptor, path: sourcePath.path)
        try partial.commit()
        return info
    }

    public func delete(key: ObjectKey) throws {
        let file = try path(for: key, creatingFolders: false)
        guard unlink(file.path) == 0 || errno == ENOENT || errno == ENOTDIR else {
            throw StorageError.file(path: file.path, message: String(cString: strerror(errno)))
        }
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        let rootPath = root.resolvingSymlinksInPath().path
        var objects: [ObjectInfo] = []
        for case let url as URL in walker {
            guard !url.lastPathComponent.contains(Self.partialMarker),
                (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
            else { continue }
            let full = url.resolvingSymlinksInPath().path
            guard full.hasPrefix(rootPath + "/") else { continue }
            let relative = String(full.dropFirst(rootPath.count + 1))
            guard relative.hasPrefix(prefix), let key = try? ObjectKey(relative), let info = try head(key: key) else { continue }
            objects.append(info)
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func url(for key: ObjectKey) -> URL {
        root.appendingPathComponent(key.rawValue)
    }

    /// The file for a key, after checking that its folder resolves to a place under the root.
    func path(for key: ObjectKey, creatingFolders: Bool) throws -> URL {
        if key.segments.contains(where: { $0.contains(Self.partialMarker) }) {
            throw StorageError.invalidKey(key: key.rawValue, reason: "\"\(Self.partialMarker)\" is reserved for writes in progress")
        }
        let file = root.appendingPathComponent(key.rawValue)
        let folder = file.deletingLastPathComponent()
        if creatingFolders {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw StorageError.file(path: folder.path, message: "cannot create the folder: \(error.localizedDescription)")
            }
        }
        // A folder that does not exist holds nothing to read and nothing to escape through.
        if !creatingFolders && !FileManager.default.fileExists(atPath: folder.path) { return file }
        let resolvedRoot = root.resolvingSymlinksInPath().path
        let resolvedFolder = folder.resolvingSymlinksInPath().path
        guard resolvedFolder == resolvedRoot || resolvedFolder.hasPrefix(resolvedRoot + "/") else {
            throw StorageError.invalidKey(key: key.rawValue, reason: "resolves outside the store's folder")
        }
        return file
    }

    /// Copies a whole file through a 1 MiB buffer.
    private func copy(from source: Int32, to destination: Int32, path: String) throws {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var offset: off_t = 0
        while true {
            let count = pread(source, buffer, size, offset)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw StorageError.file(path: path, message: String(cString: strerror(errno))) }
            if count == 0 { return }
            var done = 0
            while done < count {
                let written = write(destination, buffer + done, count - done)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw StorageError.file(path: path, message: "cannot write: \(String(cString: strerror(errno)))") }
                done += written
            }
            offset += off_t(count)
        }
    }
}
