// The one thing the sampler needs from a network. Keeping the diffusion process behind this protocol means
// the sampler never imports a model (facebookresearch/DiT `models.py` vs `diffusion/`), and tests drive it
// with analytic denoisers whose exact answers are known.

import TesseraTensor

/// Which caption a velocity is conditioned on, and by which network, for guidance.
public enum GuidanceBranch: Sendable, Hashable {
    /// Conditioned on the job's caption.
    case conditional
    /// Conditioned on the empty caption's encoding.
    case unconditional
    /// Conditioned on the job's caption by the guiding network, a weaker version of the model
    /// (autoguidance; `SamplerSettings.autoguidance`).
    case guide
}

/// A rectified-flow velocity predictor: `v ≈ ε − x0` for a latent `x_t = (1 − t)·x0 + t·ε`.
///
/// The returned tensor must have the latent's shape. The sampler calls it once per step for each branch it
/// needs and never at `t = 0`.
public protocol Denoiser {
    /// The velocity at `latent` and noise level `time` ∈ (0, 1], conditioned as `branch` says.
    func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor
}

/// A denoiser made from a closure, for callers that already hold a function (stable-diffusion.cpp's denoise
/// callback) and for tests.
public struct DenoiserFunction: Denoiser {
    /// The velocity function.
    public let body: (Tensor, Float, GuidanceBranch) throws -> Tensor

    /// Wraps `body`.
    public init(_ body: @escaping (Tensor, Float, GuidanceBranch) throws -> Tensor) {
        self.body = body
    }

    /// Calls `body`.
    public func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
        try body(latent, time, branch)
    }
}
