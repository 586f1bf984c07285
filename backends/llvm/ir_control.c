/* Structured control flow for emitters: counted loops with loop-carried
 * values, and if/else. Blocks are appended to the function being built. */
#include "llvm_internal.h"

static LLVMValueRef current_function(kiln_ir *ir) { return LLVMGetBasicBlockParent(LLVMGetInsertBlock(ir->b)); }

void kiln_ir_loop_begin(kiln_ir *ir, kiln_ir_loop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step,
                        const char *name) {
    LLVMValueRef fn = current_function(ir);
    l->n_carried = 0;
    l->step = step;
    l->preheader = LLVMGetInsertBlock(ir->b);
    l->header = LLVMAppendBasicBlockInContext(ir->ctx, fn, name);
    l->body = LLVMAppendBasicBlockInContext(ir->ctx, fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(ir->ctx, fn, "exit");
    LLVMBuildBr(ir->b, l->header);
    LLVMPositionBuilderAtEnd(ir->b, l->header);
    l->index = LLVMBuildPhi(ir->b, LLVMTypeOf(start), name);
    LLVMAddIncoming(l->index, &start, &l->preheader, 1);
    /* The compare goes after any carried phis, which kiln_ir_loop_carry
     * inserts before it. */
    LLVMValueRef more = LLVMBuildICmp(ir->b, LLVMIntSLT, l->index, end, "more");
    LLVMBuildCondBr(ir->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(ir->b, l->body);
}

LLVMValueRef kiln_ir_loop_carry(kiln_ir *ir, kiln_ir_loop *l, LLVMValueRef init) {
    LLVMBasicBlockRef here = LLVMGetInsertBlock(ir->b);
    LLVMValueRef first_non_phi = LLVMGetFirstInstruction(l->header);
    while (first_non_phi && LLVMGetInstructionOpcode(first_non_phi) == LLVMPHI)
        first_non_phi = LLVMGetNextInstruction(first_non_phi);
    LLVMPositionBuilderBefore(ir->b, first_non_phi);
    LLVMValueRef phi = LLVMBuildPhi(ir->b, LLVMTypeOf(init), "carry");
    LLVMAddIncoming(phi, &init, &l->preheader, 1);
    LLVMPositionBuilderAtEnd(ir->b, here);
    if (l->n_carried < (int)(sizeof l->carried / sizeof l->carried[0])) {
        l->carried[l->n_carried] = phi;
        l->next[l->n_carried] = phi; /* unchanged unless set */
        l->n_carried++;
    }
    return phi;
}

void kiln_ir_loop_set_next(kiln_ir_loop *l, LLVMValueRef carried, LLVMValueRef next) {
    for (int i = 0; i < l->n_carried; i++)
        if (l->carried[i] == carried) l->next[i] = next;
}

void kiln_ir_loop_end(kiln_ir *ir, kiln_ir_loop *l) {
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(ir->b);
    LLVMValueRef next = LLVMBuildAdd(ir->b, l->index, l->step, "next");
    LLVMBuildBr(ir->b, l->header);
    LLVMAddIncoming(l->index, &next, &latch, 1);
    for (int i = 0; i < l->n_carried; i++)
        LLVMAddIncoming(l->carried[i], &l->next[i], &latch, 1);
    LLVMPositionBuilderAtEnd(ir->b, l->exit);
}

/* The else block always exists (an empty one just branches to join), so
 * if_else needs no retargeting and LLVM folds the empty block away. */
void kiln_ir_if_begin(kiln_ir *ir, kiln_ir_if *c, LLVMValueRef cond, const char *name) {
    LLVMValueRef fn = current_function(ir);
    c->then_bb = LLVMAppendBasicBlockInContext(ir->ctx, fn, name);
    c->else_bb = LLVMAppendBasicBlockInContext(ir->ctx, fn, "else");
    c->join_bb = LLVMAppendBasicBlockInContext(ir->ctx, fn, "join");
    LLVMBuildCondBr(ir->b, cond, c->then_bb, c->else_bb);
    LLVMPositionBuilderAtEnd(ir->b, c->then_bb);
}

void kiln_ir_if_else(kiln_ir *ir, kiln_ir_if *c) {
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(ir->b))) LLVMBuildBr(ir->b, c->join_bb);
    LLVMPositionBuilderAtEnd(ir->b, c->else_bb);
}

void kiln_ir_if_end(kiln_ir *ir, kiln_ir_if *c) {
    if (!LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(ir->b))) LLVMBuildBr(ir->b, c->join_bb);
    if (!LLVMGetBasicBlockTerminator(c->else_bb)) {
        LLVMPositionBuilderAtEnd(ir->b, c->else_bb);
        LLVMBuildBr(ir->b, c->join_bb);
    }
    LLVMPositionBuilderAtEnd(ir->b, c->join_bb);
}
