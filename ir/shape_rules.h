/* Shape rules named in ops.def. */
#ifndef KILN_SHAPE_RULES_H
#define KILN_SHAPE_RULES_H

#include "kiln/ir.h"

#define KILN_OP(id, name, mi, ma, fc, rule, attrs, grad) kiln_status rule(kiln_graph *g, kiln_node *n);
#include "kiln/ops.def"
#undef KILN_OP

/* numpy-style broadcast of two shapes; fails naming both. */
kiln_status kiln_broadcast_shapes(kiln_graph *g, const kiln_shape *a, const kiln_shape *b, kiln_shape *out);

#endif
