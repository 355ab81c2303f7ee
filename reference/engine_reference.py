"""Pinned numpy reference for docs/ENGINE.md: kernels, the DiT forward, the rectified-flow sampler, Philox noise.

Plain and slow on purpose: loops where a loop says what the document says, whole attention matrices, float64
throughout. Callers pass float64 arrays holding float32-representable values (the golden inputs), so the
outputs, rounded once to float32, are the exact answers the Swift engine's float32 code is measured against.

Letters as in docs/ENGINE.md: F latent frames, H, W latent height and width, C latent channels, T tokens,
D hidden width, Nh heads, Dh = D / Nh, L text tokens, E text width, P = pt*ph*pw*C patch volume, N rows.

    python3 reference/engine_reference.py      # self-checks, then regenerates Tests/TesseraEngineTests/Golden
"""

import math

import numpy as np

EPS = 1e-6

# ----------------------------------------------------------------------------------------------- kernels


def linear(x, w, b=None):
    """x [N, I], w [O, I] (PyTorch layout), b [O] -> [N, O]."""
    y = x @ w.T  # [N, O]
    return y if b is None else y + b


def layer_norm(x, w=None, b=None, eps=EPS):
    """Per row of x [N, D]: (x - mean) / sqrt(biased var + eps), then * w + b when given."""
    mean = x.mean(axis=-1, keepdims=True)  # [N, 1]
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # [N, 1], biased, two-pass
    y = (x - mean) / np.sqrt(var + eps)  # [N, D]
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def rms_norm(x, w, eps=EPS):
    """Per row of x [N, d]: x / sqrt(mean(x^2) + eps) * w [d]."""
    return x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps) * w


def rms_norm_per_head(x, w, heads):
    """x [N, Nh*Dh]: each head's Dh slice normalized on its own, all heads sharing w [Dh]."""
    n, d = x.shape
    return rms_norm(x.reshape(n, heads, d // heads), w).reshape(n, d)


def gelu(x):
    """Tanh form."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives x / inf = -0, the right limit
        return x / (1.0 + np.exp(-x))


def softmax(x):
    """Per row (last axis), max-subtracted. Entries of -inf get weight 0."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def modulate(x, shift, scale):
    """x [N, D], shift [D], scale [D] -> x * (1 + scale) + shift."""
    return x * (1.0 + scale) + shift


def timestep_embedding(t, dim=256):
    """[cos a_0 .. cos a_{half-1}, sin a_0 .. sin a_{half-1}], a_i = 1000 t exp(-ln(10000) i / half) -> [dim]."""
    half = dim // 2
    f = np.exp(-math.log(10000.0) * np.arange(half) / half)  # [half]
    a = 1000.0 * t * f  # [half]
    return np.concatenate([np.cos(a), np.sin(a)])  # [dim]


def patchify(x, patch):
    """x [F, H, W, C] -> [T, P]; tokens in (frame, row, column) order, each patch vector in (dt, dh, dw, c) order."""
    f, h, w, c = x.shape
    pt, ph, pw = patch
    assert f % pt == 0 and h % ph == 0 and w % pw == 0, (x.shape, patch)
    rows = []
    for tf in range(f // pt):
        for ti in range(h // ph):
            for tj in range(w // pw):
                block = x[tf * pt:(tf + 1) * pt, ti * ph:(ti + 1) * ph, tj * pw:(tj + 1) * pw, :]  # [pt, ph, pw, C]
                rows.append(block.reshape(-1))  # row-major: (dt, dh, dw, c)
    return np.stack(rows)  # [T, P]


def unpatchify(tokens, patch, shape):
    """Inverse of patchify: tokens [T, P] -> [F, H, W, C] for shape (F, H, W, C)."""
    f, h, w, c = shape
    pt, ph, pw = patch
    out = np.zeros(shape)  # [F, H, W, C]
    n = 0
    for tf in range(f // pt):
        for ti in range(h // ph):
            for tj in range(w // pw):
                out[tf * pt:(tf + 1) * pt, ti * ph:(ti + 1) * ph, tj * pw:(tj + 1) * pw, :] = \
                    tokens[n].reshape(pt, ph, pw, c)
                n += 1
    assert n == tokens.shape[0]
    return out


def _resample_axis(x, axis, n_out):
    """Linear interpolation along one axis, half-pixel centres, source clamped to [0, n_in - 1]."""
    n_in = x.shape[axis]
    if n_out == n_in:
        return x.copy()
    src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # [n_out]
    src = np.clip(src, 0.0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    wgt = src - i0  # weight of i1
    shape = [1] * x.ndim
    shape[axis] = n_out
    wgt = wgt.reshape(shape)
    return (1.0 - wgt) * np.take(x, i0, axis=axis) + wgt * np.take(x, i1, axis=axis)


def upsample_trilinear(x, out_shape):
    """x [F, H, W, C] -> [F', H', W', C]: separable, frames then rows then columns."""
    assert out_shape[3] == x.shape[3]
    for axis in range(3):
        x = _resample_axis(x, axis, out_shape[axis])
    return x


def conv3d(x, w, b, stride=(1, 1, 1)):
    """x [F, H, W, Ci], w [Co, Ci, kt, kh, kw], b [Co] -> [(F-1)//st + 1, ceil(H/sh), ceil(W/sw), Co].

    Causal in time: kt - 1 copies of frame 0 in front, so output frame f sees input frames f*st - kt + 1 .. f*st
    (negative ones being frame 0) with w[:, :, 0] on the oldest. Zero padding (k - 1) / 2 on each spatial side.
    Cross-correlation (no kernel flip), as PyTorch's Conv3d.
    """
    f, h, wd, ci = x.shape
    co, ci2, kt, kh, kw = w.shape
    assert ci == ci2 and kh % 2 == 1 and kw % 2 == 1
    st, sh, sw = stride
    xp = np.concatenate([x[:1]] * (kt - 1) + [x], axis=0)  # [F + kt - 1, H, W, Ci]
    xp = np.pad(xp, ((0, 0), ((kh - 1) // 2,) * 2, ((kw - 1) // 2,) * 2, (0, 0)))  # zero spatial padding
    fo, ho, wo = (f - 1) // st + 1, (h - 1) // sh + 1, (wd - 1) // sw + 1
    out = np.zeros((fo, ho, wo, co)) + b  # [Fo, Ho, Wo, Co]
    for dt in range(kt):
        for dh in range(kh):
            for dw in range(kw):
                taps = xp[dt:dt + st * (fo - 1) + 1:st, dh:dh + sh * (ho - 1) + 1:sh,
                          dw:dw + sw * (wo - 1) + 1:sw, :]  # [Fo, Ho, Wo, Ci]
                out += taps @ w[:, :, dt, dh, dw].T
    return out


# ------------------------------------------------------------------------------------ rotary embedding


def token_coords(grid):
    """[T, 3] integer (frame, row, column) of each token of an Ft x Hp x Wp grid, in token order."""
    ft, hp, wp = grid
    return np.array([(f, i, j) for f in range(ft) for i in range(hp) for j in range(wp)], dtype=np.int64)


def rope_positions(grid, reference_tokens=16):
    """[T, 3] positions (p_t, p_h, p_w) = (f, (i + 0.5) S / m, (j + 0.5) S / m), m = min(Hp, Wp)."""
    m = min(grid[1], grid[2])
    c = token_coords(grid).astype(np.float64)
    return np.stack([c[:, 0], (c[:, 1] + 0.5) * reference_tokens / m, (c[:, 2] + 0.5) * reference_tokens / m], 1)


def rope(x, grid, heads, dims, reference_tokens=16):
    """x [T, Nh*Dh]; in each head, segments (dt, dh, dw) of Dh rotate adjacent pairs (2i, 2i+1) by p * 10000^(-2i/d)."""
    t, d_model = x.shape
    dh_ = d_model // heads
    assert sum(dims) == dh_ and all(d % 2 == 0 for d in dims), (dims, dh_)
    pos = rope_positions(grid, reference_tokens)  # [T, 3]
    assert pos.shape[0] == t
    out = x.copy()
    for h in range(heads):
        offset = h * dh_
        for axis, d in enumerate(dims):
            for i in range(d // 2):
                angle = pos[:, axis] * 10000.0 ** (-2.0 * i / d)  # [T]
                c0, c1 = offset + 2 * i, offset + 2 * i + 1
                x0, x1 = x[:, c0], x[:, c1]
                out[:, c0] = x0 * np.cos(angle) - x1 * np.sin(angle)
                out[:, c1] = x0 * np.sin(angle) + x1 * np.cos(angle)
            offset += d
    return out


def frame_positions(grid, width):
    """[T, width] fixed features of each token's place in its frame: y = (i + 0.5)/Hp, x = (j + 0.5)/Wp; columns
    2k, 2k+1 = sin, cos of 2 pi f_k (y - 1/2), columns width/2 + 2k, +1 the same of x, f_k = 0.25 * 16^(k/(n-1))."""
    n = width // 4
    f = 0.25 * 16.0 ** (np.arange(n) / (n - 1))  # [n] cycles per frame
    c = token_coords(grid).astype(np.float64)
    out = np.zeros((c.shape[0], width))
    for half, (axis, size) in enumerate([(1, grid[1]), (2, grid[2])]):
        angle = 2 * np.pi * f[None, :] * ((c[:, axis:axis + 1] + 0.5) / size - 0.5)  # [T, n]
        base = half * 2 * n
        out[:, base:base + 2 * n:2] = np.sin(angle)
        out[:, base + 1:base + 2 * n:2] = np.cos(angle)
    return out


# ------------------------------------------------------------------------------------------- attention


def attention(q, k, v, heads, allowed=None, key_length=None):
    """q [Tq, D], k, v [Tk, D] -> [Tq, D]; per head softmax(q_h k_h^T / sqrt(Dh)) v_h.

    allowed [Tq, Tk] (bool) restricts which keys a query sees; key_length masks keys >= key_length.
    """
    tq, d = q.shape
    tk = k.shape[0]
    dh = d // heads
    mask = np.ones((tq, tk), dtype=bool) if allowed is None else allowed.copy()  # [Tq, Tk]
    if key_length is not None:
        assert 1 <= key_length <= tk
        mask[:, key_length:] = False
    assert mask.any(axis=1).all(), "every query must see at least one key"
    out = np.zeros((tq, d))  # [Tq, D]
    for h in range(heads):
        cols = slice(h * dh, (h + 1) * dh)
        scores = q[:, cols] @ k[:, cols].T / math.sqrt(dh)  # [Tq, Tk]
        out[:, cols] = softmax(np.where(mask, scores, -np.inf)) @ v[:, cols]
    return out


def layout_mask(grid, relation):
    """[T, T] bool: 'frame' same frame, 'place' same (row, column), ('window', (wt, wh, ww)) same window."""
    c = token_coords(grid)  # [T, 3]
    if relation == "frame":
        key = c[:, :1]
    elif relation == "place":
        key = c[:, 1:]
    else:
        _, window = relation
        key = c // np.array(window)  # window index on each axis; last window may be smaller
    return (key[:, None, :] == key[None, :, :]).all(axis=-1)


def self_attention(q, k, v, heads, grid, layout="full"):
    """Self-attention over an Ft x Hp x Wp token grid: 'full', 'factorized' or ('windowed', (wt, wh, ww))."""
    if layout == "full":
        return attention(q, k, v, heads)
    if layout == "factorized":
        o1 = attention(q, k, v, heads, allowed=layout_mask(grid, "frame"))  # spatial
        return attention(q, k, o1, heads, allowed=layout_mask(grid, "place"))  # temporal, values = o1
    if isinstance(layout, tuple) and layout[0] == "windowed":
        return attention(q, k, v, heads, allowed=layout_mask(grid, ("window", layout[1])))
    raise ValueError(f"unknown layout {layout!r}")


# ------------------------------------------------------------------------------------------------- DiT


def _mlp(x, weights, prefix):
    """linear, silu, linear with keys prefix.0 and prefix.2."""
    x = silu(linear(x, weights[prefix + ".0.weight"], weights[prefix + ".0.bias"]))
    return linear(x, weights[prefix + ".2.weight"], weights[prefix + ".2.bias"])


def _lin(x, weights, prefix):
    return linear(x, weights[prefix + ".weight"], weights[prefix + ".bias"])


def dit_forward(weights, cfg, x, t, ctx, ctx_length, y, layout="full", trace=None):
    """Velocity v [F, H, W, C] for latent x [F, H, W, C], time t, caption ctx [L, E] (valid ctx_length), pooled y [E].

    weights: dict keyed as in docs/ENGINE.md; cfg: the DiTConfig JSON fields. trace (a dict) collects intermediates.
    """
    trace = {} if trace is None else trace
    d, nh = cfg["hidden"], cfg["heads"]
    patch = tuple(cfg["patch"])
    f, h_, w_, _ = x.shape
    grid = (f // patch[0], h_ // patch[1], w_ // patch[2])

    h = _lin(patchify(x, patch), weights, "x_embedder")  # [T, D]
    if cfg.get("framePositions"):
        h = h + frame_positions(grid, d)
    c = (_mlp(timestep_embedding(t, cfg["frequencyEmbedding"])[None], weights, "t_embedder.mlp")
         + _mlp(y[None], weights, "y_embedder.mlp"))[0]  # [D]
    txt = _lin(ctx, weights, "context_embedder")  # [L, D]
    trace.update({"x_embed": h, "c": c, "txt": txt})

    for i in range(cfg["depth"]):
        p = f"blocks.{i}."
        m = _lin(silu(c)[None], weights, p + "adaLN_modulation.1")[0]  # [6D]
        shift1, scale1, gate1, shift2, scale2, gate2 = (m[j * d:(j + 1) * d] for j in range(6))  # 6 x [D]

        a = modulate(layer_norm(h), shift1, scale1)  # [T, D]
        qkv = _lin(a, weights, p + "attn.qkv")  # [T, 3D]
        q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]  # each [T, D]
        q = rope(rms_norm_per_head(q, weights[p + "attn.q_norm.weight"], nh), grid, nh, cfg["ropeDims"],
                 cfg["ropeReferenceTokens"])
        k = rope(rms_norm_per_head(k, weights[p + "attn.k_norm.weight"], nh), grid, nh, cfg["ropeDims"],
                 cfg["ropeReferenceTokens"])
        h = h + gate1 * _lin(self_attention(q, k, v, nh, grid, layout), weights, p + "attn.proj")  # [T, D]

        b = layer_norm(h, weights[p + "norm2.weight"], weights[p + "norm2.bias"])  # [T, D]
        q = rms_norm_per_head(_lin(b, weights, p + "cross.q"), weights[p + "cross.q_norm.weight"], nh)  # [T, D]
        k = rms_norm_per_head(_lin(txt, weights, p + "cross.k"), weights[p + "cross.k_norm.weight"], nh)  # [L, D]
        v = _lin(txt, weights, p + "cross.v")  # [L, D]
        h = h + _lin(attention(q, k, v, nh, key_length=ctx_length), weights, p + "cross.proj")  # [T, D]

        u = modulate(layer_norm(h), shift2, scale2)  # [T, D]
        h = h + gate2 * _lin(gelu(_lin(u, weights, p + "mlp.fc1")), weights, p + "mlp.fc2")  # [T, D]
        trace[f"block{i}.out"] = h

    m = _lin(silu(c)[None], weights, "final_layer.adaLN_modulation.1")[0]  # [2D]
    shift, scale = m[:d], m[d:]
    out = _lin(modulate(layer_norm(h), shift, scale), weights, "final_layer.linear")  # [T, P]
    v = unpatchify(out, patch, x.shape)  # [F, H, W, C]
    if cfg.get("velocitySkip"):  # the velocity's least-squares coefficient on x_t, unit-variance x0 and noise
        v = v + max(0.0, (2 * t - 1) / ((1 - t) ** 2 + t ** 2)) * x  # and 0 for t <= 1/2
    if cfg.get("prediction") == "clean":  # the output is the clean latent; the velocity is (x_t - x0) / t, t >= 0.05
        v = (x - v) / max(t, 0.05)
    return v


def dit_weight_shapes(cfg):
    """Every key of docs/ENGINE.md with its shape, in the document's order."""
    d, e, fe = cfg["hidden"], cfg["textWidth"], cfg["frequencyEmbedding"]
    dh = d // cfg["heads"]
    p = int(np.prod(cfg["patch"])) * cfg["latentChannels"]
    hid = cfg["mlpRatio"] * d
    shapes = {"x_embedder.weight": (d, p), "x_embedder.bias": (d,),
              "t_embedder.mlp.0.weight": (d, fe), "t_embedder.mlp.0.bias": (d,),
              "t_embedder.mlp.2.weight": (d, d), "t_embedder.mlp.2.bias": (d,),
              "y_embedder.mlp.0.weight": (d, e), "y_embedder.mlp.0.bias": (d,),
              "y_embedder.mlp.2.weight": (d, d), "y_embedder.mlp.2.bias": (d,),
              "context_embedder.weight": (d, e), "context_embedder.bias": (d,)}
    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        shapes.update({b + "adaLN_modulation.1.weight": (6 * d, d), b + "adaLN_modulation.1.bias": (6 * d,),
                       b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
                       b + "attn.q_norm.weight": (dh,), b + "attn.k_norm.weight": (dh,),
                       b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
                       b + "norm2.weight": (d,), b + "norm2.bias": (d,)})
        for n in ("q", "k", "v", "proj"):
            shapes.update({b + f"cross.{n}.weight": (d, d), b + f"cross.{n}.bias": (d,)})
        shapes.update({b + "cross.q_norm.weight": (dh,), b + "cross.k_norm.weight": (dh,),
                       b + "mlp.fc1.weight": (hid, d), b + "mlp.fc1.bias": (hid,),
                       b + "mlp.fc2.weight": (d, hid), b + "mlp.fc2.bias": (d,)})
    shapes.update({"final_layer.adaLN_modulation.1.weight": (2 * d, d), "final_layer.adaLN_modulation.1.bias": (2 * d,),
                   "final_layer.linear.weight": (p, d), "final_layer.linear.bias": (p,)})
    return shapes


# --------------------------------------------------------------------------------------------- sampler


def shift_for_tokens(tokens, shift_base=1.0, shift_reference_tokens=144):
    return min(max(shift_base * math.sqrt(tokens / shift_reference_tokens), 1.0), 16.0)


def schedule(steps, shift):
    """[N + 1] times t_i = s u_i / (1 + (s - 1) u_i), u_i = 1 - i / N; t_0 = 1, t_N = 0."""
    u = 1.0 - np.arange(steps + 1) / steps
    return shift * u / (1.0 + (shift - 1.0) * u)


def guided(v_cond, v_uncond, guidance):
    """Classifier-free guidance over two velocity functions (x, t) -> v; g = 1 evaluates v_cond only."""
    if guidance == 1:
        return v_cond
    return lambda x, t: (lambda vc, vu: vu + guidance * (vc - vu))(v_cond(x, t), v_uncond(x, t))


def x0_estimate(x, t, v):
    return x - t * v


def euler_step(velocity, x, t0, t1):
    """-> (new x, the velocity at (x, t0))."""
    v = velocity(x, t0)
    return x + (t1 - t0) * v, v


def heun_step(velocity, x, t0, t1):
    """Second order; a step that ends at t = 0 is an Euler step. -> (new x, the velocity at (x, t0))."""
    if t1 == 0:
        return euler_step(velocity, x, t0, t1)
    dt = t1 - t0
    v1 = velocity(x, t0)
    v2 = velocity(x + dt * v1, t1)
    return x + dt * (v1 + v2) / 2, v1


def sample(velocity, x, ts, solver, start=0):
    """Runs steps start..N-1 -> (latents after each step, x0 estimates from each step's first velocity)."""
    step = {"euler": euler_step, "heun": heun_step}[solver]
    latents, x0s = [], []
    for i in range(start, len(ts) - 1):
        x_new, v = step(velocity, x, ts[i], ts[i + 1])
        x0s.append(x0_estimate(x, ts[i], v))
        latents.append(x_new)
        x = x_new
    return latents, x0s


def sdedit_start(x0_prototype, full_shape, ts, strength, noise):
    """Refinement start: k = first index with t_k <= strength, x = (1 - t_k) upsample(x0) + t_k noise -> (k, x)."""
    k = next(i for i, t in enumerate(ts) if t <= strength)
    x0_up = upsample_trilinear(x0_prototype, full_shape)
    return k, (1.0 - ts[k]) * x0_up + ts[k] * noise


# ----------------------------------------------------------------------------------------------- noise

PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF


def _mulhilo(a, b):
    p = a * b  # exact: Python ints
    return p >> 32, p & MASK32


def philox4x32_10(counter, key):
    """counter: 4 words, key: 2 words (Python ints < 2^32) -> 4 output words. 10 rounds, key bumped between."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + PHILOX_W0) & MASK32, (k1 + PHILOX_W1) & MASK32
        hi0, lo0 = _mulhilo(PHILOX_M0, c0)
        hi1, lo1 = _mulhilo(PHILOX_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return [c0, c1, c2, c3]


def philox_words(seed, stream, m):
    """The Philox block for element pair m of a tensor drawn from (seed, stream)."""
    assert 0 <= seed < 2**64 and 0 <= m < 2**64 and 0 <= stream < 2**32
    return philox4x32_10([m & MASK32, m >> 32, stream, 0], [seed & MASK32, seed >> 32])


def philox_normal(seed, stream, count, offset=0):
    """Flat elements offset .. offset+count-1 of a standard-normal tensor -> float32 [count].

    Box-Muller in double with Python's math module (the C library, as Swift's Foundation on Linux) then one
    rounding to float32.
    """
    out = np.empty(count, dtype=np.float32)
    for n in range(offset, offset + count):
        a, b = philox_words(seed, stream, n // 2)[:2]
        u1, u2 = (a + 0.5) / 2.0**32, (b + 0.5) / 2.0**32
        r = math.sqrt(-2.0 * math.log(u1))
        out[n - offset] = r * math.cos(2.0 * math.pi * u2) if n % 2 == 0 else r * math.sin(2.0 * math.pi * u2)
    return out


# ------------------------------------------------------------------------------------------ self-checks


def self_check():
    """Cheap internal consistency checks of the reference itself; raises AssertionError on failure."""
    rng = np.random.default_rng(99)
    close = lambda a, b, tol=1e-12: np.abs(a - b).max() <= tol  # noqa: E731

    assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10([MASK32] * 4, [MASK32] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]
    # chunking: elements drawn from an offset equal the same elements of a longer draw
    assert (philox_normal(5, 1, 16, offset=3) == philox_normal(5, 1, 19)[3:]).all()

    x = rng.standard_normal((4, 4, 6, 3))
    for patch in [(1, 2, 2), (2, 2, 2), (4, 1, 3)]:
        tok = patchify(x, patch)
        assert (unpatchify(tok, patch, x.shape) == x).all()
        # vectorized formulation of the same order: (frame, row, column) tokens of (dt, dh, dw, c) vectors
        f, h, w, c = x.shape
        pt, ph, pw = patch
        alt = x.reshape(f // pt, pt, h // ph, ph, w // pw, pw, c).transpose(0, 2, 4, 1, 3, 5, 6).reshape(tok.shape)
        assert (alt == tok).all()
    assert (upsample_trilinear(x, x.shape) == x).all()
    up = upsample_trilinear(np.ones((2, 3, 4, 2)) * 0.75, (3, 7, 9, 2))
    assert close(up, 0.75)  # interpolation weights sum to one
    ramp = np.arange(4.0)[None, None, :, None] * np.ones((1, 1, 4, 1))  # linear along W
    up = upsample_trilinear(ramp, (1, 1, 8, 1))[0, 0, :, 0]
    assert close(up, np.clip((np.arange(8) + 0.5) * 4 / 8 - 0.5, 0, 3))  # exact on a ramp (inside the clamp)

    # conv3d against the document's sentence, one output element at a time
    xc = rng.standard_normal((5, 6, 7, 3))
    for stride in [(1, 1, 1), (1, 2, 2), (2, 2, 2)]:
        wc, bc = rng.standard_normal((4, 3, 3, 3, 3)), rng.standard_normal(4)
        out = conv3d(xc, wc, bc, stride)
        assert out.shape == ((5 - 1) // stride[0] + 1, math.ceil(6 / stride[1]), math.ceil(7 / stride[2]), 4)
        for (fo, ho, wo) in [(0, 0, 0), (out.shape[0] - 1, out.shape[1] - 1, out.shape[2] - 1), (1, 2, 1)]:
            acc = bc.copy()
            for dt in range(3):
                fi = max(fo * stride[0] - 3 + 1 + dt, 0)  # frames f*st - kt + 1 .. f*st, negatives are frame 0
                for dh in range(3):
                    for dw in range(3):
                        hi, wi = ho * stride[1] - 1 + dh, wo * stride[2] - 1 + dw
                        if 0 <= hi < 6 and 0 <= wi < 7:
                            acc += wc[:, :, dt, dh, dw] @ xc[fi, hi, wi]
            assert close(out[fo, ho, wo], acc, 1e-10)
    w1 = rng.standard_normal((4, 3, 1, 1, 1))
    assert close(conv3d(xc, w1, np.zeros(4)), xc @ w1[:, :, 0, 0, 0].T, 1e-12)  # 1x1x1 = linear

    # rotary embedding: rotations keep each pair's length; position 0 is the identity on the time segment
    grid, dims = (2, 3, 4), (4, 6, 6)
    xr = rng.standard_normal((24, 32))
    yr = rope(xr, grid, 2, dims)
    assert close((yr**2).reshape(24, 16, 2).sum(-1), (xr**2).reshape(24, 16, 2).sum(-1), 1e-10)
    assert close(yr[:12, 0:4], xr[:12, 0:4]) and close(yr[:12, 16:20], xr[:12, 16:20])

    # attention layouts
    g1 = (1, 4, 5)
    q, k, v = (rng.standard_normal((20, 16)) for _ in range(3))
    full = attention(q, k, v, 2)
    assert close(self_attention(q, k, v, 2, g1, "factorized"), full, 1e-12)  # one frame: temporal step is identity
    g = (3, 4, 5)
    q, k, v = (rng.standard_normal((60, 16)) for _ in range(3))
    full = attention(q, k, v, 2)
    assert close(self_attention(q, k, v, 2, g, ("windowed", (3, 4, 5))), full, 1e-12)
    assert close(self_attention(q, k, v, 2, g, ("windowed", (7, 9, 11))), full, 1e-12)
    one = self_attention(q, k, v, 2, g, ("windowed", (1, 1, 1)))
    assert close(one, v, 1e-12)  # a window of one token returns its own value
    # per-head independence and the key-length mask: masked keys may hold anything
    kk, vv = k.copy(), v.copy()
    kk[40:], vv[40:] = 1e3, -1e3
    assert close(attention(q, kk, vv, 2, key_length=40), attention(q, k[:40], v[:40], 2), 1e-12)
    # softmax is shift invariant and stable
    s = rng.standard_normal((3, 7))
    assert close(softmax(s + 1000.0), softmax(s), 1e-12) and close(softmax(s).sum(1), 1.0)

    # schedule endpoints and the shift's clamp
    for steps, shift in [(3, 1.0), (8, 3.0), (5, 16.0)]:
        ts = schedule(steps, shift)
        assert ts[0] == 1.0 and ts[-1] == 0.0 and (np.diff(ts) < 0).all()
    assert shift_for_tokens(12) == 1.0 and shift_for_tokens(144 * 256 * 4) == 16.0
    assert close(shift_for_tokens(576), 2.0)


if __name__ == "__main__":
    import make_goldens  # beside this file

    make_goldens.main()
