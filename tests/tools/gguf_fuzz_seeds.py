#!/usr/bin/env python3
"""Seed inputs for tests/fuzz/fuzz_gguf.c, written with the `gguf` PyPI
package (tested with 0.19.0) and struct: a tiny llama GGUF with f32/f16/
q8_0/q4_0 tensors and tokenizer metadata, a v2 file with alignment 8, and a
tiny llama2.c checkpoint. Output: tests/fuzz/corpus/gguf/ (small files)."""
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

OUT = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "gguf")
rng = np.random.default_rng(7)


def tiny_llama(path):
    hid, inter, heads, kv, vocab = 32, 32, 2, 1, 4
    hd = hid // heads
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_context_length(64)
    w.add_embedding_length(hid)
    w.add_feed_forward_length(inter)
    w.add_block_count(1)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>", "a"])
    w.add_token_scores([0.0, 0.0, 0.0, -1.0])
    w.add_token_types([2, 3, 3, 1])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    def mat(rows, cols):
        return rng.standard_normal((rows, cols)).astype(np.float32)
    def q(name, x, qt):
        w.add_tensor(name, quantize(x, qt), raw_dtype=qt)
    q("token_embd.weight", mat(vocab, hid), T.Q8_0)
    w.add_tensor("output_norm.weight", np.ones(hid, np.float32))
    q("blk.0.attn_q.weight", mat(heads * hd, hid), T.Q4_0)
    w.add_tensor("blk.0.attn_k.weight", mat(kv * hd, hid).astype(np.float16))
    q("blk.0.attn_v.weight", mat(kv * hd, hid), T.Q8_0)
    q("blk.0.attn_output.weight", mat(hid, heads * hd), T.Q8_0)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(hid, np.float32))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(hid, np.float32))
    q("blk.0.ffn_gate.weight", mat(inter, hid), T.Q8_0)
    q("blk.0.ffn_up.weight", mat(inter, hid), T.Q4_0)
    q("blk.0.ffn_down.weight", mat(hid, inter), T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def v2_aligned(path):
    # Hand-packed: version 2, general.alignment 8, one 3-element f32 tensor.
    def s(x):
        return struct.pack("<Q", len(x)) + x
    kv = s(b"general.alignment") + struct.pack("<II", 4, 8)
    info = s(b"t") + struct.pack("<IQIQ", 1, 3, 0, 0)
    head = b"GGUF" + struct.pack("<IQQ", 2, 1, 1) + kv + info
    head += b"\0" * (-len(head) % 8)
    open(path, "wb").write(head + struct.pack("<3f", 1, 2, 3))


def tiny_llama2c(path):
    dim, hid, L, heads, kvh, vocab, seq = 8, 8, 1, 2, 2, 4, 2
    hs = dim // heads
    n = (vocab * dim + L * dim + L * dim * dim + 2 * L * dim * kvh * hs + L * dim * dim + L * dim
         + 3 * L * dim * hid + dim + seq * hs)
    data = struct.pack("<7i", dim, hid, L, heads, kvh, vocab, seq) + np.arange(n, dtype=np.float32).tobytes()
    open(path, "wb").write(data)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    tiny_llama(os.path.join(OUT, "tiny_llama.gguf"))
    v2_aligned(os.path.join(OUT, "v2_align8.gguf"))
    tiny_llama2c(os.path.join(OUT, "tiny_llama2c.bin"))
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
