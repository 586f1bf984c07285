/* MATMUL over block-quantized weights on Vulkan: which runs qualify, the
 * variant's parameters, and the glue (vk_cg_qmatmul.h has the plan). */
#include <stdio.h>
#include <string.h>

#include "kiln/quant.h"
#include "vk_cg_qmatmul.h"
#include "vk_shaders.h"

static int const_one(const kiln_kernel *k, int32_t slot) { return kiln_dim_is_const(k->dims[slot]) && k->dims[slot] == 1; }

static int decodes(uint32_t t) {
    return t == KILN_GGML_Q8_0 || t == KILN_GGML_Q4_0 || t == KILN_GGML_Q4_K || t == KILN_GGML_Q6_K;
}

int kvk_qmm_layout(const kiln_kernel *k) {
    const kiln_kview *b = &k->views[KILN_KV_B];
    int R = k->out_rank;
    if (k->kind != KILN_K_MATMUL || !b->qtype || !decodes(b->qtype) || R < 2 || b->rank != R) return KVK_QMM_NONE;
    if (k->value_type != KILN_F32 || k->exprs[b->expr].type != KILN_F32) return KVK_QMM_NONE;
    if (const_one(k, b->stride[R - 2])) return KVK_QMM_NT;
    if (const_one(k, b->stride[R - 1])) return KVK_QMM_NN;
    return KVK_QMM_NONE;
}

int kvk_qmm_fits(const kiln_kernel *k, const int64_t *dims) {
    int lay = kvk_qmm_layout(k);
    if (!lay) return 0;
    const kiln_kview *b = &k->views[KILN_KV_B];
    int R = k->out_rank;
    int64_t bs = kiln_ggml_type_get(b->qtype)->block_size, cols = dims[b->qcols];
    int64_t K = dims[b->extent[R - 2]], N = dims[b->extent[R - 1]];
    if (dims[b->offset] != 0 || cols <= 0 || cols % bs) return 0;
    for (int i = 0; i < R - 2; i++)
        if (dims[b->stride[i]] != 0) return 0;
    if (lay == KVK_QMM_NT) return dims[b->stride[R - 1]] == cols && K <= cols && K % 32 == 0;
    return dims[b->stride[R - 2]] == cols && N <= cols;
}

void kvk_qmm_choose(const kiln_kernel *k, const int64_t *dims, int cpu_device, const kvk_cg_device *dev, uint32_t p[KVK_TPARAMS]) {
    if (!kvk_qmm_fits(k, dims)) return;
    int R = k->out_rank;
    int64_t m = dims[k->views[KILN_KV_A].extent[R - 2]];
    if (kvk_qmm_layout(k) != KVK_QMM_NT || m > 4 || KVK_MM_MODE(p[5]) == 2) {
        p[5] |= KVK_MM_QDIRECT;
        return;
    }
    /* the block GEMV: with subgroups one column per subgroup, else a tree
     * over 32 (GPU) or 8 (CPU device) invocations per column */
    uint32_t tpc = dev->subgroup_arithmetic && dev->subgroup_size ? dev->subgroup_size : cpu_device ? 8u : 32u;
    uint32_t wg = cpu_device ? 64u : 128u, cols = wg / tpc;
    memset(p, 0, KVK_TPARAMS * sizeof *p);
    p[0] = m <= 1 ? 1 : 4;
    p[1] = cols ? cols : 1;
    p[2] = tpc;
    p[5] = 1 | KVK_MM_QDIRECT | KVK_MM_QGEMV; /* mode 1: the GEMV grid, ceil(N / p1) workgroups */
}

/* ---- codegen ---- */

void kcg_qmatmul_glue(kvk_cg *c, const char *acc_t) {
    const kiln_kernel *k = c->k;
    const kiln_kview *b = &k->views[KILN_KV_B];
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(b->qtype);
    int nt = kvk_qmm_layout(k) == KVK_QMM_NT;
    kvk_str_addf(c->s, "#undef MM_B_NFAST\n#define MM_B_NFAST %d\n", nt ? 0 : 1); /* neighbouring bytes along a weight row */
    kvk_str_addf(c->s, "#define QK_TYPE %u\n#define QK_RB (KD%d / IDX(%d) * IDX(%d))\n#define KQ_LD(i) ld%d(i)\n",
                 (unsigned)b->qtype, b->qcols, ti->block_size, ti->type_size, b->buf);
    const char *dec = kvk_shader_source("k_qdecode");
    if (!dec) {
        c->s->oom = 1; /* cannot happen: the shaders are embedded at build time */
        return;
    }
    kvk_str_add(c->s, dec);
    kvk_str_addf(c->s, "%s mm_b(IDX k, IDX n) {\n    return ", acc_t);
    kcg_cast(c, KILN_F32, k->value_type, nt ? "kq_elem(n, k)" : "kq_elem(k, n)");
    kvk_str_add(c->s, ";\n}\n");
}

uint32_t kcg_qmatmul_defines(kvk_cg *c, kvk_str *defs) {
    const uint32_t *p = c->v->p;
    kvk_str_addf(defs, "#define QM_ROWS %uu\n#define QM_COLS %uu\n#define QM_TPC %uu\n", p[0], p[1], p[2]);
    return p[1] * p[2];
}
