import Foundation

/// One bad line of an enqueue file.
public struct LineError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// Why an enqueue file was rejected. Nothing is enqueued when any line is bad.
public enum EnqueueFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case invalidLines([LineError])

    public var description: String {
        switch self {
        case .empty: return "the input holds no prompts"
        case .invalidLines(let errors):
            let noun = errors.count == 1 ? "line is" : "lines are"
            return "\(errors.count) \(noun) invalid; nothing was enqueued:\n"
                + errors.map { "  \($0)" }.joined(separator: "\n")
        }
    }
}

/// Reads an enqueue file: plain text (one prompt a line) or JSON Lines (one object a line with a
/// `prompt` and optional per-job fields). The whole file is checked and every bad line reported.
public struct EnqueueParser: Sendable {
    /// How to read the lines.
    public enum Format: String, Sendable, CaseIterable {
        /// JSON Lines when the first line starts with `{`, plain text otherwise.
        case auto
        case text
        case jsonl
    }

    /// The JSON Lines fields, in the order `--help` lists them.
    public static let fields = [
        "prompt", "seed", "orientation", "duration", "fps", "steps", "guidance", "refine_strength",
        "prototype_only", "priority", "max_attempts",
    ]

    /// A line longer than this many bytes is refused before it is parsed.
    public static let maxLineBytes = 64 * 1024

    public var format: Format
    /// Where seeds come from when a line gives none.
    public var seedSource: @Sendable () -> Int64

    public init(format: Format = .auto, seedSource: @escaping @Sendable () -> Int64 = { Int64.random(in: 0...Int64(UInt32.max)) }) {
        self.format = format
        self.seedSource = seedSource
    }

    /// Parses the bytes of a whole file into job specs (`both` orientation gives two specs for one line).
    public func parse(_ data: [UInt8]) throws(EnqueueFileError) -> [JobSpec] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }  // the newline that ends the last line
        if lines.isEmpty { throw .empty }
        let firstByte = lines[0].first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        let json: Bool
        switch format {
        case .auto: json = firstByte == UInt8(ascii: "{")
        case .text: json = false
        case .jsonl: json = true
        }
        var specs: [JobSpec] = []
        var errors: [LineError] = []
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            var bytes = rawLine
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            do {
                guard bytes.count <= Self.maxLineBytes else {
                    throw LineError(line: number, message: "line is \(bytes.count) bytes, over the \(Self.maxLineBytes)-byte limit")
                }
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw LineError(line: number, message: "not valid UTF-8")
                }
                specs += try json ? parseJSON(text, line: number) : [try spec(prompt: text, line: number)]
            } catch let error as LineError {
                errors.append(error)
            } catch {
                errors.append(LineError(line: number, message: "\(error)"))
            }
        }
        if !errors.isEmpty { throw .invalidLines(errors) }
        return specs
    }

    private func spec(prompt: String, line: Int) throws -> JobSpec {
        try checkPrompt(prompt, line: line)
        return JobSpec(line: line, prompt: prompt, seed: seedSource())
    }

    private func checkPrompt(_ prompt: String, line: Int) throws {
        if prompt.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) {
            throw LineError(line: line, message: "empty prompt")
        }
        let length = prompt.unicodeScalars.count
        if length > JobSpec.Defaults.maxPromptLength {
            throw LineError(line: line, message: "prompt is \(length) characters, over the \(JobSpec.Defaults.maxPromptLength)-character limit")
        }
        if prompt.unicodeScalars.contains("\u{0}") {
            throw LineError(line: line, message: "prompt contains a NUL character, which PostgreSQL text cannot store")
        }
    }

    private func parseJSON(_ text: String, line: Int) throws -> [JobSpec] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw LineError(line: line, message: "broken JSON: \(Self.describe(error))")
        }
        guard case .object(let object) = value else {
            throw LineError(line: line, message: "expected a JSON object with a \"prompt\" field")
        }
        var problems: [String] = []
        let unknown = object.keys.filter { !Self.fields.contains($0) }.sorted()
        if !unknown.isEmpty {
            problems.append("unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) (known: \(Self.fields.joined(separator: ", ")))")
        }
        var fields = FieldReader(object: object)
        let prompt = fields.string("prompt", required: true)
        let seed = fields.integer("seed", in: 0...Int64.max)
        let orientationText = fields.string("orientation", required: false)
        let duration = fields.number("duration", in: JobSpec.Defaults.durationRange)
        let fps = fields.integer("fps", in: Int64(JobSpec.Defaults.fpsRange.lowerBound)...Int64(JobSpec.Defaults.fpsRange.upperBound))
        let steps = fields.integer("steps", in: Int64(JobSpec.Defaults.stepsRange.lowerBound)...Int64(JobSpec.Defaults.stepsRange.upperBound))
        let guidance = fields.number("guidance", in: JobSpec.Defaults.guidanceRange)
        let strength = fields.number("refine_strength", in: 0...1)
        let prototypeOnly = fields.bool("prototype_only")
        let priority = fields.integer("priority", in: Int64(JobSpec.Defaults.priorityRange.lowerBound)...Int64(JobSpec.Defaults.priorityRange.upperBound))
        let attempts = fields.integer("max_attempts", in: Int64(JobSpec.Defaults.maxAttemptsRange.lowerBound)...Int64(JobSpec.Defaults.maxAttemptsRange.upperBound))
        problems += fields.problems
        var orientations: [JobSpec.Orientation] = [.landscape]
        if let orientationText {
            switch orientationText {
            case "landscape": orientations = [.landscape]
            case "portrait": orientations = [.portrait]
            case "both": orientations = [.landscape, .portrait]
            default: problems.append("orientation \"\(orientationText)\" is not landscape, portrait or both")
            }
        }
        if let prompt {
            do { try checkPrompt(prompt, line: line) } catch let error as LineError { problems.append(error.message) }
        }
        if !problems.isEmpty { throw LineError(line: line, message: problems.joined(separator: "; ")) }
        let resolvedSeed = seed ?? seedSource()
        return orientations.map { orientation in
            JobSpec(
                line: line, prompt: prompt!, seed: resolvedSeed, orientation: orientation,
                duration: duration ?? JobSpec.Defaults.duration, fps: fps.map(Int.init) ?? JobSpec.Defaults.fps,
                steps: steps.map(Int.init) ?? JobSpec.Defaults.steps, guidance: guidance ?? JobSpec.Defaults.guidance,
                refineStrength: strength ?? JobSpec.Defaults.refineStrength, prototypeOnly: prototypeOnly ?? false,
                priority: priority.map(Int.init) ?? JobSpec.Defaults.priority,
                maxAttempts: attempts.map(Int.init) ?? JobSpec.Defaults.maxAttempts)
        }
    }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as NSError?,
                let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String
            {
                return detail
            }
            return context.debugDescription
        }
        return "\(error)"
    }
}

/// Reads typed fields from a JSON object, collecting every problem instead of stopping at the first.
private struct FieldReader {
    let object: [String: JSONValue]
    var problems: [String] = []

    mutating func string(_ name: String, required: Bool) -> String? {
        guard let value = object[name], value != .null else {
            if required { problems.append("missing \"\(name)\"") }
            return nil
        }
        guard case .string(let text) = value else {
            problems.append("\"\(name)\" must be a string")
            return nil
        }
        return text
    }

    mutating func integer(_ name: String, in range: ClosedRange<Int64>) -> Int64? {
        guard let value = object[name], value != .null else { return nil }
        guard case .number(let number) = value, number == number.rounded(), abs(number) < 9.2e18 else {
            problems.append("\"\(name)\" must be an integer")
            return nil
        }
        let integer = Int64(number)
        guard range.contains(integer) else {
            problems.append("\(name) \(integer) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return integer
    }

    mutating func number(_ name: String, in range: ClosedRange<Double>) -> Double? {
        guard let value = object[name], value != .null else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            problems.append("\"\(name)\" must be a number")
            return nil
        }
        guard range.contains(number) else {
            problems.append("\(name) \(number.formatted()) is out of range \(range.lowerBound.formatted())...\(range.upperBound.formatted())")
            return nil
        }
        return number
    }

    mutating func bool(_ name: String) -> Bool? {
        guard let value = object[name], value != .null else { return nil }
        guard case .bool(let flag) = value else {
            problems.append("\"\(name)\" must be true or false")
            return nil
        }
        return flag
    }
}

extension Double {
    fileprivate func formatted() -> String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}

/// A JSON value, decoded strictly: booleans are never numbers and numbers are never strings.
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
