"""Pinned numpy reference for the VAE of docs/ENGINE.md ("The VAE"), and the writer of its golden files.

Plain and slow on purpose, float64 throughout, whole videos at once (no streaming, no tiles: the Swift tests
check those against the whole-video forward). Written from the document; conv3d is engine_reference's, which
is checked there against the document's sentence one element at a time.

Letters: F frames, H, W height and width at a level, C channels, p the pixel patch, L levels.

    .venv/bin/python reference/vae_reference.py        # self-checks, then writes Golden/vae_tiny{,_split}.{json,safetensors}
"""

import json
import os

import numpy as np

import engine_reference as ref
from make_goldens import GOLDEN, f32, ints, normal, read_safetensors, write_safetensors

SEED = 1234

TINY_VAE = {"imageChannels": 3, "latentChannels": 4, "patch": 2, "channels": [4, 8, 8, 12], "blocks": [0, 1, 1, 1],
            "temporalKernel": [1, 1, 3, 3], "temporalDown": [False, True, True], "eps": 1e-6}
TINY_VAE_SPLIT = dict(TINY_VAE, temporalUpsampling="split")

# --------------------------------------------------------------------------------------------- kernels


def rms_norm_silu(x, w, eps):
    """Per pixel of x [F, H, W, C]: silu(x / sqrt(mean over C of x^2 + eps) * w [C])."""
    return ref.silu(x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps) * w)


def depth_to_space(x, r):
    """[F, H, W, r*r*C] -> [F, r*H, r*W, C]: y[f, r*i + a, r*j + b, c] = x[f, i, j, (a*r + b)*C + c]."""
    f, h, w, rc = x.shape
    c = rc // (r * r)
    return x.reshape(f, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(f, h * r, w * r, c)


def space_to_depth(x, r):
    """The inverse of depth_to_space: [F, r*H, r*W, C] -> [F, H, W, r*r*C]."""
    f, rh, rw, c = x.shape
    return x.reshape(f, rh // r, r, rw // r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(f, rh // r, rw // r, r * r * c)


def repeat_frames(x):
    """Causal temporal upsampling: frame 0 once, every later frame twice (1 + n frames -> 1 + 2n)."""
    return np.concatenate([x[:1]] + [x[i:i + 1] for i in range(1, x.shape[0]) for _ in range(2)], axis=0)


def split_frames(x):
    """Causal temporal upsampling from channel halves: frame 0 gives channels [0, C), every later frame two
    frames, [0, C) then [C, 2C) (1 + n frames of 2C -> 1 + 2n frames of C)."""
    c = x.shape[-1] // 2
    return np.concatenate([x[:1, ..., :c]] + [x[i:i + 1, ..., h * c:(h + 1) * c] for i in range(1, x.shape[0]) for h in range(2)],
                          axis=0)


def splits_time(cfg, i):
    """Whether the decoder's upsampling from level i to i - 1 doubles time by splitting channels."""
    return cfg["temporalDown"][i - 1] and cfg.get("temporalUpsampling", "repeat") == "split"


# --------------------------------------------------------------------------------------------- network


def weight_shapes(cfg):
    """Every weight name and shape, PyTorch Conv3d layout [Co, Ci, kt, kh, kw]."""
    ch, kt, levels, c = cfg["channels"], cfg["temporalKernel"], len(cfg["channels"]), cfg["latentChannels"]
    top, pix = levels - 1, cfg["imageChannels"] * cfg["patch"] ** 2
    shapes = {}

    def conv(name, co, ci, t):
        shapes[name + ".weight"] = [co, ci, t, 3, 3]
        shapes[name + ".bias"] = [co]

    def blocks(prefix, i):
        for j in range(cfg["blocks"][i]):
            b = f"{prefix}.levels.{i}.blocks.{j}"
            shapes[b + ".norm1.weight"] = [ch[i]]
            conv(b + ".conv1", ch[i], ch[i], kt[i])
            shapes[b + ".norm2.weight"] = [ch[i]]
            conv(b + ".conv2", ch[i], ch[i], kt[i])

    conv("encoder.conv_in", ch[0], pix, kt[0])
    for i in range(levels):
        blocks("encoder", i)
        if i < top:
            conv(f"encoder.levels.{i}.down", ch[i + 1], ch[i], 3 if cfg["temporalDown"][i] else 1)
    shapes["encoder.norm_out.weight"] = [ch[top]]
    conv("encoder.conv_out", 2 * c, ch[top], kt[top])
    conv("decoder.conv_in", ch[top], c, kt[top])
    for i in range(top, -1, -1):
        blocks("decoder", i)
        if i > 0:
            conv(f"decoder.levels.{i}.up", 4 * ch[i - 1] * (2 if splits_time(cfg, i) else 1), ch[i], 1)
    shapes["decoder.norm_out.weight"] = [ch[0]]
    conv("decoder.conv_out", pix, ch[0], kt[0])
    return shapes


def res_block(x, wt, b, eps):
    """x + conv2(silu(norm2(conv1(silu(norm1(x)))))), stride 1."""
    h = ref.conv3d(rms_norm_silu(x, wt[b + ".norm1.weight"], eps), wt[b + ".conv1.weight"], wt[b + ".conv1.bias"])
    h = ref.conv3d(rms_norm_silu(h, wt[b + ".norm2.weight"], eps), wt[b + ".conv2.weight"], wt[b + ".conv2.bias"])
    return x + h


def encode(wt, cfg, video, trace=None):
    """video [F, H, W, 3] -> (mean, log-variance) [F', H/s, W/s, C]; trace[stage] = each stage's output."""
    trace = {} if trace is None else trace
    eps, levels = cfg["eps"], len(cfg["channels"])
    x = ref.conv3d(space_to_depth(video, cfg["patch"]), wt["encoder.conv_in.weight"], wt["encoder.conv_in.bias"])
    trace["encoder.conv_in"] = x
    for i in range(levels):
        for j in range(cfg["blocks"][i]):
            name = f"encoder.levels.{i}.blocks.{j}"
            x = trace[name] = res_block(x, wt, name, eps)
        if i < levels - 1:
            name = f"encoder.levels.{i}.down"
            st = 2 if cfg["temporalDown"][i] else 1
            x = trace[name] = ref.conv3d(x, wt[name + ".weight"], wt[name + ".bias"], (st, 2, 2))
    x = trace["encoder.norm_out"] = rms_norm_silu(x, wt["encoder.norm_out.weight"], eps)
    x = trace["encoder.conv_out"] = ref.conv3d(x, wt["encoder.conv_out.weight"], wt["encoder.conv_out.bias"])
    c = cfg["latentChannels"]
    return x[..., :c], x[..., c:]


def decode(wt, cfg, latent, trace=None):
    """latent [F', h, w, C] -> video [1 + 4(F' - 1), s*h, s*w, 3], raw (not clamped)."""
    trace = {} if trace is None else trace
    eps, levels = cfg["eps"], len(cfg["channels"])
    x = trace["decoder.conv_in"] = ref.conv3d(latent, wt["decoder.conv_in.weight"], wt["decoder.conv_in.bias"])
    for i in range(levels - 1, -1, -1):
        for j in range(cfg["blocks"][i]):
            name = f"decoder.levels.{i}.blocks.{j}"
            x = trace[name] = res_block(x, wt, name, eps)
        if i > 0:
            name = f"decoder.levels.{i}.up"
            x = ref.conv3d(x, wt[name + ".weight"], wt[name + ".bias"])
            if splits_time(cfg, i):
                x = depth_to_space(split_frames(x), 2)  # the halves are time, then each half's 4 sub-pixels
            else:
                x = depth_to_space(x, 2)
                if cfg["temporalDown"][i - 1]:
                    x = repeat_frames(x)
            trace[name] = x
    x = trace["decoder.norm_out"] = rms_norm_silu(x, wt["decoder.norm_out.weight"], eps)
    x = ref.conv3d(x, wt["decoder.conv_out.weight"], wt["decoder.conv_out.bias"])
    x = trace["decoder.conv_out"] = depth_to_space(x, cfg["patch"])
    return x


# ----------------------------------------------------------------------------------------- self-check


def self_check():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 12))
    y = depth_to_space(x, 2)
    for (f, i, j, a, b, c) in [(0, 0, 0, 0, 0, 0), (1, 2, 3, 1, 0, 2), (0, 1, 2, 1, 1, 1), (1, 0, 3, 0, 1, 0)]:
        assert y[f, 2 * i + a, 2 * j + b, c] == x[f, i, j, (a * 2 + b) * 3 + c]
    assert np.array_equal(space_to_depth(y, 2), x)
    r = repeat_frames(np.arange(3.0).reshape(3, 1, 1, 1)).ravel()
    assert list(r) == [0, 1, 1, 2, 2]
    r = split_frames(np.arange(6.0).reshape(3, 1, 1, 2)).ravel()
    assert list(r) == [0, 2, 3, 4, 5]
    n = rms_norm_silu(np.array([[[[3.0, 4.0]]]]), np.array([1.0, 2.0]), 0.0)
    rms = np.sqrt(12.5)
    assert np.allclose(n.ravel(), [ref.silu(3 / rms), ref.silu(8 / rms)], atol=1e-15)
    for cfg in (TINY_VAE, TINY_VAE_SPLIT):
        check_causality(cfg, rng)


def check_causality(cfg, rng):
    """Frame k changes no latent frame before its group, and latent frame k no decoded frame before its group;
    an image is a 1-frame video."""
    wt = random_weights(np.random.default_rng(3), cfg)
    video = rng.uniform(-1, 1, (9, 16, 16, 3))
    mean, _ = encode(wt, cfg, video)
    changed = video.copy()
    changed[5] += 1
    m2, _ = encode(wt, cfg, changed)
    assert np.array_equal(mean[:2], m2[:2]) and not np.allclose(mean[2], m2[2])
    out = decode(wt, cfg, mean)
    assert out.shape == (9, 16, 16, 3)
    l2 = mean.copy()
    l2[1] += 1
    o2 = decode(wt, cfg, l2)
    assert np.array_equal(out[:1], o2[:1]) and not np.allclose(out[1:5], o2[1:5])
    # An image is a 1-frame video: its latent is the first latent frame of any video it starts.
    assert np.allclose(encode(wt, cfg, video[:1])[0], mean[:1], atol=1e-12)
    assert np.allclose(decode(wt, cfg, mean[:1]), out[:1], atol=1e-12)


# --------------------------------------------------------------------------------------------- goldens


def random_weights(rng, cfg):
    """Conv weights N(0, 1/fan-in), biases N(0, 0.1^2), norm weights 1 + N(0, 0.1^2) (not 1, so a norm weight
    applied to the wrong channel shows); all float32 values."""
    weights = {}
    for name, shape in sorted(weight_shapes(cfg).items()):
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or "norm_out" in name:
            weights[name] = normal(rng, shape, 0.1, 1.0)
        elif name.endswith(".bias"):
            weights[name] = normal(rng, shape, 0.1)
        else:
            weights[name] = normal(rng, shape, 1 / np.sqrt(np.prod(shape[1:])))
    return weights


def write_goldens(cfg=TINY_VAE, stem="vae_tiny"):
    rng = np.random.default_rng(SEED)
    weights = random_weights(rng, cfg)
    video = f32(rng.uniform(-1, 1, (5, 32, 32, 3)))  # [F, H, W, 3]
    latent = normal(rng, (2, 2, 3, 4))  # [F', h, w, C]
    enc_trace, dec_trace = {}, {}
    mean, logvar = encode(weights, cfg, video, enc_trace)
    decoded = decode(weights, cfg, latent, dec_trace)
    tensors = dict(weights)
    tensors["input.video"] = video
    tensors["input.latent"] = latent
    for name, value in list(enc_trace.items()) + list(dec_trace.items()):
        tensors["out." + name] = value
    tensors["output.mean"], tensors["output.logvar"], tensors["output.video"] = mean, logvar, decoded
    tensors["output.image_mean"] = encode(weights, cfg, video[:1])[0]  # an image is a 1-frame video
    tensors["output.image"] = decode(weights, cfg, latent[:1])
    meta = {"encoder.stages": ",".join(enc_trace), "decoder.stages": ",".join(dec_trace),
            "input.video.shape": ints(*video.shape), "input.latent.shape": ints(*latent.shape)}
    path = os.path.join(GOLDEN, stem + ".safetensors")
    write_safetensors(path, tensors, meta)
    with open(os.path.join(GOLDEN, stem + ".json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    back, back_meta = read_safetensors(path)
    assert back_meta == meta and all(np.array_equal(back[k], f32(v)) for k, v in tensors.items())
    size = os.path.getsize(path)
    print(f"wrote {path}: {len(tensors)} tensors, {size} bytes")
    assert size < 1 << 20


if __name__ == "__main__":
    self_check()
    write_goldens()
    write_goldens(TINY_VAE_SPLIT, "vae_tiny_split")
