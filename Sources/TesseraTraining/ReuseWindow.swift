/// Which clips a DiT step trains on when each encoded clip serves `reuse` consecutive steps: a step's batch
/// holds `batch / reuse` clips of each age 0..<reuse, so it encodes only the youngest and every batch mixes
/// clips from `reuse` different draws. Clip (d, j) is the j-th clip of data step d; step s uses data steps
/// s ... s + reuse − 1, so everything is a function of the step alone and a resumed run trains on what an
/// uninterrupted one would. With `reuse` 1 a step's clips are (s, 0..<batch), each used once.
public struct ReuseWindow<Sample> {
    /// Clips encoded per step.
    public let fresh: Int
    public let reuse: Int
    private var kept: [DataClip: Sample] = [:]

    public init(batch: Int, reuse: Int) {
        precondition(reuse >= 1 && batch % reuse == 0, "reuse must divide the batch")
        self.fresh = batch / reuse
        self.reuse = reuse
    }

    /// The clips of step `step`, in batch order.
    public func clips(at step: Int) -> [DataClip] {
        (0..<reuse).flatMap { age in (0..<fresh).map { DataClip(step: step + reuse - 1 - age, index: $0) } }
    }

    /// How many clips are kept between steps (at most `fresh · (reuse − 1)`).
    public var keptCount: Int { kept.count }

    /// Step `step`'s batch; `make` encodes the clips not already kept, and clips no later step uses are dropped.
    public mutating func batch(at step: Int, make: ([DataClip]) throws -> [Sample]) rethrows -> [Sample] {
        let missing = missing(at: step)
        for (clip, sample) in zip(missing, try make(missing)) { kept[clip] = sample }
        let batch = clips(at: step).map { kept[$0]! }
        kept = kept.filter { $0.key.step > step }
        return batch
    }

    /// The clips step `step` needs that are not kept: what to encode ahead of it (after `batch(at: step − 1)`,
    /// the `fresh` clips of its newest data step).
    public func missing(at step: Int) -> [DataClip] {
        clips(at: step).filter { kept[$0] == nil }
    }

    /// Keeps a clip encoded ahead of the step that first uses it.
    public mutating func keep(_ clip: DataClip, _ sample: Sample) {
        kept[clip] = sample
    }
}


/// The `index`-th clip drawn for data step `step`.
public struct DataClip: Hashable, Sendable {
    public var step: Int
    public var index: Int
    public init(step: Int, index: Int) {
        self.step = step
        self.index = index
    }
}
