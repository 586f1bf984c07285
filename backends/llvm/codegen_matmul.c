/* MATMUL kernels.
 *
 * f32 products go through the GEMM generator (gemm_*.c): a view that is
 * strided with a unit stride along K or M (A) or along N or K (B) is read
 * in place (the GEMM packs it), any other view is first evaluated into a
 * dense buffer by a pack function (so a fused prologue, e.g. merge_heads'
 * transpose+reshape, runs once per element). The output expression (bias,
 * activation, residual, ...) is the GEMM's epilogue hook: it rebuilds the
 * output coordinates from the site's (batch, row, col) and evaluates the
 * kernel's out_expr on the accumulator vector. A B view over quantized
 * weights also gets the dequantizing kernels of codegen_qmatmul.c (the
 * launcher picks them when the run's strides fit).
 *
 * Every other dtype (ints, f16, f64) takes a plain loop: one output row per
 * unit, vectors along N, accumulating in f32 / f64 / wrapping i64. */
#include <stddef.h>
#include <string.h>

#include "codegen_internal.h"
#include "codegen_qmatmul.h"
#include "cpu_internal.h"

#define B (c->ir->b)

int cg_matmul_gemm_ok(const kiln_kernel *k) {
    return k->kind == KILN_K_MATMUL && k->exprs[k->views[KILN_KV_A].expr].type == KILN_F32 &&
           k->exprs[k->views[KILN_KV_B].expr].type == KILN_F32 && k->value_type == KILN_F32 &&
           k->exprs[k->out_expr].type == KILN_F32 && k->bufs[k->out_buf].dtype == KILN_F32;
}

void cpu_matmul_layout(const kiln_kernel *k, cpu_mm_layout *l) {
    int R = k->out_rank;
    memset(l, 0, sizeof *l);
    l->plain_epilogue = k->exprs[k->out_expr].kind == KILN_KX_VALUE;
    if ((l->quant = cgq_layout(k)) != CGQ_NONE) {
        /* a quantized B (codegen_qmatmul.h): A row-major (packed when it is
         * not), B's generic pack in the layout of its weight rows */
        l->a_direct = cg_view_unit_stride(k, KILN_KV_A, R - 1);
        l->trans_b = l->quant == CGQ_NT;
        return;
    }
    if (cg_view_unit_stride(k, KILN_KV_A, R - 1)) l->a_direct = 1;
    else if (cg_view_unit_stride(k, KILN_KV_A, R - 2)) l->a_direct = l->trans_a = 1;
    if (cg_view_unit_stride(k, KILN_KV_B, R - 1)) l->b_direct = 1;
    else if (cg_view_unit_stride(k, KILN_KV_B, R - 2)) l->b_direct = l->trans_b = 1;
}

LLVMValueRef cg_matmul_epilogue(kiln_ir *ir, const kiln_gemm_site *site, LLVMValueRef acc, void *user) {
    cg *c = user;
    const kiln_kernel *k = c->k;
    int R = k->out_rank;
    cg_load_env(c, site->args, offsetof(cg_mm_args, bufs), offsetof(cg_mm_args, dims));
    LLVMValueRef row0 = kiln_ir_load_field(ir, site->args, offsetof(cg_mm_args, row0), ir->i64, "row0");
    LLVMValueRef M = kiln_ir_load_field(ir, site->args, offsetof(cg_mm_args, m), ir->i64, "m");
    if (kiln_dim_is_const(k->dims[k->out_extent[R - 2]])) M = c->dims[k->out_extent[R - 2]];
    /* flat output row: this call's first row, + batch items of M rows, + row */
    LLVMValueRef flat = LLVMBuildAdd(ir->b, row0, LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, site->batch, M, ""), site->row, ""), "");
    cg_point p;
    memset(&p, 0, sizeof p);
    p.width = site->width;
    p.mask = site->mask;
    p.rank = R;
    p.lane = site->width > 1 ? R - 1 : -1;
    p.coord[R - 2] = LLVMBuildURem(ir->b, flat, M, "m");
    if (R > 2) cg_unravel(c, LLVMBuildUDiv(ir->b, flat, M, ""), k->out_extent, R - 2, p.coord);
    LLVMValueRef col0 = kiln_ir_load_field(ir, site->args, offsetof(cg_mm_args, col0), ir->i64, "col0");
    p.coord[R - 1] = LLVMBuildAdd(ir->b, site->col, col0, "");
    p.value0 = acc;
    return cg_eval(c, &p, k->out_expr, 0);
}

kiln_status cg_emit_matmul_gemm(cg *c, const char *name, const kiln_gemm_desc *desc) {
    kiln_gemm_desc d = *desc;
    cpu_mm_layout l;
    cpu_matmul_layout(c->k, &l);
    d.trans_a = l.trans_a;
    d.trans_b = l.trans_b;
    d.n_epilogue = 0;
    if (!l.plain_epilogue) {
        d.n_epilogue = 1;
        d.epilogue[0] = (kiln_gemm_epilogue_step){.kind = KILN_EPI_CUSTOM, .fn = cg_matmul_epilogue, .user = c};
    }
    kiln_gemm_desc r;
    KILN_TRY(kiln_gemm_resolve(c->ir->target, &d, &r));
    char n[160];
    snprintf(n, sizeof n, "%s_gemm", name);
    KILN_TRY(kiln_gemm_emit(c->ir, &r, n, NULL));
    /* pack functions: for views that are not strided, and as the fallback
     * when a strided view's run-time strides do not suit the GEMM */
    snprintf(n, sizeof n, "%s_pack_a", name);
    cg_emit_pack(c, n, KILN_KV_A, l.trans_a);
    snprintf(n, sizeof n, "%s_pack_b", name);
    cg_emit_pack(c, n, KILN_KV_B, l.trans_b);
    if (l.quant != CGQ_NONE) return cg_emit_qmatmul(c, name, &l);
    return KILN_OK;
}

/* ---- the generic loop ---- */

typedef struct mml {
    int R;
    LLVMValueRef coords[KILN_MAX_RANK];
    LLVMValueRef K, row_index, acc;
    LLVMTypeRef acc_t; /* scalar accumulation type */
    kiln_dtype acc_dt;
} mml;

static LLVMValueRef to_acc(cg *c, const mml *s, kiln_dtype t, LLVMValueRef v) {
    if (!kiln_dtype_is_float(t)) return v;
    return s->acc_dt == KILN_F64 ? cg_cast(c->ir, t, KILN_F64, v) : cg_cast(c->ir, t, KILN_F32, v);
}

static void mml_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    mml *s = user;
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    int R = s->R;
    LLVMTypeRef vt = kiln_ir_vec_t(ir, s->acc_t, width);
    LLVMBuildStore(B, LLVMConstNull(vt), s->acc);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), s->K, kiln_ir_i64c(ir, 1), "k");
    cg_point pa, pb;
    memset(&pa, 0, sizeof pa);
    pa.width = 1;
    pa.lane = -1;
    pa.rank = R;
    for (int i = 0; i < R - 1; i++) pa.coord[i] = s->coords[i];
    pa.coord[R - 1] = l.index;
    kiln_dtype ta = k->exprs[k->views[KILN_KV_A].expr].type, tb = k->exprs[k->views[KILN_KV_B].expr].type;
    LLVMValueRef a = to_acc(c, s, ta, cg_eval(c, &pa, k->views[KILN_KV_A].expr, 1));
    pb = pa;
    pb.width = width;
    pb.mask = mask;
    pb.lane = width > 1 ? R - 1 : -1;
    pb.coord[R - 2] = l.index;
    pb.coord[R - 1] = base;
    LLVMValueRef bv = to_acc(c, s, tb, cg_eval(c, &pb, k->views[KILN_KV_B].expr, 0));
    LLVMValueRef acc = LLVMBuildLoad2(B, vt, s->acc, "");
    LLVMValueRef av = cg_splat(ir, a, width);
    if (s->acc_dt == KILN_I64) acc = LLVMBuildAdd(B, acc, LLVMBuildMul(B, av, bv, ""), "");
    else acc = kiln_ir_fma(ir, av, bv, acc);
    LLVMBuildStore(B, acc, s->acc);
    kiln_ir_loop_end(ir, &l);
    cg_point po = pb;
    po.coord[R - 2] = s->coords[R - 2];
    LLVMValueRef sum = LLVMBuildLoad2(B, vt, s->acc, "");
    po.value0 = s->acc_dt == KILN_I64 ? cg_round(ir, k->value_type, sum) : cg_cast(ir, s->acc_dt, k->value_type, sum);
    cg_store_output(c, &po, LLVMBuildAdd(B, s->row_index, base, ""));
}

static LLVMValueRef mml_total(cg *c, void *user, LLVMValueRef *cost) {
    mml *s = user;
    const kiln_kernel *k = c->k;
    *cost = LLVMBuildMul(B, c->dims[k->out_extent[s->R - 1]], c->dims[k->views[KILN_KV_A].extent[s->R - 1]], "");
    return cg_extent_product(c, k->out_extent, s->R - 1);
}

LLVMValueRef cg_emit_matmul_loop(cg *c, const char *name) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    mml s;
    memset(&s, 0, sizeof s);
    s.R = k->out_rank;
    if (s.R < 2) {
        cg_fail(c, kiln_error(KILN_ERR_INTERNAL, "kernel '%s': a matmul of rank %d", k->name, s.R));
        return NULL;
    }
    kiln_dtype ta = k->exprs[k->views[KILN_KV_A].expr].type;
    s.acc_dt = !kiln_dtype_is_float(ta) ? KILN_I64 : ta == KILN_F64 ? KILN_F64 : KILN_F32;
    s.acc_t = cg_reg_t(ir, s.acc_dt);
    int width = cg_lane_width(c, k->out_extent[s.R - 1]);
    cg_task t;
    cg_task_begin(c, name, &t);
    s.acc = cg_alloca(c, kiln_ir_vec_t(ir, s.acc_t, width), "acc");
    s.K = c->dims[k->views[KILN_KV_A].extent[s.R - 1]];
    LLVMValueRef N = c->dims[k->out_extent[s.R - 1]];
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, t.begin, t.end, kiln_ir_i64c(ir, 1), "row");
    cg_unravel(c, l.index, k->out_extent, s.R - 1, s.coords);
    s.row_index = LLVMBuildMul(B, l.index, N, "");
    cg_lane_loop(c, N, width, mml_body, &s);
    kiln_ir_loop_end(ir, &l);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, mml_total, &s);
}
