import Foundation
import Testing
@testable import TesseraModels

/// The tokenizer's rules on a hand-made vocabulary (no model needed), then the real vocabulary against the
/// reference tokenizer's ids for the whole golden corpus.
@Suite struct WordPieceTests {
    static let vocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "a", "cafe", "naive", "中", "文", ",",
        "!", "'", "s", "it", "##s", "ball", "red", "$", "5", "##a", "b",
    ]
    let tokenizer = try! WordPieceTokenizer(vocabulary: WordPieceTests.vocabulary)

    func pieces(_ text: String) -> [String] {
        tokenizer.pieceIDs(text).map { Self.vocabulary[$0] }
    }

    @Test func greedyLongestMatchWithContinuations() {
        #expect(pieces("unaffable") == ["un", "##aff", "##able"])
        #expect(pieces("its it's") == ["it", "##s", "it", "'", "s"])
        #expect(pieces("unaffablez") == ["[UNK]"], "an unmatched remainder makes the whole word unknown")
        #expect(pieces(String(repeating: "a", count: 100)) == ["a"] + Array(repeating: "##a", count: 99))
        #expect(pieces(String(repeating: "a", count: 101)) == ["[UNK]"], "over 100 scalars")
    }

    @Test func lowerCasesAndStripsAccents() {
        #expect(pieces("CAFÉ Naïve") == ["cafe", "naive"])
        #expect(pieces("Cafe\u{301}") == ["cafe"], "a decomposed accent is stripped too")
        #expect(pieces("RED BALL!") == ["red", "ball", "!"])
    }

    @Test func splitsPunctuationAndCJK() {
        #expect(pieces("red,ball!") == ["red", ",", "ball", "!"])
        #expect(pieces("$5") == ["$", "5"], "ASCII symbols count as punctuation")
        #expect(pieces("a中文b") == ["a", "中", "文", "b"])
    }

    @Test func whitespaceAndControlCharacters() {
        #expect(pieces("  red\tball\nred\u{00A0}ball\u{3000}") == ["red", "ball", "red", "ball"])
        #expect(pieces("re\u{200B}d ba\u{0}ll b\u{7}a\u{FFFD}ll") == ["red", "ball", "ball"], "controls and format characters vanish")
        #expect(pieces("") == [] && pieces(" \n\t ") == [])
    }

    @Test func specialTokensOnlyVerbatim() {
        #expect(pieces("red[MASK]ball [SEP]") == ["red", "[MASK]", "ball", "[SEP]"])
        #expect(pieces("[mask]") == ["[UNK]", "[UNK]", "[UNK]"], "[ and ] are not in this vocabulary; mask is not either")
    }

    @Test func addsClassAndSeparatorAndReportsTruncation() {
        let short = tokenizer.encode("red ball", maxLength: 8)
        #expect(short.ids == [2, 20, 19, 3] && !short.truncated)
        let cut = tokenizer.encode("red ball red ball", maxLength: 4)
        #expect(cut.ids == [2, 20, 19, 3] && cut.truncated && cut.pieceCount == 4)
        let exact = tokenizer.encode("red ball", maxLength: 4)
        #expect(exact.ids == [2, 20, 19, 3] && !exact.truncated)
        #expect(tokenizer.encode("", maxLength: 256).ids == [2, 3])
    }

    @Test func aVocabularyWithoutItsSpecialTokensIsRefused() {
        #expect(throws: TextEncoderError.self) { try WordPieceTokenizer(vocabulary: ["a", "b"]) }
    }

    /// Every corpus text (punctuation, accents, CJK, hangul, emoji, controls, special tokens, an over-long text,
    /// the empty string) gives exactly the reference tokenizer's ids and truncation flag.
    @Test(.enabled(if: InstalledTextEncoder.shouldRun, "needs models/all-MiniLM-L6-v2 (make setup) or TESSERA_TEXT_ENCODER"))
    func corpusMatchesTheReferenceTokenizer() throws {
        let real = try WordPieceTokenizer(vocabularyFile: InstalledTextEncoder.folder.appendingPathComponent("vocab.txt"))
        let corpus = try MiniLMGolden.corpus(), expected = try MiniLMGolden.tokens()
        try #require(corpus.count == expected.count)
        for (text, record) in zip(corpus, expected) {
            let encoding = real.encode(text, maxLength: TextEncoder.defaultMaxLength)
            #expect(encoding.ids == record.ids, "\(text.debugDescription): reference \(record.pieces)")
            #expect(encoding.truncated == record.truncated, "\(text.debugDescription)")
        }
        #expect(expected.contains { $0.truncated && $0.ids.count == TextEncoder.defaultMaxLength }, "the corpus holds an over-long text")
    }
}
