/* Reshape as coordinate math: the two shapes split into groups of
 * consecutive dims with equal products ([b, s, 8] -> [b, s, 2, 4] is
 * b | s | 8 = 2*4), so coordinates pass through unchanged groups and only
 * regrouped dims need div/mod (or, for strided views, new strides). */
#ifndef KILN_PASSES_LOWER_RESHAPE_H
#define KILN_PASSES_LOWER_RESHAPE_H

#include "kiln/ir.h"

typedef struct reshape_group {
    int in_lo, in_hi;   /* input dims [in_lo, in_hi) */
    int out_lo, out_hi; /* output dims [out_lo, out_hi) */
} reshape_group;

/* Fills groups (at most 2 * KILN_MAX_RANK); returns the count. Falls back
 * to one group of everything when the products cannot be matched. */
int reshape_groups(kiln_graph *g, const kiln_shape *in, const kiln_shape *out, reshape_group *groups);

#endif
