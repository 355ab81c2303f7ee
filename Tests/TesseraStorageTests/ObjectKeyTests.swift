import Testing

@testable import TesseraStorage

@Suite struct ObjectKeyTests {
    @Test(arguments: [
        "renders/job-1.mp4", "a", "batch 7/job 42.mp4", "日本語/🎬 clip.mp4", "a/b/c/d/e.bin", "dots.are.fine/..x/x..",
        "~tilde/ünïcödé", "percent%20stays/literal+plus",
    ])
    func validKeys(_ raw: String) throws {
        let key = try ObjectKey(raw)
        #expect(key.rawValue == raw)
    }

    @Test(arguments: [
        ("", "empty"), ("/abs", "starts with a slash"), ("dir/", "ends with a slash"), ("a//b", "empty segment"),
        ("../etc/passwd", "\"..\" segment"), ("a/../../b", "\"..\" segment"), ("a/./b", "\".\" segment"), ("..", "\"..\" segment"),
        ("new\nline", "U+A"), ("tab\there", "U+9"), ("nul\u{0}", "U+0"), ("del\u{7F}", "U+7F"), ("c1\u{85}", "U+85"),
        ("back\\slash", "U+5C"), ("esc\u{1B}[0m", "U+1B"),
    ])
    func invalidKeys(_ raw: String, _ reason: String) {
        #expect {
            _ = try ObjectKey(raw)
        } throws: { error in
            guard case StorageError.invalidKey(_, let why) = error else { return false }
            return why.contains(reason)
        }
    }

    @Test func lengthLimitIsInBytes() throws {
        _ = try ObjectKey(String(repeating: "a", count: 1024))
        #expect(throws: StorageError.self) { _ = try ObjectKey(String(repeating: "a", count: 1025)) }
        // 342 × 3 bytes = 1026 bytes though only 342 characters.
        #expect(throws: StorageError.self) { _ = try ObjectKey(String(repeating: "語", count: 342)) }
    }

    @Test func segmentsMayNotHideSlashes() throws {
        #expect(try ObjectKey(segments: ["renders", "batch 7", "job.mp4"]).rawValue == "renders/batch 7/job.mp4")
        #expect(throws: StorageError.self) { _ = try ObjectKey(segments: ["renders", "../x", "job.mp4"]) }
        #expect(throws: StorageError.self) { _ = try ObjectKey(segments: ["renders", "..", "job.mp4"]) }
    }

    @Test(arguments: [
        ("batch/../name", "batch_.._name"), ("..", "_"), (".", "_"), ("", "_"), ("line\nbreak\u{7}", "line_break_"),
        ("back\\slash", "back_slash"), ("🎬 fine text", "🎬 fine text"),
    ])
    func freeTextBecomesOneSafeSegment(_ text: String, _ expected: String) throws {
        let segment = ObjectKey.segment(text)
        #expect(segment == expected)
        _ = try ObjectKey(segments: ["renders", segment])
    }

    @Test func segmentIsCutAtACharacterBoundary() {
        let segment = ObjectKey.segment(String(repeating: "語", count: 100), maxBytes: 10)
        #expect(segment == "語語語")
    }

    @Test func pathIsEncodedSegmentBySegment() throws {
        #expect(try ObjectKey("a b/c+d/é/x~y_z-1.mp4").percentEncodedPath == "a%20b/c%2Bd/%C3%A9/x~y_z-1.mp4")
        #expect(try ObjectKey("100%/q?x=1#frag").percentEncodedPath == "100%25/q%3Fx%3D1%23frag")
    }

    @Test func decodingUndoesEncoding() throws {
        for raw in ["a b/c+d/é/🎬", "100%/q?x=1#frag&y"] {
            let key = try ObjectKey(raw)
            #expect(ObjectKey.percentDecode(key.percentEncodedPath) == raw)
        }
        #expect(ObjectKey.percentDecode("bad%zz") == nil)
        #expect(ObjectKey.percentDecode("trunc%4") == nil)
    }
}
