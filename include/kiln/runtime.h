/* Binding a graph to concrete data: weights to PARAM nodes, run inputs to
 * INPUT nodes, symbol values from input shapes. Shared by every backend. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include "ir.h"
#include "tensor.h"

/* One tensor per PARAM node of the graph, in node order. Tensors are views
 * into the weight map when dtype and layout match, owned copies when a
 * conversion was needed (an f16 or bf16 file feeding an f32 graph). */
typedef struct kiln_bound_params {
    int count;
    kiln_value *nodes;
    kiln_tensor *tensors;
} kiln_bound_params;

/* Finds every parameter by name in `weights` (NULL is an empty map), checks
 * that its shape equals the declared one (all param dims must be constant)
 * and converts float to float (f16/bf16/f64 <-> f32) and int to int dtypes;
 * float <-> int and anything <-> bool are errors. Errors name the tensor,
 * the expected and the found type, and the weight file (the map's origin).
 * On failure `out` is left empty. */
kiln_status kiln_bind_params(const kiln_graph *g, const kiln_tensor_map *weights, kiln_bound_params *out);
void kiln_bound_params_free(kiln_bound_params *p);

/* Run inputs, one per INPUT node (in node order). Looks each up by name in
 * `given` (NULL is an empty map); integer inputs are converted to the
 * declared integer dtype (i32 <-> i64; a value that does not fit is an
 * error), float inputs to the declared float dtype; float <-> int is an
 * error. A missing input with a default is filled with it once the symbols
 * are known; a missing input without one is an error naming it and listing
 * the inputs the graph takes. Also binds the symbol values (symvals has
 * kiln_graph_symbol_count entries) and checks every input's shape against
 * them. Tensors are views of `given` when no conversion was needed. On
 * failure `out` is left empty. */
typedef struct kiln_bound_inputs {
    int count;
    kiln_tensor *tensors;
    int64_t *symvals;
    int nsyms;
} kiln_bound_inputs;

kiln_status kiln_bind_inputs(const kiln_graph *g, const kiln_tensor_map *given, kiln_bound_inputs *out);
void kiln_bound_inputs_free(kiln_bound_inputs *b);

#endif
