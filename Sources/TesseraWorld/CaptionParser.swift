// Reads captions and short prompts back into facts (docs/WORLD.md, "Parsing"). One reader serves the
// evaluator (which parses the captions the world writes, in every phrasing) and the prompt expander (which
// parses what people type, with synonyms and gaps). It is a small state machine over the lexemes of
// Lexicon.swift: adjectives wait for their noun, places are positions after "in/on/at/from" and directions
// after "to" or right after a motion word, and a motion word applies to the objects named since the last one.

/// An object as a caption or prompt names it; attributes the text leaves out are nil.
public struct ParsedObject: Sendable, Equatable, Codable {
    public var colour: ObjectColour?
    public var shape: Shape?
    public var size: SizeClass?
    public var region: Region?
    public var motion: MotionKind?
    public var direction: Direction?

    /// An object with nothing known yet.
    public init() {}

    /// The motion as a class: nil when there is none, or "moving" without a direction.
    public var motionClass: MotionClass? {
        switch motion {
        case .still: .still
        case .falling: .falling
        case .bouncing: .bouncing
        case .moving: direction.map { .moving($0) }
        case nil: nil
        }
    }

    /// The attributes the caption fact can hold.
    public var fact: CaptionFacts.Object {
        CaptionFacts.Object(colour: colour, shape: shape, size: size, region: region, motion: motionClass)
    }
}

/// A parsed caption or prompt.
public struct ParsedCaption: Sendable, Equatable, Codable {
    public var objects: [ParsedObject] = []
    public var background: Background?
    public var framing: Framing?
    public var events: [CaptionFacts.Event] = []
    /// Words that carried meaning the world cannot show ("spinning", "gray" for an object), for reports.
    public var ignored: [String] = []

    /// As caption facts.
    public var facts: CaptionFacts {
        CaptionFacts(objects: objects.map(\.fact), background: background, framing: framing, events: events)
    }
}

/// Captions and prompts → `ParsedCaption`.
public enum CaptionParser {
    /// Reads `text`; never fails: what it does not understand is left out (and listed in `ignored`).
    public static func parse(_ text: String) -> ParsedCaption {
        var state = ParserState()
        let lexemes = Lexicon.lexemes(text)
        for index in lexemes.indices {
            state.read(lexemes, at: index)
        }
        state.endSentence()
        return state.result()
    }
}

/// Everything the parser remembers between lexemes.
struct ParserState {
    var objects: [ParsedObject] = []
    var ignored: [String] = []
    var framing: Framing?
    var events: [CaptionFacts.Event] = []

    // Waiting for a noun.
    var pendingColour: ColourTerm?
    var pendingSize: SizeClass?
    var pendingCount: Int?
    var pendingDefinite = false
    var pendingRegion: Region?

    /// Objects named since the last motion word: the next motion word is theirs.
    var group: [Int] = []
    /// The last object named (created or referred to).
    var current: Int?
    /// The objects the last motion word went to: a direction after it is theirs.
    var motionTargets: [Int] = []
    var afterMotion = false
    var preposition: String?

    // Background: colours with the place named after each ("at the top").
    var backgroundColours: [(colour: BackgroundColour, place: Region?)] = []
    var backgroundContext = false
    /// Just after a background colour: "at the top" / "at the bottom" says where in the gradient it is.
    var backgroundPlaceOpen = false
    var cameraContext = false

    // This sentence: objects in the order named, and events with how many objects preceded them.
    var sentenceObjects: [Int] = []
    var sentenceEvents: [(lexeme: Lexeme, position: Int)] = []

    mutating func read(_ lexemes: [Lexeme], at index: Int) {
        let lexeme = lexemes[index]
        var keepsMotion = false
        var keepsPreposition = false
        let placeWasOpen = backgroundPlaceOpen
        backgroundPlaceOpen = false
        switch lexeme {
        case .separator(let mark):
            pendingColour = nil
            pendingSize = nil
            pendingCount = nil
            pendingDefinite = false
            if mark != ":" { backgroundContext = false }
            if mark == "." { endSentence() }
        case .colour(let term):
            readColour(term, lexemes, index)
        case .size(let size):
            pendingSize = size
        case .count(let count):
            pendingCount = count
            keepsPreposition = true
        case .definite:
            pendingDefinite = true
            keepsMotion = true
            keepsPreposition = true
            backgroundPlaceOpen = placeWasOpen
        case .indefinite:
            pendingDefinite = false
            keepsPreposition = true
        case .shape(let shape, let plural):
            readNoun(shape, plural: plural)
        case .place(let region, let directional):
            readPlace(region, directional: directional, afterBackgroundColour: placeWasOpen)
        case .motion(let kind, let direction):
            if !cameraContext { readMotion(kind, direction) }
            keepsMotion = !cameraContext
        case .backgroundNoun(let implied):
            backgroundContext = true
            if let implied, backgroundColours.isEmpty { backgroundColours.append((implied, nil)) }
        case .gradient:
            backgroundContext = true
        case .framing(let value):
            framing = value
        case .camera:
            cameraContext = true
        case .collide, .inFrontOf, .behind:
            sentenceEvents.append((lexeme, sentenceObjects.count))
        case .preposition(let word):
            preposition = word
            backgroundPlaceOpen = placeWasOpen && word == "at"
            keepsMotion = afterMotion
            keepsPreposition = true
        case .other(let word):
            keepsMotion = afterMotion
            keepsPreposition = true
            if !Self.fillers.contains(word) && !ignored.contains(word) { ignored.append(word) }
        }
        if !keepsMotion { afterMotion = false }
        if !keepsPreposition { preposition = nil }
    }

    /// Words that carry no meaning the world could show.
    static let fillers: Set<String> = [
        "and", "while", "then", "with", "its", "it", "is", "are", "of", "each", "other", "around", "across", "frame",
        "screen", "view", "picture", "image", "video", "clip", "slowly", "quickly", "gently", "steadily", "fast",
        "slow", "along", "through", "way", "side", "corner", "over", "under", "off", "walls", "wall", "objects",
        "shapes", "things", "there", "that", "which", "where", "as", "by", "for", "all", "this", "far", "edge",
        "about", "again", "repeatedly", "colored", "coloured", "solid", "plain", "flat", "simple", "lands", "onto",
    ]

    /// A colour word belongs to the noun it stands before: a shape (object colour) or a background word;
    /// with neither, to the background being described, else to the object just named.
    mutating func readColour(_ term: ColourTerm, _ lexemes: [Lexeme], _ index: Int) {
        var j = index + 1
        scan: while j < lexemes.count {
            switch lexemes[j] {
            case .colour, .size, .preposition("to"): j += 1
            default: break scan
            }
        }
        let next = j < lexemes.count ? lexemes[j] : nil
        let beforeShape: Bool
        let beforeBackground: Bool
        switch next {
        case .shape?: (beforeShape, beforeBackground) = (true, false)
        case .backgroundNoun?, .gradient?: (beforeShape, beforeBackground) = (false, true)
        default: (beforeShape, beforeBackground) = (false, false)
        }
        if beforeShape {
            if term.objectColour == nil { ignored.append(term.rawValue) }
            pendingColour = term
        } else if beforeBackground || backgroundContext {
            if let colour = term.backgroundColour {
                backgroundColours.append((colour, nil))
                backgroundPlaceOpen = true
            } else {
                ignored.append(term.rawValue)
            }
        } else if let current, objects[current].colour == nil, let colour = term.objectColour {
            objects[current].colour = colour
        } else {
            ignored.append(term.rawValue)
        }
    }

    /// A shape noun: a reference to a named object after "the", otherwise one or more new objects.
    mutating func readNoun(_ shape: Shape?, plural: Bool) {
        let count = pendingCount ?? (plural ? 2 : 1)
        let colour = pendingColour?.objectColour
        defer {
            pendingColour = nil
            pendingSize = nil
            pendingCount = nil
            pendingDefinite = false
        }
        if pendingDefinite && count == 1 {
            let matches = objects.indices.filter { i in
                (colour == nil || objects[i].colour == colour) && (shape == nil || objects[i].shape == shape)
                    && (pendingSize == nil || objects[i].size == pendingSize)
            }
            if matches.count == 1 {
                current = matches[0]
                sentenceObjects.append(matches[0])
                return
            }
        }
        for _ in 0..<max(1, min(count, 3)) {
            var object = ParsedObject()
            object.colour = colour
            object.shape = shape
            object.size = pendingSize
            object.region = pendingRegion
            objects.append(object)
            group.append(objects.count - 1)
            sentenceObjects.append(objects.count - 1)
            current = objects.count - 1
        }
        pendingRegion = nil
    }

    /// A place is a direction after "to" or straight after a motion word, a gradient's end in a background
    /// description, and otherwise where an object is.
    mutating func readPlace(_ region: Region, directional: Bool, afterBackgroundColour: Bool) {
        if afterBackgroundColour, !directional, region == .top || region == .bottom, let last = backgroundColours.indices.last {
            backgroundColours[last].place = region
            return
        }
        if directional || preposition == "to" || (preposition == nil && afterMotion) {
            guard let direction = region.direction else { return }
            let targets = motionTargets.isEmpty ? (current.map { [$0] } ?? []) : motionTargets
            for target in targets where objects[target].direction == nil {
                switch objects[target].motion {
                case nil, .moving?:
                    objects[target].motion = .moving
                    objects[target].direction = direction
                default:
                    break
                }
            }
            return
        }
        if let current, sentenceObjects.contains(current), objects[current].region == nil {
            objects[current].region = region
        } else {
            pendingRegion = region
        }
    }

    mutating func readMotion(_ kind: MotionKind, _ direction: Direction?) {
        var targets = group.filter { objects[$0].motion == nil }
        if targets.isEmpty, let current, objects[current].motion == nil { targets = [current] }
        for target in targets {
            objects[target].motion = kind
            objects[target].direction = direction
        }
        motionTargets = targets
        group = []
        afterMotion = true
    }

    /// Turns the sentence's event words into events between the objects named around them.
    mutating func endSentence() {
        let named = sentenceObjects
        for (lexeme, position) in sentenceEvents {
            var event: CaptionFacts.Event?
            switch lexeme {
            case .collide where named.count >= 2:
                let pair = position >= 2 ? (named[position - 2], named[position - 1]) : (named[0], named[1])
                event = CaptionFacts.Event(.collision, min(pair.0, pair.1), max(pair.0, pair.1))
            case .inFrontOf where position >= 1 && position < named.count:
                event = CaptionFacts.Event(.occlusion, named[position - 1], named[position])
            case .behind where position >= 1 && position < named.count:
                event = CaptionFacts.Event(.occlusion, named[position], named[position - 1])
            default:
                break
            }
            if let event, event.first != event.second, !events.contains(event) { events.append(event) }
        }
        sentenceObjects = []
        sentenceEvents = []
        cameraContext = false
        backgroundContext = false
    }

    func result() -> ParsedCaption {
        var parsed = ParsedCaption()
        parsed.objects = objects
        parsed.framing = framing
        parsed.events = events
        parsed.ignored = ignored
        if let first = backgroundColours.first {
            if backgroundColours.count >= 2 {
                let second = backgroundColours[1]
                let reversed = first.place == .bottom || second.place == .top
                parsed.background = reversed
                    ? Background(top: second.colour, bottom: first.colour) : Background(top: first.colour, bottom: second.colour)
            } else {
                parsed.background = Background(first.colour)
            }
        }
        return parsed
    }
}
