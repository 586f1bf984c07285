/* GLSL spellings of kiln's element types, literals and conversions, with
 * the semantics of passes/kernel_scalar.c (the evaluator): narrow results
 * are rounded after each operation, float -> int truncates and saturates,
 * int -> int wraps. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vk_cg_internal.h"

int kcg_is_float(kiln_dtype t) { return t == KILN_F32 || t == KILN_F16 || t == KILN_BF16 || t == KILN_F64; }
int kcg_is_unsigned(kiln_dtype t) { return t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_U64; }

int kcg_bits(kiln_dtype t) { return (int)kiln_dtype_size(t) * 8; }

const char *kcg_vtype(const kvk_cg *c, kiln_dtype t) {
    switch (t) {
    case KILN_F32:
    case KILN_F16:
    case KILN_BF16: return "float";
    case KILN_F64: return "double";
    case KILN_BOOL: return "bool";
    case KILN_U32: return "uint";
    case KILN_I64: return c->v->wide ? "int64_t" : "int";
    case KILN_U64: return "uint64_t";
    default: return "int"; /* i8, i16, i32, u8, u16 */
    }
}

const char *kcg_storage_type(kiln_dtype t) {
    switch (t) {
    case KILN_F32: return "float";
    case KILN_F16:
    case KILN_BF16:
    case KILN_U16: return "uint16_t";
    case KILN_F64: return "double";
    case KILN_I8: return "int8_t";
    case KILN_U8:
    case KILN_BOOL: return "uint8_t";
    case KILN_I16: return "int16_t";
    case KILN_I32: return "int";
    case KILN_U32: return "uint";
    case KILN_I64: return "int64_t";
    case KILN_U64: return "uint64_t";
    default: return "float";
    }
}

void kcg_float_literal(kvk_cg *c, kiln_dtype t, double v) {
    int dbl = t == KILN_F64;
    if (isnan(v)) {
        kvk_str_add(c->s, dbl ? "double(K_NAN)" : "K_NAN");
        return;
    }
    if (isinf(v)) {
        kvk_str_add(c->s, v < 0 ? (dbl ? "double(-K_INF)" : "(-K_INF)") : (dbl ? "double(K_INF)" : "K_INF"));
        return;
    }
    char buf[64];
    if (dbl) snprintf(buf, sizeof buf, "%.17g", v);
    else snprintf(buf, sizeof buf, "%.9g", (double)(float)v);
    /* GLSL wants a '.' or an exponent to read a float */
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    kvk_str_addf(c->s, "%s%s%s%s", v < 0 ? "(" : "", buf, dbl ? "lf" : "", v < 0 ? ")" : "");
}

void kcg_int_literal(kvk_cg *c, kiln_dtype t, int64_t v) {
    switch (t) {
    case KILN_BOOL: kvk_str_add(c->s, v ? "true" : "false"); return;
    case KILN_U32: kvk_str_addf(c->s, "%uu", (unsigned)(uint32_t)v); return;
    case KILN_U64: kvk_str_addf(c->s, "%lluul", (unsigned long long)(uint64_t)v); return;
    case KILN_I64:
        if (c->v->wide) {
            if (v == INT64_MIN) kvk_str_add(c->s, "(-9223372036854775807l - 1l)");
            else kvk_str_addf(c->s, "%s%lldl%s", v < 0 ? "(" : "", (long long)v, v < 0 ? ")" : "");
            return;
        }
        break;
    default: break;
    }
    int32_t w = (int32_t)v; /* narrow i64 constants were checked to fit */
    if (w == INT32_MIN) kvk_str_add(c->s, "(-2147483647 - 1)");
    else kvk_str_addf(c->s, "%s%d%s", w < 0 ? "(" : "", (int)w, w < 0 ? ")" : "");
}

void kcg_const(kvk_cg *c, const kiln_kexpr *x) {
    if (kcg_is_float(x->type)) kcg_float_literal(c, x->type, x->f);
    else kcg_int_literal(c, x->type, x->i);
}

void kcg_round_open(kvk_cg *c, kiln_dtype t) {
    switch (t) {
    case KILN_F16: kvk_str_add(c->s, "k_rf16("); break;
    case KILN_BF16: kvk_str_add(c->s, "k_rbf16("); break;
    case KILN_I8: kvk_str_add(c->s, "k_i8("); break;
    case KILN_I16: kvk_str_add(c->s, "k_i16("); break;
    case KILN_U8: kvk_str_add(c->s, "k_u8("); break;
    case KILN_U16: kvk_str_add(c->s, "k_u16("); break;
    default: kvk_str_add(c->s, "("); break;
    }
}

void kcg_round_close(kvk_cg *c, kiln_dtype t) {
    (void)t;
    kvk_str_add(c->s, ")");
}

/* The zero of a value type, for comparisons. */
static const char *zero_of(const kvk_cg *c, kiln_dtype t) {
    switch (t) {
    case KILN_F32:
    case KILN_F16:
    case KILN_BF16: return "0.0";
    case KILN_F64: return "0.0lf";
    case KILN_U32: return "0u";
    case KILN_U64: return "0ul";
    case KILN_I64: return c->v->wide ? "0l" : "0";
    default: return "0";
    }
}

/* float -> int: truncation toward zero, saturated, NaN -> 0 */
static void float_to_int(kvk_cg *c, kiln_dtype from, kiln_dtype to, const char *x) {
    const char *f = from == KILN_F64 ? "float" : "";
    switch (to) {
    case KILN_I8: kvk_str_addf(c->s, "k_f2i(%s(%s), -128, 127)", f, x); break;
    case KILN_I16: kvk_str_addf(c->s, "k_f2i(%s(%s), -32768, 32767)", f, x); break;
    case KILN_U8: kvk_str_addf(c->s, "k_f2i(%s(%s), 0, 255)", f, x); break;
    case KILN_U16: kvk_str_addf(c->s, "k_f2i(%s(%s), 0, 65535)", f, x); break;
    case KILN_U32: kvk_str_addf(c->s, "k_f2u(%s(%s))", f, x); break;
    case KILN_I64:
        if (c->v->wide) kvk_str_addf(c->s, "k_f2l(%s(%s))", f, x);
        else kvk_str_addf(c->s, "k_f2i(%s(%s), (-2147483647 - 1), 2147483647)", f, x);
        break;
    case KILN_U64: kvk_str_addf(c->s, "k_f2ul(%s(%s))", f, x); break;
    default: kvk_str_addf(c->s, "k_f2i(%s(%s), (-2147483647 - 1), 2147483647)", f, x); break;
    }
}

void kcg_cast(kvk_cg *c, kiln_dtype from, kiln_dtype to, const char *x) {
    const char *vt = kcg_vtype(c, to);
    int narrow = to == KILN_F16 || to == KILN_BF16 || to == KILN_I8 || to == KILN_I16 || to == KILN_U8 || to == KILN_U16;
    if (from == to || (!narrow && strcmp(kcg_vtype(c, from), vt) == 0)) {
        kvk_str_addf(c->s, "(%s)", x);
        return;
    }
    if (to == KILN_BOOL) {
        kvk_str_addf(c->s, "(%s != %s)", x, zero_of(c, from));
        return;
    }
    if (from == KILN_BOOL) {
        kcg_round_open(c, to);
        kvk_str_addf(c->s, "%s(%s ? 1 : 0)", vt, x);
        kcg_round_close(c, to);
        return;
    }
    if (kcg_is_float(to)) {
        kcg_round_open(c, to);
        kvk_str_addf(c->s, "%s(%s)", vt, x);
        kcg_round_close(c, to);
        return;
    }
    if (kcg_is_float(from)) {
        float_to_int(c, from, to, x);
        return;
    }
    /* int -> int wraps to the target's width */
    kcg_round_open(c, to);
    kvk_str_addf(c->s, "%s(%s)", vt, x);
    kcg_round_close(c, to);
}

/* The bits of a value of type t (held in registers as kcg_vtype says) as
 * a uint (up to 32 bits) or uint64_t. */
static void bits_of(kvk_cg *c, kiln_dtype t, const char *x) {
    switch (t) {
    case KILN_F16: kvk_str_addf(c->s, "k_f2h(%s)", x); break; /* exact: the value is a half */
    case KILN_BF16: kvk_str_addf(c->s, "k_f2bf(%s)", x); break;
    case KILN_F32: kvk_str_addf(c->s, "floatBitsToUint(%s)", x); break;
    case KILN_F64: kvk_str_addf(c->s, "doubleBitsToUint64(%s)", x); break;
    case KILN_I8:
    case KILN_U8: kvk_str_addf(c->s, "(uint(%s) & 0xffu)", x); break;
    case KILN_I16:
    case KILN_U16: kvk_str_addf(c->s, "(uint(%s) & 0xffffu)", x); break;
    case KILN_I64:
    case KILN_U64: kvk_str_addf(c->s, "uint64_t(%s)", x); break;
    default: kvk_str_addf(c->s, "uint(%s)", x); break; /* i32, u32 */
    }
}

void kcg_bitcast(kvk_cg *c, kiln_dtype from, kiln_dtype to, const char *x) {
    kvk_str tmp = {0};
    kvk_str *saved = c->s;
    c->s = &tmp;
    bits_of(c, from, x);
    c->s = saved;
    if (tmp.oom) c->s->oom = 1;
    const char *b = tmp.p ? tmp.p : "0u";
    switch (to) {
    case KILN_F16: kvk_str_addf(c->s, "k_h2f(%s)", b); break;
    case KILN_BF16: kvk_str_addf(c->s, "k_bf2f(%s)", b); break;
    case KILN_F32: kvk_str_addf(c->s, "uintBitsToFloat(%s)", b); break;
    case KILN_F64: kvk_str_addf(c->s, "uint64BitsToDouble(%s)", b); break;
    case KILN_I8: kvk_str_addf(c->s, "k_i8(int(%s))", b); break;
    case KILN_U8: kvk_str_addf(c->s, "int(%s)", b); break;
    case KILN_I16: kvk_str_addf(c->s, "k_i16(int(%s))", b); break;
    case KILN_U16: kvk_str_addf(c->s, "int(%s)", b); break;
    case KILN_I32: kvk_str_addf(c->s, "int(%s)", b); break;
    case KILN_U32: kvk_str_addf(c->s, "uint(%s)", b); break;
    case KILN_I64: kvk_str_addf(c->s, c->v->wide ? "int64_t(%s)" : "int(%s)", b); break;
    case KILN_U64: kvk_str_addf(c->s, "uint64_t(%s)", b); break;
    default: kvk_str_addf(c->s, "%s", b); break;
    }
    kvk_str_free(&tmp);
}
