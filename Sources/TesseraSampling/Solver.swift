// Solvers for the rectified-flow ODE dx/dt = v(x, t), integrated from t = 1 down to t = 0, and
// classifier-free guidance (docs/ENGINE.md, "Sampler (rectified flow)").
//
// Every update is an elementwise Float32 expression written in the same order as the contract, so the
// numpy reference (float64, rounded) differs from Swift only by Float32 rounding.

import TesseraTensor

/// How one step from `t_i` to `t_{i+1}` is integrated.
public enum Solver: String, Sendable, Hashable, CaseIterable {
    /// First order: `x ← x + Δ·v(x, t_i)`. One velocity per step.
    case euler
    /// Second order (Heun): `v1 = v(x, t_i)`, `x' = x + Δ·v1`, `v2 = v(x', t_{i+1})`,
    /// `x ← x + Δ·(v1 + v2)/2`. Two velocities per step, except the last step (`t_{i+1} = 0`), which is
    /// Euler because the velocity at `t = 0` is never needed and the network was not trained there.
    case heun

    /// Stable identifier, used in the settings hash so the hash does not depend on case order.
    var hashTag: UInt8 {
        switch self {
        case .euler: 1
        case .heun: 2
        }
    }
}

/// Classifier-free guidance over a denoiser, `v = v_u + g·(v_c − v_u)`, and autoguidance beside it,
/// `v += (a − 1)·(v_c − v_b)` with `v_b` the guiding network's conditional velocity.
struct GuidedVelocity<D: Denoiser> {
    let denoiser: D
    let settings: SamplerSettings

    /// The guided velocity at `(latent, time)`. With `g = 1` the classifier-free term is exactly `v_c`, so the
    /// unconditional branch is not evaluated; with `a = 1` the guide is not: one network forward per velocity
    /// when both are 1.
    func callAsFunction(_ latent: Tensor, time: Float) throws -> Tensor {
        let conditional = try checked(denoiser.velocity(latent, time: time, branch: .conditional), latent, time)
        let scale = settings.guidance(at: time)
        var guided = conditional  // [F, H, W, C]
        if scale != 1 {
            guided = try checked(denoiser.velocity(latent, time: time, branch: .unconditional), latent, time)
            let g = scale
            guided.storage.withUnsafeMutableBufferPointer { out in
                conditional.storage.withUnsafeBufferPointer { c in
                    for i in 0..<out.count {
                        out[i] = out[i] + g * (c[i] - out[i])
                    }
                }
            }
        }
        if settings.autoguidance != 1 {
            let weak = try checked(denoiser.velocity(latent, time: time, branch: .guide), latent, time)
            let a1 = settings.autoguidance - 1
            guided.storage.withUnsafeMutableBufferPointer { out in
                conditional.storage.withUnsafeBufferPointer { c in
                    weak.storage.withUnsafeBufferPointer { b in
                        for i in 0..<out.count {
                            out[i] = out[i] + a1 * (c[i] - b[i])
                        }
                    }
                }
            }
        }
        if scale != 1 || settings.autoguidance != 1 { try requireFinite(guided, time) }
        return guided
    }

    /// A network that returns the wrong shape or a NaN would otherwise corrupt the latent silently; one pass
    /// over the output is negligible beside a forward.
    private func checked(_ v: Tensor, _ latent: Tensor, _ time: Float) throws -> Tensor {
        guard v.shape == latent.shape else {
            throw SamplerError.velocityShape(expected: latent.shape, got: v.shape, time: time)
        }
        try requireFinite(v, time)
        return v
    }

    private func requireFinite(_ v: Tensor, _ time: Float) throws {
        let finite = v.storage.withUnsafeBufferPointer { buffer in !buffer.contains { !$0.isFinite } }
        guard finite else { throw SamplerError.nonFiniteVelocity(time: time) }
    }
}

extension Solver {
    /// One step of the ODE from `time` to `next` (`next < time`), updating `x` in place (a long video's latent
    /// is the largest tensor of a render: no second copy of it is made). Returns the velocity at the step's
    /// start, from which the clean estimate `x0 = x − t·v` is formed.
    func step<D: Denoiser>(_ x: inout Tensor, from time: Float, to next: Float, velocity: GuidedVelocity<D>) throws -> Tensor {
        let delta = next - time  // negative: time runs from 1 to 0
        let v1 = try velocity(x, time: time)
        guard self == .heun, next > 0 else {
            addScaled(&x, delta, v1)  // x + Δ·v1
            return v1
        }
        let v2 = try velocity(axpy(x, delta, v1), time: next)
        x.storage.withUnsafeMutableBufferPointer { o in
            v1.storage.withUnsafeBufferPointer { a in
                v2.storage.withUnsafeBufferPointer { b in
                    for i in 0..<o.count {
                        o[i] = o[i] + delta * ((a[i] + b[i]) * 0.5)
                    }
                }
            }
        }
        return v1
    }
}

/// `x + a·y`, elementwise; shapes already checked equal.
func axpy(_ x: Tensor, _ a: Float, _ y: Tensor) -> Tensor {
    var out = x  // same shape as x
    addScaled(&out, a, y)
    return out
}

/// `x ← x + a·y`, elementwise, in place; shapes already checked equal.
func addScaled(_ x: inout Tensor, _ a: Float, _ y: Tensor) {
    x.storage.withUnsafeMutableBufferPointer { o in
        y.storage.withUnsafeBufferPointer { v in
            for i in 0..<o.count {
                o[i] = o[i] + a * v[i]
            }
        }
    }
}
