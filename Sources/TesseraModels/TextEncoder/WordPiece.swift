import Foundation

/// BERT's uncased tokenizer, written from the behaviour of the model's own tokenizer (`tokenizer.json`:
/// `BertNormalizer` with lower-casing, `BertPreTokenizer`, `WordPiece` with `##` continuations, a
/// `[CLS] … [SEP]` template). docs/ENGINE.md, "Text encoder", lists the rules; the golden corpus checks them.
///
/// Everything works on Unicode scalars (what the reference calls characters), never on grapheme clusters.
public struct WordPieceTokenizer: Sendable {
    /// Special tokens matched verbatim in the raw text before any normalization, as the reference's added
    /// vocabulary does (`[MASK]` is one token, `[mask]` is three).
    public static let specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    /// Words longer than this many scalars become `[UNK]` whole (the reference's `max_input_chars_per_word`).
    public static let maxCharactersPerWord = 100

    /// Token → id; the id is the token's line number in `vocab.txt`.
    public let ids: [String: Int]
    public let unknownID: Int
    public let classID: Int
    public let separatorID: Int
    /// The special tokens this vocabulary holds, as scalar arrays for matching.
    let specials: [([Unicode.Scalar], Int)]

    /// The ids of one text: `[CLS] pieces… [SEP]`, cut to a maximum length.
    public struct Encoding: Sendable, Equatable {
        public var ids: [Int]
        /// Whether word pieces were dropped to fit the maximum length.
        public var truncated: Bool
        /// Word pieces before truncation (without `[CLS]` and `[SEP]`).
        public var pieceCount: Int
    }

    /// A tokenizer over a vocabulary given in id order.
    public init(vocabulary: [String]) throws {
        var ids: [String: Int] = [:]
        for (id, token) in vocabulary.enumerated() where ids[token] == nil { ids[token] = id }
        guard let unknown = ids["[UNK]"], let cls = ids["[CLS]"], let sep = ids["[SEP]"] else {
            throw TextEncoderError.badVocabulary("the vocabulary of \(vocabulary.count) tokens lacks [UNK], [CLS] or [SEP]")
        }
        self.ids = ids
        unknownID = unknown
        classID = cls
        separatorID = sep
        specials = Self.specialTokens.compactMap { token in ids[token].map { (Array(token.unicodeScalars), $0) } }
    }

    /// Reads `vocab.txt`: one token per line, the line number is the id.
    public init(vocabularyFile: URL) throws {
        guard let data = FileManager.default.contents(atPath: vocabularyFile.path) else {
            throw TextEncoderError.missingFile(vocabularyFile.path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TextEncoderError.corruptFile(vocabularyFile.path, "not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0.hasSuffix("\r") ? $0.dropLast() : $0)
        }
        if lines.last == "" { lines.removeLast() }
        do { try self.init(vocabulary: lines) } catch TextEncoderError.badVocabulary(let reason) {
            throw TextEncoderError.corruptFile(vocabularyFile.path, reason)
        }
    }

    /// `[CLS]`, the word pieces of `text` (the first `maxLength − 2` of them), `[SEP]`.
    public func encode(_ text: String, maxLength: Int) -> Encoding {
        precondition(maxLength >= 2, "maxLength \(maxLength) leaves no room for [CLS] and [SEP]")
        let pieces = pieceIDs(text)
        let kept = pieces.prefix(maxLength - 2)
        return Encoding(ids: [classID] + kept + [separatorID], truncated: kept.count < pieces.count, pieceCount: pieces.count)
    }

    /// The word-piece ids of `text`, without `[CLS]`/`[SEP]` and without truncation.
    public func pieceIDs(_ text: String) -> [Int] {
        var out: [Int] = []
        for segment in splitOnSpecialTokens(Array(text.unicodeScalars)) {
            switch segment {
            case .special(let id): out.append(id)
            case .text(let scalars):
                for word in Self.words(Self.normalize(scalars)) { out += wordPieces(word) }
            }
        }
        return out
    }

    enum Segment: Equatable {
        case text([Unicode.Scalar])
        case special(Int)
    }

    /// Cuts the raw text around verbatim special tokens.
    func splitOnSpecialTokens(_ scalars: [Unicode.Scalar]) -> [Segment] {
        var segments: [Segment] = []
        var start = 0, i = 0
        scan: while i < scalars.count {
            if scalars[i] == "[" {
                for (token, id) in specials where scalars[i...].starts(with: token) {
                    if start < i { segments.append(.text(Array(scalars[start..<i]))) }
                    segments.append(.special(id))
                    i += token.count
                    start = i
                    continue scan
                }
            }
            i += 1
        }
        if start < scalars.count { segments.append(.text(Array(scalars[start...]))) }
        return segments
    }

    /// The normalizer, in the reference's order: drop NUL, U+FFFD and control/format/private-use scalars
    /// (tab, newline and carriage return count as whitespace), turn whitespace into spaces, put spaces around
    /// CJK ideographs, decompose (NFD) and drop non-spacing marks, lower-case scalar by scalar.
    static func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for scalar in scalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJK(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        let decomposed = String(cleaned).decomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(decomposed.unicodeScalars.count)
        for scalar in decomposed.unicodeScalars where scalar.properties.generalCategory != .nonspacingMark {
            if scalar.properties.changesWhenLowercased {
                out += scalar.properties.lowercaseMapping.unicodeScalars
            } else {
                out.append(scalar)
            }
        }
        return out
    }

    /// Splits normalized text into words: whitespace separates, each punctuation scalar is a word of its own.
    static func words(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in scalars {
            if isWhitespace(scalar) {
                if !current.isEmpty { words.append(current) }
                current = []
            } else if isPunctuation(scalar) {
                if !current.isEmpty { words.append(current) }
                words.append([scalar])
                current = []
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest-match-first: the longest vocabulary prefix, then `##`-prefixed continuations; a word
    /// with any unmatched remainder, or over `maxCharactersPerWord` scalars, is one `[UNK]`.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int] {
        guard word.count <= Self.maxCharactersPerWord else { return [unknownID] }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while start < end {
                var candidate = start > 0 ? "##" : ""
                candidate.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = ids[candidate] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    // MARK: character classes

    /// Tab, newline, carriage return and every scalar with the Unicode White_Space property.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// General categories Cc, Cf, Co (Cs cannot occur in a Swift string), except tab, newline and carriage
    /// return. Unassigned scalars (Cn) are kept, as the reference keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation (which includes symbols such as `$ + < = > ^ \` | ~`) and Unicode categories P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK ideograph blocks the reference splits on, exactly as it lists them (its range for extension
    /// E starts at U+2B920; hiragana, katakana and hangul are not among them).
    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}
