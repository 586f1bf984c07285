/* POINTWISE kernels, and pack functions (a view evaluated into a dense
 * buffer): one unit of work per output row (all coordinates but the last),
 * vectorized along the last coordinate. */
#include <stddef.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)

typedef struct space {
    int rank;
    int32_t ext[KILN_KMAX_RANK]; /* dim slots, iteration order */
    int perm[KILN_KMAX_RANK];    /* iteration coordinate i is point coordinate perm[i] */
    int32_t root;                /* expression stored (out_expr: through cg_store_output) */
    int is_output;               /* 1: the kernel output; 0: a pack into args->aux */
    kiln_dtype dtype;            /* pack: element type stored */
    /* per row, inside the task */
    LLVMValueRef coords[KILN_KMAX_RANK];
    LLVMValueRef row_index, aux;
} space;

static LLVMValueRef inner_extent(cg *c, const space *s) {
    return s->rank ? c->dims[s->ext[s->rank - 1]] : kiln_ir_i64c(c->ir, 1);
}

static LLVMValueRef space_total(cg *c, void *user, LLVMValueRef *cost) {
    space *s = user;
    *cost = inner_extent(c, s);
    return cg_extent_product(c, s->ext, s->rank > 0 ? s->rank - 1 : 0);
}

static void row_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    space *s = user;
    cg_point p;
    memset(&p, 0, sizeof p);
    p.width = width;
    p.mask = mask;
    p.rank = s->rank;
    p.lane = s->rank ? s->perm[s->rank - 1] : -1;
    for (int i = 0; i + 1 < s->rank; i++) p.coord[s->perm[i]] = s->coords[i];
    if (s->rank) p.coord[s->perm[s->rank - 1]] = base;
    LLVMValueRef index = LLVMBuildAdd(B, s->row_index, base, "");
    if (s->is_output) {
        cg_store_output(c, &p, index);
        return;
    }
    LLVMValueRef v = cg_eval(c, &p, s->root, 0);
    kiln_dtype et = c->k->exprs[s->root].type;
    if (et != s->dtype) v = cg_cast(c->ir, et, s->dtype, v);
    cg_store(c->ir, s->dtype, s->aux, index, v, mask);
}

static LLVMValueRef emit_space(cg *c, const char *name, space *s) {
    kiln_ir *ir = c->ir;
    cg_task t;
    cg_task_begin(c, name, &t);
    if (!s->is_output) s->aux = kiln_ir_load_field(ir, t.args, offsetof(cg_args, aux), ir->ptr, "aux");
    LLVMValueRef inner = inner_extent(c, s);
    int width = s->rank ? cg_lane_width(c, s->ext[s->rank - 1]) : 1;
    kiln_ir_loop rows;
    kiln_ir_loop_begin(ir, &rows, t.begin, t.end, kiln_ir_i64c(ir, 1), "row");
    if (s->rank > 1) cg_unravel(c, rows.index, s->ext, s->rank - 1, s->coords);
    s->row_index = LLVMBuildMul(B, rows.index, inner, "");
    cg_lane_loop(c, inner, width, row_body, s);
    kiln_ir_loop_end(ir, &rows);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, space_total, s);
}

LLVMValueRef cg_emit_pointwise(cg *c, const char *name) {
    const kiln_kernel *k = c->k;
    space s;
    memset(&s, 0, sizeof s);
    s.rank = k->out_rank;
    for (int i = 0; i < s.rank; i++) {
        s.ext[i] = k->out_extent[i];
        s.perm[i] = i;
    }
    s.root = k->out_expr;
    s.is_output = 1;
    return emit_space(c, name, &s);
}

LLVMValueRef cg_emit_pack(cg *c, const char *name, int v, int swap_last2) {
    const kiln_kview *view = &c->k->views[v];
    space s;
    memset(&s, 0, sizeof s);
    s.rank = view->rank;
    for (int i = 0; i < s.rank; i++) {
        s.ext[i] = view->extent[i];
        s.perm[i] = i;
    }
    if (swap_last2 && s.rank >= 2) {
        int r = s.rank;
        int32_t e = s.ext[r - 1];
        s.ext[r - 1] = s.ext[r - 2];
        s.ext[r - 2] = e;
        s.perm[r - 1] = r - 2;
        s.perm[r - 2] = r - 1;
    }
    s.root = view->expr;
    s.dtype = KILN_F32;
    return emit_space(c, name, &s);
}
