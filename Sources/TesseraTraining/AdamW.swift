import Foundation
import TesseraTensor

/// AdamW with a linear warm-up then cosine decay of the learning rate, gradient clipping by global norm,
/// and an exponential moving average (EMA) of the weights, which is what a checkpoint ships.
public struct AdamW: Sendable {
    public struct Settings: Sendable, Codable, Equatable {
        public var learningRate: Float = 3e-4
        public var minimumLearningRate: Float = 3e-5
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        public var warmupSteps = 200
        public var totalSteps = 10_000
        /// Gradients are scaled down so their global L2 norm is at most this.
        public var clipNorm: Float = 1
        public var emaDecay: Float = 0.999

        public init() {}
    }

    public var settings: Settings
    /// Steps taken so far.
    public private(set) var step = 0
    /// First and second moments per parameter.
    public private(set) var first: [String: Tensor] = [:]
    public private(set) var second: [String: Tensor] = [:]
    /// The moving average of the weights.
    public private(set) var average: [String: Tensor] = [:]

    public init(settings: Settings, parameters: [String: Tensor]) {
        self.settings = settings
        for (name, value) in parameters {
            first[name] = Tensor(zeros: value.shape)
            second[name] = Tensor(zeros: value.shape)
            average[name] = value
        }
    }

    /// The learning rate at a step: linear warm-up to `learningRate`, cosine down to `minimumLearningRate`.
    public func learningRate(at step: Int) -> Float {
        let s = settings
        if step < s.warmupSteps { return s.learningRate * Float(step + 1) / Float(s.warmupSteps) }
        let progress = min(1, Float(step - s.warmupSteps) / Float(max(1, s.totalSteps - s.warmupSteps)))
        return s.minimumLearningRate + (s.learningRate - s.minimumLearningRate) * 0.5 * (1 + cos(Float.pi * progress))
    }

    /// The global L2 norm of the gradients (per-tensor sums of squares in float, added in double).
    public static func globalNorm(_ gradients: [String: Tensor]) -> Float {
        var total: Double = 0
        for g in gradients.values {
            total += g.storage.withUnsafeBufferPointer { Double(FastMath.sumOfSquares($0.baseAddress!, count: $0.count)) }
        }
        return Float(total.squareRoot())
    }

    /// Elements per parallel chunk of the update.
    static let chunk = 65_536

    /// One update of `parameters` in place from `gradients` (same names); returns the gradient norm before
    /// clipping. Weight decay is decoupled and skips one-dimensional tensors (biases and norm weights).
    @discardableResult
    public mutating func update(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) -> Float {
        let s = settings
        let norm = Self.globalNorm(gradients)
        let clip = norm > s.clipNorm ? s.clipNorm / norm : 1
        let rate = learningRate(at: step)
        step += 1
        let correction1 = 1 - pow(s.beta1, Float(step)), correction2 = 1 - pow(s.beta2, Float(step))
        // The average warms up (decay (1 + n)/(10 + n) until that reaches emaDecay), so early exports are
        // not dominated by the random starting weights.
        let emaDecay = min(s.emaDecay, Float(1 + step) / Float(10 + step))
        for name in parameters.keys.sorted() {
            guard let g = gradients[name], var p = parameters[name], var m = first[name], var v = second[name], var a = average[name] else { continue }
            parameters[name] = nil
            first[name] = nil
            second[name] = nil
            average[name] = nil
            let decay = p.rank > 1 ? s.weightDecay : 0
            let count = p.count
            g.storage.withUnsafeBufferPointer { gs in
                p.storage.withUnsafeMutableBufferPointer { ps in
                    m.storage.withUnsafeMutableBufferPointer { ms in
                        v.storage.withUnsafeMutableBufferPointer { vs in
                            a.storage.withUnsafeMutableBufferPointer { avs in
                                let gp = gs.baseAddress!, pp = ps.baseAddress!, mp = ms.baseAddress!, vp = vs.baseAddress!, ap = avs.baseAddress!
                                Compute.parallel((count + Self.chunk - 1) / Self.chunk) { c in
                                    for i in (c * Self.chunk)..<min(count, (c + 1) * Self.chunk) {
                                        let gi = gp[i] * clip
                                        let mi = s.beta1 * mp[i] + (1 - s.beta1) * gi
                                        let vi = s.beta2 * vp[i] + (1 - s.beta2) * gi * gi
                                        mp[i] = mi
                                        vp[i] = vi
                                        let update = (mi / correction1) / ((vi / correction2).squareRoot() + s.epsilon)
                                        let pi = pp[i] - rate * (update + decay * pp[i])
                                        pp[i] = pi
                                        ap[i] = emaDecay * ap[i] + (1 - emaDecay) * pi
                                    }
                                }
                            }
                        }
                    }
                }
            }
            parameters[name] = p
            first[name] = m
            second[name] = v
            average[name] = a
        }
        return norm
    }

    /// The optimizer's state as named tensors (`adam.m.NAME`, `adam.v.NAME`, `ema.NAME`) plus its step,
    /// for a checkpoint.
    public var state: (tensors: [String: Tensor], step: Int) {
        var tensors: [String: Tensor] = [:]
        for (name, t) in first { tensors["adam.m." + name] = t }
        for (name, t) in second { tensors["adam.v." + name] = t }
        for (name, t) in average { tensors["ema." + name] = t }
        return (tensors, step)
    }

    /// Restores the state `state` wrote; every parameter must be present with its shape.
    public mutating func restore(tensors: [String: Tensor], step: Int) throws {
        for name in first.keys {
            for (prefix, target) in [("adam.m.", 0), ("adam.v.", 1), ("ema.", 2)] {
                guard let t = tensors[prefix + name], t.shape == first[name]!.shape else {
                    throw TrainingError.badCheckpoint("optimizer state \(prefix + name) is missing or mis-shaped")
                }
                switch target {
                case 0: first[name] = t
                case 1: second[name] = t
                default: average[name] = t
                }
            }
        }
        self.step = step
    }
}

/// Why training could not go on.
public enum TrainingError: Error, CustomStringConvertible, Sendable {
    case badCheckpoint(String)
    case badData(String)

    public var description: String {
        switch self {
        case .badCheckpoint(let message): return "bad checkpoint: \(message)"
        case .badData(let message): return "bad training data: \(message)"
        }
    }
}
