/* The passes, each reading one graph and building a new one (rewrite.h). */
#ifndef KILN_PASSES_INTERNAL_H
#define KILN_PASSES_INTERNAL_H

#include "kiln/ir.h"

typedef kiln_status (*pass_fn)(const kiln_graph *in, kiln_graph **out);

kiln_status pass_dce(const kiln_graph *in, kiln_graph **out);
kiln_status pass_cse(const kiln_graph *in, kiln_graph **out);
kiln_status pass_constfold(const kiln_graph *in, kiln_graph **out);
kiln_status pass_simplify(const kiln_graph *in, kiln_graph **out);
kiln_status pass_decompose(const kiln_graph *in, kiln_graph **out);
kiln_status pass_decompose_injective(const kiln_graph *in, kiln_graph **out);

#endif
