/* ONNX models: a protobuf reader of kiln's own and an importer from ONNX
 * graphs (opsets 13 and later, most of the default domain) to kiln IR.
 *
 * Graph inputs that are not initializers become INPUT nodes (dim_param
 * names and unknown dims become symbols); initializers are put in a weight
 * map (views of the file when aligned) and become PARAM nodes when large,
 * constants when small; outputs keep the graph's output names. Shape
 * computations (Shape, Gather, Concat, ... feeding Reshape, Expand, Slice)
 * are evaluated at import time, symbolically where dims are symbols.
 * Unsupported ops and types fail with KILN_ERR_UNSUPPORTED, naming the op
 * type, domain, opset and node. */
#ifndef KILN_ONNX_H
#define KILN_ONNX_H

#include <stddef.h>

#include "ir.h"
#include "model.h"
#include "tensor.h"

/* Loads path (external data is read relative to its directory, never
 * outside it). The weight map keeps the file mapped; free it after the
 * graph's last run. */
kiln_status kiln_onnx_load(const char *path, kiln_graph **graph, kiln_tensor_map **weights);

/* Same, with the graph inputs named in `bind` fixed to its values: they
 * become constants, so shape arguments that a model takes as inputs
 * (Reshape's shape, Slice's starts, TopK's K) are known when the graph is
 * built. Other graph inputs stay inputs. */
kiln_status kiln_onnx_load_bound(const char *path, const kiln_tensor_map *bind, kiln_graph **graph,
                                 kiln_tensor_map **weights);

/* Same from bytes in memory (weights are copied; external data is an
 * error). `name` is used in messages. */
kiln_status kiln_onnx_import(const void *data, size_t len, const char *name, kiln_graph **graph,
                             kiln_tensor_map **weights);

/* A serialized TensorProto (the input_0.pb files of ONNX node tests) as an
 * owned tensor; *name (malloc'd, may be NULL) gets its name when asked. */
kiln_status kiln_onnx_read_tensor(const char *path, kiln_tensor *out, char **name);
kiln_status kiln_onnx_parse_tensor(const void *data, size_t len, const char *what, kiln_tensor *out, char **name);

/* kiln_model_load's loader for *.onnx files. */
kiln_status kiln_onnx_load_model(const char *path, const kiln_model_options *opt, kiln_model **out);

/* Calls fn for every ONNX op type (default domain) the importer converts. */
void kiln_onnx_supported_ops(void (*fn)(const char *op_type, void *ctx), void *ctx);

#endif
