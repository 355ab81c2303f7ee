/// A small 5×7 pixel font for captions on contact sheets, drawn without any font library. Upper-case letters,
/// digits and common punctuation; lower case is drawn as upper case and anything else as "?".
public enum BitmapFont {
    /// Glyph cell size in font pixels; characters advance by `glyphWidth + 1`, lines by `glyphHeight + 2`.
    public static let glyphWidth = 5
    public static let glyphHeight = 7

    /// Each glyph as seven rows of five pixels ("#" ink, "." paper), rows separated by "/".
    private static let art: [Character: String] = [
        "A": ".###./#...#/#...#/#####/#...#/#...#/#...#", "B": "####./#...#/#...#/####./#...#/#...#/####.",
        "C": ".###./#...#/#..../#..../#..../#...#/.###.", "D": "####./#...#/#...#/#...#/#...#/#...#/####.",
        "E": "#####/#..../#..../####./#..../#..../#####", "F": "#####/#..../#..../####./#..../#..../#....",
        "G": ".###./#...#/#..../#.###/#...#/#...#/.####", "H": "#...#/#...#/#...#/#####/#...#/#...#/#...#",
        "I": ".###./..#../..#../..#../..#../..#../.###.", "J": "..###/...#./...#./...#./...#./#..#./.##..",
        "K": "#...#/#..#./#.#../##.../#.#../#..#./#...#", "L": "#..../#..../#..../#..../#..../#..../#####",
        "M": "#...#/##.##/#.#.#/#.#.#/#...#/#...#/#...#", "N": "#...#/#...#/##..#/#.#.#/#..##/#...#/#...#",
        "O": ".###./#...#/#...#/#...#/#...#/#...#/.###.", "P": "####./#...#/#...#/####./#..../#..../#....",
        "Q": ".###./#...#/#...#/#...#/#.#.#/#..#./.##.#", "R": "####./#...#/#...#/####./#.#../#..#./#...#",
        "S": ".####/#..../#..../.###./....#/....#/####.", "T": "#####/..#../..#../..#../..#../..#../..#..",
        "U": "#...#/#...#/#...#/#...#/#...#/#...#/.###.", "V": "#...#/#...#/#...#/#...#/#...#/.#.#./..#..",
        "W": "#...#/#...#/#...#/#.#.#/#.#.#/#.#.#/.#.#.", "X": "#...#/#...#/.#.#./..#../.#.#./#...#/#...#",
        "Y": "#...#/#...#/.#.#./..#../..#../..#../..#..", "Z": "#####/....#/...#./..#../.#.../#..../#####",
        "0": ".###./#...#/#..##/#.#.#/##..#/#...#/.###.", "1": "..#../.##../..#../..#../..#../..#../.###.",
        "2": ".###./#...#/....#/...#./..#../.#.../#####", "3": "####./....#/....#/.###./....#/....#/####.",
        "4": "...#./..##./.#.#./#..#./#####/...#./...#.", "5": "#####/#..../####./....#/....#/#...#/.###.",
        "6": "..##./.#.../#..../####./#...#/#...#/.###.", "7": "#####/....#/...#./..#../.#.../.#.../.#...",
        "8": ".###./#...#/#...#/.###./#...#/#...#/.###.", "9": ".###./#...#/#...#/.####/....#/...#./.##..",
        " ": "...../...../...../...../...../...../.....", ".": "...../...../...../...../...../.##../.##..",
        ",": "...../...../...../...../.##../..#../.#...", ":": "...../.##../.##../...../.##../.##../.....",
        ";": "...../.##../.##../...../.##../..#../.#...", "!": "..#../..#../..#../..#../..#../...../..#..",
        "?": ".###./#...#/....#/...#./..#../...../..#..", "-": "...../...../...../#####/...../...../.....",
        "_": "...../...../...../...../...../...../#####", "+": "...../..#../..#../#####/..#../..#../.....",
        "=": "...../...../#####/...../#####/...../.....", "/": "....#/....#/...#./..#../.#.../#..../#....",
        "(": "...#./..#../.#.../.#.../.#.../..#../...#.", ")": ".#.../..#../...#./...#./...#./..#../.#...",
        "'": "..#../..#../...../...../...../...../.....", "\"": ".#.#./.#.#./...../...../...../...../.....",
        "#": ".#.#./.#.#./#####/.#.#./#####/.#.#./.#.#.", "%": "##..#/##..#/...#./..#../.#.../#..##/#..##",
        "&": ".##../#..#./#.#../.#.../#.#.#/#..#./.##.#", "*": "...../..#../#.#.#/.###./#.#.#/..#../.....",
        "<": "...#./..#../.#.../#..../.#.../..#../...#.", ">": ".#.../..#../...#./....#/...#./..#../.#...",
        "@": ".###./#...#/#.###/#.#.#/#.###/#..../.####", "[": ".###./.#.../.#.../.#.../.#.../.#.../.###.",
        "]": ".###./...#./...#./...#./...#./...#./.###.", "|": "..#../..#../..#../..#../..#../..#../..#..",
    ]

    /// Glyph rows as bit masks, bit 4 the leftmost pixel.
    private static let glyphs: [Character: [UInt8]] = art.mapValues { text in
        text.split(separator: "/").map { row in row.reduce(UInt8(0)) { $0 << 1 | ($1 == "#" ? 1 : 0) } }
    }

    /// The rows of a character's glyph (bit 4 = leftmost pixel), after upper-casing; "?" when there is none.
    public static func glyph(for character: Character) -> [UInt8] {
        let upper = Character(character.uppercased())
        return glyphs[upper] ?? glyphs[character] ?? glyphs["?"] ?? []
    }

    /// The characters the font draws as themselves (lower case aside).
    public static var characters: Set<Character> { Set(glyphs.keys) }

    /// Width in pixels of `text` drawn at `scale` (no trailing gap).
    public static func width(of text: String, scale: Int = 1) -> Int {
        text.isEmpty ? 0 : (text.count * (glyphWidth + 1) - 1) * scale
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel a `scale`×`scale` square; pixels
    /// outside the frame are skipped.
    public static func draw(
        _ text: String, into frame: inout RGBFrame, x: Int, y: Int, scale: Int = 1, color: (red: UInt8, green: UInt8, blue: UInt8) = (255, 255, 255)
    ) {
        let scale = max(scale, 1)
        let width = frame.width, height = frame.height
        frame.pixels.withUnsafeMutableBufferPointer { pixels in
            for (index, character) in text.enumerated() {
                let left = x + index * (glyphWidth + 1) * scale
                if left >= width { break }
                for (row, bits) in glyph(for: character).enumerated() {
                    for column in 0..<glyphWidth where bits & (0x10 >> UInt8(column)) != 0 {
                        for dy in 0..<scale {
                            let py = y + row * scale + dy
                            guard py >= 0, py < height else { continue }
                            for dx in 0..<scale {
                                let px = left + column * scale + dx
                                guard px >= 0, px < width else { continue }
                                let i = 3 * (py * width + px)
                                pixels[i] = color.red
                                pixels[i + 1] = color.green
                                pixels[i + 2] = color.blue
                            }
                        }
                    }
                }
            }
        }
    }
}
