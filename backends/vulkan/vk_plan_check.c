/* Data-dependent conditions the reference reports as errors but kernels
 * cannot (a symbolic slice bound outside its dim, argmax over an empty
 * axis), checked on the host before launching, as kiln_plan_run does. */
#include "vk_plan.h"

kiln_status kvk_check_runtime(const kiln_graph *g, const int64_t *symvals) {
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op == KILN_OP_SLICE) {
            const kiln_node *x = kiln_graph_node(g, n->inputs[0]);
            int axis = (int)n->attrs[0].i;
            kiln_dim sized = x->shape.dims[axis];
            if (kiln_dim_is_const(sized) && kiln_dim_is_const(n->attrs[1].i) && kiln_dim_is_const(n->attrs[2].i)) continue;
            int64_t size, start, end, len;
            KILN_TRY(kiln_dim_eval(g, sized, symvals, &size));
            KILN_TRY(kiln_dim_eval(g, n->attrs[1].i, symvals, &start));
            KILN_TRY(kiln_dim_eval(g, n->attrs[2].i, symvals, &end));
            KILN_TRY(kiln_dim_eval(g, n->shape.dims[axis], symvals, &len));
            if (start < 0 || start > size || end - start != len || end > size)
                return kiln_error(KILN_ERR_SHAPE,
                                  "slice %%%d: bounds %lld:%lld on a dim of size %lld do not give the %lld elements the "
                                  "graph expects",
                                  v, (long long)start, (long long)end, (long long)size, (long long)len);
        } else if (n->op == KILN_OP_ARGMAX || n->op == KILN_OP_ARGMIN) {
            const kiln_node *x = kiln_graph_node(g, n->inputs[0]);
            int64_t len, shape[KILN_MAX_RANK];
            KILN_TRY(kiln_dim_eval(g, x->shape.dims[n->attrs[0].i], symvals, &len));
            KILN_TRY(kiln_shape_eval(g, &n->shape, symvals, shape));
            if (len == 0 && kiln_shape_numel(n->shape.rank, shape) > 0)
                return kiln_error(KILN_ERR_SHAPE, "%s %%%d: axis %lld is empty: no index to return", kiln_op_name(n->op),
                                  v, (long long)n->attrs[0].i);
        }
    }
    return KILN_OK;
}
