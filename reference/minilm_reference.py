"""The text encoder's reference: all-MiniLM-L6-v2 in float64 numpy and the model's own tokenizer.

Tokens come from the `tokenizers` package reading the model's tokenizer.json (the tokenizer the model was
trained with), padding off, truncation at 256 tokens (the model's max_seq_length). The BERT forward is written
from docs/ENGINE.md ("Text encoder") over the same model.safetensors, computing in float64 from the float32
weights; outputs are rounded to float32 once, so a golden is the exact answer and a Swift tolerance measures
only Swift's float32 error.

    .venv/bin/pip install -r reference/requirements.txt
    .venv/bin/python reference/minilm_reference.py [model folder]   # default models/all-MiniLM-L6-v2

Reads Tests/TesseraEngineTests/Golden/minilm/corpus.json and writes, beside it:
  bert_tiny.safetensors, bert_tiny.json
                         a 2-layer BERT with random weights (so the forward is checked without the real model):
                         every weight under its BertModel name (pooler included: allowed, unused), meta
                         `input.ids`, and `output.embeddings`, `output.layer0`, `output.layer1`, `output.pooled`
  tokens.json            per corpus text: its ids, word-piece strings and whether it was truncated
  embeddings.safetensors for the texts in EMBEDDED: `<k>.tokens` [L, 384], `<k>.pooled` [384]; for text 0
                         also `0.embeddings` and `0.layer<i>` [L, 384]; for the long text only its pooled
                         vector and its last 4 token rows (`<k>.tokens_tail`). Metadata: `<k>.ids`, `<k>.text`.
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from make_goldens import normal, read_safetensors, write_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GOLDEN = os.path.join(ROOT, "Tests", "TesseraEngineTests", "Golden", "minilm")
MAX_LENGTH = 256
# Corpus indices whose embeddings are stored: plain English, accents, CJK + hangul, emoji, the
# empty string, the over-long text (pooled and tail only, to keep the file small).
EMBEDDED = [0, 5, 6, 7, 16]
LONG = 18
TINY = {"vocab_size": 20, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
        "max_position_embeddings": 12, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "position_embedding_type": "absolute", "model_type": "bert"}
TINY_IDS = [2, 7, 11, 3, 5, 9, 7, 1]


def tokenizer(folder):
    t = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    t.no_padding()
    t.enable_truncation(max_length=MAX_LENGTH)
    return t


def tokenize(t, text):
    """-> (ids, word pieces, truncated)."""
    e = t.encode(text)
    return e.ids, e.tokens, len(e.overflowing) > 0


# --------------------------------------------------------------------------------------------- BERT


def layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf)


def gelu(x):
    """Exact GELU: 0.5·x·(1 + erf(x/√2))."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def linear(x, w, b):
    return x @ w.T + b


def bert(weights, config, ids):
    """-> (last hidden state [L, D], embedding output, every layer's output)."""
    W = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items() if v.dtype in (np.float32, np.float64)}
    eps = config["layer_norm_eps"]
    d, heads = config["hidden_size"], config["num_attention_heads"]
    dh = d // heads
    n = len(ids)
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    embeddings, layers = x, []
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"])
        k = linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"])
        v = linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"])
        ctx = np.zeros_like(q)
        for h in range(heads):
            s = slice(h * dh, (h + 1) * dh)
            scores = q[:, s] @ k[:, s].T / math.sqrt(dh)  # [L, L]; one unpadded sequence: no mask
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            ctx[:, s] = (scores / scores.sum(axis=1, keepdims=True)) @ v[:, s]
        a = linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
        x = layer_norm(x + a, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        f = gelu(linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
        o = linear(f, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
        x = layer_norm(x + o, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
        layers.append(x)
    return x, embeddings, layers


def pooled(tokens):
    """Mean over every token ([CLS] and [SEP] included), then divided by max(‖mean‖, 1e-12)."""
    m = tokens.mean(axis=0)
    return m / max(np.linalg.norm(m), 1e-12)


# --------------------------------------------------------------------------------------------- checks


def self_check(t, weights, config):
    """Facts about the model's tokenizer the Swift rules rely on, and the forward's basic sanity."""
    def pieces(text):
        return tokenize(t, text)[1][1:-1]
    assert pieces("Ångström café") == ["ang", "##strom", "cafe"]
    assert pieces("中文") == ["中", "文"]  # CJK ideographs are words of their own
    assert pieces("a\x85b\u200bc") == ["abc"]  # controls and format characters are dropped, not spaces
    assert pieces("a\u00a0b") == ["a", "b"]  # Unicode whitespace separates
    assert pieces("x[MASK]y [mask]") == ["x", "[MASK]", "y", "[", "mask", "]"]  # specials only verbatim
    assert pieces("\u0378") == ["[UNK]"]  # unassigned scalars are kept
    assert pieces("x" * 101) == ["[UNK]"]  # over 100 characters
    assert pieces("a\U0002B820b") == ["[UNK]"] and pieces("a\U0002B920b") == ["a", "[UNK]", "b"]  # its CJK range
    ids = tokenize(t, "a red ball")[0]
    out, _, _ = bert(weights, config, ids)
    assert out.shape == (len(ids), config["hidden_size"]) and np.isfinite(out).all()
    assert abs(np.linalg.norm(pooled(out)) - 1) < 1e-12


def tiny_goldens():
    """Random float32 weights of O(0.3) (LayerNorm gains 1 ± 0.1) so every layer is far from linear."""
    rng = np.random.default_rng(1234)
    d, f, v, p = TINY["hidden_size"], TINY["intermediate_size"], TINY["vocab_size"], TINY["max_position_embeddings"]
    w = {"embeddings.word_embeddings.weight": normal(rng, (v, d)),
         "embeddings.position_embeddings.weight": normal(rng, (p, d), 0.5),
         "embeddings.token_type_embeddings.weight": normal(rng, (2, d), 0.5),
         "pooler.dense.weight": normal(rng, (d, d), 0.3), "pooler.dense.bias": normal(rng, (d,), 0.1)}

    def norm(name):
        w[name + ".weight"] = normal(rng, (d,), 0.1, 1.0)
        w[name + ".bias"] = normal(rng, (d,), 0.1)

    norm("embeddings.LayerNorm")
    for i in range(TINY["num_hidden_layers"]):
        l = f"encoder.layer.{i}."
        for name in ["query", "key", "value"]:
            w[l + f"attention.self.{name}.weight"] = normal(rng, (d, d), 0.4)
            w[l + f"attention.self.{name}.bias"] = normal(rng, (d,), 0.1)
        w[l + "attention.output.dense.weight"] = normal(rng, (d, d), 0.3)
        w[l + "attention.output.dense.bias"] = normal(rng, (d,), 0.1)
        norm(l + "attention.output.LayerNorm")
        w[l + "intermediate.dense.weight"] = normal(rng, (f, d), 0.4)
        w[l + "intermediate.dense.bias"] = normal(rng, (f,), 0.3)
        w[l + "output.dense.weight"] = normal(rng, (d, f), 0.3)
        w[l + "output.dense.bias"] = normal(rng, (d,), 0.1)
        norm(l + "output.LayerNorm")
    out, embeddings, layers = bert(w, TINY, TINY_IDS)
    tensors = dict(w)
    tensors.update({"output.embeddings": embeddings, "output.layer0": layers[0], "output.layer1": layers[1],
                    "output.pooled": pooled(out)})
    assert np.allclose(layers[-1], out)
    return tensors, {"input.ids": ",".join(map(str, TINY_IDS))}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    weights = load_file(os.path.join(folder, "model.safetensors"))
    t = tokenizer(folder)
    self_check(t, weights, config)
    with open(os.path.join(GOLDEN, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)

    records = []
    for text in corpus:
        ids, pieces, truncated = tokenize(t, text)
        records.append({"ids": ids, "pieces": pieces, "truncated": truncated})
    assert records[LONG]["truncated"] and len(records[LONG]["ids"]) == MAX_LENGTH
    assert sum(r["truncated"] for r in records) == 1
    with open(os.path.join(GOLDEN, "tokens.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(" " + json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n")

    tensors = {}
    meta = {"model.safetensors.sha256": sha256(os.path.join(folder, "model.safetensors")),
            "vocab.txt.sha256": sha256(os.path.join(folder, "vocab.txt")), "max_length": str(MAX_LENGTH)}
    for k in EMBEDDED + [LONG]:
        ids = records[k]["ids"]
        out, embeddings, layers = bert(weights, config, ids)
        meta[f"{k}.ids"] = ",".join(map(str, ids))
        meta[f"{k}.text"] = corpus[k]
        tensors[f"{k}.pooled"] = pooled(out)
        if k == LONG:
            tensors[f"{k}.tokens_tail"] = out[-4:]
            continue
        tensors[f"{k}.tokens"] = out
        if k == 0:
            tensors["0.embeddings"] = embeddings
            for i, layer in enumerate(layers):
                tensors[f"0.layer{i}"] = layer
    path = os.path.join(GOLDEN, "embeddings.safetensors")
    write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)
    assert back_meta == meta and sorted(back) == sorted(tensors)
    tiny, tiny_meta = tiny_goldens()
    write_safetensors(os.path.join(GOLDEN, "bert_tiny.safetensors"), tiny, tiny_meta)
    with open(os.path.join(GOLDEN, "bert_tiny.json"), "w") as f:
        f.write(json.dumps(TINY, indent=2) + "\n")
    for name in ["corpus.json", "tokens.json", "embeddings.safetensors", "bert_tiny.safetensors", "bert_tiny.json"]:
        print(f"{os.path.getsize(os.path.join(GOLDEN, name)):>8}  {os.path.normpath(os.path.join(GOLDEN, name))}")


if __name__ == "__main__":
    main()
