// Caption sentences from caption facts, in several phrasings (docs/WORLD.md, "Caption grammar"). The words
// are few and always the same — the ones in Vocabulary.swift — so the text encoder sees one consistent
// language; the phrasings vary only the sentence shapes and a few verbs, as re-captioned training data does.

/// The sentence shapes a caption can take.
public enum Phrasing: Int, Sendable, Codable, CaseIterable {
    /// "A large red circle in the center bounces on a light blue background, while ... Close-up, static camera."
    case prose
    /// "On a light blue background, a large red circle in the center bounces. ... The camera is static: a close-up."
    case backgroundFirst
    /// "Background: light blue. Objects: a large red circle in the center, bouncing; ... Camera: static close-up."
    case list
}

extension Captioner {
    /// The caption of `facts` in every phrasing, in `Phrasing` order.
    public static func captions(_ facts: CaptionFacts) -> [String] {
        Phrasing.allCases.map { caption(facts, phrasing: $0) }
    }

    /// The caption of `facts` in one phrasing. Training uses all of them; prompt expansion uses `.prose`.
    public static func caption(_ facts: CaptionFacts, phrasing: Phrasing = .prose) -> String {
        let objects = facts.objects
        var sentences: [String] = []
        switch phrasing {
        case .prose:
            let clauses = objects.map { clause($0, phrasing) }
            let subject = clauses.isEmpty ? "an empty frame" : clauses[0]
            let others = Array(clauses.dropFirst())
            let background = facts.background.map { " on " + backgroundPhrase($0, phrasing) } ?? ""
            let moving = objects.contains { $0.motion != nil }
            if moving || others.isEmpty {
                var sentence = subject + background
                if !others.isEmpty { sentence += ", while " + list(others) }
                sentences.append(sentence)
            } else {
                sentences.append(list(clauses) + background)
            }
        case .backgroundFirst:
            let opening = facts.background.map { "on " + backgroundPhrase($0, phrasing) } ?? ""
            let clauses = objects.map { clause($0, phrasing) }
            if objects.contains(where: { $0.motion != nil }) {
                for (i, text) in clauses.enumerated() {
                    sentences.append(i == 0 && !opening.isEmpty ? opening + ", " + text : text)
                }
            } else {
                sentences.append([opening, list(clauses)].filter { !$0.isEmpty }.joined(separator: ": "))
            }
        case .list:
            if let background = facts.background { sentences.append("background: " + backgroundPhrase(background, phrasing)) }
            if !objects.isEmpty { sentences.append("objects: " + objects.map { clause($0, phrasing) }.joined(separator: "; ")) }
        }
        for event in facts.events where objects.indices.contains(event.first) && objects.indices.contains(event.second) {
            sentences.append(eventSentence(event, objects, phrasing))
        }
        if let framing = facts.framing {
            switch phrasing {
            case .prose: sentences.append("\(framing.rawValue), static camera")
            case .backgroundFirst: sentences.append("the camera is static: a \(framing.rawValue)")
            case .list: sentences.append("camera: static \(framing.rawValue)")
            }
        }
        return sentences.map { capitalized($0) + "." }.joined(separator: " ")
    }

    /// "a large red circle in the center bounces" (or "..., bouncing" in a list).
    static func clause(_ object: CaptionFacts.Object, _ phrasing: Phrasing) -> String {
        var words = [withArticle(object.label)]
        if let region = object.region { words.append(region.phrase) }
        var text = words.joined(separator: " ")
        if let motion = object.motion {
            text += (phrasing == .list ? ", " : " ") + verb(motion, phrasing)
        }
        return text
    }

    /// The motion words of one phrasing.
    static func verb(_ motion: MotionClass, _ phrasing: Phrasing) -> String {
        switch (motion, phrasing) {
        case (.still, .prose): "stays still"
        case (.still, .backgroundFirst): "rests"
        case (.still, .list): "staying still"
        case (.moving(let d), .prose): "drifts " + d.phrase
        case (.moving(let d), .backgroundFirst): "moves " + d.phrase
        case (.moving(let d), .list): "moving " + d.phrase
        case (.falling, .prose): "falls"
        case (.falling, .backgroundFirst): "drops"
        case (.falling, .list): "falling"
        case (.bouncing, .prose): "bounces"
        case (.bouncing, .backgroundFirst): "bounces around"
        case (.bouncing, .list): "bouncing"
        }
    }

    static func backgroundPhrase(_ background: Background, _ phrasing: Phrasing) -> String {
        let top = background.top.word, bottom = background.bottom.word
        switch phrasing {
        case .prose:
            return background.isGradient
                ? "a gradient background from \(top) at the top to \(bottom) at the bottom" : withArticle("\(top) background")
        case .backgroundFirst:
            return background.isGradient ? withArticle("\(top) to \(bottom) gradient background") : withArticle("\(top) background")
        case .list:
            return background.isGradient ? "gradient from \(top) at the top to \(bottom) at the bottom" : top
        }
    }

    static func eventSentence(_ event: CaptionFacts.Event, _ objects: [CaptionFacts.Object], _ phrasing: Phrasing) -> String {
        let a = reference(event.first, objects), b = reference(event.second, objects)
        switch (event.kind, phrasing) {
        case (.collision, .prose): return "\(a) and \(b) collide"
        case (.collision, .backgroundFirst): return "\(a) and \(b) bump into each other"
        case (.collision, .list): return "\(a) and \(b) bounce off each other"
        case (.occlusion, .prose): return "\(a) passes in front of \(b)"
        case (.occlusion, .backgroundFirst): return "\(b) passes behind \(a)"
        case (.occlusion, .list): return "\(a) crosses in front of \(b)"
        }
    }

    /// "the red circle": colour and shape name an object uniquely in a sampled scene; when a prompt asked for
    /// two alike, the size is added ("the small yellow star").
    static func reference(_ index: Int, _ objects: [CaptionFacts.Object]) -> String {
        let object = objects[index]
        let alike = objects.filter { $0.colour == object.colour && $0.shape == object.shape }.count > 1
        return "the " + [alike ? object.size?.word : nil, object.colour?.word, object.shape?.word ?? "object"]
            .compactMap { $0 }.joined(separator: " ")
    }

    /// "a red circle", "an orange star".
    static func withArticle(_ phrase: String) -> String {
        let vowel = phrase.first.map { "aeiou".contains($0) } ?? false
        return (vowel ? "an " : "a ") + phrase
    }

    /// "a, b and c".
    static func list(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    static func capitalized(_ text: String) -> String {
        text.prefix(1).uppercased() + text.dropFirst()
    }
}
