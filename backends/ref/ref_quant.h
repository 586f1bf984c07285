/* Kernel of the dequantize op (registered in the table in ref_eval.c). */
#ifndef KILN_REF_QUANT_H
#define KILN_REF_QUANT_H

#include "ref_internal.h"

REF_KERNEL(ref_dequantize); /* ref_quant.c */

#endif
