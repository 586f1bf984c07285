#!/usr/bin/env python3
"""GPT-2 124M-shape forward (batch 1 x 128 tokens) on the CPU: kiln against
PyTorch (eager, float32, same thread count) measured in the same run.

kiln's side is `kiln bench forward examples/gpt2.kiln` (random weights made
by kiln, the default config: 12 layers, 768 wide, 12 heads, vocab 50257);
PyTorch's is transformers' GPT2LMHeadModel with the same config and its own
random init. Both report the best of N runs after warm-up, in ms.

usage: python3 bench/gpt2_forward_peer.py KILN_BINARY [--threads N] [--runs N] [--seq N]
A benchmark program, not a test: numbers depend on the machine and its load."""
import argparse
import os
import re
import subprocess
import time

import torch
import transformers as tf


def torch_forward_ms(threads, runs, seq):
    torch.set_num_threads(threads)
    model = tf.GPT2LMHeadModel(tf.GPT2Config()).eval()
    ids = torch.randint(0, 100, (1, seq))
    with torch.no_grad():
        for _ in range(2):
            model(ids)
        best = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            model(ids)
            best = min(best, time.perf_counter() - t)
    return best * 1e3


def kiln_forward_ms(kiln, threads, runs, seq):
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "gpt2.kiln")
    cmd = [kiln, "bench", "forward", src, "--shape", f"batch=1,seq={seq}", "--runs", str(runs), "--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(out, end="")
    return float(re.search(r"best ([0-9.]+) ms", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seq", type=int, default=128)
    a = ap.parse_args()
    k = kiln_forward_ms(a.kiln, a.threads, a.runs, a.seq)
    t = torch_forward_ms(a.threads, a.runs, a.seq)
    print(f"gpt2 124M, 1 x {a.seq} tokens, {a.threads} thread(s): kiln {k:.1f} ms, PyTorch {t:.1f} ms, "
          f"kiln/PyTorch time ratio {k / t:.2f}")


if __name__ == "__main__":
    main()
