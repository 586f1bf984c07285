#!/usr/bin/env python3
"""Held-out ONNX exports: tiny GPT-2, BERT and Llama configs that differ from
the fixtures (layer and head counts, grouped-query heads, rope theta, vocab),
exported with torch.onnx (TorchScript exporter) with dynamic batch and
sequence axes, then run by onnxruntime and by `kiln run` on inputs of several
shapes -- including shapes other than the one used for the export, so the
symbolic dims and the import-time shape arithmetic are exercised.

usage: onnx_export_cases.py [--kiln PATH] [--keep DIR] [--opset N ...]

Passes when every output matches onnxruntime at atol 1e-4, rtol 1e-3 (the
fixtures' tolerance: float32 with different summation orders). Run by hand;
needs torch, transformers, onnxruntime, safetensors.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
import transformers
from safetensors.numpy import load_file, save_file


def gpt2(seed):
    cfg = transformers.GPT2Config(n_layer=3, n_head=4, n_embd=48, vocab_size=300, n_positions=64,
                                  resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    return transformers.GPT2LMHeadModel(cfg), ["input_ids", "attention_mask"], ["logits"]


def bert(seed):
    cfg = transformers.BertConfig(hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                                  intermediate_size=96, vocab_size=300, max_position_embeddings=64,
                                  type_vocab_size=2, hidden_dropout_prob=0, attention_probs_dropout_prob=0)
    return transformers.BertModel(cfg), ["input_ids", "attention_mask", "token_type_ids"], \
        ["last_hidden_state", "pooler_output"]


def llama(seed):
    cfg = transformers.LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
                                   num_key_value_heads=2, intermediate_size=128, vocab_size=300,
                                   max_position_embeddings=128, rope_theta=500000.0, rms_norm_eps=1e-5)
    return transformers.LlamaForCausalLM(cfg), ["input_ids", "attention_mask"], ["logits"]


CASES = {"gpt2": gpt2, "bert": bert, "llama": llama}
SHAPES = [(2, 7), (1, 11), (3, 4)]  # the first is the export shape


def make_inputs(names, batch, seq, rng):
    feed = {}
    for n in names:
        if n == "input_ids":
            feed[n] = rng.integers(0, 300, size=(batch, seq), dtype=np.int64)
        elif n == "attention_mask":
            m = np.ones((batch, seq), dtype=np.int64)
            if batch > 1:
                m[-1, : seq // 3] = 0  # left padding on one row
            feed[n] = m
        else:
            feed[n] = rng.integers(0, 2, size=(batch, seq), dtype=np.int64)
    return feed


class Wrapper(torch.nn.Module):
    def __init__(self, model, in_names, out_names):
        super().__init__()
        self.model, self.in_names, self.out_names = model, in_names, out_names

    def forward(self, *args):
        out = self.model(**dict(zip(self.in_names, args)), use_cache=False, return_dict=True)
        return tuple(out[n] for n in self.out_names)


def run_case(name, opset, kiln, workdir):
    torch.manual_seed(1234)
    model, in_names, out_names = CASES[name](1234)
    model.eval()
    rng = np.random.default_rng(7)
    path = os.path.join(workdir, f"{name}_op{opset}.onnx")
    b, s = SHAPES[0]
    example = make_inputs(in_names, b, s, rng)
    dyn = {n: {0: "batch", 1: "sequence"} for n in in_names}
    for n in out_names:
        dyn[n] = {0: "batch", 1: "sequence"} if n != "pooler_output" else {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(Wrapper(model, in_names, out_names), tuple(torch.from_numpy(example[n]) for n in in_names),
                          path, input_names=in_names, output_names=out_names, dynamic_axes=dyn,
                          opset_version=opset, dynamo=False)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ok = True
    for (b, s) in SHAPES:
        feed = make_inputs(in_names, b, s, rng)
        want = dict(zip(out_names, sess.run(out_names, feed)))
        inp = os.path.join(workdir, f"{name}_in.safetensors")
        outp = os.path.join(workdir, f"{name}_out.safetensors")
        save_file(feed, inp)
        r = subprocess.run([kiln, "run", path, "--inputs", inp, "--out", outp, "--device", "ref"],
                           capture_output=True, text=True)
        label = f"{name} opset {opset} input [{b}, {s}]"
        if r.returncode != 0:
            print(f"FAIL {label}: kiln run failed: {r.stderr.strip()}")
            ok = False
            continue
        got = load_file(outp)
        for n in out_names:
            g, w = got[n], want[n]
            if g.shape != w.shape:
                print(f"FAIL {label}: {n} has shape {g.shape}, onnxruntime {w.shape}")
                ok = False
                continue
            err = np.abs(g - w)
            bad = err > 1e-4 + 1e-3 * np.abs(w)
            status = "ok" if not bad.any() else "FAIL"
            ok &= not bad.any()
            print(f"{status:4} {label}: {n} {list(w.shape)} max_abs {err.max():.2e}, {int(bad.sum())} beyond tolerance")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", default=os.environ.get("KILN", "build/kiln"))
    ap.add_argument("--keep", help="write the exports here instead of a temporary folder")
    ap.add_argument("--opset", type=int, nargs="*", default=[14, 17])
    ap.add_argument("--case", nargs="*", default=list(CASES))
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="kiln_onnx_")
    os.makedirs(work, exist_ok=True)
    ok = True
    for opset in args.opset:
        for name in args.case:
            ok &= run_case(name, opset, args.kiln, work)
    print("onnx_export_cases:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
