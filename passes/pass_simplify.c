/* Simplification: each rule either maps a node to an existing value
 * (identity removal) or rebuilds it from fewer nodes. Rules see inputs that
 * are already simplified, so chains collapse in one sweep. Nodes left
 * without users are removed by dce. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pass_internal.h"
#include "rewrite.h"

#define DST(v) kiln_graph_node(r->dst, (v))

/* Every element of a constant satisfies `want`: 1 = one, 0 = +0 (ints: 0),
 * -1 = -0.0 (ints: 0). */
static int const_all(const rewriter *r, kiln_value v, int want) {
    const kiln_node *n = DST(v);
    if (!n || n->op != KILN_OP_CONST || n->dtype == KILN_BOOL) return 0;
    size_t count = (size_t)kiln_tensor_numel(&n->value);
    int is_float = kiln_dtype_is_float(n->dtype);
    for (size_t i = 0; i < count; i++) {
        if (is_float) {
            double x = kiln_load_f64(n->value.data, n->dtype, i);
            if (want == 1 ? x != 1.0 : (x != 0.0 || (signbit(x) != 0) != (want == -1))) return 0;
        } else {
            int64_t x = kiln_load_i64(n->value.data, n->dtype, i);
            if (x != (want == 1 ? 1 : 0)) return 0;
        }
    }
    return 1;
}

/* x op c == x for every x: the result must also be x's type unchanged. */
static kiln_value identity_binary(const rewriter *r, const kiln_node *n, const kiln_value *in) {
    kiln_value a = in[0], b = in[1];
    int same_a = DST(a)->dtype == n->dtype && kiln_shape_equal(&DST(a)->shape, &n->shape);
    int same_b = DST(b)->dtype == n->dtype && kiln_shape_equal(&DST(b)->shape, &n->shape);
    int is_float = kiln_dtype_is_float(n->dtype);
    switch (n->op) {
    case KILN_OP_MUL:
        if (same_a && const_all(r, b, 1)) return a;
        if (same_b && const_all(r, a, 1)) return b;
        break;
    case KILN_OP_DIV:
        if (same_a && const_all(r, b, 1)) return a;
        break;
    case KILN_OP_ADD: /* float: only -0.0 is neutral (-0 + +0 is +0) */
        if (same_a && const_all(r, b, is_float ? -1 : 0)) return a;
        if (same_b && const_all(r, a, is_float ? -1 : 0)) return b;
        break;
    case KILN_OP_SUB: /* x - +0 is x, also for x = -0 */
        if (same_a && const_all(r, b, 0)) return a;
        break;
    default: break;
    }
    return KILN_NONE;
}

/* perm swaps the last two axes and keeps the others. */
static int swaps_last_two(const kiln_node *t) {
    if (t->op != KILN_OP_TRANSPOSE) return 0;
    const kiln_attr *p = &t->attrs[0];
    int rank = p->n;
    if (rank < 2) return 0;
    for (int i = 0; i < rank - 2; i++)
        if (p->list[i] != i) return 0;
    return p->list[rank - 2] == rank - 1 && p->list[rank - 1] == rank - 2;
}

static int is_identity_perm(const kiln_attr *p) {
    for (int i = 0; i < p->n; i++)
        if (p->list[i] != i) return 0;
    return 1;
}

/* Simplifies src node v whose mapped inputs are `in`; sets *res to the
 * replacement value or KILN_NONE to copy the node unchanged. */
static kiln_status simplify_node(rewriter *r, kiln_value v, const kiln_value *in, kiln_value *res) {
    const kiln_node *n = kiln_graph_node(r->src, v);
    *res = KILN_NONE;
    switch (n->op) {
    case KILN_OP_RESHAPE:
    case KILN_OP_EXPAND: {
        const kiln_node *x = DST(in[0]);
        if (kiln_shape_equal(&x->shape, &n->shape)) *res = in[0];
        else if (n->op == KILN_OP_RESHAPE && x->op == KILN_OP_RESHAPE) {
            /* reshape(reshape(y)) = reshape(y), or y itself */
            if (kiln_shape_equal(&DST(x->inputs[0])->shape, &n->shape)) *res = x->inputs[0];
            else {
                kiln_named_attr a = kiln_a_dims("shape", n->attrs[0].n, n->attrs[0].list);
                return rw_build(r, v, KILN_OP_RESHAPE, 1, &x->inputs[0], 1, &a, res);
            }
        }
        return KILN_OK;
    }
    case KILN_OP_TRANSPOSE: {
        const kiln_node *x = DST(in[0]);
        if (is_identity_perm(&n->attrs[0])) *res = in[0];
        else if (x->op == KILN_OP_TRANSPOSE) {
            /* out dim i is x dim perm[i], which is y dim xperm[perm[i]] */
            int64_t perm[KILN_MAX_RANK];
            kiln_attr p = {KILN_ATTR_INTS, 0, 0, n->attrs[0].n, perm, 0};
            for (int i = 0; i < p.n; i++) perm[i] = x->attrs[0].list[n->attrs[0].list[i]];
            if (is_identity_perm(&p)) *res = x->inputs[0];
            else {
                kiln_named_attr a = kiln_a_ints("perm", p.n, perm);
                return rw_build(r, v, KILN_OP_TRANSPOSE, 1, &x->inputs[0], 1, &a, res);
            }
        }
        return KILN_OK;
    }
    case KILN_OP_CAST:
        if (DST(in[0])->dtype == n->dtype) *res = in[0];
        return KILN_OK;
    case KILN_OP_MUL:
    case KILN_OP_DIV:
    case KILN_OP_ADD:
    case KILN_OP_SUB: *res = identity_binary(r, n, in); return KILN_OK;
    case KILN_OP_MATMUL: {
        /* matmul(a, transpose(w)) reads w directly with trans_b flipped */
        const kiln_node *b = DST(in[1]);
        if (!swaps_last_two(b)) return KILN_OK;
        int tb = n->attrs[0].kind == KILN_ATTR_BOOL && n->attrs[0].i;
        kiln_value ins[2] = {in[0], b->inputs[0]};
        kiln_named_attr a = kiln_a_bool("trans_b", !tb);
        return rw_build(r, v, KILN_OP_MATMUL, 2, ins, tb ? 0 : 1, &a, res);
    }
    default: return KILN_OK;
    }
}

kiln_status pass_simplify(const kiln_graph *in, kiln_graph **out) {
    int n = kiln_graph_node_count(in);
    kiln_value *ins = malloc(sizeof *ins * (size_t)(rw_max_inputs(in) + 1));
    if (!ins) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    rewriter r;
    kiln_status s = rw_begin(&r, in);
    for (int v = 0; !s && v < n; v++) {
        rw_inputs(&r, v, ins);
        kiln_value res = KILN_NONE;
        s = simplify_node(&r, v, ins, &res);
        if (!s && res != KILN_NONE) r.map[v] = res;
        else if (!s) s = rw_copy(&r, v);
    }
    free(ins);
    if (s) {
        rw_abort(&r);
        return s;
    }
    return rw_finish(&r, out);
}
