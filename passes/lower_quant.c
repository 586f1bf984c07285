/* Lowering of dequantize (docs/compiler.md, "Quantized views"): the value
 * at logical coordinates as byte loads of the raw blocks plus integer and
 * f32 math in exactly the order of ir/quant_dequant.c, so the kernel
 * evaluator reproduces kiln_dequantize bit for bit; and the quantized view
 * descriptor that lets emitters recognise a dequantizing GEMM/GEMV operand. */
#include "kiln/quant.h"
#include "lower.h"

#define NODE(v) kiln_graph_node(L->env->g, (v))

typedef struct qctx {
    lowerer *L;
    const kiln_node *n;
    int32_t raw[KILN_MAX_RANK]; /* coords into the raw input; the last is set per byte */
    int32_t guard;
} qctx;

static int32_t ci(qctx *q, int64_t v) { return kb_const_i(&q->L->kb, KILN_I64, v); }

/* Byte at raw row offset `off` (an i64 expression) as i64 0..255. */
static int32_t byte_at(qctx *q, int32_t off) {
    int r = q->n->shape.rank;
    q->raw[r - 1] = off;
    return kb_cast(&q->L->kb, KILN_I64, lw_emit(q->L, q->n->inputs[0], q->raw, q->guard));
}

/* Byte at `off` as a signed int8 value, in f32. */
static int32_t i8_at(qctx *q, int32_t off) {
    kbuilder *b = &q->L->kb;
    return kb_cast(b, KILN_F32, kb_cast(b, KILN_I8, byte_at(q, off)));
}

/* The little-endian IEEE half at `off`, widened to f32. */
static int32_t f16_at(qctx *q, int32_t off) {
    kbuilder *b = &q->L->kb;
    int32_t lo = byte_at(q, off), hi = byte_at(q, kb_iadd(b, off, ci(q, 1)));
    int32_t bits = kb_math(b, KILN_OP_BITOR, KILN_I64, lo, kb_math(b, KILN_OP_SHL, KILN_I64, hi, ci(q, 8)));
    return kb_cast(b, KILN_F32, kb_bitcast(b, KILN_F16, kb_cast(b, KILN_U16, bits)));
}

static int32_t band(qctx *q, int32_t x, int64_t m) { return kb_math(&q->L->kb, KILN_OP_BITAND, KILN_I64, x, ci(q, m)); }
static int32_t shr(qctx *q, int32_t x, int32_t s) { return kb_math(&q->L->kb, KILN_OP_SHR, KILN_I64, x, s); }
static int32_t shl(qctx *q, int32_t x, int64_t s) { return kb_math(&q->L->kb, KILN_OP_SHL, KILN_I64, x, ci(q, s)); }
static int32_t bor(qctx *q, int32_t x, int32_t y) { return kb_math(&q->L->kb, KILN_OP_BITOR, KILN_I64, x, y); }
static int32_t fmul(qctx *q, int32_t x, int32_t y) { return kb_math(&q->L->kb, KILN_OP_MUL, KILN_F32, x, y); }
static int32_t tof(qctx *q, int32_t x) { return kb_cast(&q->L->kb, KILN_F32, x); }

/* Element j (0 <= j < block size) of the block starting at byte `base`. */
static int32_t q8_0(qctx *q, int32_t base, int32_t j) {
    kbuilder *b = &q->L->kb;
    int32_t d = f16_at(q, base);
    return fmul(q, i8_at(q, kb_iadd(b, base, kb_iadd(b, ci(q, 2), j))), d);
}

static int32_t q4_0(qctx *q, int32_t base, int32_t j) {
    kbuilder *b = &q->L->kb;
    int32_t d = f16_at(q, base);
    /* byte j % 16: low nibble for j < 16, high nibble after */
    int32_t byte = byte_at(q, kb_iadd(b, base, kb_iadd(b, ci(q, 2), kb_imod(b, j, ci(q, 16)))));
    int32_t nib = band(q, shr(q, byte, kb_imul(b, kb_idiv(b, j, ci(q, 16)), ci(q, 4))), 15);
    return fmul(q, tof(q, kb_isub(b, nib, ci(q, 8))), d);
}

static int32_t q4_k(qctx *q, int32_t base, int32_t j) {
    kbuilder *b = &q->L->kb;
    int32_t d = f16_at(q, base), dmin = f16_at(q, kb_iadd(b, base, ci(q, 2)));
    int32_t chunk = kb_idiv(b, j, ci(q, 64)), w = kb_imod(b, j, ci(q, 64));
    int32_t hi = kb_idiv(b, w, ci(q, 32)), l = kb_imod(b, w, ci(q, 32));
    int32_t sub = kb_iadd(b, kb_imul(b, chunk, ci(q, 2)), hi); /* sub-block 0..7 */
    int32_t qoff = kb_iadd(b, kb_iadd(b, base, ci(q, 16)), kb_iadd(b, kb_imul(b, chunk, ci(q, 32)), l));
    int32_t qv = band(q, shr(q, byte_at(q, qoff), kb_imul(b, hi, ci(q, 4))), 15);
    /* 6-bit scale and min (ir/quant_dequant.c q4_k_scale_min): A = S[sub],
     * B = S[sub + 4], C = S[sub - 4] for sub >= 4 (S[sub & 3] is always in range) */
    int32_t sbase = kb_iadd(b, base, ci(q, 4));
    int32_t A = byte_at(q, kb_iadd(b, sbase, sub)), B = byte_at(q, kb_iadd(b, sbase, kb_iadd(b, sub, ci(q, 4))));
    int32_t C = byte_at(q, kb_iadd(b, sbase, kb_imod(b, sub, ci(q, 4))));
    int32_t low = kb_icmp(b, KILN_OP_LT, sub, ci(q, 4));
    int32_t sc = kb_select(b, low, band(q, A, 63), bor(q, band(q, B, 15), shl(q, shr(q, C, ci(q, 6)), 4)));
    int32_t m = kb_select(b, low, band(q, B, 63), bor(q, shr(q, B, ci(q, 4)), shl(q, shr(q, A, ci(q, 6)), 4)));
    int32_t scaled = fmul(q, fmul(q, d, tof(q, sc)), tof(q, qv));
    return kb_math(b, KILN_OP_SUB, KILN_F32, scaled, fmul(q, dmin, tof(q, m)));
}

static int32_t q6_k(qctx *q, int32_t base, int32_t j) {
    kbuilder *b = &q->L->kb;
    int32_t d = f16_at(q, kb_iadd(b, base, ci(q, 208)));
    /* half of 128, quarter of 32 within it, l within the quarter */
    int32_t half = kb_idiv(b, j, ci(q, 128)), r = kb_imod(b, j, ci(q, 128));
    int32_t quarter = kb_idiv(b, r, ci(q, 32)), l = kb_imod(b, r, ci(q, 32));
    int32_t ql_off = kb_iadd(b, kb_iadd(b, base, kb_imul(b, half, ci(q, 64))),
                             kb_iadd(b, l, kb_imul(b, kb_imod(b, quarter, ci(q, 2)), ci(q, 32))));
    int32_t qh_off = kb_iadd(b, kb_iadd(b, base, ci(q, 128)), kb_iadd(b, kb_imul(b, half, ci(q, 32)), l));
    int32_t sc_off = kb_iadd(b, kb_iadd(b, base, ci(q, 192)),
                             kb_iadd(b, kb_iadd(b, kb_imul(b, half, ci(q, 8)), kb_idiv(b, l, ci(q, 16))),
                                     kb_imul(b, quarter, ci(q, 2))));
    int32_t low4 = band(q, shr(q, byte_at(q, ql_off), kb_imul(b, kb_idiv(b, quarter, ci(q, 2)), ci(q, 4))), 15);
    int32_t high2 = band(q, shr(q, byte_at(q, qh_off), kb_imul(b, quarter, ci(q, 2))), 3);
    int32_t qv = kb_isub(b, bor(q, low4, shl(q, high2, 4)), ci(q, 32));
    return fmul(q, fmul(q, d, i8_at(q, sc_off)), tof(q, qv));
}

int32_t lw_emit_dequantize(lowerer *L, const kiln_node *n, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    uint32_t type;
    kiln_status s = kiln_ggml_type_parse(n->attrs[0].s, &type);
    if (s) {
        kiln_status_free(s);
        lw_fail(L, KILN_ERR_INTERNAL, "dequantize of unknown type '%s'", n->attrs[0].s);
        return -1;
    }
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    qctx q = {L, n, {0}, guard};
    int r = n->shape.rank;
    for (int i = 0; i < r - 1; i++) q.raw[i] = coords[i];
    int32_t col = coords[r - 1], bs = ci(&q, ti->block_size);
    int32_t base = kb_imul(b, kb_idiv(b, col, bs), ci(&q, ti->type_size)), j = kb_imod(b, col, bs);
    switch (type) {
    case KILN_GGML_Q8_0: return q8_0(&q, base, j);
    case KILN_GGML_Q4_0: return q4_0(&q, base, j);
    case KILN_GGML_Q4_K: return q4_k(&q, base, j);
    case KILN_GGML_Q6_K: return q6_k(&q, base, j);
    default: lw_fail(L, KILN_ERR_UNSUPPORTED, "dequantize %s has no kernel form", ti->name); return -1;
    }
}

void lw_quant_view(lowerer *L, kiln_kview *view, kiln_value v, const int *map) {
    strided s;
    L->quant_base = 1;
    int ok = lw_strided(L, v, &s);
    L->quant_base = 0;
    if (!ok) return;
    const kiln_node *d = NODE(s.base), *n = NODE(v);
    uint32_t type = 0;
    if (d->op != KILN_OP_DEQUANTIZE) return;
    kiln_status ps = kiln_ggml_type_parse(d->attrs[0].s, &type);
    if (ps) {
        kiln_status_free(ps);
        return;
    }
    kiln_dim st[KILN_KMAX_RANK];
    for (int i = 0; i < view->rank; i++) st[i] = 0;
    for (int j = 0; j < n->shape.rank; j++)
        if (map[j] >= 0 && n->shape.dims[j] != 1) st[map[j]] = kiln_dim_add(L->env->g, st[map[j]], s.stride[j]);
    for (int i = 0; i < view->rank; i++)
        if (st[i] == KILN_DIM_INVALID) return;
    kbuilder *b = &L->kb;
    kiln_value raw = d->inputs[0];
    view->qtype = type;
    view->buf = kb_buf(b, L->env->tensor_for(L->env->ctx, raw), NODE(raw)->dtype, KILN_KBUF_READ);
    view->offset = kb_dim(b, s.offset);
    view->qcols = kb_dim(b, d->shape.dims[d->shape.rank - 1]);
    for (int i = 0; i < view->rank; i++) view->stride[i] = kb_dim(b, st[i]);
}
