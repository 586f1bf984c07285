/* Building a kiln_kernel: slot tables with deduplication, and expressions
 * hash-consed (an expression built twice is one node) with integer index
 * arithmetic folded (i * 1 + 0 is i), so printed kernels stay readable and
 * identical index math is recognisable by expression number. */
#ifndef KILN_PASSES_KBUILD_H
#define KILN_PASSES_KBUILD_H

#include "kiln/kernel.h"

typedef struct kbuilder {
    kiln_kernel k;
    int capb, capd, cape;
    int32_t *ht; /* expression hash table (indices), -1 empty */
    int htcap;
    kiln_status s; /* first failure; builders then return -1 */
} kbuilder;

void kb_init(kbuilder *b);
void kb_free(kbuilder *b);     /* releases the kernel too */
/* Hands the kernel over (b is reset) or returns the sticky error. */
kiln_status kb_finish(kbuilder *b, kiln_kernel *out);

int32_t kb_dim(kbuilder *b, kiln_dim d);                          /* dim slot */
int32_t kb_buf(kbuilder *b, int tensor, kiln_dtype t, kiln_kbuf_access a); /* buffer slot */

int32_t kb_const_i(kbuilder *b, kiln_dtype t, int64_t v);
int32_t kb_const_f(kbuilder *b, kiln_dtype t, double v);
int32_t kb_coord(kbuilder *b, int i);
int32_t kb_dimx(kbuilder *b, kiln_dim d);   /* i64 value of a dim (a CONST when constant) */
int32_t kb_load(kbuilder *b, int32_t slot, int32_t index, int32_t guard);
int32_t kb_math(kbuilder *b, kiln_op op, kiln_dtype t, int32_t a, int32_t c);
int32_t kb_select(kbuilder *b, int32_t cond, int32_t a, int32_t c);
int32_t kb_cast(kbuilder *b, kiln_dtype t, int32_t a);
int32_t kb_bitcast(kbuilder *b, kiln_dtype t, int32_t a); /* same-size reinterpretation */
int32_t kb_value(kbuilder *b, int slot, kiln_dtype t);

/* i64 index arithmetic with constant folding */
int32_t kb_iadd(kbuilder *b, int32_t x, int32_t y);
int32_t kb_isub(kbuilder *b, int32_t x, int32_t y);
int32_t kb_imul(kbuilder *b, int32_t x, int32_t y);
int32_t kb_idiv(kbuilder *b, int32_t x, int32_t y); /* x, y >= 0 */
int32_t kb_imod(kbuilder *b, int32_t x, int32_t y); /* x, y >= 0 */
int32_t kb_icmp(kbuilder *b, kiln_op op, int32_t x, int32_t y); /* bool */
int32_t kb_and(kbuilder *b, int32_t x, int32_t y); /* bool; -1 means true */

/* 1 when expression e is an i64/bool CONST, with its value in *v. */
int kb_is_const(const kbuilder *b, int32_t e, int64_t *v);

#endif
