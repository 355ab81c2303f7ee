"""Times the numpy reference's DiT forward on the weights and inputs `tessera bench dit` wrote, and prints
JSON {"seconds": [...], "peakRSSBytes": N, "loadedRSSBytes": N (after loading, before the forward)} for `tessera bench dit` to compare with its own forward.

The math is engine_reference.dit_forward's. One change of evaluation order only: self-attention is done
group by group (a frame, then a place, for the factorized layout) instead of through the reference's masked
[T, T] matrices, which at 63,240 tokens would need 32 GB. Usage:
    python3 reference/bench_dit.py WEIGHTS_FOLDER INPUTS.safetensors REPEATS
"""
import json
import resource
import sys
import time

import numpy as np

import engine_reference as ref
from make_goldens import read_safetensors


def grouped_self_attention(q, k, v, heads, grid, layout="full"):
    ft, hp, wp = grid
    if layout == "full":
        return ref.attention(q, k, v, heads)
    assert layout == "factorized", layout
    plane = hp * wp
    o1 = np.empty_like(v)
    for f in range(ft):
        rows = slice(f * plane, (f + 1) * plane)
        o1[rows] = ref.attention(q[rows], k[rows], v[rows], heads)
    out = np.empty_like(v)
    for p in range(plane):
        rows = slice(p, ft * plane, plane)
        out[rows] = ref.attention(q[rows], k[rows], o1[rows], heads)
    return out


def current_rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss():
    """VmHWM: getrusage's ru_maxrss is inherited from the parent process across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    folder, inputs_path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = json.load(open(f"{folder}/dit.json"))
    weights, _ = read_safetensors(f"{folder}/dit.safetensors")
    weights = {name: array.astype(np.float64) for name, array in weights.items()}
    inputs, metadata = read_safetensors(inputs_path)
    ref.self_attention = grouped_self_attention
    x = inputs["input.x"].astype(np.float64)
    loaded = current_rss()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        ref.dit_forward(weights, cfg, x, float(inputs["input.t"][0]), inputs["input.ctx"].astype(np.float64),
                        int(metadata["input.ctx_length"]), inputs["input.y"].astype(np.float64), layout=metadata["layout"])
        seconds.append(time.perf_counter() - start)
    peak = peak_rss()
    print(json.dumps({"seconds": seconds, "peakRSSBytes": peak, "loadedRSSBytes": loaded}))


if __name__ == "__main__":
    main()
