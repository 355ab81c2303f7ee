import Foundation
import Testing
import TesseraQueue

@Suite struct EnqueueParserTests {
    let parser = EnqueueParser(seedSource: { 42 })

    func parse(_ text: String, format: EnqueueParser.Format = .auto) throws(EnqueueFileError) -> [JobSpec] {
        try EnqueueParser(format: format, seedSource: { 42 }).parse(Array(text.utf8))
    }

    func lineErrors(_ bytes: [UInt8]) -> [LineError] {
        do {
            _ = try parser.parse(bytes)
            return []
        } catch {
            if case .invalidLines(let errors) = error { return errors }
            return [LineError(line: 0, message: "\(error)")]
        }
    }

    @Test func plainTextIsOnePromptPerLineWithDefaults() throws {
        let specs = try parse("a red ball\r\nblue square\n")
        #expect(specs.map(\.prompt) == ["a red ball", "blue square"])
        #expect(specs.map(\.line) == [1, 2])
        #expect(specs[0] == JobSpec(line: 1, prompt: "a red ball", seed: 42))
        #expect(specs[0].width == 1920 && specs[0].height == 1080)
    }

    @Test func jsonLinesCarryPerPromptSettings() throws {
        let specs = try parse("""
            {"prompt": "p1", "seed": 7, "orientation": "portrait", "duration": 0, "fps": 30, "steps": 12, "guidance": 3.5, "refine_strength": 0.4, "prototype_only": true, "priority": -5, "max_attempts": 2}
            {"prompt": "p2", "orientation": "both"}
            """)
        #expect(specs.count == 3)
        let first = specs[0]
        #expect(first.seed == 7 && first.orientation == .portrait && first.duration == 0 && first.fps == 30)
        #expect(first.steps == 12 && first.guidance == 3.5 && first.refineStrength == 0.4 && first.prototypeOnly)
        #expect(first.priority == -5 && first.maxAttempts == 2)
        #expect(first.width == 1080 && first.height == 1920)
        #expect(specs[1].orientation == .landscape && specs[2].orientation == .portrait)
        #expect(specs[1].line == 2 && specs[2].line == 2 && specs[1].seed == specs[2].seed)
    }

    @Test func everyBadLineIsReportedByNumber() throws {
        let long = String(repeating: "x", count: JobSpec.Defaults.maxPromptLength + 1)
        let text = [
            #"{"prompt": "fine"}"#,
            #"{"prompt": ""}"#,
            #"{"prompt": "\#(long)"}"#,
            #"{"prompt": "a", "colour": "red"}"#,
            #"{"prompt": "a", "orientation": "sideways"}"#,
            #"{"prompt": "a", "duration": 61}"#,
            #"{"prompt": "a", "fps": 0}"#,
            #"{"prompt": "a""#,
            #"{"prompt": "a", "seed": "7"}"#,
            #"{"seed": 1}"#,
            #"{"prompt": "ok again", "fps": 24}"#,
        ].joined(separator: "\n")
        var bytes = Array(text.utf8)
        bytes += Array("\n{\"prompt\": \"bad ".utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)  // invalid UTF-8
        let errors = lineErrors(bytes)
        #expect(errors.map(\.line) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 12])
        let messages = errors.map(\.message)
        try #require(messages.count == 10)
        #expect(messages[0].contains("empty prompt"))
        #expect(messages[1].contains("over the 2000-character limit"))
        #expect(messages[2].contains("unknown field \"colour\""))
        #expect(messages[3].contains("orientation \"sideways\""))
        #expect(messages[4].contains("duration 61 is out of range"))
        #expect(messages[5].contains("fps 0 is out of range"))
        #expect(messages[6].contains("broken JSON"))
        #expect(messages[7].contains("\"seed\" must be an integer"))
        #expect(messages[8].contains("missing \"prompt\""))
        #expect(messages[9].contains("not valid UTF-8"))
    }

    @Test func plainTextRejectsEmptyLinesAndNUL() {
        let errors = lineErrors(Array("one\n\n   \nfour\u{0}x\n".utf8))
        #expect(errors.map(\.line) == [2, 3, 4])
        #expect(errors[2].message.contains("NUL"))
    }

    @Test func emptyInputIsAnError() {
        #expect(throws: EnqueueFileError.empty) { try parse("") }
    }

    @Test func quotesSQLAndControlCharactersAreKeptVerbatim() throws {
        let prompts = ["it's \"quoted\"", "'); DROP TABLE tessera.jobs; --", "tab\there \u{1B}[31mred\u{7}", "emoji 🎬 and 日本語"]
        let specs = try parse(prompts.joined(separator: "\n"), format: .text)
        #expect(specs.map(\.prompt) == prompts)
    }

    @Test func errorMessageListsEveryLine() {
        let error = EnqueueFileError.invalidLines([LineError(line: 3, message: "empty prompt"), LineError(line: 9, message: "x")])
        #expect(error.description.contains("line 3: empty prompt"))
        #expect(error.description.contains("line 9: x"))
        #expect(error.description.contains("nothing was enqueued"))
    }
}
