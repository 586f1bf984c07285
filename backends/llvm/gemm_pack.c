/* Packing: copies a block of A or B into panels laid out in exactly the order
 * the micro-kernel reads them (k-major, `panel` values per k), zero padded at
 * the edges so the micro-kernel never needs masks inside its K loop.
 *
 * Sources that are contiguous along the panel (B as [K,N], A as [K,M]) are
 * copied vector by vector; sources contiguous along K (A as [M,K], B as [N,K]:
 * Hugging Face weights) are read W x W at a time and transposed in registers. */
#include <stdio.h>

#include "gemm_internal.h"

typedef struct pack_ctx {
    gemm_gen *g;
    int panel;
    LLVMValueRef src, ld, valid, kc, dst; /* per panel */
} pack_ctx;

/* Constant mask of the first n lanes (NULL when n covers the vector). */
static LLVMValueRef const_mask(kiln_ir *ir, int n, int w) {
    if (n >= w) return NULL;
    LLVMValueRef lanes[64];
    for (int i = 0; i < w; i++)
        lanes[i] = LLVMConstInt(ir->i1, i < n, 0);
    return LLVMConstVector(lanes, (unsigned)w);
}

static LLVMValueRef and_mask(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    if (!a) return b;
    if (!b) return a;
    return LLVMBuildAnd(ir->b, a, b, "");
}

/* Panel-contiguous source: one k row of the panel is `panel` adjacent values. */
static void copy_panel(pack_ctx *p, int masked_rows) {
    gemm_gen *g = p->g;
    kiln_ir *ir = g->ir;
    int w = g->w, chunks = (p->panel + w - 1) / w;
    LLVMValueRef load_mask[16], store_mask[16];
    for (int c = 0; c < chunks; c++) {
        store_mask[c] = const_mask(ir, p->panel - c * w, w);
        load_mask[c] = store_mask[c];
        if (masked_rows)
            load_mask[c] = and_mask(
                ir, load_mask[c], kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, p->valid, kiln_ir_i64c(ir, c * w), ""), w));
    }
    kiln_ir_loop k;
    kiln_ir_loop_begin(ir, &k, kiln_ir_i64c(ir, 0), p->kc, kiln_ir_i64c(ir, 1), "pack_k");
    LLVMValueRef row = LLVMBuildMul(ir->b, k.index, p->ld, "");
    LLVMValueRef out = LLVMBuildMul(ir->b, k.index, kiln_ir_i64c(ir, p->panel), "");
    for (int c = 0; c < chunks; c++) {
        LLVMValueRef off = kiln_ir_i64c(ir, c * w);
        LLVMValueRef v = kiln_ir_load_f32(ir, p->src, LLVMBuildAdd(ir->b, row, off, ""), w, load_mask[c], 4);
        kiln_ir_store_f32(ir, v, p->dst, LLVMBuildAdd(ir->b, out, off, ""), store_mask[c], 4);
    }
    kiln_ir_loop_end(ir, &k);
}

/* One W-wide step along K of a K-contiguous panel: W x W tiles transposed in
 * registers. krem (NULL = all W) limits the K lanes; masked_rows limits the
 * panel rows read to p->valid. */
static void transpose_step(pack_ctx *p, LLVMValueRef k0, LLVMValueRef krem, int masked_rows) {
    gemm_gen *g = p->g;
    kiln_ir *ir = g->ir;
    int w = g->w, groups = (p->panel + w - 1) / w;
    LLVMValueRef kmask = krem ? kiln_ir_lane_mask(ir, krem, w) : NULL;
    for (int grp = 0; grp < groups; grp++) {
        LLVMValueRef v[64];
        for (int r = 0; r < w; r++) {
            int prow = grp * w + r;
            if (prow >= p->panel) {
                v[r] = kiln_ir_f32c(ir, 0.0f, w);
                continue;
            }
            LLVMValueRef mask = kmask;
            if (masked_rows) {
                LLVMValueRef live = LLVMBuildICmp(ir->b, LLVMIntSLT, kiln_ir_i64c(ir, prow), p->valid, "");
                mask = and_mask(ir, mask, kiln_ir_splat(ir, live, w));
            }
            LLVMValueRef idx = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, kiln_ir_i64c(ir, prow), p->ld, ""), k0, "");
            v[r] = kiln_ir_load_f32(ir, p->src, idx, w, mask, 4);
        }
        kiln_ir_transpose(ir, v, w);
        LLVMValueRef group_mask = const_mask(ir, p->panel - grp * w, w);
        for (int t = 0; t < w; t++) {
            LLVMValueRef mask = group_mask;
            if (krem) {
                LLVMValueRef live = LLVMBuildICmp(ir->b, LLVMIntSLT, kiln_ir_i64c(ir, t), krem, "");
                mask = and_mask(ir, mask, kiln_ir_splat(ir, live, w));
            }
            LLVMValueRef kt = LLVMBuildAdd(ir->b, k0, kiln_ir_i64c(ir, t), "");
            LLVMValueRef idx = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, kt, kiln_ir_i64c(ir, p->panel), ""),
                                            kiln_ir_i64c(ir, grp * w), "");
            kiln_ir_store_f32(ir, v[t], p->dst, idx, mask, 4);
        }
    }
}

static void transpose_panel(pack_ctx *p) {
    gemm_gen *g = p->g;
    kiln_ir *ir = g->ir;
    int w = g->w;
    LLVMValueRef wc = kiln_ir_i64c(ir, w);
    LLVMValueRef kfull = LLVMBuildMul(ir->b, LLVMBuildSDiv(ir->b, p->kc, wc, ""), wc, "kfull");
    LLVMValueRef full_rows = LLVMBuildICmp(ir->b, LLVMIntEQ, p->valid, kiln_ir_i64c(ir, p->panel), "");
    kiln_ir_if c;
    kiln_ir_if_begin(ir, &c, full_rows, "full_panel");
    {
        kiln_ir_loop k;
        kiln_ir_loop_begin(ir, &k, kiln_ir_i64c(ir, 0), kfull, wc, "tk");
        transpose_step(p, k.index, NULL, 0);
        kiln_ir_loop_end(ir, &k);
    }
    kiln_ir_if_else(ir, &c);
    {
        kiln_ir_loop k;
        kiln_ir_loop_begin(ir, &k, kiln_ir_i64c(ir, 0), kfull, wc, "tk_edge");
        transpose_step(p, k.index, NULL, 1);
        kiln_ir_loop_end(ir, &k);
    }
    kiln_ir_if_end(ir, &c);
    kiln_ir_if tail;
    kiln_ir_if_begin(ir, &tail, LLVMBuildICmp(ir->b, LLVMIntSLT, kfull, p->kc, ""), "k_tail");
    transpose_step(p, kfull, LLVMBuildSub(ir->b, p->kc, kfull, "krem"), 1);
    kiln_ir_if_end(ir, &tail);
}

LLVMValueRef gemm_emit_pack(gemm_gen *g, const char *suffix, int panel, int k_contiguous) {
    kiln_ir *ir = g->ir;
    char name[256];
    snprintf(name, sizeof name, "%s_pack_%s", g->name, suffix);
    LLVMTypeRef params[5] = {ir->ptr, ir->i64, ir->i64, ir->i64, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 5, 1);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    LLVMAddAttributeAtIndex(fn, 1, LLVMCreateEnumAttribute(ir->ctx, noalias, 0));
    LLVMAddAttributeAtIndex(fn, 5, LLVMCreateEnumAttribute(ir->ctx, noalias, 0));
    LLVMValueRef src = LLVMGetParam(fn, 0), ld = LLVMGetParam(fn, 1), rows = LLVMGetParam(fn, 2),
                 kc = LLVMGetParam(fn, 3), dst = LLVMGetParam(fn, 4);

    kiln_ir_loop pl;
    LLVMValueRef pc = kiln_ir_i64c(ir, panel);
    kiln_ir_loop_begin(ir, &pl, kiln_ir_i64c(ir, 0), rows, pc, "panel");
    pack_ctx p = {.g = g, .panel = panel, .ld = ld, .kc = kc};
    p.valid = kiln_ir_min_i64(ir, pc, LLVMBuildSub(ir->b, rows, pl.index, ""));
    p.src = kiln_ir_gep_f32(ir, src, k_contiguous ? LLVMBuildMul(ir->b, pl.index, ld, "") : pl.index);
    p.dst = kiln_ir_gep_f32(ir, dst, LLVMBuildMul(ir->b, pl.index, kc, ""));
    if (k_contiguous) {
        transpose_panel(&p);
    } else {
        LLVMValueRef full_rows = LLVMBuildICmp(ir->b, LLVMIntEQ, p.valid, pc, "");
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, full_rows, "full_panel");
        copy_panel(&p, 0);
        kiln_ir_if_else(ir, &c);
        copy_panel(&p, 1);
        kiln_ir_if_end(ir, &c);
    }
    kiln_ir_loop_end(ir, &pl);
    LLVMBuildRetVoid(ir->b);
    return fn;
}
