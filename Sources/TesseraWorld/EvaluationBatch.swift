// The batch form of `tessera eval` (docs/WORLD.md, "Evaluator"): JSON Lines, one
// {"video": PATH, "caption": TEXT} object a line, with an optional "reference": PATH to compare against for
// PSNR. Paths are relative to the batch file's folder. The whole file is checked before anything is read,
// and every bad line is reported.

import Foundation

/// One line of a batch.
public struct EvaluationPair: Sendable, Equatable, Codable {
    public var line: Int
    public var video: URL
    public var caption: String
    public var reference: URL?

    /// A pair as given.
    public init(line: Int, video: URL, caption: String, reference: URL? = nil) {
        self.line = line
        self.video = video
        self.caption = caption
        self.reference = reference
    }
}

/// A batch that did not parse: every problem, by line.
public struct EvaluationBatchError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

/// Parses batch files for `tessera eval --batch`.
public enum EvaluationBatch {
    /// The fields a line may have.
    public static let fields: Set<String> = ["video", "caption", "reference"]

    /// Parses a batch file's bytes; `folder` anchors relative paths.
    public static func parse(_ data: Data, folder: URL) throws -> [EvaluationPair] {
        var pairs: [EvaluationPair] = []
        var problems: [String] = []
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (index, text) in lines.enumerated() {
            let line = index + 1
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                problems.append("line \(line): not a JSON object")
                continue
            }
            let unknown = Set(object.keys).subtracting(fields).sorted()
            if !unknown.isEmpty { problems.append("line \(line): unknown field(s) \(unknown.joined(separator: ", "))") }
            guard let video = object["video"] as? String, !video.isEmpty else {
                problems.append("line \(line): needs \"video\", a path")
                continue
            }
            guard let caption = object["caption"] as? String, !caption.trimmingCharacters(in: .whitespaces).isEmpty else {
                problems.append("line \(line): needs \"caption\", a non-empty text")
                continue
            }
            var reference: URL?
            if let path = object["reference"] {
                guard let path = path as? String, !path.isEmpty else {
                    problems.append("line \(line): \"reference\" must be a path")
                    continue
                }
                reference = resolve(path, folder)
            }
            let url = resolve(video, folder)
            if !FileManager.default.fileExists(atPath: url.path) { problems.append("line \(line): \(url.path) does not exist") }
            if let reference, !FileManager.default.fileExists(atPath: reference.path) {
                problems.append("line \(line): \(reference.path) does not exist")
            }
            pairs.append(EvaluationPair(line: line, video: url, caption: caption, reference: reference))
        }
        if pairs.isEmpty && problems.isEmpty { problems.append("the batch has no lines") }
        guard problems.isEmpty else { throw EvaluationBatchError(problems: problems) }
        return pairs
    }

    static func resolve(_ path: String, _ folder: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)
    }
}
