/// The settings of one job as an operator asked for it: validated, with defaults filled in.
public struct JobSpec: Sendable, Equatable, Codable {
    /// The output orientation. `both` in an enqueue file becomes two jobs.
    public enum Orientation: String, Sendable, Codable, CaseIterable {
        case landscape, portrait
    }

    /// Line number in the enqueue file (1-based).
    public var line: Int
    public var prompt: String
    public var seed: Int64
    public var orientation: Orientation
    /// Seconds of video; 0 means a single frame (an image).
    public var duration: Double
    public var fps: Int
    public var steps: Int
    public var guidance: Double
    /// How far the full-resolution pass re-noises the upsampled prototype (SDEdit strength, 0...1).
    public var refineStrength: Double
    /// Stop after the prototype pass (operators approve chosen prototypes for the full pass).
    public var prototypeOnly: Bool
    /// Higher runs first.
    public var priority: Int
    public var maxAttempts: Int

    /// Output size: 1920x1080 for landscape, 1080x1920 for portrait.
    public var width: Int { orientation == .landscape ? Defaults.longSide : Defaults.shortSide }
    public var height: Int { orientation == .landscape ? Defaults.shortSide : Defaults.longSide }
    /// Prototype size: the same aspect ratio, small enough to render in seconds.
    public var prototypeWidth: Int { orientation == .landscape ? Defaults.prototypeLong : Defaults.prototypeShort }
    public var prototypeHeight: Int { orientation == .landscape ? Defaults.prototypeShort : Defaults.prototypeLong }

    /// Documented defaults and limits, shared by the parser, `--help` and docs/CLI.md.
    public enum Defaults {
        public static let duration = 5.0
        public static let durationRange = 0.0...60.0
        public static let fps = 24
        public static let fpsRange = 1...60
        public static let steps = 30
        public static let stepsRange = 1...1000
        public static let guidance = 5.0
        public static let guidanceRange = 0.0...30.0
        public static let refineStrength = 0.6
        public static let priority = 0
        public static let priorityRange = -1000...1000
        public static let maxAttempts = 3
        public static let maxAttemptsRange = 1...100
        public static let maxPromptLength = 2000
        public static let longSide = 1920
        public static let shortSide = 1080
        // Multiples of 32, so the VAE (16x) and 2x2 patches divide them: a 16x9-token grid.
        public static let prototypeLong = 512
        public static let prototypeShort = 288
    }

    public init(
        line: Int, prompt: String, seed: Int64, orientation: Orientation = .landscape,
        duration: Double = Defaults.duration, fps: Int = Defaults.fps, steps: Int = Defaults.steps,
        guidance: Double = Defaults.guidance, refineStrength: Double = Defaults.refineStrength,
        prototypeOnly: Bool = false, priority: Int = Defaults.priority, maxAttempts: Int = Defaults.maxAttempts
    ) {
        self.line = line
        self.prompt = prompt
        self.seed = seed
        self.orientation = orientation
        self.duration = duration
        self.fps = fps
        self.steps = steps
        self.guidance = guidance
        self.refineStrength = refineStrength
        self.prototypeOnly = prototypeOnly
        self.priority = priority
        self.maxAttempts = maxAttempts
    }
}
