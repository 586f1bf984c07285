/* The GEMM epilogue: per-element code run on the finished accumulators before
 * they are stored (bias, activation, residual, or a fusion pass's own hook). */
#include <stddef.h>

#include "gemm_internal.h"

void gemm_load_operands(gemm_gen *g, LLVMValueRef args) {
    kiln_ir *ir = g->ir;
    int used[KILN_GEMM_MAX_OPERANDS] = {0};
    for (int i = 0; i < g->d->n_epilogue; i++) {
        kiln_gemm_epilogue_kind k = g->d->epilogue[i].kind;
        if (k == KILN_EPI_ADD_OPERAND || k == KILN_EPI_MUL_OPERAND) used[g->d->epilogue[i].operand] = 1;
    }
    for (int o = 0; o < KILN_GEMM_MAX_OPERANDS; o++) {
        g->opnd_data[o] = g->opnd_rs[o] = g->opnd_bs[o] = NULL;
        if (!used[o]) continue;
        size_t base = offsetof(kiln_gemm_args, operands) + (size_t)o * sizeof(kiln_gemm_operand);
        g->opnd_data[o] = kiln_ir_load_field(ir, args, base + offsetof(kiln_gemm_operand, data), ir->ptr, "opnd");
        g->opnd_rs[o] = kiln_ir_load_field(ir, args, base + offsetof(kiln_gemm_operand, row_stride), ir->i64, "ors");
        g->opnd_bs[o] = kiln_ir_load_field(ir, args, base + offsetof(kiln_gemm_operand, batch_stride), ir->i64, "obs");
    }
}

static LLVMValueRef load_operand(gemm_gen *g, int o, const kiln_gemm_site *s) {
    kiln_ir *ir = g->ir;
    LLVMValueRef idx = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, s->batch, g->opnd_bs[o], ""),
                                    LLVMBuildMul(ir->b, s->row, g->opnd_rs[o], ""), "");
    idx = LLVMBuildAdd(ir->b, idx, s->col, "");
    return kiln_ir_load_f32(ir, g->opnd_data[o], idx, s->width, s->mask, 4);
}

LLVMValueRef gemm_apply_epilogue(gemm_gen *g, const kiln_gemm_site *site, LLVMValueRef acc) {
    kiln_ir *ir = g->ir;
    for (int i = 0; i < g->d->n_epilogue; i++) {
        const kiln_gemm_epilogue_step *s = &g->d->epilogue[i];
        switch (s->kind) {
        case KILN_EPI_ADD_OPERAND: acc = LLVMBuildFAdd(ir->b, acc, load_operand(g, s->operand, site), "epi"); break;
        case KILN_EPI_MUL_OPERAND: acc = LLVMBuildFMul(ir->b, acc, load_operand(g, s->operand, site), "epi"); break;
        case KILN_EPI_SCALE: acc = LLVMBuildFMul(ir->b, acc, kiln_ir_f32c(ir, s->value, site->width), "epi"); break;
        case KILN_EPI_GELU_TANH: acc = kiln_ir_gelu_tanh(ir, acc); break;
        case KILN_EPI_GELU_ERF: acc = kiln_ir_gelu_erf(ir, acc); break;
        case KILN_EPI_SILU: acc = kiln_ir_silu(ir, acc); break;
        case KILN_EPI_RELU: acc = kiln_ir_relu(ir, acc); break;
        case KILN_EPI_CUSTOM: acc = s->fn(ir, site, acc, s->user); break;
        }
    }
    return acc;
}
