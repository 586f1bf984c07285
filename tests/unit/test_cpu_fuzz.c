/* Random chains of movement and elementwise ops on the CPU against the
 * reference: fusion turns each chain into one or two kernels whose index
 * expressions mix transposes, slices (negative steps too), reshapes that
 * split and merge axes, broadcasts, concats (selects over guarded pieces)
 * and gathers, which is where the emitter's value forms (uniform, affine
 * in the lane, vector) and its branching selects must stay exact. Shapes
 * have a symbolic axis bound at 1, 6 and 19. Most chains end in a softmax,
 * reduction, matmul or layer norm that reads them as its view. Seeds are fixed, so a
 * failure names a reproducible case. Tolerance as test_cpu_ops (2e-5):
 * the only arithmetic is a few f32 adds/muls/tanh. */
#include <stdlib.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "test_cpu_util.h"

static const tp_sym b1[] = {{"n", 1}, {NULL, 0}}, b2[] = {{"n", 6}, {NULL, 0}}, b3[] = {{"n", 19}, {NULL, 0}};
static const tp_sym *const bindings[] = {b1, b2, b3, NULL};

typedef struct rng {
    uint64_t s;
} rng;
static int pick(rng *r, int n) { return (int)(tp_next(&r->s) % (uint64_t)n); }

typedef struct cur {
    kiln_graph *g;
    kiln_value v;
    kiln_shape s;
    int inputs;
} cur;

static kiln_value fresh_input(cur *c, const kiln_shape *s, kiln_dtype t) {
    char name[16];
    snprintf(name, sizeof name, "in%d", c->inputs++);
    return tp_input(c->g, name, t, s->rank, s->dims);
}

static void refresh(cur *c) { c->s = kiln_graph_node(c->g, c->v)->shape; }

static void step(cur *c, rng *r) {
    kiln_graph *g = c->g;
    int rank = c->s.rank;
    switch (pick(r, 8)) {
    case 0: { /* transpose */
        int64_t perm[KILN_MAX_RANK];
        for (int i = 0; i < rank; i++) perm[i] = i;
        for (int i = rank - 1; i > 0; i--) {
            int j = pick(r, i + 1);
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        kiln_named_attr a = kiln_a_ints("perm", rank, perm);
        c->v = tp_node(g, KILN_OP_TRANSPOSE, 1, &c->v, 1, &a);
        break;
    }
    case 1: { /* slice a constant axis, maybe backwards */
        int ax = pick(r, rank);
        kiln_dim d = c->s.dims[ax];
        if (!kiln_dim_is_const(d) || d < 2) return;
        int back = pick(r, 2);
        int64_t start = back ? d - 1 - pick(r, 2) : pick(r, 2), end = back ? -(d + 1) : d - pick(r, 2);
        int64_t stp = back ? -1 - pick(r, 2) : 1 + pick(r, 2);
        kiln_named_attr a[4] = {kiln_a_int("axis", ax), kiln_a_dim("start", start), kiln_a_dim("end", end), kiln_a_int("step", stp)};
        c->v = tp_node(g, KILN_OP_SLICE, 1, &c->v, 4, a);
        break;
    }
    case 2: { /* reshape: merge two adjacent constant axes, or split one */
        kiln_dim dims[KILN_MAX_RANK];
        int n = 0, ax = pick(r, rank);
        if (ax + 1 < rank && kiln_dim_is_const(c->s.dims[ax]) && kiln_dim_is_const(c->s.dims[ax + 1]) && pick(r, 2)) {
            for (int i = 0; i < rank; i++) {
                if (i == ax + 1) continue;
                dims[n++] = i == ax ? c->s.dims[ax] * c->s.dims[ax + 1] : c->s.dims[i];
            }
        } else {
            kiln_dim d = c->s.dims[ax];
            int64_t f = !kiln_dim_is_const(d) ? 0 : d % 2 == 0 ? 2 : d % 3 == 0 ? 3 : 0;
            if (!f || rank >= 5) return;
            for (int i = 0; i < rank; i++) {
                if (i == ax) {
                    dims[n++] = f;
                    dims[n++] = d / f;
                } else {
                    dims[n++] = c->s.dims[i];
                }
            }
        }
        kiln_named_attr a = kiln_a_dims("shape", n, dims);
        c->v = tp_node(g, KILN_OP_RESHAPE, 1, &c->v, 1, &a);
        break;
    }
    case 3: { /* concat with a new input along an axis */
        int ax = pick(r, rank);
        kiln_shape s = c->s;
        s.dims[ax] = 1 + pick(r, 3);
        kiln_value other = fresh_input(c, &s, KILN_F32);
        kiln_named_attr a = kiln_a_int("axis", ax);
        kiln_value ins[2] = {c->v, other};
        if (pick(r, 2)) {
            ins[0] = other;
            ins[1] = c->v;
        }
        c->v = tp_node(g, KILN_OP_CONCAT, 2, ins, 1, &a);
        break;
    }
    case 4: { /* binary with a broadcast input: some axes 1 */
        kiln_shape s = c->s;
        for (int i = 0; i < s.rank; i++)
            if (pick(r, 2)) s.dims[i] = 1;
        kiln_value other = fresh_input(c, &s, KILN_F32);
        static const kiln_op ops[] = {KILN_OP_ADD, KILN_OP_MUL, KILN_OP_SUB, KILN_OP_MAX};
        c->v = TP2(g, ops[pick(r, 4)], c->v, other);
        break;
    }
    case 5: { /* where over a bool input broadcast on the leading axes */
        kiln_shape s = c->s;
        for (int i = 0; i + 1 < s.rank; i++) s.dims[i] = 1;
        kiln_value cond = fresh_input(c, &s, KILN_BOOL);
        c->v = tp_node(g, KILN_OP_WHERE, 3, (kiln_value[]){cond, c->v, tp_scalar(g, KILN_F32, 0.25)}, 0, NULL);
        break;
    }
    case 6: /* unary */
        c->v = TP1(g, pick(r, 2) ? KILN_OP_TANH : KILN_OP_NEG, c->v);
        break;
    case 7: { /* gather rows of the current value along axis 0 by an index input */
        kiln_dim d = c->s.dims[0];
        if (!kiln_dim_is_const(d) || d < 1) return;
        kiln_shape s = {1, {3}};
        kiln_value idx = fresh_input(c, &s, KILN_I64);
        /* indices in [0, 40) pushed into [-d, d) by a mod: negatives count from the end */
        idx = TP2(g, KILN_OP_SUB, TP2(g, KILN_OP_MOD, idx, tp_scalar(g, KILN_I64, (double)(2 * d))), tp_scalar(g, KILN_I64, (double)d));
        c->v = TP2(g, KILN_OP_GATHER, c->v, idx);
        break;
    }
    }
    refresh(c);
}

/* A template root reading the chain through its view: the chain becomes
 * the prologue of a reduce, row or matmul kernel. */
static void root(cur *c, rng *r) {
    kiln_graph *g = c->g;
    int rank = c->s.rank, ax = pick(r, rank);
    switch (pick(r, 5)) {
    case 0: {
        kiln_named_attr a = kiln_a_int("axis", ax);
        c->v = tp_node(g, KILN_OP_SOFTMAX, 1, &c->v, 1, &a);
        break;
    }
    case 1: {
        int64_t axes[2] = {ax, (ax + 1) % rank};
        kiln_named_attr a[2] = {kiln_a_ints("axes", rank > 1 ? 2 : 1, axes), kiln_a_bool("keepdims", pick(r, 2))};
        c->v = tp_node(g, pick(r, 2) ? KILN_OP_REDUCE_SUM : KILN_OP_REDUCE_MAX, 1, &c->v, 2, a);
        break;
    }
    case 2: {
        kiln_dim k = c->s.dims[rank - 1];
        if (!kiln_dim_is_const(k) || rank < 2) return;
        kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(k, 7));
        c->v = TP2(g, KILN_OP_MATMUL, c->v, w);
        break;
    }
    case 3: c->v = tp_node(g, KILN_OP_LAYER_NORM, 1, &c->v, 0, NULL); break;
    default: return;
    }
    refresh(c);
}

static void one_case(uint64_t seed) {
    rng r = {seed * 0x9e3779b97f4a7c15ull + 7};
    cur c = {kiln_graph_new("fuzz"), KILN_NONE, {0, {0}}, 0};
    kiln_dim n = kiln_dim_symbol(c.g, "n");
    static const int64_t sizes[] = {1, 2, 3, 4, 5, 6, 17};
    kiln_shape s = {3, {0}};
    int sym_axis = pick(&r, 3);
    for (int i = 0; i < 3; i++) s.dims[i] = i == sym_axis ? n : sizes[pick(&r, 7)];
    c.v = fresh_input(&c, &s, KILN_F32);
    refresh(&c);
    int steps = 3 + pick(&r, 5);
    for (int i = 0; i < steps; i++) step(&c, &r);
    root(&c, &r);
    if (kiln_graph_add_output(c.g, "y", c.v)) exit(1);
    char what[64];
    snprintf(what, sizeof what, "fuzz case %llu", (unsigned long long)seed);
    tc_cpu_vs_ref(c.g, bindings, 40, 2e-5, 2e-5, what);
    kiln_graph_free(c.g);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 60;
    for (int i = 0; i < n; i++) one_case((uint64_t)i);
    return test_finish("test_cpu_fuzz");
}
#else
int main(void) {
    printf("test_cpu_fuzz: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
