#!/usr/bin/env python3
"""Checks with the `gguf` PyPI package (tested with 0.19.0) that a file
written by kiln's GGUF writer reads back as intended. The file is made by
tests/unit/test_gguf.c (make_writer) in the build directory:

    ctest -R unit.test_gguf && python3 tests/tools/gguf_check_writer.py build-xxx/gguf_writer_sample.gguf

The expected values are the ones make_writer() puts in.
"""
import sys

import numpy as np
import gguf
from gguf import GGUFValueType as V, GGMLQuantizationType as T
from gguf.quants import dequantize


def main(path):
    r = gguf.GGUFReader(path)
    f = r.fields
    def val(k):
        return f[k].contents()
    assert val("general.architecture") == "kiln-test"
    assert val("general.alignment") == 64 and r.alignment == 64
    assert val("w.u32") == 123456789 and f["w.u32"].types == [V.UINT32]
    assert val("w.i32") == -5 and f["w.i32"].types == [V.INT32]
    assert val("w.u64") == 1 << 40
    assert np.float32(val("w.f32")) == np.float32(1e-5)
    assert val("w.bool") is False or val("w.bool") == 0
    assert val("w.strs") == ["<s>", "h\u00e9", ""]
    assert val("w.floats") == [0.5, -1.0, 2.0]
    assert val("w.i8s") == [-1, 127] and f["w.i8s"].types == [V.ARRAY, V.INT8]
    assert val("w.empty") == []
    nested = f["w.nested"]
    assert nested.types[:2] == [V.ARRAY, V.ARRAY], nested.types
    print("w.nested types", [V(t).name for t in nested.types], "contents", nested.contents())

    t = {x.name: x for x in r.tensors}
    assert list(t["a.f32"].shape) == [5, 3]  # gguf-py lists ne[] innermost first
    assert np.array_equal(t["a.f32"].data.reshape(-1), np.arange(15, dtype=np.float32))
    assert t["b.f16"].tensor_type == T.F16
    assert np.array_equal(t["b.f16"].data.astype(np.float32), np.arange(7, dtype=np.float32) - 3)
    q = t["c.q8"]
    assert q.tensor_type == T.Q8_0 and list(q.shape) == [64, 2]
    x = (np.arange(128) % 17 - 8).astype(np.float32)
    # max |x| = 8 in every 32-block, so d = 8/127 and q = round(x * 127/8);
    # dequantization gives q * f16(d), within half a step of x.
    deq = dequantize(q.data, T.Q8_0).reshape(-1)
    assert np.max(np.abs(deq - x)) <= 0.5 * 8 / 127 + 1e-6, np.max(np.abs(deq - x))
    assert t["d.empty"].n_elements == 0
    for x in r.tensors:
        assert x.data_offset % 64 == 0, (x.name, x.data_offset)
    print("ok:", path, len(r.fields), "fields,", len(r.tensors), "tensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gguf_writer_sample.gguf")
