/// Everything that can go wrong in video and image input and output. libav failures keep libav's own message
/// and the file they concern; nothing on these paths traps.
public enum MediaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A libav call failed: what Tessera was doing, the file, libav's return code and its message (with the
    /// last line libav logged, when it said more).
    case libav(operation: String, path: String, code: Int32, message: String)
    /// Settings that cannot be encoded (odd size for yuv420p, CRF out of range, unknown preset, ...).
    case invalidSettings(String)
    /// A frame that does not fit the writer (wrong size or buffer length).
    case invalidFrame(String)
    /// A file-system step around libav failed (creating, renaming, removing a file).
    case io(operation: String, path: String, message: String)
    /// The file opened, but holds no video or image stream.
    case noVideoStream(path: String)
    /// The writer was used after `finish()` or `cancel()`.
    case writerClosed(path: String)
    /// The linked libav lacks an encoder or format Tessera needs (for example libx264).
    case missingComponent(String)

    public var description: String {
        switch self {
        case .libav(let operation, let path, let code, let message): "\(operation) \(path): \(message) [libav \(code)]"
        case .invalidSettings(let text): "invalid video settings: \(text)"
        case .invalidFrame(let text): "invalid frame: \(text)"
        case .io(let operation, let path, let message): "\(operation) \(path): \(message)"
        case .noVideoStream(let path): "\(path): no video stream"
        case .writerClosed(let path): "\(path): the writer is already finished or cancelled"
        case .missingComponent(let name): "the linked libav has no \(name)"
        }
    }

    /// The file the error concerns, when there is one.
    public var path: String? {
        switch self {
        case .libav(_, let path, _, _), .io(_, let path, _), .noVideoStream(let path), .writerClosed(let path): path
        default: nil
        }
    }
}
