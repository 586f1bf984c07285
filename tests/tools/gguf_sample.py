#!/usr/bin/env python3
"""A small GGUF written by the `gguf` PyPI package (tested with 0.19.0) with
metadata of every value type, nested arrays and a few tensors, so that
kiln's reader is checked against a file it did not write.

Writes tests/data/gguf/sample.gguf, read by tests/unit/test_gguf.c, which
expects exactly the values below. Run from anywhere:
    python3 tests/tools/gguf_sample.py
"""
import os

import numpy as np
import gguf
from gguf import GGUFValueType as V

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "gguf", "sample.gguf")


def main():
    w = gguf.GGUFWriter(OUT, arch="sample")  # adds general.architecture = "sample"
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.15625)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "h\u00e9llo")          # UTF-8: 6 bytes
    w.add_uint64("t.u64", 18000000000000000000)
    w.add_int64("t.i64", -9000000000000000000)
    w.add_float64("t.f64", -2.5e300)
    w.add_array("t.strs", ["a", "", "xyz"])
    w.add_array("t.floats", [1.5, -2.0, 0.25])
    w.add_array("t.ints", [3, -4, 5])
    w.add_key_value("t.u8s", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_array("t.nested", [[1, 2], [3], [[4.5], [5.5, 6.5]]])  # int32 arrays, then an array of float arrays
    w.add_array("t.nested_strs", [["a"], ["bc", "d"]])
    w.add_tensor("w2x3", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.add_tensor("h4", np.array([1, -2, 0.5, 65504], dtype=np.float16))
    w.add_tensor("b3x1x2", np.arange(6, dtype=np.int32).reshape(3, 1, 2))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = gguf.GGUFReader(OUT)
    for k, f in r.fields.items():
        print(k, [V(t).name for t in f.types], f.offset)
    for t in r.tensors:
        print(t.name, t.tensor_type.name, list(t.shape), t.data_offset)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
