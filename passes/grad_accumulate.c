/* Summing two adjoints of one value (grad.h: grad_accumulate).
 *
 * The slices of a split (q, k, v out of one projection) each send back
 * their adjoint padded with zeros to the full width (grad_slice: a concat
 * of zeros, dy, zeros). Added as they arrive, the sum would be one kernel
 * that evaluates every padded concat at every element; when both terms
 * are concats along the same axis with constant piece widths, the sum is
 * built piece by piece instead: a segment covered by zeros in one term is
 * the other term's piece, so the three padded adjoints of a split add up
 * to the plain concat of dq, dk, dv. */
#include "grad.h"
#include "kiln/scalar.h"

typedef struct piece {
    kiln_value v;
    int zero;
    int64_t start, len;
} piece;

enum { MAX_PIECES = 16 };

/* an expand of a scalar constant 0 (g_zeros) */
static int is_zeros(const kiln_graph *g, kiln_value v) {
    const kiln_node *n = kiln_graph_node(g, v);
    if (n->op == KILN_OP_EXPAND) n = kiln_graph_node(g, n->inputs[0]);
    if (n->op != KILN_OP_CONST || kiln_tensor_numel(&n->value) != 1 || !n->value.data) return 0;
    return kiln_scalar_as_double(n->dtype, kiln_scalar_load(n->value.data, n->dtype, 0)) == 0.0;
}

/* the pieces of a concat along `axis` with constant widths; 0 if v is not one */
static int pieces_of(const kiln_graph *g, kiln_value v, int axis, piece *p) {
    const kiln_node *n = kiln_graph_node(g, v);
    if (n->op != KILN_OP_CONCAT || n->attrs[0].i != axis || n->ninputs > MAX_PIECES) return 0;
    int64_t at = 0;
    for (int i = 0; i < n->ninputs; i++) {
        kiln_dim len = kiln_graph_node(g, n->inputs[i])->shape.dims[axis];
        if (!kiln_dim_is_const(len)) return 0;
        p[i] = (piece){n->inputs[i], is_zeros(g, n->inputs[i]), at, len};
        at += len;
    }
    return n->ninputs;
}

/* piece p's part over [a, b) of the axis, or KILN_NONE when it is zeros */
static kiln_status part(kiln_graph *g, const piece *p, int axis, int64_t a, int64_t b, kiln_value *out) {
    *out = KILN_NONE;
    if (p->zero) return KILN_OK;
    if (a == p->start && b == p->start + p->len) {
        *out = p->v;
        return KILN_OK;
    }
    kiln_named_attr sa[3] = {kiln_a_int("axis", axis), kiln_a_dim("start", a - p->start), kiln_a_dim("end", b - p->start)};
    return kiln_build(g, KILN_OP_SLICE, 1, &p->v, 3, sa, out);
}

static kiln_status zeros(kiln_graph *g, kiln_value like, int axis, int64_t len, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(g, like);
    kiln_shape s = n->shape;
    kiln_dtype t = n->dtype;
    s.dims[axis] = len;
    kiln_value z;
    KILN_TRY(kiln_graph_add_scalar(g, t, 0.0, &z));
    kiln_named_attr a = kiln_a_dims("shape", s.rank, s.dims);
    return kiln_build(g, KILN_OP_EXPAND, 1, &z, 1, &a, out);
}

/* a + b piece by piece; *out stays KILN_NONE when the terms do not fit */
static kiln_status merge(kiln_graph *g, kiln_value a, kiln_value b, kiln_value *out) {
    *out = KILN_NONE;
    const kiln_node *na = kiln_graph_node(g, a);
    if (na->op != KILN_OP_CONCAT) return KILN_OK;
    int axis = (int)na->attrs[0].i;
    piece pa[MAX_PIECES], pb[MAX_PIECES];
    int ka = pieces_of(g, a, axis, pa), kb = pieces_of(g, b, axis, pb);
    if (!ka || !kb || pa[ka - 1].start + pa[ka - 1].len != pb[kb - 1].start + pb[kb - 1].len) return KILN_OK;
    int any_zero = 0;
    for (int i = 0; i < ka; i++) any_zero |= pa[i].zero;
    for (int i = 0; i < kb; i++) any_zero |= pb[i].zero;
    int64_t total = pa[ka - 1].start + pa[ka - 1].len;
    if (!any_zero || total <= 0) return KILN_OK;
    kiln_value segs[2 * MAX_PIECES];
    int nseg = 0, ia = 0, ib = 0;
    int64_t zero_from = -1; /* start of a run of zero segments not yet built */
    for (int64_t at = 0; at < total;) {
        while (pa[ia].start + pa[ia].len <= at) ia++;
        while (pb[ib].start + pb[ib].len <= at) ib++;
        int64_t end = pa[ia].start + pa[ia].len, eb = pb[ib].start + pb[ib].len;
        if (eb < end) end = eb;
        kiln_value x, y, sum;
        KILN_TRY(part(g, &pa[ia], axis, at, end, &x));
        KILN_TRY(part(g, &pb[ib], axis, at, end, &y));
        if (x == KILN_NONE && y == KILN_NONE) {
            if (zero_from < 0) zero_from = at;
        } else {
            if (zero_from >= 0) KILN_TRY(zeros(g, a, axis, at - zero_from, &segs[nseg++]));
            zero_from = -1;
            if (x != KILN_NONE && y != KILN_NONE) {
                kiln_value in[2] = {x, y};
                KILN_TRY(kiln_build(g, KILN_OP_ADD, 2, in, 0, NULL, &sum));
            } else {
                sum = x != KILN_NONE ? x : y;
            }
            segs[nseg++] = sum;
        }
        at = end;
    }
    if (zero_from >= 0) KILN_TRY(zeros(g, a, axis, total - zero_from, &segs[nseg++]));
    if (nseg == 1) {
        *out = segs[0];
        return KILN_OK;
    }
    kiln_named_attr ca = kiln_a_int("axis", axis);
    return kiln_build(g, KILN_OP_CONCAT, nseg, segs, 1, &ca, out);
}

kiln_status grad_accumulate(kiln_graph *g, kiln_value a, kiln_value b, kiln_value *out) {
    KILN_TRY(merge(g, a, b, out));
    if (*out != KILN_NONE) return KILN_OK;
    kiln_value in[2] = {a, b};
    return kiln_build(g, KILN_OP_ADD, 2, in, 0, NULL, out);
}
