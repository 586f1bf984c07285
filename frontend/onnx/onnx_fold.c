/* ox_op: building one IR op on importer values. Three ways, tried in
 * order:
 *   1. every input known and small: evaluate the op now with the reference
 *      interpreter (in a scratch graph) and keep the result as data;
 *   2. integer inputs whose elements are symbolic dims (Shape of a value
 *      with a `seq` dim, and what exporters compute from it): move or
 *      combine the dims themselves, so the result stays known;
 *   3. otherwise emit the IR node.
 * Symbols stand for sizes of at least 1: that is what lets Equal(seq, -1)
 * or Max(seq, 1) be decided at import time. */
#include <stdlib.h>
#include <string.h>

#include "ir/graph_internal.h"
#include "ir/shape_rules.h"
#include "kiln/ref.h"
#include "onnx_import.h"

static int attrs_const(int nattrs, const kiln_named_attr *attrs) {
    for (int i = 0; i < nattrs; i++) {
        const kiln_attr *a = &attrs[i].value;
        if (a->kind == KILN_ATTR_DIM && !kiln_dim_is_const(a->i)) return 0;
        if (a->kind == KILN_ATTR_DIMS)
            for (int k = 0; k < a->n; k++)
                if (!kiln_dim_is_const(a->list[k])) return 0;
    }
    return 1;
}

static int static_shape(const kiln_shape *s, int64_t *out) {
    for (int i = 0; i < s->rank; i++) {
        if (!kiln_dim_is_const(s->dims[i])) return 0;
        out[i] = s->dims[i];
    }
    return 1;
}

/* Runs op on concrete tensors in a scratch graph. *done = 0 when the
 * result would be too large to keep as data. */
static kiln_status eval_scratch(kiln_op op, int n, const kiln_tensor *const *ts, int nattrs,
                                const kiln_named_attr *attrs, int64_t max_out, kiln_tensor *res, int *done) {
    *done = 0;
    kiln_graph *sg = kiln_graph_new("fold");
    if (!sg) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_value vs[16];
    kiln_status s = KILN_OK;
    for (int i = 0; i < n && !s; i++) {
        vs[i] = KILN_NONE;
        if (!ts[i]) continue;
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        kiln_shape sh = {ts[i]->rank, {0}};
        for (int d = 0; d < sh.rank; d++) sh.dims[d] = ts[i]->shape[d];
        s = kiln_graph_add_input(sg, name, ts[i]->dtype, &sh, &vs[i]);
    }
    kiln_value y;
    if (!s) s = kiln_build(sg, op, n, vs, nattrs, attrs, &y);
    if (!s) {
        const kiln_node *node = kiln_graph_node(sg, y);
        int64_t shape[KILN_MAX_RANK];
        if (static_shape(&node->shape, shape) && kiln_shape_numel(node->shape.rank, shape) <= max_out) {
            s = kiln_ref_eval_node(sg, node, NULL, ts, res);
            if (!s) *done = 1;
        }
    }
    kiln_graph_free(sg);
    return s;
}

static kiln_status fold(ox_ctx *c, kiln_op op, int n, const ox_id *in, int nattrs, const kiln_named_attr *attrs,
                        ox_id *out, int *done) {
    const kiln_tensor *ts[16];
    for (int i = 0; i < n; i++) ts[i] = in[i] == OX_NONE ? NULL : &OV(c, in[i])->k;
    kiln_tensor res;
    KILN_TRY(eval_scratch(op, n, ts, nattrs, attrs, OX_FOLD_MAX, &res, done));
    if (!*done) return KILN_OK;
    return ox_from_tensor(c, &res, out);
}

/* ---- symbolic dims ---------------------------------------------------------- */
enum { SG_NEG = 1, SG_ZERO = 2, SG_POS = 4 };

/* Which signs d can have, given symbols >= 1 (a mask of SG_*). */
static int dim_signs(kiln_graph *g, kiln_dim d) {
    if (kiln_dim_is_const(d)) return d < 0 ? SG_NEG : d == 0 ? SG_ZERO : SG_POS;
    const dim_expr *e = graph_dim_expr(g, d);
    if (!e) return SG_NEG | SG_ZERO | SG_POS;
    int pos = 1, neg = 1;
    int64_t at_one = e->c; /* value with every symbol at 1: the extreme */
    for (int i = 0; i < e->nt; i++) {
        if (e->t[i].coef < 0) pos = 0;
        if (e->t[i].coef > 0) neg = 0;
        at_one += e->t[i].coef;
    }
    if (pos) return at_one > 0 ? SG_POS : at_one == 0 ? SG_ZERO | SG_POS : SG_NEG | SG_ZERO | SG_POS;
    if (neg) return at_one < 0 ? SG_NEG : at_one == 0 ? SG_ZERO | SG_NEG : SG_NEG | SG_ZERO | SG_POS;
    return SG_NEG | SG_ZERO | SG_POS;
}

/* a OP b on dims; 0 when it cannot be decided or represented. */
static int dim_binary(kiln_graph *g, kiln_op op, kiln_dim a, kiln_dim b, kiln_dim *r) {
    int both = kiln_dim_is_const(a) && kiln_dim_is_const(b);
    /* symbolic arithmetic with huge constants could overflow coefficients */
    if (!both && ((kiln_dim_is_const(a) && (a > OX_MAX_DIM || a < -OX_MAX_DIM)) ||
                  (kiln_dim_is_const(b) && (b > OX_MAX_DIM || b < -OX_MAX_DIM))))
        return 0;
    if (both && (op == KILN_OP_ADD || op == KILN_OP_SUB || op == KILN_OP_MUL)) { /* exact or not at all */
        int64_t v;
        int ovf = op == KILN_OP_ADD ? __builtin_add_overflow(a, b, &v)
                  : op == KILN_OP_SUB ? __builtin_sub_overflow(a, b, &v)
                                      : __builtin_mul_overflow(a, b, &v);
        if (ovf || v > OX_DIM_LIMIT || v < -OX_DIM_LIMIT) return 0;
        *r = v;
        return 1;
    }
    kiln_dim diff = kiln_dim_sub(g, a, b);
    int sg = diff == KILN_DIM_INVALID ? 7 : dim_signs(g, diff);
    switch (op) {
    case KILN_OP_ADD: *r = kiln_dim_add(g, a, b); break;
    case KILN_OP_SUB: *r = diff; break;
    case KILN_OP_MUL: *r = kiln_dim_mul(g, a, b); break;
    case KILN_OP_DIV:
        if (both) *r = b == 0 ? 0 : (a == INT64_MIN && b == -1) ? a : a / b;
        else {
            kiln_status s = kiln_dim_div(g, a, b, r);
            if (s) {
                kiln_status_free(s);
                return 0;
            }
        }
        break;
    case KILN_OP_MOD:
        if (!both) return 0;
        if (b == 0) *r = 0;
        else {
            int64_t m = (b == -1) ? 0 : a % b;
            if (m != 0 && ((m < 0) != (b < 0))) m += b;
            *r = m;
        }
        break;
    case KILN_OP_MAX:
    case KILN_OP_MIN:
        if (sg == SG_ZERO || !(sg & SG_NEG)) *r = op == KILN_OP_MAX ? a : b; /* a >= b */
        else if (!(sg & SG_POS)) *r = op == KILN_OP_MAX ? b : a;         /* a <= b */
        else return 0;
        break;
    case KILN_OP_EQ:
    case KILN_OP_NE:
        if (sg == SG_ZERO) *r = op == KILN_OP_EQ;
        else if (!(sg & SG_ZERO)) *r = op == KILN_OP_NE;
        else return 0;
        break;
    case KILN_OP_LT:
    case KILN_OP_GE:
        if (sg == SG_NEG) *r = op == KILN_OP_LT;
        else if (!(sg & SG_NEG)) *r = op == KILN_OP_GE;
        else return 0;
        break;
    case KILN_OP_LE:
    case KILN_OP_GT:
        if (!(sg & SG_POS)) *r = op == KILN_OP_LE;
        else if (sg == SG_POS) *r = op == KILN_OP_GT;
        else return 0;
        break;
    default: return 0;
    }
    return *r != KILN_DIM_INVALID;
}

/* Offsets of a broadcast operand for every element of out_shape. */
static void broadcast_offsets(int orank, const int64_t *oshape, const kiln_shape *in, int64_t *offs) {
    int64_t n = kiln_shape_numel(orank, oshape);
    int64_t stride[KILN_MAX_RANK], s = 1;
    for (int d = orank - 1; d >= 0; d--) {
        int id = in->rank - orank + d;
        int64_t dim = id >= 0 ? in->dims[id] : 1;
        stride[d] = dim == 1 ? 0 : s;
        s *= id >= 0 ? dim : 1;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int d = orank - 1; d >= 0; d--) {
            off += (rem % oshape[d]) * stride[d];
            rem /= oshape[d];
        }
        offs[i] = off;
    }
}

static int is_compare(kiln_op op) {
    return op == KILN_OP_EQ || op == KILN_OP_NE || op == KILN_OP_LT || op == KILN_OP_LE || op == KILN_OP_GT ||
           op == KILN_OP_GE;
}

/* Elementwise arithmetic, negation, casts between integers and whole
 * reductions of symbolic integer tensors. *done = 0 when not handled. */
static kiln_status sym_arith(ox_ctx *c, kiln_op op, int n, const ox_id *in, int nattrs, const kiln_named_attr *attrs,
                             ox_id *out, int *done) {
    kiln_dim a[OX_SYM_MAX], b[OX_SYM_MAX], r[OX_SYM_MAX];
    *done = 0;
    ox_val *x = OV(c, in[0]);
    int na = ox_dims(c, in[0], a, OX_SYM_MAX);
    if (na < 0) return KILN_OK;
    int64_t xshape[KILN_MAX_RANK];
    static_shape(&x->shape, xshape);
    if (op == KILN_OP_CAST) {
        kiln_dtype to = (kiln_dtype)attrs[0].value.i;
        if (!kiln_dtype_is_int(to) || !kiln_dtype_is_int(x->dtype)) return KILN_OK;
        *done = 1;
        return ox_from_dims(c, to, x->shape.rank, xshape, a, out);
    }
    if (op == KILN_OP_NEG) {
        for (int i = 0; i < na; i++)
            if ((r[i] = kiln_dim_sub(c->g, 0, a[i])) == KILN_DIM_INVALID) return KILN_OK;
        *done = 1;
        return ox_from_dims(c, x->dtype, x->shape.rank, xshape, r, out);
    }
    if (op == KILN_OP_REDUCE_PROD || op == KILN_OP_REDUCE_SUM) {
        const kiln_attr *axes = &attrs[0].value;
        if (x->shape.rank != 1 || nattrs < 1 || axes->n != 1) return KILN_OK;
        kiln_dim acc = op == KILN_OP_REDUCE_PROD ? 1 : 0;
        for (int i = 0; i < na && acc != KILN_DIM_INVALID; i++)
            acc = op == KILN_OP_REDUCE_PROD ? kiln_dim_mul(c->g, acc, a[i]) : kiln_dim_add(c->g, acc, a[i]);
        if (acc == KILN_DIM_INVALID) return KILN_OK;
        int keep = nattrs > 1 && attrs[1].value.i;
        int64_t one = 1;
        *done = 1;
        return ox_from_dims(c, x->dtype, keep, &one, &acc, out);
    }
    if (n != 2) return KILN_OK;
    ox_val *y = OV(c, in[1]);
    int nb = ox_dims(c, in[1], b, OX_SYM_MAX);
    if (nb < 0 || x->dtype != y->dtype) return KILN_OK;
    kiln_shape os;
    kiln_status s = kiln_broadcast_shapes(c->g, &x->shape, &y->shape, &os);
    if (s) {
        kiln_status_free(s);
        return KILN_OK;
    }
    int64_t oshape[KILN_MAX_RANK];
    static_shape(&os, oshape);
    int64_t on = kiln_shape_numel(os.rank, oshape);
    if (on > OX_SYM_MAX) return KILN_OK;
    int64_t oa[OX_SYM_MAX], ob[OX_SYM_MAX];
    broadcast_offsets(os.rank, oshape, &x->shape, oa);
    broadcast_offsets(os.rank, oshape, &y->shape, ob);
    for (int64_t i = 0; i < on; i++)
        if (!dim_binary(c->g, op, a[oa[i]], b[ob[i]], &r[i])) return KILN_OK;
    *done = 1;
    return ox_from_dims(c, is_compare(op) ? KILN_BOOL : x->dtype, os.rank, oshape, r, out);
}

/* Ops that only move elements: run them on tensors of element indices
 * into a pool of the inputs' dims, then look the dims up. */
static int data_input(kiln_op op, int i) {
    switch (op) {
    case KILN_OP_GATHER:
    case KILN_OP_SLICE:
    case KILN_OP_RESHAPE:
    case KILN_OP_TRANSPOSE:
    case KILN_OP_EXPAND: return i == 0;
    case KILN_OP_CONCAT: return 1;
    case KILN_OP_WHERE: return i > 0;
    default: return -1;
    }
}

static kiln_status sym_select(ox_ctx *c, kiln_op op, int n, const ox_id *in, int nattrs, const kiln_named_attr *attrs,
                              ox_id *out, int *done) {
    *done = 0;
    if (n > 16 || !attrs_const(nattrs, attrs)) return KILN_OK;
    kiln_dim pool[OX_SYM_MAX * 4];
    int npool = 0;
    kiln_tensor idx[16];
    const kiln_tensor *ts[16] = {0};
    kiln_dtype dt = KILN_I64;
    memset(idx, 0, sizeof idx);
    kiln_status s = KILN_OK;
    int ok = 1;
    for (int i = 0; i < n && ok && !s; i++) {
        ts[i] = NULL;
        if (in[i] == OX_NONE) continue;
        ox_val *x = OV(c, in[i]);
        if (!data_input(op, i)) {
            if (!x->known) ok = 0;
            else ts[i] = &x->k;
            continue;
        }
        kiln_dim d[OX_SYM_MAX];
        int nd = ox_dims(c, in[i], d, OX_SYM_MAX);
        if (nd < 0 || npool + nd > OX_SYM_MAX * 4) {
            ok = 0;
            break;
        }
        dt = x->dtype;
        int64_t shape[KILN_MAX_RANK];
        static_shape(&x->shape, shape);
        s = kiln_tensor_alloc(&idx[i], KILN_I64, x->shape.rank, shape);
        for (int k = 0; !s && k < nd; k++) {
            ((int64_t *)idx[i].data)[k] = npool;
            pool[npool++] = d[k];
        }
        ts[i] = &idx[i];
    }
    kiln_tensor res = {0};
    if (ok && !s) s = eval_scratch(op, n, ts, nattrs, attrs, OX_SYM_MAX, &res, done);
    for (int i = 0; i < n; i++) kiln_tensor_release(&idx[i]);
    if (s || !*done) {
        kiln_status_free(s); /* not handled here; the IR path reports real errors */
        *done = 0;
        return KILN_OK;
    }
    int64_t rn = kiln_tensor_numel(&res);
    kiln_dim r[OX_SYM_MAX];
    for (int64_t i = 0; i < rn; i++) r[i] = pool[((int64_t *)res.data)[i]];
    s = ox_from_dims(c, dt, res.rank, res.shape, r, out);
    kiln_tensor_release(&res);
    return s;
}

/* Constant dims in attributes beyond OX_MAX_DIM come from corrupt or hostile
 * models; kiln_dim arithmetic on them could overflow. */
static kiln_status check_dim_attrs(kiln_op op, int nattrs, const kiln_named_attr *attrs) {
    const int64_t lim = OX_MAX_DIM;
    for (int i = 0; i < nattrs; i++) {
        const kiln_attr *a = &attrs[i].value;
        int n = a->kind == KILN_ATTR_DIM ? 1 : a->kind == KILN_ATTR_DIMS ? a->n : 0;
        for (int k = 0; k < n; k++) {
            kiln_dim d = a->kind == KILN_ATTR_DIM ? a->i : a->list[k];
            if (kiln_dim_is_const(d) && (d > lim || d < -lim))
                return kiln_error(KILN_ERR_LIMIT, "%s: %s %lld is too large", kiln_op_name(op), attrs[i].name, (long long)d);
        }
    }
    return KILN_OK;
}

kiln_status ox_op(ox_ctx *c, kiln_op op, int n, const ox_id *in, int nattrs, const kiln_named_attr *attrs,
                  ox_id *out) {
    if (n > 16) return kiln_error(KILN_ERR_LIMIT, "%s with %d inputs", kiln_op_name(op), n);
    KILN_TRY(check_dim_attrs(op, nattrs, attrs));
    int all_known = 1, any_sym = 0;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (in[i] == OX_NONE) continue;
        ox_val *x = OV(c, in[i]);
        if (!x->known) all_known = 0;
        else total += kiln_tensor_numel(&x->k);
        if (x->sym) any_sym = 1;
    }
    int done = 0;
    if (all_known && total <= OX_FOLD_MAX && attrs_const(nattrs, attrs)) {
        KILN_TRY(fold(c, op, n, in, nattrs, attrs, out, &done));
        if (done) return KILN_OK;
    }
    if (any_sym) {
        if (data_input(op, 0) >= 0) KILN_TRY(sym_select(c, op, n, in, nattrs, attrs, out, &done));
        else KILN_TRY(sym_arith(c, op, n, in, nattrs, attrs, out, &done));
        if (done) return KILN_OK;
    }
    kiln_value vs[16], y;
    for (int i = 0; i < n; i++) {
        vs[i] = KILN_NONE;
        if (in[i] != OX_NONE) KILN_TRY(ox_ir(c, in[i], &vs[i]));
    }
    KILN_TRY(kiln_build(c->g, op, n, vs, nattrs, attrs, &y));
    return ox_from_ir(c, y, out);
}
