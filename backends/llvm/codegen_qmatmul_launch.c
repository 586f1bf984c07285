/* Launching a MATMUL kernel on the quantized fast path (codegen_qmatmul.h).
 *
 * The run's strides decide whether the fast path applies: the weight view
 * must start at element 0 of whole rows (no offset, batch strides 0), its
 * row stride must be the weight's column count, and the product must cover
 * whole blocks along the weight rows (K for NT, N for NN). A is read in
 * place when its rows are contiguous and its batch axes fold into M, else
 * the kernel's pack function makes it dense. Then:
 *   up to max_rows rows of A (and, NT, N >= CGQ_NT_UNIT): _qmv straight
 *         from the blocks;
 *   more: B is dequantized a chunk of columns at a time into a dense buffer
 *         (chunk_bytes of f32) and each chunk goes through the kernel's
 *         GEMM, whose epilogue sees the chunk's first column in col0. */
#include <stdlib.h>
#include <string.h>

#include "codegen_qmatmul.h"
#include "kiln/quant.h"

cgq_tuning cgq_tune = {CGQ_DEFAULT_MAX_ROWS, CGQ_DEFAULT_CHUNK_BYTES};
cgq_counters cgq_count;

/* products below this many flops run on the calling thread (as in
 * cpu_launch_gemm.c: a parallel_for costs more than it saves) */
#define INLINE_FLOPS 1e6

static int64_t prod(const int64_t *d, const int32_t *slots, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= d[slots[i]];
    return p;
}

/* A row-major with batch axes folded into M: in place when the strides
 * allow, else packed densely into e->buf[0]. */
static kiln_status place_a(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, const int64_t *d, int64_t M,
                           int64_t K, int64_t nbatch, const float **A, int64_t *lda) {
    int R = k->out_rank, nb = R - 2;
    const kiln_kview *av = &k->views[KILN_KV_A];
    if (ck->mm.a_direct) {
        int64_t sm = d[av->stride[R - 2]];
        int ok = d[av->stride[R - 1]] == 1 && sm >= 0 && (sm >= K || M * nbatch == 1);
        int64_t chain = M * sm;
        for (int i = nb - 1; i >= 0 && ok; i--) {
            int64_t ext = d[k->out_extent[i]];
            if (ext == 1) continue;
            ok = d[av->stride[i]] == chain;
            chain *= ext;
        }
        if (ok) {
            *A = (const float *)e->bufs[av->buf] + d[av->offset];
            *lda = sm;
            return KILN_OK;
        }
    }
    size_t need = (size_t)nbatch * (size_t)M * (size_t)K * sizeof(float);
    KILN_TRY(cpu_grow((void **)&e->buf[0], &e->buf_cap[0], need, 64));
    cg_args args = {e->bufs, d, e->buf[0], 0};
    ck->pack_a(&args, &e->rt);
    *A = e->buf[0];
    *lda = K;
    return KILN_OK;
}

kiln_status cpu_launch_qmatmul(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, const int64_t *d,
                               int aliased, int *done) {
    *done = 0;
    int R = k->out_rank, nb = R - 2;
    const kiln_kview *bv = &k->views[KILN_KV_B];
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(bv->qtype);
    if (!ti || !ck->qmv || !ck->qdeq) return KILN_OK;
    int64_t bs = ti->block_size, ts = ti->type_size;
    int64_t M = d[k->out_extent[R - 2]], N = d[k->out_extent[R - 1]], K = d[k->views[KILN_KV_A].extent[R - 1]];
    int64_t cols = d[bv->qcols], nbatch = prod(d, k->out_extent, nb);
    /* the layouts of codegen_qmatmul.h, or the generic path */
    if (d[bv->offset] != 0 || cols <= 0 || cols % bs) return KILN_OK;
    for (int i = 0; i < nb; i++)
        if (d[bv->stride[i]] != 0) return KILN_OK;
    int nt = ck->mm.quant == CGQ_NT;
    if (nt ? d[bv->stride[R - 1]] != cols || K % bs || K > cols : d[bv->stride[R - 2]] != cols || N % bs || N > cols)
        return KILN_OK;

    const float *A = NULL;
    int64_t lda = 0;
    KILN_TRY(place_a(e, k, ck, d, M, K, nbatch, &A, &lda));
    int64_t Mt = M * nbatch;
    float *out = e->bufs[k->out_buf];
    cg_qmm_args q;
    memset(&q, 0, sizeof q);
    q.mm.bufs = e->bufs;
    q.mm.dims = d;
    q.mm.m = M;
    q.mm.g.m = Mt;
    q.mm.g.n = N;
    q.mm.g.k = K;
    q.mm.g.batch = 1;
    q.mm.g.a = A;
    q.mm.g.lda = lda;
    q.mm.g.ldc = N;
    q.q = e->bufs[bv->buf];
    q.row_bytes = cols / bs * ts;
    *done = 1;
    cgq_count.launches++;

    if (Mt <= cgq_tune.max_rows && (!nt || N >= CGQ_NT_UNIT)) {
        cgq_count.qmv++;
        /* every output is written once, after its epilogue read its own
         * operands: safe in place */
        q.mm.g.c = out;
        const kiln_jit_rt *rt = 2.0 * (double)Mt * (double)N * (double)K < INLINE_FLOPS ? &e->rt_inline : &e->rt;
        ck->qmv(&q, rt);
        return KILN_OK;
    }

    float *C = out;
    size_t cbytes = (size_t)Mt * (size_t)N * sizeof(float);
    if (aliased) { /* the GEMM stores partial sums into C before the epilogue reads its operands */
        KILN_TRY(cpu_grow((void **)&e->buf[2], &e->buf_cap[2], cbytes, 64));
        C = e->buf[2];
    }
    int64_t unit = bs > 64 ? bs : 64; /* chunks of whole blocks (NN) and whole GEMM panels */
    int64_t nch = K > 0 ? cgq_tune.chunk_bytes / (int64_t)sizeof(float) / K / unit * unit : N;
    if (nch < unit) nch = unit;
    if (nch > N) nch = N;
    KILN_TRY(cpu_grow((void **)&e->buf[1], &e->buf_cap[1], (size_t)nch * (size_t)(K > 0 ? K : 1) * sizeof(float), 64));
    for (int64_t n0 = 0; n0 < N; n0 += nch) {
        int64_t n1 = n0 + nch < N ? n0 + nch : N;
        q.n0 = n0;
        q.n1 = n1;
        q.dst = e->buf[1];
        cgq_count.chunks++;
        ck->qdeq(&q, 2.0 * (double)(n1 - n0) * (double)K < INLINE_FLOPS ? &e->rt_inline : &e->rt);
        cg_mm_args g = q.mm;
        g.g.n = n1 - n0;
        g.g.b = e->buf[1];
        g.g.ldb = nt ? K : n1 - n0;
        g.g.c = C + n0;
        g.col0 = n0;
        KILN_TRY(kiln_gemm_check_args(&ck->desc, &g.g));
        ck->entry(&g, 2.0 * (double)Mt * (double)(n1 - n0) * (double)K < INLINE_FLOPS ? &e->rt_inline : &e->rt);
    }
    if (aliased) memcpy(out, C, cbytes);
    return KILN_OK;
}
