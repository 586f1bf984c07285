/* Shared by the GLSL code generator's files (vk_cg_*.c). */
#ifndef KILN_VK_CG_INTERNAL_H
#define KILN_VK_CG_INTERNAL_H

#include "vk_codegen.h"
#include "vk_str.h"

typedef struct kvk_cg {
    const kvk_kinfo *ki;
    const kiln_kernel *k;
    const kvk_variant *v;
    const kvk_cg_device *dev;
    kvk_str *s;
    char *mark; /* scratch: one byte per expression */
    int uid;    /* numbers generated temporaries */
} kvk_cg;

/* ---- vk_cg_types.c: GLSL spellings of kiln types and values ---- */
/* The type a value of t has in registers: float for f32/f16/bf16 (rounded
 * to the narrow type after each operation), int for narrow ints, IDX for
 * i64 (int or int64_t by the variant's width), bool for bool. */
const char *kcg_vtype(const kvk_cg *c, kiln_dtype t);
int kcg_is_float(kiln_dtype t);
int kcg_is_unsigned(kiln_dtype t);
/* Bits of an integer type (8..64). */
int kcg_bits(kiln_dtype t);
/* The GLSL element type of a storage buffer holding t. */
const char *kcg_storage_type(kiln_dtype t);
/* Appends the literal of a CONST expression, or of an int / float value in type t. */
void kcg_const(kvk_cg *c, const kiln_kexpr *x);
void kcg_int_literal(kvk_cg *c, kiln_dtype t, int64_t v);
void kcg_float_literal(kvk_cg *c, kiln_dtype t, double v);
/* Appends `operand` (a value of type `from`) converted with cast semantics to `to`. */
void kcg_cast(kvk_cg *c, kiln_dtype from, kiln_dtype to, const char *operand);
/* Appends `operand`'s bits (type `from`) reinterpreted as `to` (same size). */
void kcg_bitcast(kvk_cg *c, kiln_dtype from, kiln_dtype to, const char *operand);
/* Appends the rounding of a computed value to t's width around `operand`
 * (f16, bf16, narrow ints), or just the operand. */
void kcg_round_open(kvk_cg *c, kiln_dtype t);
void kcg_round_close(kvk_cg *c, kiln_dtype t);

/* ---- vk_cg_expr.c: expressions as GLSL functions ---- */
/* Emits `RT name(IDX c0, ..., IDX c{ncoords-1}[, VT v])` returning the
 * value of expression root; with_value adds the VALUE(0) parameter. */
void kcg_expr_function(kvk_cg *c, const char *name, int32_t root, int ncoords, int with_value);
/* Emits the MATH expression x with operands named a and b. */
void kcg_math(kvk_cg *c, const kiln_kexpr *x, const char *a, const char *b);

/* ---- vk_cg_glue.c ---- */
/* Emits the glue functions and macros the kernel's template calls. */
void kcg_glue(kvk_cg *c);

/* ---- vk_cg_kernel.c ---- */
/* Appends "KD<i>" spelled as an IDX value: a literal or a push word. */
void kcg_dim(kvk_cg *c, int32_t slot);
/* Appends the product of the given dim slots as an IDX expression ("IDX(1)" when empty). */
void kcg_dim_product(kvk_cg *c, const int32_t *slots, int n);
/* Emits code that splits IDX variable `lin` into coordinates named
 * `<prefix><i>` (declared with `decl`, e.g. "IDX " or "") over the extents. */
void kcg_unravel(kvk_cg *c, const char *lin, const char *prefix, const char *decl, const int32_t *extents, int n);

#endif
