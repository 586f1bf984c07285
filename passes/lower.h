/* Lowering fusion groups to kernels (kernel.h). lower_emit.c turns graph
 * values into scalar expressions at given coordinates (inlining
 * unmaterialized producers, loading materialized ones through strided
 * index math when it exists); lower_group.c builds each template. */
#ifndef KILN_PASSES_LOWER_H
#define KILN_PASSES_LOWER_H

#include "fusion.h"
#include "kbuild.h"

typedef struct lower_env {
    kiln_graph *g; /* the plan's graph (dims may be interned into it) */
    const fusion *f;
    /* The plan tensor holding materialized node v (created on first
     * request); -1 on failure. */
    int (*tensor_for)(void *ctx, kiln_value v);
    void *ctx;
} lower_env;

kiln_status lower_group(const lower_env *env, int group, kiln_kernel *out);

/* ---- shared by the lowering files ---- */
typedef struct strided {
    kiln_value base; /* the materialized node loaded from */
    kiln_dim offset;
    int rank;
    kiln_dim stride[KILN_MAX_RANK];
} strided;

typedef struct memo_entry {
    kiln_value v;
    int32_t guard, expr;
    int32_t coords[KILN_MAX_RANK];
} memo_entry;

typedef struct lowerer {
    const lower_env *env;
    kbuilder kb;
    kiln_value self;       /* materialized, but computed here (the group's output) */
    kiln_value value_node; /* stands for value_expr (the root inside its group) */
    int32_t value_expr;
    char *inlined;         /* nodes computed in this kernel */
    memo_entry *memo;
    int nmemo, capmemo;
    int32_t *memo_ht;
    int memo_htcap;
    int quant_base;        /* lw_strided: an inlined dequantize of a materialized tensor is a base (lower_quant.c) */
} lowerer;

/* Value of node v at coords (one i64 expression per axis of v); loads
 * happen only where guard (a bool expression, or -1) holds. */
int32_t lw_emit(lowerer *L, kiln_value v, const int32_t *coords, int32_t guard);
/* v as a strided view of a materialized node, when its index math is
 * affine; 0 otherwise. */
int lw_strided(lowerer *L, kiln_value v, strided *out);
/* A view over node v: view coordinate map[j] feeds axis j of v (-1: 0). */
void lw_view(lowerer *L, kiln_kview *view, kiln_value v, int rank, const kiln_dim *extent, const int *map);
/* Coords of an input of shape `in` broadcast into coords over `out`. */
void lw_broadcast(lowerer *L, const kiln_shape *out, const kiln_shape *in, const int32_t *coords, int32_t *in_coords);
void lw_fail(lowerer *L, kiln_code code, const char *fmt, ...) KILN_PRINTF(3, 4);

/* lower_quant.c: dequantize node n at logical coords, as byte loads of its
 * raw input and integer/float math (bit-exact with kiln_dequantize). */
int32_t lw_emit_dequantize(lowerer *L, const kiln_node *n, const int32_t *coords, int32_t guard);
/* When view's node v is (movement ops over) an inlined dequantize of a
 * materialized raw tensor, fills the view's quantized descriptor (qtype,
 * buf, offset, strides, qcols); map as for lw_view. */
void lw_quant_view(lowerer *L, kiln_kview *view, kiln_value v, const int *map);

#endif
