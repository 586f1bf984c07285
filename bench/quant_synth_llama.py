#!/usr/bin/env python3
"""Writes a Hugging Face Llama folder (config.json + model.safetensors) with
random weights, for decode benchmarks where the weights, not the per-step
overhead, dominate (bench/quant_decode.sh -s). Not a test fixture: nothing
checks its outputs against a peer.

    python3 bench/quant_synth_llama.py OUT_DIR [--layers 4] [--hidden 1024]
        [--ffn 2816] [--heads 16] [--kv-heads 16] [--vocab 32000] [--seed 0]

The defaults are a 4-layer, 1024-wide Llama with a 32000-token vocabulary
and an untied output layer: 117 M parameters, 446 MiB in f32, of which a
decode step reads all but the embedding table (about 320 MiB). Weights
are N(0, 0.02) like transformers' initializer; norms are 1.
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--ffn", type=int, default=2816)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    hd = a.hidden // a.heads

    def w(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    t = {
        "model.embed_tokens.weight": w(a.vocab, a.hidden),
        "model.norm.weight": np.ones(a.hidden, np.float32),
        "lm_head.weight": w(a.vocab, a.hidden),
    }
    for i in range(a.layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = np.ones(a.hidden, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(a.hidden, np.float32)
        t[p + "self_attn.q_proj.weight"] = w(a.heads * hd, a.hidden)
        t[p + "self_attn.k_proj.weight"] = w(a.kv_heads * hd, a.hidden)
        t[p + "self_attn.v_proj.weight"] = w(a.kv_heads * hd, a.hidden)
        t[p + "self_attn.o_proj.weight"] = w(a.hidden, a.heads * hd)
        t[p + "mlp.gate_proj.weight"] = w(a.ffn, a.hidden)
        t[p + "mlp.up_proj.weight"] = w(a.ffn, a.hidden)
        t[p + "mlp.down_proj.weight"] = w(a.hidden, a.ffn)
    save_file(t, os.path.join(a.out, "model.safetensors"))
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": a.hidden,
        "intermediate_size": a.ffn,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "head_dim": hd,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "vocab_size": a.vocab,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "attention_bias": False,
        "mlp_bias": False,
        "dtype": "float32",
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    n = sum(v.size for v in t.values())
    print(f"{a.out}: {n / 1e6:.1f} M parameters, {n * 4 / 2**20:.0f} MiB f32")


if __name__ == "__main__":
    main()
