#!/usr/bin/env python3
"""Reference vectors for kiln's GGML (de)quantizers, made with the `gguf`
package from PyPI (pip install gguf; tested with 0.19.0), whose quants module
reimplements ggml's reference quantizers bit-exactly.

Writes tests/data/gguf/quant_vectors.gguf (read by tests/unit/test_quant.c)
holding, for each case NAME:
  NAME.src    f32 input                     (quantize cases)
  NAME.q      gguf-py's quantized bytes     (typed tensor: q8_0, q4_0, ...)
  NAME.deq    gguf-py's dequantization of NAME.q, f32
For q4_K and q6_K gguf-py has no quantizer, so NAME.q holds random blocks
(with finite f16 scales) and NAME.deq their dequantization.

Run from the repository root:  python3 tests/tools/gguf_quant_vectors.py
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "gguf", "quant_vectors.gguf")
rng = np.random.default_rng(1234)


def block32_cases():
    """Rows of 32-element blocks that exercise the rounding and scale rules."""
    blocks = []
    blocks.append(rng.standard_normal(32))                    # typical weights
    blocks.append(rng.standard_normal(32) * 1e-3)             # small scale
    blocks.append(rng.uniform(-4, 4, 32))
    blocks.append(np.zeros(32))                               # d = 0 -> id = 0
    b = rng.standard_normal(32); b[7] = -5.0; blocks.append(b)     # negative extreme
    b = rng.standard_normal(32); b[3] = 5.0; b[9] = -5.0; blocks.append(b)  # tie: first wins
    # Values that land on .5 after scaling: q8_0 rounds half away from zero
    # (roundf), numpy's round would go to even.
    blocks.append(np.array([127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 63.5] + [0.25 * i for i in range(24)]))
    blocks.append(np.array([-8.0] + [i * 0.5 for i in range(-15, 16)]))  # q4_0 half steps
    blocks.append(rng.standard_normal(32) * 1e-6)             # f16 scale is subnormal
    blocks.append(rng.standard_normal(32) * 3000)             # large
    return np.concatenate(blocks).astype(np.float32)


def random_k_blocks(qtype, n_blocks):
    """Random bytes for k-quant blocks with finite, moderate f16 scales."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    def scales(n):
        return rng.uniform(-0.05, 0.05, n).astype(np.float16).view(np.uint8).reshape(n_blocks, -1)
    if qtype == T.Q4_K:   # d, dmin first (dmin positive like real files, but any works)
        raw[:, 0:2] = scales(n_blocks)
        raw[:, 2:4] = np.abs(rng.uniform(0, 0.05, n_blocks)).astype(np.float16).view(np.uint8).reshape(n_blocks, -1)
    elif qtype == T.Q6_K:  # d last
        raw[:, -2:] = scales(n_blocks)
    return raw


def main():
    w = gguf.GGUFWriter(OUT, arch="kiln-test")
    w.add_string("kiln.generator", "tests/tools/gguf_quant_vectors.py with gguf " + getattr(gguf, "__version__", "0.19.0"))
    x = block32_cases()
    rows = x.reshape(-1, 64)  # 5 rows of 64 = 2 blocks each
    for name, qt in (("q8_0", T.Q8_0), ("q4_0", T.Q4_0)):
        q = quantize(rows, qt)
        w.add_tensor(name + ".src", rows)
        w.add_tensor(name + ".q", q, raw_dtype=qt)
        w.add_tensor(name + ".deq", dequantize(q, qt).astype(np.float32))
    for name, qt, dt in (("f16", T.F16, np.float16), ("bf16", T.BF16, None)):
        src = np.concatenate([x, np.array([65504.0, 65520.0, 1e-8, -0.0, 3.14159265], np.float32)]).reshape(1, -1)
        q = quantize(src, qt)
        w.add_tensor(name + ".src", src)
        w.add_tensor(name + ".q", q if dt is None else q.view(np.uint8).view(dt), raw_dtype=qt)
        w.add_tensor(name + ".deq", dequantize(q, qt).astype(np.float32))
    for name, qt in (("q4_K", T.Q4_K), ("q6_K", T.Q6_K)):
        raw = random_k_blocks(qt, 4)
        w.add_tensor(name + ".q", raw.reshape(2, -1), raw_dtype=qt)
        w.add_tensor(name + ".deq", dequantize(raw.reshape(2, -1), qt).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    sys.exit(main())
