// The words the caption parser and the prompt expander understand (docs/WORLD.md, "Synonyms"): the world's
// own vocabulary plus the synonyms a person might type. Captions the world writes use only the canonical
// words; prompts may use any of these.

/// Colour words before they are read as an object's or a background's colour.
public enum ColourTerm: String, Sendable, Codable, CaseIterable {
    case red, orange, yellow, green, blue, purple, pink, white, black
    case gray, lightGray, darkGray, lightBlue, darkBlue, beige, paleGreen

    /// The object colour this word means, if objects come in it.
    public var objectColour: ObjectColour? {
        switch self {
        case .red: .red
        case .orange: .orange
        case .yellow: .yellow
        case .green, .paleGreen: .green
        case .blue, .lightBlue, .darkBlue: .blue
        case .purple: .purple
        case .pink: .pink
        case .white, .lightGray: .white
        case .black, .darkGray: .black
        case .gray, .beige: nil
        }
    }

    /// The background colour this word means, if backgrounds come in it.
    public var backgroundColour: BackgroundColour? {
        switch self {
        case .white: .white
        case .black: .black
        case .gray, .lightGray: .lightGray
        case .darkGray: .darkGray
        case .blue, .lightBlue: .lightBlue
        case .darkBlue: .darkBlue
        case .beige, .yellow: .beige
        case .green, .paleGreen: .paleGreen
        case .red, .orange, .purple, .pink: nil
        }
    }
}

/// How a motion word reads, before a direction is attached.
public enum MotionKind: String, Sendable, Codable, CaseIterable {
    case still, moving, falling, bouncing
}

/// One recognised word or phrase.
enum Lexeme: Equatable {
    case colour(ColourTerm)
    case size(SizeClass)
    /// A shape noun (nil: "object", "shape"); plural nouns ask for two or more objects.
    case shape(Shape?, plural: Bool)
    /// A place; `directional` words ("up", "leftward") can only be directions of motion.
    case place(Region, directional: Bool)
    /// A motion word; "rising" and "sinking" carry their direction.
    case motion(MotionKind, Direction?)
    /// "background", "backdrop", "floor", ... with the colour some of them imply ("sky": light blue).
    case backgroundNoun(BackgroundColour?)
    case gradient
    case framing(Framing)
    /// Words about the camera: motion words after them describe the camera, which never moves.
    case camera
    case collide
    case inFrontOf
    case behind
    case preposition(String)
    case definite
    case indefinite
    case count(Int)
    case separator(Character)
    case other(String)
}

enum Lexicon {
    /// Phrase (lower-case words joined by single spaces) → meaning.
    static let entries: [String: Lexeme] = {
        var table: [String: Lexeme] = [:]
        func add(_ words: [String], _ lexeme: Lexeme) { for w in words { table[w] = lexeme } }

        add(["red", "crimson", "scarlet", "cherry", "ruby"], .colour(.red))
        add(["orange", "amber", "tangerine"], .colour(.orange))
        add(["yellow", "gold", "golden", "lemon"], .colour(.yellow))
        add(["green", "emerald", "lime", "jade"], .colour(.green))
        add(["blue", "cobalt", "azure", "royal blue", "sapphire"], .colour(.blue))
        add(["purple", "violet", "lavender", "indigo", "plum"], .colour(.purple))
        add(["pink", "magenta", "rose", "hot pink", "fuchsia"], .colour(.pink))
        add(["white", "snowy", "ivory", "snow white"], .colour(.white))
        add(["black", "jet black", "ebony", "pitch black"], .colour(.black))
        add(["gray", "grey", "silver"], .colour(.gray))
        add(["light gray", "light grey", "pale gray", "pale grey"], .colour(.lightGray))
        add(["dark gray", "dark grey", "charcoal", "slate"], .colour(.darkGray))
        add(["light blue", "sky blue", "pale blue", "baby blue"], .colour(.lightBlue))
        add(["dark blue", "navy", "navy blue", "midnight blue", "deep blue"], .colour(.darkBlue))
        add(["beige", "cream", "tan", "sandy", "khaki"], .colour(.beige))
        add(["pale green", "light green", "mint", "mint green"], .colour(.paleGreen))

        add(["small", "little", "tiny", "mini", "smaller"], .size(.small))
        add(["medium", "medium sized", "mid sized", "average sized", "mid size"], .size(.medium))
        add(["large", "big", "huge", "giant", "enormous", "massive", "bigger", "larger"], .size(.large))

        add(["circle", "ball", "disc", "disk", "sphere", "dot", "orb", "bubble"], .shape(.circle, plural: false))
        add(["circles", "balls", "discs", "disks", "spheres", "dots", "orbs", "bubbles"], .shape(.circle, plural: true))
        add(["square", "box", "cube", "block", "tile", "crate"], .shape(.square, plural: false))
        add(["squares", "boxes", "cubes", "blocks", "tiles", "crates"], .shape(.square, plural: true))
        add(["triangle", "pyramid", "wedge"], .shape(.triangle, plural: false))
        add(["triangles", "pyramids", "wedges"], .shape(.triangle, plural: true))
        add(["star", "starfish"], .shape(.star, plural: false))
        add(["stars"], .shape(.star, plural: true))
        add(["diamond", "rhombus", "lozenge", "gem"], .shape(.diamond, plural: false))
        add(["diamonds", "rhombuses", "gems"], .shape(.diamond, plural: true))
        add(["object", "shape", "thing", "something"], .shape(nil, plural: false))

        add(["top left", "upper left", "top left corner", "upper left corner"], .place(.topLeft, directional: false))
        add(["top right", "upper right", "top right corner", "upper right corner"], .place(.topRight, directional: false))
        add(["bottom left", "lower left", "bottom left corner", "lower left corner"], .place(.bottomLeft, directional: false))
        add(["bottom right", "lower right", "bottom right corner", "lower right corner"], .place(.bottomRight, directional: false))
        add(["top", "upper part", "top edge"], .place(.top, directional: false))
        add(["bottom", "lower part", "bottom edge"], .place(.bottom, directional: false))
        add(["left", "left side", "left edge"], .place(.left, directional: false))
        add(["right", "right side", "right edge"], .place(.right, directional: false))
        add(["center", "centre", "middle"], .place(.center, directional: false))
        add(["up", "upward", "upwards"], .place(.top, directional: true))
        add(["down", "downward", "downwards"], .place(.bottom, directional: true))
        add(["leftward", "leftwards", "from right to left", "right to left"], .place(.left, directional: true))
        add(["rightward", "rightwards", "from left to right", "left to right"], .place(.right, directional: true))
        add(["up and to the left", "up and left", "up to the left"], .place(.topLeft, directional: true))
        add(["up and to the right", "up and right", "up to the right"], .place(.topRight, directional: true))
        add(["down and to the left", "down and left", "down to the left"], .place(.bottomLeft, directional: true))
        add(["down and to the right", "down and right", "down to the right"], .place(.bottomRight, directional: true))

        add(["still", "stays still", "staying still", "stay still", "sits still", "sitting still", "rests", "resting",
             "rest", "stationary", "motionless", "static", "idle", "sits", "sitting", "at rest", "does not move",
             "not moving", "unmoving", "standing still", "stands still", "hovering", "hovers", "in place", "stays in place",
             "staying in place"], .motion(.still, nil))
        add(["drifts", "drifting", "drift", "moves", "moving", "move", "slides", "sliding", "slide", "glides",
             "gliding", "glide", "heads", "heading", "head", "rolls", "rolling", "roll", "travels", "travelling",
             "traveling", "flies", "flying", "floats", "floating", "goes", "going", "runs", "running", "scrolls",
             "scrolling", "shifts", "shifting", "crosses", "crossing", "passes", "passing", "zooms", "zooming",
             "races", "racing", "speeds", "speeding", "flows", "flowing"], .motion(.moving, nil))
        add(["rises", "rising", "rise", "ascends", "ascending", "climbs", "climbing", "lifts off", "floats up",
             "floating up"], .motion(.moving, .up))
        add(["sinks", "sinking", "sink", "descends", "descending", "slides down", "sliding down"], .motion(.moving, .down))
        add(["falls", "falling", "fall", "drops", "dropping", "drop", "plunges", "plunging", "tumbles", "tumbling",
             "plummets", "plummeting", "falls down", "falling down", "dropped", "falls and lands", "lands",
             "landing"], .motion(.falling, nil))
        add(["bounces", "bouncing", "bounce", "bounces around", "bouncing around", "hops", "hopping", "hop", "jumps",
             "jumping", "jump", "bouncy", "ricochets", "ricocheting", "rebounds", "rebounding", "bounds",
             "bounding"], .motion(.bouncing, nil))

        add(["background", "backdrop", "floor", "ground", "wall", "surface", "canvas"], .backgroundNoun(nil))
        add(["sky", "daytime sky", "blue sky"], .backgroundNoun(.lightBlue))
        add(["night sky", "night", "evening sky"], .backgroundNoun(.darkBlue))
        add(["space", "outer space", "darkness", "void"], .backgroundNoun(.black))
        add(["snow", "paper"], .backgroundNoun(.white))
        add(["grass", "meadow", "lawn", "field"], .backgroundNoun(.paleGreen))
        add(["sand", "beach", "desert"], .backgroundNoun(.beige))
        add(["gradient", "fade", "gradient background"], .gradient)

        add(["close up", "closeup", "zoomed in", "zoomed in view", "tight shot"], .framing(.closeUp))
        add(["medium shot", "mid shot", "medium view"], .framing(.mediumShot))
        add(["wide shot", "wide angle", "zoomed out", "long shot", "wide view", "far away", "from afar"],
            .framing(.wideShot))
        add(["camera", "static camera", "still camera", "fixed camera", "locked off camera", "shot"], .camera)

        add(["collide", "collides", "colliding", "collision", "bump into each other", "bumping into each other",
             "bump", "bumps", "bumping", "crash", "crashes", "crashing", "bounce off each other",
             "bouncing off each other", "bounce off one another", "hit each other", "hitting each other",
             "collide with each other", "colliding with each other", "smash into each other"], .collide)
        add(["in front of", "passes in front of", "passing in front of", "crosses in front of", "crossing in front of",
             "moves in front of"], .inFrontOf)
        add(["behind", "passes behind", "passing behind", "crosses behind", "crossing behind", "moves behind"], .behind)

        add(["in", "on", "at", "from", "near", "starting in", "starting at", "starting from", "starts in",
             "starts at", "starts from", "against", "inside"], .preposition("at"))
        add(["to", "toward", "towards", "into", "across to"], .preposition("to"))
        add(["the"], .definite)
        add(["a", "an", "another", "some"], .indefinite)
        add(["one", "1", "single", "a single", "lone", "a lone"], .count(1))
        add(["two", "2", "a pair of", "pair of", "both", "twin"], .count(2))
        add(["three", "3", "several", "a few", "few", "trio of", "a trio of"], .count(3))
        return table
    }()

    /// The longest phrase any entry has, in words.
    static let longestPhrase = entries.keys.map { $0.split(separator: " ").count }.max() ?? 1

    /// Lower-case words and separators: hyphens split words, apostrophes vanish, other punctuation is a space.
    static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var word = ""
        func flush() {
            if !word.isEmpty { tokens.append(word) }
            word = ""
        }
        for character in text.lowercased() {
            if character.isLetter || character.isNumber {
                word.append(character)
            } else if character == "'" || character == "’" {
                continue
            } else if ".,;:!?".contains(character) {
                flush()
                tokens.append(String(character))
            } else {
                flush()
            }
        }
        flush()
        return tokens
    }

    /// The text as lexemes, matching the longest known phrase at each position.
    static func lexemes(_ text: String) -> [Lexeme] {
        let words = tokens(text)
        var result: [Lexeme] = []
        var i = 0
        while i < words.count {
            if words[i].count == 1, let mark = words[i].first, ".,;:!?".contains(mark) {
                result.append(.separator(mark == "!" || mark == "?" ? "." : mark))
                i += 1
                continue
            }
            var matched = false
            for length in stride(from: min(longestPhrase, words.count - i), through: 1, by: -1) {
                let phrase = words[i..<(i + length)].joined(separator: " ")
                if let lexeme = entries[phrase] {
                    result.append(lexeme)
                    i += length
                    matched = true
                    break
                }
            }
            if !matched {
                result.append(.other(words[i]))
                i += 1
            }
        }
        return result
    }
}
