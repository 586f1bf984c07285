/* Matching reshape dims into groups of equal products (lower_reshape.h). */
#include "kiln/ir.h"
#include "lower_reshape.h"

/* d divides n exactly for every symbol value. */
static int divides(kiln_graph *g, kiln_dim n, kiln_dim d) {
    kiln_dim q;
    kiln_status s = kiln_dim_div(g, n, d, &q);
    kiln_status_free(s);
    return s == KILN_OK;
}

int reshape_groups(kiln_graph *g, const kiln_shape *in, const kiln_shape *out, reshape_group *groups) {
    int i = 0, o = 0, n = 0;
    while (i < in->rank || o < out->rank) {
        reshape_group gr = {i, i, o, o};
        kiln_dim pin = 1, pout = 1;
        if (i < in->rank) pin = in->dims[i++];
        if (o < out->rank) pout = out->dims[o++];
        while (pin != pout) {
            if (i < in->rank && (o >= out->rank || divides(g, pout, pin))) pin = kiln_dim_mul(g, pin, in->dims[i++]);
            else if (o < out->rank) pout = kiln_dim_mul(g, pout, out->dims[o++]);
            else goto whole;
            if (pin == KILN_DIM_INVALID || pout == KILN_DIM_INVALID) goto whole;
        }
        gr.in_hi = i;
        gr.out_hi = o;
        groups[n++] = gr;
    }
    return n;
whole:
    groups[0] = (reshape_group){0, in->rank, 0, out->rank};
    return 1;
}
