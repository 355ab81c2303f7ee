/// A validated object key: the name of an object inside a store, such as `renders/batch 7/job-42.mp4`.
///
/// Keys are built from job data (batch names, prompts), so they are checked before any store sees them:
/// no empty, `.` or `..` segment (a local store would leave its root; a URL would be normalised into
/// another key), no leading or trailing `/`, no control characters or backslashes, at most 1,024 bytes of
/// UTF-8 (the S3 limit). Spaces, unicode and slashes between segments are fine. For URLs, each segment is
/// percent-encoded on its own (`percentEncodedPath`), which is also the path SigV4 signs.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The key as stored, segments joined by `/`.
    public let rawValue: String

    /// The S3 limit on a key's length, in UTF-8 bytes.
    public static let maxBytes = 1024

    /// Validates `rawValue` as a whole key.
    public init(_ rawValue: String) throws {
        if let reason = Self.problem(rawValue) { throw StorageError.invalidKey(key: rawValue, reason: reason) }
        self.rawValue = rawValue
    }

    /// Joins segments with `/`, each validated as one segment (a `/` inside a segment is an error, so a
    /// batch name cannot add folders). Use `ObjectKey.segment(_:)` first for free text.
    public init(segments: [String]) throws {
        for segment in segments where segment.contains("/") {
            throw StorageError.invalidKey(key: segments.joined(separator: "/"), reason: "segment \"\(segment)\" contains a slash")
        }
        try self.init(segments.joined(separator: "/"))
    }

    /// The segments between slashes.
    public var segments: [Substring] { rawValue.split(separator: "/", omittingEmptySubsequences: false) }

    /// The last segment (a file name).
    public var name: Substring { segments.last ?? "" }

    /// Each segment percent-encoded (RFC 3986 unreserved characters kept), joined by `/`.
    public var percentEncodedPath: String { segments.map { Self.percentEncode(String($0)) }.joined(separator: "/") }

    public var description: String { rawValue }

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool { Array(a.rawValue.utf8).lexicographicallyPrecedes(b.rawValue.utf8) }

    /// Turns free text (a batch name, a prompt) into one safe segment: control characters, slashes and
    /// backslashes become `_`, a segment of only dots becomes `_`, and it is cut to `maxBytes` UTF-8 bytes
    /// at a character boundary. Never empty.
    public static func segment(_ text: String, maxBytes: Int = 200) -> String {
        var result = ""
        var bytes = 0
        for character in text {
            let safe: Character = character.unicodeScalars.contains(where: isForbidden) || character == "/" ? "_" : character
            let size = String(safe).utf8.count
            if bytes + size > maxBytes { break }
            result.append(safe)
            bytes += size
        }
        if result.isEmpty || result.allSatisfy({ $0 == "." }) { return "_" }
        return result
    }

    /// Why `key` is not a valid key, or nil.
    static func problem(_ key: String) -> String? {
        if key.isEmpty { return "empty key" }
        if key.utf8.count > maxBytes { return "longer than \(maxBytes) bytes" }
        if let scalar = key.unicodeScalars.first(where: isForbidden) {
            return "contains the character U+\(String(scalar.value, radix: 16, uppercase: true)), which keys may not hold"
        }
        if key.hasPrefix("/") { return "starts with a slash" }
        if key.hasSuffix("/") { return "ends with a slash" }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { return "has an empty segment (//)" }
            if segment == "." || segment == ".." { return "has a \"\(segment)\" segment" }
        }
        return nil
    }

    /// Control characters (C0, DEL, C1) and the backslash, which some tools read as a path separator.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\\"
    }

    /// Percent-encodes every byte outside RFC 3986's unreserved set (A–Z a–z 0–9 - . _ ~), upper-case hex,
    /// as SigV4 requires for paths and query strings.
    static func percentEncode(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result.append("%")
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 15)])
            }
        }
        return result
    }

    /// Undoes percent-encoding (for keys in listings asked with `encoding-type=url`); nil if malformed.
    static func percentDecode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
