/* Scalar semantics of every elementwise op, as docs/ops.md defines them:
 * floats computed in double and rounded to the value's type, ints in
 * wrapping int64 truncated to their width, bools as 0/1. The one
 * definition the reference interpreter and the kernel-IR evaluator share;
 * code generators implement the same rules in their own instructions. */
#ifndef KILN_SCALAR_H
#define KILN_SCALAR_H

#include "ir.h"

typedef struct kiln_scalar {
    double f;  /* float types */
    int64_t i; /* ints (u64 as its bit pattern) and bool */
} kiln_scalar;

kiln_scalar kiln_scalar_round(kiln_dtype t, kiln_scalar v);
kiln_scalar kiln_scalar_unary(kiln_op op, kiln_dtype t, kiln_scalar x);
/* operands of type `in`, result of type `out` (bool for comparisons) */
kiln_scalar kiln_scalar_binary(kiln_op op, kiln_dtype in, kiln_dtype out, kiln_scalar a, kiln_scalar b);
kiln_scalar kiln_scalar_cast(kiln_dtype from, kiln_dtype to, kiln_scalar x);
/* same-size reinterpretation of the bits (KILN_KX_BITCAST) */
kiln_scalar kiln_scalar_bitcast(kiln_dtype from, kiln_dtype to, kiln_scalar x);
kiln_scalar kiln_scalar_load(const void *data, kiln_dtype t, size_t i);
void kiln_scalar_store(void *data, kiln_dtype t, size_t i, kiln_scalar v);
double kiln_scalar_as_double(kiln_dtype t, kiln_scalar v);
int64_t kiln_scalar_f64_to_i64(double v); /* NaN -> 0, saturating */
/* 1 when op is a MATH op of that arity the kernel IR defines. */
int kiln_scalar_supported(kiln_op op, int arity);

#endif
