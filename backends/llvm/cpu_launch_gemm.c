/* Launching a MATMUL kernel on the GEMM path: this side decides, for the
 * run's strides, whether each view is read in place (a unit stride the
 * GEMM's layout flags can take, leading dims large enough) or evaluated
 * into a dense buffer by the kernel's pack function; folds batch axes into
 * M when B is shared; and keeps the GEMM's partial sums off an input the
 * output shares memory with. */
#include <stdlib.h>
#include <string.h>

#include "codegen_internal.h"
#include "codegen_qmatmul.h"
#include "cpu_internal.h"

kiln_status cpu_grow(void **p, size_t *cap, size_t need, size_t align) {
    if (need <= *cap && *p) return KILN_OK;
    size_t n = need < 64 ? 64 : need;
    n = (n + align - 1) / align * align;
    void *q = aligned_alloc(align, n);
    if (!q) return kiln_error(KILN_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    free(*p);
    *p = q;
    *cap = n;
    return KILN_OK;
}

typedef struct operand {
    const float *base;
    int64_t ld;
    int64_t bstride[KILN_MAX_RANK]; /* per batch axis */
} operand;

/* A view read in place when its run-time strides suit the GEMM, else packed
 * (evaluated densely, in the layout the GEMM was built for). */
static kiln_status place_operand(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, int v, int trans,
                                 int direct, const int64_t *d, int64_t rows, int64_t cols, int64_t K, operand *o) {
    int R = k->out_rank, nb = R - 2;
    const kiln_kview *view = &k->views[v];
    /* rows x cols: A is M x K, B is K x N; inner = the extent the leading dim must cover */
    int64_t inner = trans ? rows : cols;
    if (direct) {
        int ok = 1;
        for (int i = 0; i < R; i++) ok &= d[view->stride[i]] >= 0;
        int64_t ld = trans ? d[view->stride[R - 1]] : d[view->stride[R - 2]];
        if (K > 0 && ld < inner) ok = 0;
        if (ok) {
            o->base = (const float *)e->bufs[view->buf] + d[view->offset];
            o->ld = ld;
            for (int i = 0; i < nb; i++) o->bstride[i] = d[view->stride[i]];
            return KILN_OK;
        }
    }
    int64_t nbatch = 1;
    for (int i = 0; i < nb; i++) nbatch *= d[k->out_extent[i]];
    size_t need = (size_t)nbatch * (size_t)rows * (size_t)cols * sizeof(float);
    KILN_TRY(cpu_grow((void **)&e->buf[v], &e->buf_cap[v], need, 64));
    cg_args args = {e->bufs, d, e->buf[v], 0};
    (v == KILN_KV_A ? ck->pack_a : ck->pack_b)(&args, &e->rt);
    o->base = e->buf[v];
    o->ld = inner;
    int64_t s = rows * cols;
    for (int i = nb - 1; i >= 0; i--) {
        o->bstride[i] = s;
        s *= d[k->out_extent[i]];
    }
    return KILN_OK;
}

kiln_status cpu_launch_gemm(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, const int64_t *d, int aliased) {
    int R = k->out_rank, nb = R - 2;
    int64_t M = d[k->out_extent[R - 2]], N = d[k->out_extent[R - 1]], K = d[k->views[KILN_KV_A].extent[R - 1]];
    int64_t nbatch = 1;
    for (int i = 0; i < nb; i++) nbatch *= d[k->out_extent[i]];
    if (M == 0 || N == 0 || nbatch == 0) return KILN_OK;
    if (ck->mm.quant) { /* quantized weights: the dequantizing kernels when this run's strides allow */
        int done = 0;
        KILN_TRY(cpu_launch_qmatmul(e, k, ck, d, aliased, &done));
        if (done) return KILN_OK;
    }
    float *out = e->bufs[k->out_buf], *C = out;
    size_t cbytes = (size_t)nbatch * (size_t)M * (size_t)N * sizeof(float);
    if (aliased) { /* the GEMM stores partial sums into C before the epilogue reads its operands */
        KILN_TRY(cpu_grow((void **)&e->buf[2], &e->buf_cap[2], cbytes, 64));
        C = e->buf[2];
    }
    operand a, b;
    KILN_TRY(place_operand(e, k, ck, KILN_KV_A, ck->mm.trans_a, ck->mm.a_direct, d, M, K, K, &a));
    KILN_TRY(place_operand(e, k, ck, KILN_KV_B, ck->mm.trans_b, ck->mm.b_direct, d, K, N, K, &b));
    /* below ~1 MFLOP a parallel_for costs more than it saves (decode steps
     * of small models) */
    const kiln_jit_rt *rt = 2.0 * (double)M * (double)N * (double)K * (double)nbatch < 1e6 ? &e->rt_inline : &e->rt;
    cg_mm_args args;
    memset(&args, 0, sizeof args);
    args.bufs = e->bufs;
    args.dims = d;
    args.m = M;
    args.g.n = N;
    args.g.k = K;
    args.g.lda = a.ld;
    args.g.ldb = b.ld;
    args.g.ldc = N;
    /* batch axes fold into M when B is shared and A's rows run on across them */
    int fold = nb == 0 || !ck->mm.trans_a;
    int64_t chain = M * a.ld;
    for (int i = nb - 1; i >= 0 && fold; i--) {
        int64_t ext = d[k->out_extent[i]];
        if (ext == 1) continue;
        fold = b.bstride[i] == 0 && a.bstride[i] == chain;
        chain *= ext;
    }
    if (fold) {
        args.g.m = M * nbatch;
        args.g.batch = 1;
        args.g.a = a.base;
        args.g.b = b.base;
        args.g.c = C;
        KILN_TRY(kiln_gemm_check_args(&ck->desc, &args.g));
        ck->entry(&args, rt);
    } else {
        int64_t last = d[k->out_extent[nb - 1]], outer = nbatch / last;
        args.g.m = M;
        args.g.batch = last;
        args.g.stride_a = a.bstride[nb - 1];
        args.g.stride_b = b.bstride[nb - 1];
        args.g.stride_c = M * N;
        for (int64_t ob = 0; ob < outer; ob++) {
            int64_t rest = ob, offa = 0, offb = 0;
            for (int i = nb - 2; i >= 0; i--) {
                int64_t ext = d[k->out_extent[i]], idx = rest % ext;
                rest /= ext;
                offa += idx * a.bstride[i];
                offb += idx * b.bstride[i];
            }
            args.g.a = a.base + offa;
            args.g.b = b.base + offb;
            args.g.c = C + ob * last * M * N;
            args.row0 = ob * last * M;
            KILN_TRY(kiln_gemm_check_args(&ck->desc, &args.g));
            ck->entry(&args, rt);
        }
    }
    if (aliased) memcpy(out, C, cbytes);
    return KILN_OK;
}

