import TesseraTensor

/// Adds `addend` into `gradients`, weight by weight.
func accumulate(_ gradients: inout [String: Tensor], _ addend: [String: Tensor]) {
    for (name, g) in addend {
        if var existing = gradients.removeValue(forKey: name) {
            existing.storage.withUnsafeMutableBufferPointer { e in
                g.storage.withUnsafeBufferPointer { a in for i in 0..<e.count { e[i] += a[i] } }
            }
            gradients[name] = existing
        } else {
            gradients[name] = g
        }
    }
}

/// Multiplies every gradient by `factor` (averaging over a batch).
func scaleGradients(_ gradients: inout [String: Tensor], by factor: Float) {
    guard factor != 1 else { return }
    for name in Array(gradients.keys) {
        var g = gradients.removeValue(forKey: name)!
        g.storage.withUnsafeMutableBufferPointer { e in for i in 0..<e.count { e[i] *= factor } }
        gradients[name] = g
    }
}

/// One sample's contribution to a step: its weight gradients and the losses it reports.
struct SampleGradients {
    var gradients: [String: Tensor]
    var losses: [Float]
}

/// Work that runs in the same pool as a step's samples: the next step's new clips, say, so a thread that
/// would wait for the batch's last sample encodes them instead. `cost` is in the units of the samples'
/// (it orders the work, longest first).
public struct SideJob<Result> {
    public var cost: Int
    public var run: () throws -> Result
    public init(cost: Int, run: @escaping () throws -> Result) {
        self.cost = cost
        self.run = run
    }
}

/// Runs `sample` for indices `0..<count`, up to `Compute.threads` at once (each sample builds its own tape,
/// so samples share nothing but the read-only weights), then sums the gradients in index order — the result
/// is the same at any thread count and in any order the samples ran — and averages them. Returns the
/// averaged gradients and each reported loss averaged over the samples.
///
/// Data parallelism over the batch is what makes a second core pay in training: the tape's operations on
/// one small sample are too short to split well. Samples of a batch can differ ninefold in cost (an image
/// beside a 33-frame clip), so they start in decreasing `cost` and each thread takes the next one when it
/// is done (longest first): the threads finish close together instead of one waiting on the other. `side`
/// jobs join the same queue by their own cost; their results come back in their order.
func batchGradients<Side>(
    _ count: Int, cost: (Int) -> Int = { _ in 1 }, side: [SideJob<Side>], _ sample: (Int) throws -> SampleGradients
) throws -> (gradients: [String: Tensor], losses: [Float], side: [Side]) {
    precondition(count > 0, "an empty batch")
    let order = longestFirst(count + side.count) { $0 < count ? cost($0) : side[$0 - count].cost }
    // Each job fills one side of its pair: a sample's gradients or a side job's result.
    let results = try Compute.map(order.count) { position -> (SampleGradients?, Side?) in
        let job = order[position]
        return job < count ? (try sample(job), nil) : (nil, try side[job - count].run())
    }
    var byIndex = [SampleGradients?](repeating: nil, count: count)
    var sideResults = [Side?](repeating: nil, count: side.count)
    for (position, job) in order.enumerated() {
        if job < count { byIndex[job] = results[position].0 } else { sideResults[job - count] = results[position].1 }
    }
    var gradients: [String: Tensor] = [:]
    var losses: [Float] = []
    for case let result? in byIndex {
        accumulate(&gradients, result.gradients)
        if losses.isEmpty { losses = result.losses } else { for i in losses.indices { losses[i] += result.losses[i] } }
    }
    scaleGradients(&gradients, by: 1 / Float(count))
    return (gradients, losses.map { $0 / Float(count) }, sideResults.map { $0! })
}

/// `batchGradients` with no side jobs.
func batchGradients(
    _ count: Int, cost: (Int) -> Int = { _ in 1 }, _ sample: (Int) throws -> SampleGradients
) throws -> (gradients: [String: Tensor], losses: [Float]) {
    let result = try batchGradients(count, cost: cost, side: [SideJob<Void>](), sample)
    return (result.gradients, result.losses)
}

/// Indices `0..<count` in decreasing `cost`, ties in index order.
func longestFirst(_ count: Int, cost: (Int) -> Int) -> [Int] {
    let costs = (0..<count).map(cost)
    return (0..<count).sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
}

/// The gradients of `weights` on `tape` after its backward pass.
func gradients(on tape: Tape, weights: [String: Tape.Variable]) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for (name, variable) in weights { if let g = tape.gradient(variable) { result[name] = g } }
    return result
}
