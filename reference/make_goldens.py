"""Writes the golden files of Tests/TesseraEngineTests/Golden from engine_reference.py.

Inputs and weights are drawn with np.random.default_rng(1234) (a fresh generator per file), rounded to float32,
and the reference computes in float64 from those float32 values; outputs are rounded to float32 once. Integers
(lengths, seeds, strides, grids) go into "__metadata__" as strings. See reference/README.md for the names.

    python3 reference/make_goldens.py [--list]
"""

import json
import math
import os
import struct
import sys

import numpy as np

import engine_reference as ref

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TesseraEngineTests", "Golden")
SEED = 1234

TINY_DIT = {"latentChannels": 4, "patch": [1, 2, 2], "hidden": 32, "depth": 2, "heads": 2, "mlpRatio": 4,
            "textWidth": 8, "ropeDims": [4, 6, 6], "ropeReferenceTokens": 16, "frequencyEmbedding": 256}

# --------------------------------------------------------------------------------------------- format


def write_safetensors(path, tensors, metadata=None):
    """F32 tensors, names sorted, data packed in that order; header padded with spaces to a multiple of 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name], dtype=np.float64)
        assert np.isfinite(a).all(), name
        raw = np.ascontiguousarray(a.astype("<f4")).tobytes()
        header[name] = {"data_offsets": [offset, offset + len(raw)], "dtype": "F32", "shape": list(a.shape)}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        header["__metadata__"] = dict(sorted(metadata.items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """-> (tensors as float32 arrays, F16 widened, metadata); the writer's round-trip check."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        assert e["dtype"] in ("F32", "F16"), e["dtype"]
        array = np.frombuffer(body[b:end], dtype="<f4" if e["dtype"] == "F32" else "<f2").reshape(e["shape"])
        out[name] = array.astype(np.float32) if e["dtype"] == "F16" else array
    return out, meta


# --------------------------------------------------------------------------------------------- inputs


def f32(a):
    """Round to float32 and back: the value the Swift side will hold."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def normal(rng, shape, scale=1.0, mean=0.0):
    return f32(mean + scale * rng.standard_normal(shape))


def ints(*values):
    return ",".join(str(v) for v in values)


# -------------------------------------------------------------------------------------------- kernels


def kernel_goldens():
    rng = np.random.default_rng(SEED)
    t, meta = {}, {}

    x = normal(rng, (6, 32), 0.5)
    x[4] += 4.0  # a row far from zero mean: needs a two-pass (or shifted) variance in float32
    x[5] *= 6.0
    t["layer_norm.x"], t["layer_norm.w"], t["layer_norm.b"] = x, normal(rng, 32, 0.2, 1.0), normal(rng, 32, 0.2)
    t["layer_norm.out"] = ref.layer_norm(x, t["layer_norm.w"], t["layer_norm.b"])
    t["layer_norm_plain.out"] = ref.layer_norm(x)

    t["rms_norm.x"], t["rms_norm.w"] = normal(rng, (6, 16), 0.5), normal(rng, 16, 0.2, 1.0)
    t["rms_norm.out"] = ref.rms_norm(t["rms_norm.x"], t["rms_norm.w"])

    t["gelu.x"] = f32(np.linspace(-8.0, 8.0, 64).reshape(4, 16))
    t["gelu.out"] = ref.gelu(t["gelu.x"])
    t["silu.x"] = f32(np.linspace(-20.0, 20.0, 64).reshape(4, 16))
    t["silu.out"] = ref.silu(t["silu.x"])

    s = normal(rng, (5, 12))
    s[1] *= 30.0  # peaked
    s[2] += 1000.0  # large offset: exp overflows without max subtraction
    s[3] = s[3] * 100.0 - 1000.0
    s[4] = 3.0  # uniform row
    t["softmax.x"], t["softmax.out"] = s, ref.softmax(s)

    t["modulate.x"], t["modulate.shift"], t["modulate.scale"] = (normal(rng, (5, 16)), normal(rng, 16, 0.5),
                                                                 normal(rng, 16, 0.5))
    t["modulate.out"] = ref.modulate(t["modulate.x"], t["modulate.shift"], t["modulate.scale"])

    t["timestep_embedding.t"] = f32([0.0, 0.25, 0.7, 1.0])
    t["timestep_embedding.out"] = np.stack([ref.timestep_embedding(v, 256) for v in t["timestep_embedding.t"]])

    for name, shape, patch in [("p122", (3, 4, 6, 2), (1, 2, 2)), ("p222", (4, 4, 6, 2), (2, 2, 2))]:
        x = normal(rng, shape)
        t[f"patchify.{name}.x"], t[f"patchify.{name}.out"] = x, ref.patchify(x, patch)
        tok = normal(rng, t[f"patchify.{name}.out"].shape)
        t[f"unpatchify.{name}.tokens"], t[f"unpatchify.{name}.out"] = tok, ref.unpatchify(tok, patch, shape)
        meta[f"patchify.{name}.patch"] = meta[f"unpatchify.{name}.patch"] = ints(*patch)

    for name, src, dst in [("hw", (2, 3, 4, 2), (2, 7, 9, 2)), ("time", (3, 2, 2, 1), (5, 2, 2, 1)),
                           ("all", (2, 3, 4, 2), (3, 5, 6, 2))]:
        x = normal(rng, src)
        t[f"upsample.{name}.x"], t[f"upsample.{name}.out"] = x, ref.upsample_trilinear(x, dst)

    x = normal(rng, (5, 6, 7, 3), 0.5)
    t["conv3d.x"] = x
    for kname, kernel, strides in [("k333", (3, 3, 3), [(1, 1, 1), (1, 2, 2), (2, 2, 2)]),
                                   ("k133", (1, 3, 3), [(1, 1, 1)]), ("k311", (3, 1, 1), [(1, 1, 1)])]:
        w = normal(rng, (4, 3) + kernel, 1.0 / math.sqrt(3 * np.prod(kernel)))
        b = normal(rng, 4, 0.1)
        t[f"conv3d.{kname}.w"], t[f"conv3d.{kname}.b"] = w, b
        for st in strides:
            sname = f"conv3d.{kname}.s{''.join(map(str, st))}"
            t[sname + ".out"] = ref.conv3d(x, w, b, st)
            meta[sname + ".stride"] = ints(*st)

    grid, dims = (2, 3, 4), (4, 6, 6)
    t["rope.x"] = normal(rng, (24, 32))
    t["rope.positions"] = ref.rope_positions(grid, 16)
    t["rope.out"] = ref.rope(t["rope.x"], grid, 2, dims, 16)
    meta.update({"rope.grid": ints(*grid), "rope.heads": "2", "rope.dims": ints(*dims),
                 "rope.reference_tokens": "16"})

    q, k, v = (normal(rng, (24, 16)) for _ in range(3))
    t["attention.full.q"], t["attention.full.k"], t["attention.full.v"] = q, k, v
    t["attention.full.out"] = ref.attention(q, k, v, 2)
    meta["attention.full.heads"] = "2"

    q, k, v = normal(rng, (6, 16)), normal(rng, (8, 16)), normal(rng, (8, 16))
    k[5:] *= 4.0  # padded keys that would dominate if not masked
    v[5:] += 3.0
    t["attention.masked.q"], t["attention.masked.k"], t["attention.masked.v"] = q, k, v
    t["attention.masked.out"] = ref.attention(q, k, v, 2, key_length=5)
    meta.update({"attention.masked.heads": "2", "attention.masked.key_length": "5"})

    grid = (3, 4, 5)
    q, k, v = (normal(rng, (60, 16)) for _ in range(3))
    t["attention.grid.q"], t["attention.grid.k"], t["attention.grid.v"] = q, k, v
    t["attention.grid.full.out"] = ref.self_attention(q, k, v, 2, grid, "full")
    t["attention.grid.factorized.out"] = ref.self_attention(q, k, v, 2, grid, "factorized")
    for win in [(1, 2, 2), (2, 2, 3)]:
        t[f"attention.grid.windowed_{'_'.join(map(str, win))}.out"] = \
            ref.self_attention(q, k, v, 2, grid, ("windowed", win))
    meta.update({"attention.grid.grid": ints(*grid), "attention.grid.heads": "2"})
    return t, meta


# ---------------------------------------------------------------------------------------------- noise


def philox_goldens():
    cases = [  # (key words, counter words) and, where drawn from the engine's mapping, (seed, stream, m)
        ([0, 0], [0, 0, 0, 0], None),
        ([ref.MASK32] * 2, [ref.MASK32] * 4, None),
        ([0xA4093822, 0x299F31D0], [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], None),
        (None, None, (42, 0, 0)),
        (None, None, (2**40 + 7, 1, 1)),
        (None, None, (7, 2, 2**32 + 3)),
        (None, None, (2**64 - 1, 1, 2**64 - 1)),
    ]
    meta, t = {"philox.cases": str(len(cases))}, {}
    hexw = lambda ws: ",".join(f"0x{w:08x}" for w in ws)  # noqa: E731
    for i, (key, counter, derived) in enumerate(cases):
        if derived is not None:
            seed, stream, m = derived
            key, counter = [seed & ref.MASK32, seed >> 32], [m & ref.MASK32, m >> 32, stream, 0]
            meta.update({f"philox.{i}.seed": str(seed), f"philox.{i}.stream": str(stream), f"philox.{i}.m": str(m)})
            assert ref.philox_words(seed, stream, m) == ref.philox4x32_10(counter, key)
        meta.update({f"philox.{i}.key": hexw(key), f"philox.{i}.counter": hexw(counter),
                     f"philox.{i}.output": hexw(ref.philox4x32_10(counter, key))})
    for seed, stream, count, offset in [(42, 0, 64, 0), (2**40 + 7, 1, 64, 0), (42, 2, 8, 2**33 + 1)]:
        name = f"normal.seed_{seed}.stream_{stream}" + (f".offset_{offset}" if offset else "")
        t[name] = ref.philox_normal(seed, stream, count, offset)
        meta.update({name + ".seed": str(seed), name + ".stream": str(stream), name + ".offset": str(offset)})
    return t, meta


# ------------------------------------------------------------------------------------------------ DiT


def tiny_dit_setup():
    """Weights and inputs of the tiny DiT (a fresh generator, so dit_tiny and sampler share them)."""
    rng = np.random.default_rng(SEED)
    cfg = TINY_DIT
    weights = {}
    for name, shape in ref.dit_weight_shapes(cfg).items():
        if name.endswith("norm.weight") or name.endswith("norm2.weight"):
            weights[name] = normal(rng, shape, 0.1, 1.0)
        elif name.endswith(".bias"):
            weights[name] = normal(rng, shape, 0.1)
        elif "adaLN_modulation" in name:  # small but not zero: every gate, shift and scale is exercised
            weights[name] = normal(rng, shape, 0.5 / math.sqrt(shape[1]))
        else:
            weights[name] = normal(rng, shape, 1.0 / math.sqrt(shape[1]))
    inputs = {"x": normal(rng, (2, 4, 6, 4)), "t": f32(0.7), "ctx": normal(rng, (5, 8)), "y": normal(rng, 8),
              "ctx_null": normal(rng, (2, 8)), "y_null": normal(rng, 8)}
    inputs["ctx"][4] *= 5.0  # the padded caption row (valid length 4) is large, so a missing mask shows
    return cfg, weights, inputs


def dit_goldens():
    cfg, weights, inp = tiny_dit_setup()
    t = dict(weights)
    t.update({"input.x": inp["x"], "input.t": np.array([inp["t"]]), "input.ctx": inp["ctx"], "input.y": inp["y"]})
    trace = {}
    t["output.velocity"] = ref.dit_forward(weights, cfg, inp["x"], inp["t"], inp["ctx"], 4, inp["y"], "full", trace)
    for name in ["c", "x_embed", "txt", "block0.out", "block1.out"]:
        t["output." + name] = trace[name]
    t["output.velocity_factorized"] = ref.dit_forward(weights, cfg, inp["x"], inp["t"], inp["ctx"], 4, inp["y"],
                                                      "factorized")
    t["output.velocity_windowed_1_2_2"] = ref.dit_forward(weights, cfg, inp["x"], inp["t"], inp["ctx"], 4, inp["y"],
                                                          ("windowed", (1, 2, 2)))
    placed = dict(cfg, framePositions=True)
    t["output.velocity_frame_positions"] = ref.dit_forward(weights, placed, inp["x"], inp["t"], inp["ctx"], 4,
                                                           inp["y"], "full")
    skipped = dict(cfg, velocitySkip=True)
    t["output.velocity_velocity_skip"] = ref.dit_forward(weights, skipped, inp["x"], inp["t"], inp["ctx"], 4,
                                                         inp["y"], "full")
    clean = dict(cfg, prediction="clean")
    t["output.velocity_clean_prediction"] = ref.dit_forward(weights, clean, inp["x"], inp["t"], inp["ctx"], 4,
                                                            inp["y"], "full")
    meta = {"input.ctx_length": "4", "layout": "full", "config": "dit_tiny.json"}
    return t, meta


# -------------------------------------------------------------------------------------------- sampler


def sampler_goldens():
    cfg, weights, inp = tiny_dit_setup()
    shape, seed, steps = (2, 4, 6, 4), 7, 3
    tokens = 2 * 2 * 3
    noise = ref.philox_normal(seed, 0, int(np.prod(shape))).reshape(shape).astype(np.float64)  # [F, H, W, C]
    shift = ref.shift_for_tokens(tokens, 1.0, 144)
    ts = ref.schedule(steps, shift)
    v_cond = lambda x, tt: ref.dit_forward(weights, cfg, x, tt, inp["ctx"], 4, inp["y"])  # noqa: E731
    v_null = lambda x, tt: ref.dit_forward(weights, cfg, x, tt, inp["ctx_null"], 2, inp["y_null"])  # noqa: E731

    t = {"input.noise": noise, "input.ctx": inp["ctx"], "input.y": inp["y"], "input.ctx_null": inp["ctx_null"],
         "input.y_null": inp["y_null"], "output.schedule": ts, "output.shift": np.array([shift])}
    meta = {"weights": "dit_tiny.safetensors", "config": "dit_tiny.json", "layout": "full",
            "input.ctx_length": "4", "input.ctx_null_length": "2", "noise.seed": str(seed), "noise.stream": "0",
            "steps": str(steps), "tokens": str(tokens), "shift_base": "1", "shift_reference_tokens": "144",
            "euler.guidance": "1", "heun.guidance": "3"}
    for solver, g in [("euler", 1.0), ("heun", 3.0)]:
        latents, x0s = ref.sample(ref.guided(v_cond, v_null, g), noise, ts, solver)
        for i in range(steps):
            t[f"output.{solver}.after_step_{i + 1}"] = latents[i]
            t[f"output.{solver}.x0_step_{i + 1}"] = x0s[i]

    for tok, n in [(12, 3), (1000, 8), (4096, 8), (100000, 8)]:
        s = ref.shift_for_tokens(tok, 1.0, 144)
        t[f"schedule.tokens_{tok}.steps_{n}.t"], t[f"schedule.tokens_{tok}.steps_{n}.shift"] = \
            ref.schedule(n, s), np.array([s])

    # refinement start: the Euler result as the prototype, doubled in height and width
    x0 = f32(t["output.euler.after_step_3"])
    full = (2, 8, 12, 4)
    full_tokens, sd_steps, strength = 2 * 4 * 6, 4, f32(0.6)
    sd_ts = ref.schedule(sd_steps, ref.shift_for_tokens(full_tokens, 1.0, 144))
    sd_noise = ref.philox_normal(seed, 1, int(np.prod(full))).reshape(full).astype(np.float64)
    k, x = ref.sdedit_start(x0, full, sd_ts, strength, sd_noise)
    t.update({"sdedit.x0": x0, "sdedit.noise": sd_noise, "sdedit.x0_up": ref.upsample_trilinear(x0, full),
              "sdedit.x": x, "sdedit.schedule": sd_ts, "sdedit.strength": np.array([strength])})
    meta.update({"sdedit.steps": str(sd_steps), "sdedit.tokens": str(full_tokens), "sdedit.start_index": str(k),
                 "sdedit.noise.seed": str(seed), "sdedit.noise.stream": "1"})
    return t, meta, weights


# ----------------------------------------------------------------------------------------------- main


def main():
    ref.self_check()
    os.makedirs(GOLDEN, exist_ok=True)
    kt, km = kernel_goldens()
    pt, pm = philox_goldens()
    dt, dm = dit_goldens()
    st, sm, sampler_weights = sampler_goldens()
    assert all((sampler_weights[k] == dt[k]).all() for k in sampler_weights)  # the sampler uses dit_tiny's weights
    files = {"kernels.safetensors": (kt, km), "philox.safetensors": (pt, pm), "dit_tiny.safetensors": (dt, dm),
             "sampler.safetensors": (st, sm)}
    for name, (tensors, meta) in files.items():
        path = os.path.join(GOLDEN, name)
        write_safetensors(path, tensors, meta)
        back, back_meta = read_safetensors(path)
        assert back_meta == meta and sorted(back) == sorted(tensors)
        assert all((back[k] == np.asarray(tensors[k], np.float64).astype(np.float32)).all() for k in tensors)
    with open(os.path.join(GOLDEN, "dit_tiny.json"), "w") as f:
        f.write(json.dumps(TINY_DIT, indent=2) + "\n")
    for name in sorted(files) + ["dit_tiny.json"]:
        print(f"{os.path.getsize(os.path.join(GOLDEN, name)):>8}  {os.path.normpath(os.path.join(GOLDEN, name))}")
    if "--list" in sys.argv:
        for name, (tensors, meta) in files.items():
            print(f"\n{name}")
            for k in sorted(tensors):
                print(f"  {k} {list(np.shape(tensors[k]))}")
            for k in sorted(meta):
                print(f"  [meta] {k} = {meta[k]}")


if __name__ == "__main__":
    main()
