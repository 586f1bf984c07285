/* Register types, memory access for every dtype, rounding and casts with
 * the semantics of docs/ops.md (the evaluator's, passes/kernel_scalar.c). */
#include <string.h>

#include "codegen_internal.h"

LLVMTypeRef cg_reg_t(kiln_ir *ir, kiln_dtype t) {
    switch (t) {
    case KILN_F32:
    case KILN_F16:
    case KILN_BF16: return ir->f32;
    case KILN_F64: return LLVMDoubleTypeInContext(ir->ctx);
    default: return ir->i64;
    }
}

LLVMTypeRef cg_mem_t(kiln_ir *ir, kiln_dtype t) {
    switch (t) {
    case KILN_F32: return ir->f32;
    case KILN_F16: return LLVMHalfTypeInContext(ir->ctx);
    case KILN_BF16:
    case KILN_I16:
    case KILN_U16: return LLVMInt16TypeInContext(ir->ctx);
    case KILN_F64: return LLVMDoubleTypeInContext(ir->ctx);
    case KILN_I8:
    case KILN_U8:
    case KILN_BOOL: return ir->i8;
    case KILN_I32:
    case KILN_U32: return ir->i32;
    default: return ir->i64;
    }
}

static int is_unsigned(kiln_dtype t) { return t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_BOOL; }

int cg_is_f64(LLVMValueRef v) {
    LLVMTypeRef t = LLVMTypeOf(v);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) t = LLVMGetElementType(t);
    return LLVMGetTypeKind(t) == LLVMDoubleTypeKind;
}

static LLVMTypeRef with_width(kiln_ir *ir, LLVMTypeRef scalar, LLVMValueRef like) {
    return kiln_ir_vec_t(ir, scalar, kiln_ir_width(like));
}

LLVMValueRef cg_splat(kiln_ir *ir, LLVMValueRef v, int width) {
    if (width == 1 || kiln_ir_width(v) == width) return v;
    return kiln_ir_splat(ir, v, width);
}

LLVMValueRef cg_const_f(kiln_ir *ir, LLVMTypeRef scalar_t, double v, int width) {
    return cg_splat(ir, LLVMConstReal(scalar_t, v), width);
}

LLVMValueRef cg_const_i(kiln_ir *ir, int64_t v, int width) { return cg_splat(ir, kiln_ir_i64c(ir, v), width); }

LLVMValueRef cg_iota(kiln_ir *ir, int width) {
    LLVMValueRef lanes[64];
    for (int i = 0; i < width; i++) lanes[i] = kiln_ir_i64c(ir, i);
    return width == 1 ? lanes[0] : LLVMConstVector(lanes, (unsigned)width);
}

LLVMValueRef cg_to_i1(kiln_ir *ir, LLVMValueRef v) {
    return LLVMBuildICmp(ir->b, LLVMIntNE, v, cg_const_i(ir, 0, kiln_ir_width(v)), "");
}

LLVMValueRef cg_from_i1(kiln_ir *ir, LLVMValueRef b) { return LLVMBuildZExt(ir->b, b, with_width(ir, ir->i64, b), ""); }

LLVMValueRef cg_and_mask(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    if (!a) return b;
    if (!b) return a;
    return LLVMBuildAnd(ir->b, a, b, "");
}

/* ---- rounding ---- */

static LLVMValueRef round_bf16(kiln_ir *ir, LLVMValueRef f) {
    /* kiln_f32_to_bf16 then back: NaN -> quiet NaN, else round to nearest even. */
    LLVMTypeRef it = with_width(ir, ir->i32, f);
    int w = kiln_ir_width(f);
    LLVMValueRef u = LLVMBuildBitCast(ir->b, f, it, "");
#define C32(x) cg_splat(ir, LLVMConstInt(ir->i32, (x), 0), w)
    LLVMValueRef lsb = LLVMBuildAnd(ir->b, LLVMBuildLShr(ir->b, u, C32(16), ""), C32(1), "");
    LLVMValueRef r = LLVMBuildAdd(ir->b, u, LLVMBuildAdd(ir->b, C32(0x7fff), lsb, ""), "");
    r = LLVMBuildAnd(ir->b, r, C32(0xffff0000u), "");
    LLVMValueRef nan_bits = LLVMBuildOr(ir->b, LLVMBuildAnd(ir->b, u, C32(0xffff0000u), ""), C32(0x400000), "");
    LLVMValueRef is_nan = LLVMBuildFCmp(ir->b, LLVMRealUNO, f, f, "");
    r = LLVMBuildSelect(ir->b, is_nan, nan_bits, r, "");
#undef C32
    return LLVMBuildBitCast(ir->b, r, LLVMTypeOf(f), "bf16");
}

static int int_bits(kiln_dtype t) { return (int)kiln_dtype_size(t) * 8; }

LLVMValueRef cg_round(kiln_ir *ir, kiln_dtype t, LLVMValueRef v) {
    switch (t) {
    case KILN_F32:
    case KILN_F64:
    case KILN_I64:
    case KILN_U64: return v;
    case KILN_F16: {
        LLVMValueRef h = LLVMBuildFPTrunc(ir->b, v, with_width(ir, LLVMHalfTypeInContext(ir->ctx), v), "");
        return LLVMBuildFPExt(ir->b, h, LLVMTypeOf(v), "f16");
    }
    case KILN_BF16: return round_bf16(ir, v);
    case KILN_BOOL: return cg_from_i1(ir, cg_to_i1(ir, v));
    default: {
        LLVMTypeRef nt = with_width(ir, LLVMIntTypeInContext(ir->ctx, (unsigned)int_bits(t)), v);
        LLVMValueRef n = LLVMBuildTrunc(ir->b, v, nt, "");
        return is_unsigned(t) ? LLVMBuildZExt(ir->b, n, LLVMTypeOf(v), "") : LLVMBuildSExt(ir->b, n, LLVMTypeOf(v), "");
    }
    }
}

/* ---- casts ---- */

static LLVMValueRef float_to_int(kiln_ir *ir, kiln_dtype to, LLVMValueRef v) {
    int bits = to == KILN_U64 ? 64 : int_bits(to);
    int uns = to == KILN_U8 || to == KILN_U16 || to == KILN_U32 || to == KILN_U64;
    LLVMTypeRef nt = with_width(ir, LLVMIntTypeInContext(ir->ctx, (unsigned)bits), v);
    LLVMTypeRef ov[2] = {nt, LLVMTypeOf(v)};
    LLVMValueRef r = kiln_ir_intrinsic(ir, uns ? "llvm.fptoui.sat" : "llvm.fptosi.sat", ov, 2, &v, 1);
    LLVMTypeRef wide = with_width(ir, ir->i64, v);
    if (bits == 64) return r;
    return uns ? LLVMBuildZExt(ir->b, r, wide, "") : LLVMBuildSExt(ir->b, r, wide, "");
}

LLVMValueRef cg_cast(kiln_ir *ir, kiln_dtype from, kiln_dtype to, LLVMValueRef v) {
    int ff = kiln_dtype_is_float(from), tf = kiln_dtype_is_float(to);
    if (to == KILN_BOOL) {
        LLVMValueRef nz = ff ? LLVMBuildFCmp(ir->b, LLVMRealUNE, v, LLVMConstNull(LLVMTypeOf(v)), "")
                             : LLVMBuildICmp(ir->b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
        return cg_from_i1(ir, nz);
    }
    if (tf) {
        LLVMTypeRef rt = with_width(ir, cg_reg_t(ir, to), v);
        LLVMValueRef r;
        if (ff) {
            int from64 = cg_is_f64(v), to64 = to == KILN_F64;
            r = from64 == to64 ? v : to64 ? LLVMBuildFPExt(ir->b, v, rt, "") : LLVMBuildFPTrunc(ir->b, v, rt, "");
        } else {
            /* from int: through double as the evaluator does (exact for
             * every int up to 2^53), then rounded once more to the type */
            LLVMTypeRef dt = with_width(ir, LLVMDoubleTypeInContext(ir->ctx), v);
            LLVMValueRef d = from == KILN_U64 ? LLVMBuildUIToFP(ir->b, v, dt, "") : LLVMBuildSIToFP(ir->b, v, dt, "");
            r = to == KILN_F64 ? d : LLVMBuildFPTrunc(ir->b, d, rt, "");
        }
        return cg_round(ir, to, r);
    }
    if (!ff) return cg_round(ir, to, v); /* int -> int wraps */
    return float_to_int(ir, to, v);
}

/* ---- memory ---- */

/* Raw memory value (element type of t) -> register value. */
static LLVMValueRef to_reg(kiln_ir *ir, kiln_dtype t, LLVMValueRef raw) {
    LLVMTypeRef rt = with_width(ir, cg_reg_t(ir, t), raw);
    switch (t) {
    case KILN_F32:
    case KILN_F64:
    case KILN_I64:
    case KILN_U64: return raw;
    case KILN_F16: return LLVMBuildFPExt(ir->b, raw, rt, "");
    case KILN_BF16: {
        LLVMTypeRef it = with_width(ir, ir->i32, raw);
        LLVMValueRef u = LLVMBuildShl(ir->b, LLVMBuildZExt(ir->b, raw, it, ""),
                                      cg_splat(ir, LLVMConstInt(ir->i32, 16, 0), kiln_ir_width(raw)), "");
        return LLVMBuildBitCast(ir->b, u, rt, "");
    }
    case KILN_BOOL:
        return cg_from_i1(ir, LLVMBuildICmp(ir->b, LLVMIntNE, raw, LLVMConstNull(LLVMTypeOf(raw)), ""));
    default: return is_unsigned(t) ? LLVMBuildZExt(ir->b, raw, rt, "") : LLVMBuildSExt(ir->b, raw, rt, "");
    }
}

/* Register value (already rounded to t) -> raw memory value. */
static LLVMValueRef from_reg(kiln_ir *ir, kiln_dtype t, LLVMValueRef v) {
    LLVMTypeRef mt = with_width(ir, cg_mem_t(ir, t), v);
    switch (t) {
    case KILN_F32:
    case KILN_F64:
    case KILN_I64:
    case KILN_U64: return v;
    case KILN_F16: return LLVMBuildFPTrunc(ir->b, v, mt, "");
    case KILN_BF16: {
        LLVMValueRef r = round_bf16(ir, v);
        LLVMTypeRef it = with_width(ir, ir->i32, v);
        LLVMValueRef u = LLVMBuildLShr(ir->b, LLVMBuildBitCast(ir->b, r, it, ""),
                                       cg_splat(ir, LLVMConstInt(ir->i32, 16, 0), kiln_ir_width(v)), "");
        return LLVMBuildTrunc(ir->b, u, mt, "");
    }
    case KILN_BOOL: return LLVMBuildZExt(ir->b, cg_to_i1(ir, v), mt, "");
    default: return LLVMBuildTrunc(ir->b, v, mt, "");
    }
}

static unsigned elem_align(kiln_dtype t) { return (unsigned)kiln_dtype_size(t); }

LLVMValueRef cg_load(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef index, int width, LLVMValueRef mask) {
    LLVMTypeRef et = cg_mem_t(ir, t);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(ir->b, et, base, &index, 1, "");
    LLVMTypeRef vt = kiln_ir_vec_t(ir, et, width);
    LLVMValueRef raw;
    if (mask && width > 1) {
        LLVMTypeRef ov[2] = {vt, ir->ptr};
        LLVMValueRef args[4] = {p, kiln_ir_i32c(ir, (int32_t)elem_align(t)), mask, LLVMConstNull(vt)};
        raw = kiln_ir_intrinsic(ir, "llvm.masked.load", ov, 2, args, 4);
    } else if (mask) {
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, mask, "load_lane");
        LLVMValueRef v = LLVMBuildLoad2(ir->b, et, p, "");
        LLVMSetAlignment(v, elem_align(t));
        LLVMBasicBlockRef loaded = LLVMGetInsertBlock(ir->b);
        kiln_ir_if_end(ir, &c);
        raw = LLVMBuildPhi(ir->b, et, "");
        LLVMValueRef vals[2] = {v, LLVMConstNull(et)};
        LLVMBasicBlockRef bbs[2] = {loaded, c.else_bb};
        LLVMAddIncoming(raw, vals, bbs, 2);
    } else {
        raw = LLVMBuildLoad2(ir->b, vt, p, "");
        LLVMSetAlignment(raw, elem_align(t));
    }
    return to_reg(ir, t, raw);
}

LLVMValueRef cg_gather(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef vindex, LLVMValueRef mask) {
    int w = kiln_ir_width(vindex);
    LLVMTypeRef et = cg_mem_t(ir, t);
    LLVMValueRef ptrs = LLVMBuildGEP2(ir->b, et, base, &vindex, 1, "");
    LLVMTypeRef vt = kiln_ir_vec_t(ir, et, w);
    if (!mask) {
        LLVMValueRef ones[64];
        for (int i = 0; i < w; i++) ones[i] = LLVMConstInt(ir->i1, 1, 0);
        mask = LLVMConstVector(ones, (unsigned)w);
    }
    LLVMTypeRef ov[2] = {vt, LLVMTypeOf(ptrs)};
    LLVMValueRef args[4] = {ptrs, kiln_ir_i32c(ir, (int32_t)elem_align(t)), mask, LLVMConstNull(vt)};
    return to_reg(ir, t, kiln_ir_intrinsic(ir, "llvm.masked.gather", ov, 2, args, 4));
}

void cg_store(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef index, LLVMValueRef value, LLVMValueRef mask) {
    LLVMTypeRef et = cg_mem_t(ir, t);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(ir->b, et, base, &index, 1, "");
    LLVMValueRef raw = from_reg(ir, t, value);
    int w = kiln_ir_width(value);
    if (mask && w > 1) {
        LLVMTypeRef ov[2] = {LLVMTypeOf(raw), ir->ptr};
        LLVMValueRef args[4] = {raw, p, kiln_ir_i32c(ir, (int32_t)elem_align(t)), mask};
        kiln_ir_intrinsic(ir, "llvm.masked.store", ov, 2, args, 4);
        return;
    }
    if (mask) {
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, mask, "store_lane");
        LLVMSetAlignment(LLVMBuildStore(ir->b, raw, p), elem_align(t));
        kiln_ir_if_end(ir, &c);
        return;
    }
    LLVMSetAlignment(LLVMBuildStore(ir->b, raw, p), elem_align(t));
}

/* ---- libm ---- */

static LLVMValueRef libm_fn(kiln_ir *ir, const char *name, LLVMTypeRef t, int nargs) {
    LLVMValueRef f = LLVMGetNamedFunction(ir->mod, name);
    if (f) return f;
    LLVMTypeRef params[2] = {t, t};
    f = LLVMAddFunction(ir->mod, name, LLVMFunctionType(t, params, (unsigned)nargs, 0));
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ir->ctx, nounwind, 0));
    return f;
}

static LLVMValueRef libm_call(kiln_ir *ir, const char *f32_name, const char *f64_name, LLVMValueRef x, LLVMValueRef y) {
    int n = y ? 2 : 1;
    int d = cg_is_f64(x);
    LLVMTypeRef st = d ? LLVMDoubleTypeInContext(ir->ctx) : ir->f32;
    LLVMValueRef f = libm_fn(ir, d ? f64_name : f32_name, st, n);
    LLVMTypeRef params[2] = {st, st};
    LLVMTypeRef ft = LLVMFunctionType(st, params, (unsigned)n, 0);
    int w = kiln_ir_width(x);
    if (w == 1) {
        LLVMValueRef args[2] = {x, y};
        return LLVMBuildCall2(ir->b, ft, f, args, (unsigned)n, "");
    }
    LLVMValueRef r = LLVMGetPoison(LLVMTypeOf(x));
    for (int i = 0; i < w; i++) {
        LLVMValueRef idx = kiln_ir_i32c(ir, i);
        LLVMValueRef args[2] = {LLVMBuildExtractElement(ir->b, x, idx, ""),
                                y ? LLVMBuildExtractElement(ir->b, y, idx, "") : NULL};
        r = LLVMBuildInsertElement(ir->b, r, LLVMBuildCall2(ir->b, ft, f, args, (unsigned)n, ""), idx, "");
    }
    return r;
}

LLVMValueRef cg_libm(kiln_ir *ir, const char *f32_name, const char *f64_name, LLVMValueRef x) {
    return libm_call(ir, f32_name, f64_name, x, NULL);
}

LLVMValueRef cg_libm2(kiln_ir *ir, const char *f32_name, const char *f64_name, LLVMValueRef x, LLVMValueRef y) {
    return libm_call(ir, f32_name, f64_name, x, y);
}

LLVMValueRef cg_fexp(kiln_ir *ir, LLVMValueRef x) {
    if (cg_is_f64(x)) return cg_libm(ir, "expf", "exp", x);
    return kiln_ir_exp(ir, x);
}

LLVMValueRef cg_bitcast(kiln_ir *ir, kiln_dtype from, kiln_dtype to, LLVMValueRef v) {
    /* through memory representations: f16 bits are a half, bf16 and ints
     * are integers of their width */
    LLVMValueRef raw = from_reg(ir, from, v);
    LLVMTypeRef mt = with_width(ir, cg_mem_t(ir, to), v);
    if (LLVMTypeOf(raw) != mt) raw = LLVMBuildBitCast(ir->b, raw, mt, "");
    return to_reg(ir, to, raw);
}
