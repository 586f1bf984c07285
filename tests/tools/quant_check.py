#!/usr/bin/env python3
"""Checks a GGUF file written by `kiln quantize` with the `gguf` PyPI package
(tested with 0.19.0), independently of kiln's own readers:

    python3 tests/tools/quant_check.py SOURCE.gguf OUT.gguf TYPE [--tokenizer-from REF.gguf]

SOURCE.gguf is the f32 model that was quantized (or any f32 GGUF of the same
weights, e.g. stories260K.gguf for stories260K.bin); TYPE is q8_0 or q4_0.
It checks:
  - the file parses, general.architecture is llama, the llama.* numbers
    match the source, and every source tensor is there (output.weight may
    be absent when the source ties it to token_embd and the copy is tied);
  - the per-tensor policy: 1-D tensors f32, 2-D tensors TYPE when their
    rows are whole 32-blocks (else f32), the output projection q8_0 when
    TYPE is q4_0;
  - quantized bytes equal gguf-py's own quantize() of the source (kiln's
    quantizers are ggml-exact), and f32 tensors are bit-identical;
  - dequantized values (gguf-py's dequantize) are within the block bound
    derived below of the source values;
  - the tokenizer keys equal those of --tokenizer-from (default: SOURCE).

Error bounds, per block of 32 with amax = max |x| (f32 arithmetic, as ggml):
  q8_0: d = amax/127, id = 1/d, q = round(x*id) with |x*id| <= 127(1+2^-22),
        so |x - q*d| <= d*(1/2 + 2^-16). The stored scale is f16(d):
        |q*(d - f16(d))| <= 127*d*2^-11 for a normal half, or 127*2^-25
        when d is below the half-normal range (a subnormal's half-ulp is
        2^-25). Total: |x - x'| <= 0.5623*d + 3.8e-6.
  q4_0: d = m/-8 where m is the element of largest magnitude, so x/d is in
        [-8, 8]; q - 8 = floor(x/d + 0.5) clamped to 7, off by at most
        1/2, or 1 for x/d in [7.5, 8]: |x - (q-8)*d| <= |d|*(1 + 2^-20).
        The f16 scale adds |q-8|*|d - f16(d)| <= 8*|d|*2^-11 (+ 8*2^-25).
        Total: |x - x'| <= 1.0040*|d| + 2.4e-7 = 0.1255*amax + 2.4e-7.
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

TYPES = {"q8_0": T.Q8_0, "q4_0": T.Q4_0}


def tensors(reader):
    return {t.name: t for t in reader.tensors}


def logical(t):
    """The tensor's values as float32 in kiln order (outermost first)."""
    shape = [int(x) for x in reversed(t.shape)]
    if t.tensor_type == T.F32:
        return np.array(t.data, dtype=np.float32).reshape(shape)
    return dequantize(np.array(t.data), t.tensor_type).reshape(shape)


def block_bound(x, qtype):
    """Per-element error bound for x (rows of whole 32-blocks)."""
    blocks = x.reshape(-1, 32).astype(np.float64)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    if qtype == T.Q8_0:
        b = 0.5623 * amax / 127.0 + 3.8e-6
    else:
        b = 0.1255 * amax + 2.4e-7
    return np.broadcast_to(b, blocks.shape).reshape(x.shape)


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def main(argv):
    src_path, out_path, tname = argv[1], argv[2], argv[3]
    tok_path = argv[5] if len(argv) > 5 and argv[4] == "--tokenizer-from" else src_path
    qtype = TYPES[tname]
    src, out = gguf.GGUFReader(src_path), gguf.GGUFReader(out_path)
    assert field(out, "general.architecture") == "llama"
    for key in ["llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                "llama.attention.head_count", "llama.attention.head_count_kv"]:
        assert field(out, key) == field(src, key), key
    st, ot = tensors(src), tensors(out)
    tied = "output.weight" not in ot
    worst = {}
    for name, s in st.items():
        if name == "output.weight" and tied:
            continue
        assert name in ot, "missing tensor " + name
        o = ot[name]
        x = logical(s)
        assert [int(v) for v in o.shape] == [int(v) for v in s.shape], name
        is_output = name == "output.weight" or (tied and name == "token_embd.weight")
        if x.ndim < 2 or x.shape[-1] % 32:
            want = T.F32
        elif is_output and qtype == T.Q4_0:
            want = T.Q8_0
        else:
            want = qtype
        assert o.tensor_type == want, "%s is %s, expected %s" % (name, o.tensor_type.name, want.name)
        if want == T.F32:
            assert np.array_equal(np.array(o.data, dtype=np.float32).reshape(x.shape), x), name + " changed"
            continue
        assert np.array_equal(np.array(o.data).reshape(-1), quantize(x, want).reshape(-1)), \
            name + ": bytes differ from gguf-py's quantize"
        y = logical(o)
        err = np.abs(y.astype(np.float64) - x.astype(np.float64))
        bound = block_bound(x, want)
        assert np.all(err <= bound), "%s: error %g above its bound" % (name, float((err - bound).max()))
        worst[want.name] = max(worst.get(want.name, 0.0), float((err / np.maximum(bound, 1e-30)).max()))
    if tied:
        assert "output.weight" not in st or np.array_equal(logical(st["output.weight"]), logical(st["token_embd.weight"]))
    tok = gguf.GGUFReader(tok_path)
    for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]:
        assert field(out, key) == field(tok, key), key + " differs"
    print("ok: %d tensors; largest error / bound: %s" % (len(ot), ", ".join(
        "%s %.3f" % kv for kv in sorted(worst.items()))))


if __name__ == "__main__":
    main(sys.argv)
