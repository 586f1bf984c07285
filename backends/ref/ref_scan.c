/* cumsum and cumprod along an axis, optionally exclusive (element i sums
 * the elements before i) and reversed (running from the end). Floats
 * accumulate in double, integers in wrapping int64. */
#include "ref_more.h"

REF_KERNEL(ref_cumulative) {
    const kiln_tensor *x = in[0];
    const kiln_node *n = c->n;
    int axis = (int)n->attrs[0].i, exclusive = (int)n->attrs[1].i, reverse = (int)n->attrs[2].i;
    int prod = n->op == KILN_OP_CUMPROD;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    int64_t outer, len, inner;
    ref_split_axis(x, axis, &outer, &len, &inner);
    int as_float = kiln_dtype_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double fa = prod ? 1.0 : 0.0;
            int64_t ia = prod ? 1 : 0;
            for (int64_t s = 0; s < len; s++) {
                int64_t k = reverse ? len - 1 - s : s;
                size_t at = (size_t)((o * len + k) * inner + i);
                if (as_float) {
                    double v = kiln_load_f64(x->data, x->dtype, at);
                    if (!exclusive) fa = prod ? fa * v : fa + v;
                    kiln_store_f64(out->data, out->dtype, at, fa);
                    if (exclusive) fa = prod ? fa * v : fa + v;
                } else {
                    int64_t v = kiln_load_i64(x->data, x->dtype, at);
                    if (!exclusive) ia = prod ? ref_wmul(ia, v) : ref_wadd(ia, v);
                    kiln_store_i64(out->data, out->dtype, at, ia);
                    if (exclusive) ia = prod ? ref_wmul(ia, v) : ref_wadd(ia, v);
                }
            }
        }
    }
    return KILN_OK;
}
