/// A frame rate as a rational number of frames per second, so that NTSC rates are exact: 24000/1001
/// ("23.976") frames last exactly 1001/24000 s each, and 24 of them last 1.001 s, not 1.00096 s.
public struct FrameRate: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// Frames, per `denominator` seconds. Reduced to lowest terms.
    public let numerator: Int
    /// Seconds, per `numerator` frames; positive.
    public let denominator: Int

    /// `numerator / denominator` frames per second. A non-positive rate is kept as given and refused by
    /// `VideoSettings` and `VideoReader` with a clear error.
    public init(_ numerator: Int, _ denominator: Int = 1) {
        var a = abs(numerator), b = abs(denominator)
        while b != 0 { (a, b) = (b, a % b) }
        let divisor = max(a, 1)
        let sign = denominator < 0 ? -1 : 1
        self.numerator = sign * numerator / divisor
        self.denominator = sign * denominator / divisor
    }

    public init(integerLiteral value: Int) { self.init(value, 1) }

    /// Parses "24", "30000/1001", or the usual decimal names of NTSC rates ("23.976", "29.97", "59.94").
    public init?(_ text: String) {
        let ntsc = ["23.976": 24000, "23.98": 24000, "29.97": 30000, "59.94": 60000]
        if let n = ntsc[text] { self.init(n, 1001); return }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let n = Int(parts[0]), let d = Int(parts[1]), n > 0, d > 0 { self.init(n, d); return }
        if parts.count == 1, let n = Int(parts[0]), n > 0 { self.init(n, 1); return }
        return nil
    }

    public static let fps24: FrameRate = 24
    public static let fps25: FrameRate = 25
    public static let fps30: FrameRate = 30
    /// 24000/1001, film slowed for NTSC, called 23.976.
    public static let ntsc24 = FrameRate(24000, 1001)
    /// 30000/1001, called 29.97.
    public static let ntsc30 = FrameRate(30000, 1001)

    /// Whether the rate can be encoded: positive, and small enough for libav's 32-bit rationals.
    public var isValid: Bool { numerator > 0 && denominator > 0 && numerator <= Int(Int32.max) && denominator <= Int(Int32.max) }

    /// Frames per second as a floating-point number (for display and timing only).
    public var framesPerSecond: Double { Double(numerator) / Double(denominator) }

    /// The duration of `frames` frames, in seconds.
    public func seconds(ofFrames frames: Int) -> Double { Double(frames) * Double(denominator) / Double(numerator) }

    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}
