/* Scalar semantics of kernel expressions, as docs/ops.md defines each op:
 * floats computed in double and rounded to the expression's type, ints in
 * wrapping int64 truncated to their width, bools as 0/1. The evaluator's
 * own implementation, independent of the reference interpreter's. */
#ifndef KILN_PASSES_KERNEL_SCALAR_H
#define KILN_PASSES_KERNEL_SCALAR_H

#include "kiln/ir.h"

typedef struct kval {
    double f;  /* float types */
    int64_t i; /* ints (u64 as its bit pattern) and bool */
} kval;

kval ks_round(kiln_dtype t, kval v);
kval ks_unary(kiln_op op, kiln_dtype t, kval x);
/* operands of type `in`, result of type `out` (bool for comparisons) */
kval ks_binary(kiln_op op, kiln_dtype in, kiln_dtype out, kval a, kval b);
kval ks_cast(kiln_dtype from, kiln_dtype to, kval x);
/* same-size reinterpretation of the bits (KILN_KX_BITCAST) */
kval ks_bitcast(kiln_dtype from, kiln_dtype to, kval x);
kval ks_load(const void *data, kiln_dtype t, size_t i);
void ks_store(void *data, kiln_dtype t, size_t i, kval v);
double ks_as_double(kiln_dtype t, kval v);
int64_t ks_f64_to_i64(double v); /* NaN -> 0, saturating */
/* 1 when op is a MATH op of that arity the kernel IR defines. */
int ks_supported(kiln_op op, int arity);

#endif
