/* IR-building helpers shared by every kernel emitter: types, constants,
 * vectors, masked memory access, intrinsics. */
#include <string.h>

#include "llvm_internal.h"

void kiln_ir_init(kiln_ir *ir, kiln_llvm_module *m, const kiln_llvm_target *t) {
    memset(ir, 0, sizeof *ir);
    ir->ctx = m->ctx;
    ir->mod = m->mod;
    ir->b = m->builder;
    ir->target = t;
    ir->void_t = LLVMVoidTypeInContext(ir->ctx);
    ir->i1 = LLVMInt1TypeInContext(ir->ctx);
    ir->i8 = LLVMInt8TypeInContext(ir->ctx);
    ir->i32 = LLVMInt32TypeInContext(ir->ctx);
    ir->i64 = LLVMInt64TypeInContext(ir->ctx);
    ir->f32 = LLVMFloatTypeInContext(ir->ctx);
    ir->ptr = LLVMPointerTypeInContext(ir->ctx, 0);
}

LLVMTypeRef kiln_ir_vec_t(kiln_ir *ir, LLVMTypeRef elem, int width) {
    (void)ir;
    return width == 1 ? elem : LLVMVectorType(elem, (unsigned)width);
}

LLVMValueRef kiln_ir_i64c(kiln_ir *ir, int64_t v) { return LLVMConstInt(ir->i64, (unsigned long long)v, 1); }
LLVMValueRef kiln_ir_i32c(kiln_ir *ir, int32_t v) { return LLVMConstInt(ir->i32, (unsigned long long)(int64_t)v, 1); }

LLVMValueRef kiln_ir_f32c(kiln_ir *ir, float v, int width) {
    LLVMValueRef c = LLVMConstReal(ir->f32, v);
    if (width == 1) return c;
    LLVMValueRef lanes[64];
    for (int i = 0; i < width; i++)
        lanes[i] = c;
    return LLVMConstVector(lanes, (unsigned)width);
}

int kiln_ir_width(LLVMValueRef v) {
    LLVMTypeRef t = LLVMTypeOf(v);
    return LLVMGetTypeKind(t) == LLVMVectorTypeKind ? (int)LLVMGetVectorSize(t) : 1;
}

LLVMValueRef kiln_ir_splat(kiln_ir *ir, LLVMValueRef scalar, int width) {
    if (width == 1) return scalar;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)width);
    LLVMValueRef one = LLVMBuildInsertElement(ir->b, LLVMGetPoison(vt), scalar, kiln_ir_i32c(ir, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(ir->i32, (unsigned)width));
    return LLVMBuildShuffleVector(ir->b, one, LLVMGetPoison(vt), zeros, "splat");
}

LLVMValueRef kiln_ir_function(kiln_ir *ir, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n_params,
                              int internal) {
    LLVMTypeRef ft = LLVMFunctionType(ret, params, (unsigned)n_params, 0);
    LLVMValueRef fn = LLVMAddFunction(ir->mod, name, ft);
    LLVMSetLinkage(fn, internal ? LLVMInternalLinkage : LLVMExternalLinkage);
    kiln_llvm_target_apply(ir->target, fn);
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ir->ctx, nounwind, 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ir->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(ir->b, entry);
    return fn;
}

LLVMValueRef kiln_ir_intrinsic(kiln_ir *ir, const char *name, LLVMTypeRef *overloads, int n_overloads,
                               LLVMValueRef *args, int n_args) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(ir->mod, id, overloads, (size_t)n_overloads);
    LLVMTypeRef ft = LLVMIntrinsicGetType(ir->ctx, id, overloads, (size_t)n_overloads);
    return LLVMBuildCall2(ir->b, ft, fn, args, (unsigned)n_args, "");
}

LLVMValueRef kiln_ir_fma(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef args[3] = {a, b, c};
    /* fmuladd lets targets without FMA fall back to mul+add; with FMA it is one instruction. */
    return kiln_ir_intrinsic(ir, ir->target->has_fma ? "llvm.fma" : "llvm.fmuladd", &t, 1, args, 3);
}

LLVMValueRef kiln_ir_min_i64(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLT, a, b, ""), a, b, "min");
}

LLVMValueRef kiln_ir_max_i64(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(ir->b, LLVMBuildICmp(ir->b, LLVMIntSGT, a, b, ""), a, b, "max");
}

LLVMValueRef kiln_ir_gep_f32(kiln_ir *ir, LLVMValueRef base, LLVMValueRef index) {
    return LLVMBuildInBoundsGEP2(ir->b, ir->f32, base, &index, 1, "");
}

LLVMValueRef kiln_ir_lane_mask(kiln_ir *ir, LLVMValueRef n, int width) {
    LLVMValueRef lanes[64];
    for (int i = 0; i < width; i++)
        lanes[i] = kiln_ir_i64c(ir, i);
    LLVMValueRef iota = width == 1 ? lanes[0] : LLVMConstVector(lanes, (unsigned)width);
    return LLVMBuildICmp(ir->b, LLVMIntSLT, iota, kiln_ir_splat(ir, n, width), "lanes");
}

LLVMValueRef kiln_ir_load_f32(kiln_ir *ir, LLVMValueRef base, LLVMValueRef index, int width, LLVMValueRef mask,
                              unsigned align) {
    LLVMValueRef p = kiln_ir_gep_f32(ir, base, index);
    LLVMTypeRef vt = kiln_ir_vec_t(ir, ir->f32, width);
    if (!align) align = 4;
    if (mask && width > 1) {
        LLVMTypeRef ov[2] = {vt, ir->ptr};
        LLVMValueRef args[4] = {p, kiln_ir_i32c(ir, (int32_t)align), mask, kiln_ir_f32c(ir, 0.0f, width)};
        return kiln_ir_intrinsic(ir, "llvm.masked.load", ov, 2, args, 4);
    }
    if (mask) {
        /* A scalar "masked" load: read only when the lane is live. */
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, mask, "load_lane");
        LLVMValueRef v = LLVMBuildLoad2(ir->b, ir->f32, p, "");
        LLVMSetAlignment(v, align);
        LLVMBasicBlockRef loaded = LLVMGetInsertBlock(ir->b);
        kiln_ir_if_end(ir, &c);
        LLVMValueRef phi = LLVMBuildPhi(ir->b, ir->f32, "lane");
        LLVMValueRef vals[2] = {v, kiln_ir_f32c(ir, 0.0f, 1)};
        LLVMBasicBlockRef bbs[2] = {loaded, c.else_bb};
        LLVMAddIncoming(phi, vals, bbs, 2);
        return phi;
    }
    LLVMValueRef v = LLVMBuildLoad2(ir->b, vt, p, "");
    LLVMSetAlignment(v, align);
    return v;
}

void kiln_ir_store_f32(kiln_ir *ir, LLVMValueRef value, LLVMValueRef base, LLVMValueRef index, LLVMValueRef mask,
                       unsigned align) {
    LLVMValueRef p = kiln_ir_gep_f32(ir, base, index);
    int width = kiln_ir_width(value);
    if (!align) align = 4;
    if (mask && width > 1) {
        LLVMTypeRef ov[2] = {LLVMTypeOf(value), ir->ptr};
        LLVMValueRef args[4] = {value, p, kiln_ir_i32c(ir, (int32_t)align), mask};
        kiln_ir_intrinsic(ir, "llvm.masked.store", ov, 2, args, 4);
        return;
    }
    if (mask) {
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, mask, "store_lane");
        LLVMSetAlignment(LLVMBuildStore(ir->b, value, p), align);
        kiln_ir_if_end(ir, &c);
        return;
    }
    LLVMSetAlignment(LLVMBuildStore(ir->b, value, p), align);
}

LLVMValueRef kiln_ir_load_field(kiln_ir *ir, LLVMValueRef base, size_t offset, LLVMTypeRef type, const char *name) {
    LLVMValueRef off = kiln_ir_i64c(ir, (int64_t)offset);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(ir->b, ir->i8, base, &off, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(ir->b, type, p, name ? name : "");
    LLVMSetAlignment(v, 8);
    return v;
}

void kiln_ir_prefetch(kiln_ir *ir, LLVMValueRef addr, int rw, int locality) {
    LLVMValueRef args[4] = {addr, kiln_ir_i32c(ir, rw), kiln_ir_i32c(ir, locality), kiln_ir_i32c(ir, 1)};
    LLVMTypeRef ov = ir->ptr;
    kiln_ir_intrinsic(ir, "llvm.prefetch", &ov, 1, args, 4);
}
