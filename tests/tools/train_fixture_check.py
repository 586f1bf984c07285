#!/usr/bin/env python3
"""Checks `kiln train --steps 1` against a Hugging Face one-step reference.

usage: train_fixture_check.py EXPECTED_TRAIN.safetensors WEIGHTS.safetensors GRADS.safetensors

EXPECTED_TRAIN holds train_loss [1], grad.<name> and after_adamw.<name> from
transformers + torch.optim.AdamW (lr 1e-3, wd 0.1, betas 0.9/0.999, eps 1e-8,
no clipping). WEIGHTS is kiln's --out (the updated <name>), GRADS its
--grads-out (train_loss, grad.<name>). Tolerances are issue 7's:
  loss     rtol 1e-4
  grads    atol 1e-5, rtol 1e-3
  weights  atol 2e-6, rtol 1e-4, except elements whose reference gradient is
           below 1e-7 in magnitude: atol 1e-3. Adam divides by sqrt(v), so
           where the true gradient is ~0 (the key bias, by softmax's shift
           invariance) rounding noise of either side becomes a step of up to lr.
Prints the worst element per tensor; exit 0 when every check holds.
"""
import sys

import numpy as np
from safetensors.numpy import load_file


def report(name, got, want, ok_mask, err, bound):
    bad = int((~ok_mask).sum())
    i = int(np.argmax(err - bound))
    flat_g, flat_w = got.reshape(-1), want.reshape(-1)
    status = "ok" if bad == 0 else "FAIL (%d elements)" % bad
    print("%-50s max|d| %.3g  worst [%d] %.9g vs %.9g  %s" % (name, float(err.max()) if err.size else 0.0, i,
                                                               flat_g[i], flat_w[i], status))
    return bad == 0


def close(name, got, want, atol, rtol, loose=None):
    if got.shape != want.shape:
        print("%s: shape %s, expected %s  FAIL" % (name, got.shape, want.shape))
        return False
    g, w = got.astype(np.float64).reshape(-1), want.astype(np.float64).reshape(-1)
    err = np.abs(g - w)
    bound = atol + rtol * np.abs(w)
    if loose is not None:
        bound = np.where(loose.reshape(-1), np.maximum(bound, 1e-3), bound)
    return report(name, g, w, err <= bound, err, bound)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    exp, weights, grads = (load_file(p) for p in argv)
    ok = close("train_loss", grads["train_loss"], exp["train_loss"], 0.0, 1e-4)
    names = sorted(k[len("grad."):] for k in exp if k.startswith("grad."))
    for n in names:
        ref_g = exp["grad." + n]
        if "grad." + n not in grads or n not in weights:
            print("%s: missing from kiln's output  FAIL" % n)
            ok = False
            continue
        ok &= close("grad." + n, grads["grad." + n], ref_g, 1e-5, 1e-3)
        ok &= close(n, weights[n], exp["after_adamw." + n], 2e-6, 1e-4, loose=np.abs(ref_g) < 1e-7)
    print("train fixture: %s (%d tensors)" % ("ok" if ok else "MISMATCH", len(names)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
