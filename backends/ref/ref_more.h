/* Kernels of the ops added for the ONNX importer (registered in the table
 * in ref_eval.c). */
#ifndef KILN_REF_MORE_H
#define KILN_REF_MORE_H

#include "ref_internal.h"

REF_KERNEL(ref_unary_more);     /* ref_unary.c: tan asin acos atan sinh cosh asinh acosh atanh */
REF_KERNEL(ref_fmod);           /* ref_binary.c */
REF_KERNEL(ref_bitwise);        /* bitnot bitand bitor bitxor shl shr */
REF_KERNEL(ref_cumulative);     /* ref_scan.c: cumsum cumprod */
REF_KERNEL(ref_gather_elements); /* ref_index_more.c */
REF_KERNEL(ref_topk);

#endif
