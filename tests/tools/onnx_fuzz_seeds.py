#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_onnx.c (tests/fuzz/corpus/onnx):
small ONNX models that reach the importer's main paths (symbolic dims and
shape subgraphs, initializers, attributes of each type, Attention,
LayerNormalization, Slice/Pad/Tile, a subgraph attribute) and TensorProto
files with raw and typed data. Run from the repository root."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = "tests/fuzz/corpus/onnx"


def save(name, graph, opset=17):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="seed")
    m.ir_version = 8
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    F, I = TensorProto.FLOAT, TensorProto.INT64
    # symbolic reshape through Shape/Gather/Concat
    save("reshape_sym.onnx", helper.make_graph([
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["b"]),
        helper.make_node("Unsqueeze", ["b", "ax"], ["b1"]),
        helper.make_node("Concat", ["b1", "m1"], ["shp"], axis=0),
        helper.make_node("Reshape", ["x", "shp"], ["y"]),
    ], "g", [vi("x", F, ["batch", "seq", 4])], [vi("y", F, ["batch", None])],
        [numpy_helper.from_array(np.array(0, np.int64), "i0"), numpy_helper.from_array(np.array([0], np.int64), "ax"),
         numpy_helper.from_array(np.array([-1], np.int64), "m1")]))
    # Gemm with a parameter-sized weight, Softmax, Where/Equal
    w = np.arange(80, dtype=np.float32).reshape(8, 10) / 80
    save("gemm_softmax.onnx", helper.make_graph([
        helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, alpha=0.5),
        helper.make_node("Softmax", ["h"], ["p"], axis=-1),
        helper.make_node("Equal", ["p", "p"], ["e"]),
        helper.make_node("Where", ["e", "p", "h"], ["y"]),
    ], "g", [vi("x", F, [2, 10])], [vi("y", F, [2, 8])], [numpy_helper.from_array(w, "w")]))
    # LayerNormalization with all outputs, attributes float/int
    save("layernorm.onnx", helper.make_graph([
        helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "m", "r"], axis=-2, epsilon=1e-3),
    ], "g", [vi("x", F, [2, 3, 4])], [vi("y", F, [2, 3, 4]), vi("m", F, None), vi("r", F, None)],
        [numpy_helper.from_array(np.ones((3, 4), np.float32), "s"), numpy_helper.from_array(np.zeros((3, 4), np.float32), "b")]))
    # Attention (opset 23), 3-D with heads and causal mask
    save("attention.onnx", helper.make_graph([
        helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=1, q_num_heads=2, kv_num_heads=1),
    ], "g", [vi("q", F, [1, 4, 8]), vi("k", F, [1, 4, 4]), vi("v", F, [1, 4, 4])], [vi("y", F, [1, 4, 8])]), opset=23)
    # Slice/Pad/Tile/TopK/CumSum with constant arguments
    save("movement.onnx", helper.make_graph([
        helper.make_node("Slice", ["x", "st", "en", "axs", "stp"], ["a"]),
        helper.make_node("Pad", ["a", "pads"], ["b"], mode="reflect"),
        helper.make_node("Tile", ["b", "reps"], ["c"]),
        helper.make_node("TopK", ["c", "k"], ["v", "i"], axis=1),
        helper.make_node("CumSum", ["v", "ax1"], ["y"], exclusive=1),
    ], "g", [vi("x", F, [3, 6])], [vi("y", F, None), vi("i", I, None)],
        [numpy_helper.from_array(np.array([5], np.int64), "st"), numpy_helper.from_array(np.array([-9223372036854775807], np.int64), "en"),
         numpy_helper.from_array(np.array([1], np.int64), "axs"), numpy_helper.from_array(np.array([-2], np.int64), "stp"),
         numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "pads"), numpy_helper.from_array(np.array([2, 1], np.int64), "reps"),
         numpy_helper.from_array(np.array([2], np.int64), "k"), numpy_helper.from_array(np.array(1, np.int64), "ax1")]))
    # Constant / ConstantOfShape / Range / Expand with a symbolic dim
    save("constants.onnx", helper.make_graph([
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["z"], value=numpy_helper.from_array(np.array([2.5], np.float32))),
        helper.make_node("Constant", [], ["one"], value_int=1),
        helper.make_node("Constant", [], ["zero"], value_ints=[0]),
        helper.make_node("Gather", ["s", "one"], ["n"]),
        helper.make_node("Range", ["c0", "n", "c1"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=F),
        helper.make_node("Add", ["z", "rf"], ["y"]),
    ], "g", [vi("x", F, [2, "n"])], [vi("y", F, [2, "n"])],
        [numpy_helper.from_array(np.array(0, np.int64), "c0"), numpy_helper.from_array(np.array(1, np.int64), "c1")]))
    # a control-flow op with a subgraph attribute (unsupported, decoded)
    body = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "body", [vi("a", F, [1])], [vi("b", F, [1])])
    save("if_subgraph.onnx", helper.make_graph([
        helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body),
    ], "g", [vi("c", TensorProto.BOOL, [])], [vi("y", F, [1])]))
    # typed-field initializers and strings
    t16 = helper.make_tensor("h", TensorProto.FLOAT16, [2], np.array([1, -2], np.float16).view(np.uint16).astype(np.int32).tolist(), raw=False)
    save("typed_inits.onnx", helper.make_graph([
        helper.make_node("Cast", ["h"], ["hf"], to=F),
        helper.make_node("Add", ["x", "hf"], ["y"]),
    ], "g", [vi("x", F, [2])], [vi("y", F, [2])],
        [t16, helper.make_tensor("s", TensorProto.STRING, [1], [b"text"]),
         helper.make_tensor("d", TensorProto.DOUBLE, [2], [1.0, 2.0])]))
    # TensorProto files
    for name, arr in [("t_f32.pb", np.arange(6, dtype=np.float32).reshape(2, 3)), ("t_i64.pb", np.array([-1, 2**40], np.int64)),
                      ("t_bool.pb", np.array([True, False])), ("t_u64.pb", np.array([2**63 + 1], np.uint64))]:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(numpy_helper.from_array(arr, "t").SerializeToString())
    with open(os.path.join(OUT, "t_typed.pb"), "wb") as f:
        f.write(helper.make_tensor("t", TensorProto.INT32, [3], [1, -2, 3]).SerializeToString())


if __name__ == "__main__":
    main()
