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
    /// The velocity of a window of a longer latent that starts at the longer latent's frame `firstFrame`
    /// (`FrameTiledDenoiser`): for a network whose conditioning belongs to given frames (grounded objects).
    func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch, firstFrame: Int) throws -> Tensor
}

extension Denoiser {
    /// A denoiser whose conditioning belongs to no frame: the window's velocity is the latent's.
    public func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch, firstFrame: Int) throws -> Tensor {
        try velocity(latent, time: time, branch: branch)
    }
}

/// A denoiser made from a closure, for callers that already hold a function (stable-diffusion.cpp's denoise
/// callback) and for tests.
public struct DenoiserFunction: Denoiser {
    /// The velocity function, given the latent's first frame in the whole video (0 unless tiled).
    public let body: (Tensor, Float, GuidanceBranch, Int) throws -> Tensor

    /// Wraps `body`, which sees whole latents only (or does not mind which frames a window holds).
    public init(_ body: @escaping (Tensor, Float, GuidanceBranch) throws -> Tensor) {
        self.body = { latent, time, branch, _ in try body(latent, time, branch) }
    }

    /// Wraps `body`, which is told where a window of a longer latent starts.
    public init(windowed body: @escaping (Tensor, Float, GuidanceBranch, Int) throws -> Tensor) {
        self.body = body
    }

    /// Calls `body`.
    public func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch) throws -> Tensor {
        try body(latent, time, branch, 0)
    }

    /// Calls `body` for a window starting at `firstFrame`.
    public func velocity(_ latent: Tensor, time: Float, branch: GuidanceBranch, firstFrame: Int) throws -> Tensor {
        try body(latent, time, branch, firstFrame)
    }
}
