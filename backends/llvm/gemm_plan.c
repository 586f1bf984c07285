/* Tile and cache-block choice for the GEMM emitter, and the scratch it needs. */
#include <string.h>

#include "gemm_internal.h"

static int round_down(int v, int m) { return v / m * m; }

kiln_status kiln_gemm_resolve(const kiln_llvm_target *t, const kiln_gemm_desc *d, kiln_gemm_desc *out) {
    if (!t || !d || !out) return kiln_error(KILN_ERR_INVALID, "kiln_gemm_resolve: NULL argument");
    kiln_gemm_desc r = *d;
    int w = kiln_llvm_target_f32_lanes(t);
    if (r.n_epilogue < 0 || r.n_epilogue > KILN_GEMM_MAX_EPILOGUE)
        return kiln_error(KILN_ERR_INVALID, "gemm: %d epilogue steps (limit %d)", r.n_epilogue, KILN_GEMM_MAX_EPILOGUE);
    for (int i = 0; i < r.n_epilogue; i++) {
        const kiln_gemm_epilogue_step *s = &r.epilogue[i];
        if ((s->kind == KILN_EPI_ADD_OPERAND || s->kind == KILN_EPI_MUL_OPERAND) &&
            (s->operand < 0 || s->operand >= KILN_GEMM_MAX_OPERANDS))
            return kiln_error(KILN_ERR_INVALID, "gemm epilogue step %d: operand %d is not in [0, %d)", i, s->operand,
                              KILN_GEMM_MAX_OPERANDS);
        if (s->kind == KILN_EPI_CUSTOM && !s->fn)
            return kiln_error(KILN_ERR_INVALID, "gemm epilogue step %d: custom step without a function", i);
        if ((int)s->kind < 0 || s->kind > KILN_EPI_CUSTOM)
            return kiln_error(KILN_ERR_INVALID, "gemm epilogue step %d: unknown kind %d", i, (int)s->kind);
    }
    /* Register tile: accumulators plus the B vectors of one k step must fit
     * the register file (the A broadcast folds into the FMA's memory operand). */
    if (!r.nr_vectors) r.nr_vectors = 2;
    if (!r.mr) {
        int budget = t->vector_regs - r.nr_vectors - (t->vector_regs >= 32 ? 2 : 1);
        r.mr = budget / r.nr_vectors;
        if (r.mr > 14) r.mr = 14;
    }
    if (r.mr < 1 || r.mr > 32 || r.nr_vectors < 1 || r.nr_vectors > 8 || r.mr * r.nr_vectors > 64)
        return kiln_error(KILN_ERR_INVALID, "gemm: register tile %d x %d vectors is outside 1..32 x 1..8", r.mr,
                          r.nr_vectors);
    int nr = r.nr_vectors * w;
    /* KC: one packed A micro-panel (mr x kc) in half of L1. */
    if (!r.kc) {
        int kc = (int)(t->l1d_bytes / 2 / (4 * (size_t)r.mr));
        kc = round_down(kc, 16);
        r.kc = kc < 64 ? 64 : kc > 384 ? 384 : kc;
    }
    /* NC: the packed B block (kc x nc) in half of L2. */
    if (!r.nc) {
        int nc = (int)(t->l2_bytes / 2 / (4 * (size_t)r.kc));
        nc = round_down(nc, nr);
        r.nc = nc < nr ? nr : nc > 4096 ? round_down(4096, nr) : nc;
    }
    /* The shared-B path's block is read by every thread from L3: a few MiB. */
    if (!r.nc_shared) {
        int nc = (int)((4u << 20) / (4 * (size_t)r.kc));
        r.nc_shared = round_down(nc < nr ? nr : nc > 16384 ? 16384 : nc, nr);
    }
    if (!r.mc) r.mc = r.mr * 12;
    if (!r.k_unroll) r.k_unroll = 4;
    /* Measured on Zen 4 (K 768..3072): streaming beats packing up to M ~16 at
     * any K, and while A (M x K floats) stays within about a third of L2. */
    if (!r.small_m) r.small_m = 16;
    if (!r.small_mk) r.small_mk = r.small_m < 0 ? -1 : (int64_t)(t->l2_bytes / 12);
    if (r.kc < 1 || r.kc > 4096 || r.mc < r.mr || r.mc % r.mr || r.mc > 4096 || r.nc < nr || r.nc % nr ||
        r.nc > 16384 || r.nc_shared < nr || r.nc_shared % nr || r.nc_shared > 65536 || r.k_unroll < 1 ||
        r.k_unroll > 16)
        return kiln_error(KILN_ERR_INVALID,
                          "gemm: blocks mc=%d kc=%d nc=%d nc_shared=%d unroll=%d invalid for a %d x %d tile (mc "
                          "a multiple of %d, nc and nc_shared of %d)",
                          r.mc, r.kc, r.nc, r.nc_shared, r.k_unroll, r.mr, nr, r.mr, nr);
    *out = r;
    return KILN_OK;
}

size_t kiln_gemm_scratch_bytes(const kiln_llvm_target *t, const kiln_gemm_desc *r) {
    (void)t;
    size_t a = (size_t)r->mc * (size_t)r->kc * 4;
    a = (a + 4095) / 4096 * 4096;
    return a + (size_t)r->kc * (size_t)r->nc * 4;
}

size_t kiln_gemm_shared_bytes(const kiln_llvm_target *t, const kiln_gemm_desc *r) {
    (void)t;
    return (size_t)r->kc * (size_t)r->nc_shared * 4;
}

int gemm_has_small_m_path(const kiln_gemm_desc *d) {
    return (d->small_m > 0 || d->small_mk > 0) && !(d->trans_a && d->trans_b);
}

int gemm_gemv_nt_group(const gemm_gen *g) { return g->w >= 16 ? 8 : 4; }
int gemm_gemv_nn_vectors(const gemm_gen *g) { return g->ir->target->vector_regs >= 32 ? 8 : 4; }
int gemm_gemv_block_cols(const gemm_gen *g) {
    return g->d->trans_b ? 8 * gemm_gemv_nt_group(g) : gemm_gemv_nn_vectors(g) * g->w;
}

kiln_status kiln_gemm_check_args(const kiln_gemm_desc *d, const kiln_gemm_args *a) {
    if (!d || !a) return kiln_error(KILN_ERR_INVALID, "gemm: NULL desc or args");
    if (a->m < 0 || a->n < 0 || a->k < 0 || a->batch < 0)
        return kiln_error(KILN_ERR_SHAPE, "gemm: negative size (m=%lld n=%lld k=%lld batch=%lld)", (long long)a->m,
                          (long long)a->n, (long long)a->k, (long long)a->batch);
    if (a->m == 0 || a->n == 0 || a->batch == 0) return KILN_OK;
    int64_t a_inner = d->trans_a ? a->m : a->k, b_inner = d->trans_b ? a->k : a->n;
    if (!a->c) return kiln_error(KILN_ERR_INVALID, "gemm: output C is NULL");
    if (a->ldc < a->n)
        return kiln_error(KILN_ERR_SHAPE, "gemm: ldc %lld is smaller than n %lld", (long long)a->ldc, (long long)a->n);
    if (a->k > 0) {
        if (!a->a || !a->b) return kiln_error(KILN_ERR_INVALID, "gemm: input %s is NULL", a->a ? "B" : "A");
        if (a->lda < a_inner)
            return kiln_error(KILN_ERR_SHAPE, "gemm: lda %lld is smaller than the %s extent %lld", (long long)a->lda,
                              d->trans_a ? "m" : "k", (long long)a_inner);
        if (a->ldb < b_inner)
            return kiln_error(KILN_ERR_SHAPE, "gemm: ldb %lld is smaller than the %s extent %lld", (long long)a->ldb,
                              d->trans_b ? "k" : "n", (long long)b_inner);
    }
    if (a->batch > 1 && (a->stride_a < 0 || a->stride_b < 0 || a->stride_c < 0))
        return kiln_error(KILN_ERR_SHAPE, "gemm: negative batch stride");
    if (a->batch > 1 && a->stride_c < a->ldc * (a->m - 1) + a->n)
        return kiln_error(KILN_ERR_SHAPE, "gemm: C batch stride %lld overlaps the previous batch's %lld x %lld block",
                          (long long)a->stride_c, (long long)a->m, (long long)a->n);
    for (int i = 0; i < d->n_epilogue; i++) {
        const kiln_gemm_epilogue_step *s = &d->epilogue[i];
        if (s->kind != KILN_EPI_ADD_OPERAND && s->kind != KILN_EPI_MUL_OPERAND) continue;
        const kiln_gemm_operand *o = &a->operands[s->operand];
        if (!o->data)
            return kiln_error(KILN_ERR_INVALID, "gemm epilogue step %d reads operand %d, which is NULL", i, s->operand);
        if (o->row_stride < 0 || o->batch_stride < 0)
            return kiln_error(KILN_ERR_SHAPE, "gemm epilogue operand %d has a negative stride", s->operand);
    }
    return KILN_OK;
}
