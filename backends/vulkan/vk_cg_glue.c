/* The glue between a kernel and its template (shaders/k_*.glsl): the dims
 * the template needs as macros, and small functions (kr_src, kw_store,
 * mm_a, at_store, ...) written in terms of the kernel's view and output
 * functions. vk_codegen.h describes the layering. */
#include <math.h>
#include <string.h>

#include "vk_cg_internal.h"
#include "vk_cg_qmatmul.h"

/* kvround(x): a template's accumulator rounded to the kernel's value type. */
static void value_round(kvk_cg *c, const char *acc_type, kiln_dtype acc) {
    kiln_dtype vt = c->k->value_type;
    kvk_str_addf(c->s, "%s kvround(%s x) { return ", kcg_vtype(c, vt), acc_type);
    if (kcg_is_float(vt)) kcg_cast(c, acc, vt, "x");
    else {
        kcg_round_open(c, vt);
        kvk_str_add(c->s, "x");
        kcg_round_close(c, vt);
    }
    kvk_str_add(c->s, "; }\n");
}

/* "c0, c1, ..., " of n coordinate names with a prefix */
static void coord_list(kvk_cg *c, const char *prefix, int from, int to) {
    for (int i = from; i < to; i++) kvk_str_addf(c->s, "%s%d, ", prefix, i);
}

static void glue_pointwise(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    kvk_str_add(c->s, "#define KP_N ");
    kcg_dim_product(c, k->out_extent, k->out_rank);
    kvk_str_add(c->s, "\nvoid kp_run(IDX i) {\n");
    kcg_unravel(c, "i", "o", "IDX ", k->out_extent, k->out_rank);
    kvk_str_add(c->s, "    kstore(i");
    for (int i = 0; i < k->out_rank; i++) kvk_str_addf(c->s, ", o%d", i);
    kvk_str_add(c->s, ");\n}\n");
}

/* Identity of a reduction over values of type t (the evaluator's empty results). */
static void reduce_identity(kvk_cg *c, kiln_kreduce op, kiln_dtype t) {
    int fl = kcg_is_float(t);
    if (op == KILN_KR_PROD) {
        if (fl) kcg_float_literal(c, t, 1.0);
        else kcg_int_literal(c, t, 1);
        return;
    }
    if (op == KILN_KR_MAX || op == KILN_KR_MIN || op == KILN_KR_ARGMAX || op == KILN_KR_ARGMIN) {
        int max = op == KILN_KR_MAX || op == KILN_KR_ARGMAX;
        if (fl) {
            kcg_float_literal(c, t, max ? -INFINITY : INFINITY);
            return;
        }
        int bits = kcg_bits(t);
        int64_t lo, hi;
        if (kcg_is_unsigned(t)) {
            lo = 0;
            hi = bits >= 64 ? INT64_MAX : bits == 32 ? (int64_t)UINT32_MAX : (INT64_C(1) << bits) - 1;
        } else {
            lo = bits >= 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
            hi = bits >= 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1;
        }
        if (t == KILN_I64 && !c->v->wide) lo = INT32_MIN, hi = INT32_MAX;
        kcg_int_literal(c, t, max ? lo : hi);
        return;
    }
    if (fl) kcg_float_literal(c, t, 0.0);
    else kcg_int_literal(c, t, 0);
}

static void glue_reduce(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    const kiln_kview *src = &k->views[KILN_KV_SRC];
    kiln_dtype st = k->exprs[src->expr].type;
    const char *S = kcg_vtype(c, st), *R = kcg_vtype(c, k->value_type);
    int R0 = k->out_rank, nred = src->rank - R0, fl = kcg_is_float(st);
    kiln_kreduce op = k->reduce;
    kvk_str_addf(c->s, "#define SRC_T %s\n#define RES_T %s\n#define KR_GROUP %u\n#define KR_OUT ", S, R, c->v->p[1]);
    kcg_dim_product(c, k->out_extent, R0);
    kvk_str_add(c->s, "\n#define KR_N ");
    kcg_dim_product(c, src->extent + R0, nred);
    kvk_str_add(c->s, "\n");
    for (int i = 0; i < R0; i++) kvk_str_addf(c->s, "IDX g%d;\n", i);
    kvk_str_add(c->s, "void kr_setup(IDX o) {\n");
    kcg_unravel(c, "o", "g", "", k->out_extent, R0);
    kvk_str_addf(c->s, "}\n%s kr_src(IDX r) {\n", S);
    kcg_unravel(c, "r", "r", "IDX ", src->extent + R0, nred);
    kvk_str_add(c->s, "    return kv0(");
    for (int i = 0; i < src->rank; i++)
        kvk_str_addf(c->s, "%s%s%d", i ? ", " : "", i < R0 ? "g" : "r", i < R0 ? i : i - R0);
    kvk_str_addf(c->s, ");\n}\n%s kr_identity() { return ", S);
    reduce_identity(c, op, st);
    kvk_str_add(c->s, "; }\n");
    /* combine(acc, ai, x, xi): x at index xi (or a partial result) into acc */
    kvk_str_addf(c->s, "void kr_combine(inout %s acc, inout IDX ai, %s x, IDX xi) {\n", S, S);
    switch (op) {
    case KILN_KR_SUM:
    case KILN_KR_MEAN: kvk_str_add(c->s, "    acc += x;\n"); break;
    case KILN_KR_PROD: kvk_str_add(c->s, "    acc *= x;\n"); break;
    case KILN_KR_MAX: kvk_str_add(c->s, fl ? "    acc = k_max(acc, x);\n" : "    acc = max(acc, x);\n"); break;
    case KILN_KR_MIN: kvk_str_add(c->s, fl ? "    acc = k_min(acc, x);\n" : "    acc = min(acc, x);\n"); break;
    case KILN_KR_ARGMAX:
    case KILN_KR_ARGMIN:
        /* NaN never wins; ties go to the lower index (partials merge in any order) */
        kvk_str_addf(c->s, "    if (%sxi >= IDX(0) && (ai < IDX(0) || x %s acc || (x == acc && xi < ai))) { acc = x; ai = xi; }\n",
                     fl ? "!isnan(x) && " : "", op == KILN_KR_ARGMAX ? ">" : "<");
        break;
    }
    kvk_str_addf(c->s, "}\n%s kr_finish(%s acc, IDX ai, IDX n) {\n", R, S);
    if (op == KILN_KR_ARGMAX || op == KILN_KR_ARGMIN) {
        kvk_str_add(c->s, "    return ");
        kcg_cast(c, KILN_I64, k->value_type, "(ai < IDX(0) ? IDX(0) : ai)");
    } else if (op == KILN_KR_MEAN) {
        kvk_str_add(c->s, "    return ");
        if (fl) kcg_cast(c, st, k->value_type, st == KILN_F64 ? "acc / double(n)" : "acc / float(n)");
        else kcg_cast(c, st, k->value_type, "(n > IDX(0) ? acc / SRC_T(n) : SRC_T(0))");
    } else {
        kvk_str_add(c->s, "    return ");
        kcg_cast(c, st, k->value_type, "acc");
    }
    kvk_str_add(c->s, ";\n}\nvoid kr_store(IDX o, RES_T v) { kstore(o, ");
    coord_list(c, "g", 0, R0);
    kvk_str_add(c->s, "v); }\n");
}

static void glue_row(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    const kiln_kview *src = &k->views[KILN_KV_SRC];
    int R = k->out_rank, ax = k->axis;
    kvk_str_addf(c->s, "#define KW_OP %d\n#define KW_EPS ", (int)k->row);
    kcg_float_literal(c, KILN_F32, k->eps);
    kvk_str_add(c->s, "\n#define KW_OUTER ");
    kcg_dim_product(c, k->out_extent, ax);
    kvk_str_add(c->s, "\n#define KW_INNER ");
    kcg_dim_product(c, k->out_extent + ax + 1, R - ax - 1);
    kvk_str_addf(c->s, "\n#define KW_LEN KD%d\n#define KW_ROWS (KW_OUTER * KW_INNER)\n", k->out_extent[ax]);
    for (int i = 0; i < R; i++)
        if (i != ax) kvk_str_addf(c->s, "IDX g%d;\n", i);
    kvk_str_add(c->s, "IDX gbase;\nvoid kw_setup(IDX row) {\n    IDX outer = row / KW_INNER, inner = row % KW_INNER;\n");
    kcg_unravel(c, "outer", "g", "", k->out_extent, ax);
    /* inner coordinates are named g{ax+1}..: unravel with a shifted prefix */
    if (R - ax - 1 > 0) {
        kvk_str_add(c->s, "    IDX kin = inner;\n");
        for (int i = R - 1; i > ax + 1; i--) {
            kvk_str_addf(c->s, "    g%d = kin %% KD%d;\n    kin /= KD%d;\n", i, k->out_extent[i], k->out_extent[i]);
        }
        kvk_str_addf(c->s, "    g%d = kin;\n", ax + 1);
    }
    kvk_str_add(c->s, "    gbase = outer * KW_LEN * KW_INNER + inner;\n}\nfloat kw_src(IDX j) {\n    return ");
    kvk_str tmp = {0};
    kvk_str_add(&tmp, "kv0(");
    for (int i = 0; i < R; i++) {
        if (i == ax) kvk_str_addf(&tmp, "%sj", i ? ", " : "");
        else kvk_str_addf(&tmp, "%sg%d", i ? ", " : "", i);
    }
    kvk_str_add(&tmp, ")");
    if (tmp.oom) c->s->oom = 1;
    kcg_cast(c, k->exprs[src->expr].type, KILN_F32, tmp.p ? tmp.p : "0");
    kvk_str_free(&tmp);
    kvk_str_add(c->s, ";\n}\n");
    value_round(c, "float", KILN_F32);
    kvk_str_add(c->s, "void kw_store(IDX j, float y) { kstore(gbase + j * KW_INNER");
    for (int i = 0; i < R; i++) {
        if (i == ax) kvk_str_add(c->s, ", j");
        else kvk_str_addf(c->s, ", g%d", i);
    }
    kvk_str_add(c->s, ", kvround(y)); }\n");
}

/* 1 when the view is strided with a constant stride of 1 on axis i */
static int unit_stride(const kiln_kernel *k, const kiln_kview *v, int i) {
    return v->strided && kiln_dim_is_const(k->dims[v->stride[i]]) && k->dims[v->stride[i]] == 1;
}

static void matmul_operand(kvk_cg *c, int view, const char *name, const char *base, const char *i0,
                           const char *i1, const char *acc_t, kiln_dtype acc) {
    const kiln_kernel *k = c->k;
    const kiln_kview *v = &k->views[view];
    int R = k->out_rank;
    kvk_str_addf(c->s, "%s %s(IDX %s, IDX %s) {\n    return ", acc_t, name, i0, i1);
    kvk_str tmp = {0};
    if (v->strided)
        kvk_str_addf(&tmp, "ld%d(%s + %s * KD%d + %s * KD%d)", v->buf, base, i0, v->stride[R - 2], i1, v->stride[R - 1]);
    else {
        kvk_str_addf(&tmp, "kv%d(", view);
        for (int i = 0; i < R - 2; i++) kvk_str_addf(&tmp, "gb%d, ", i);
        kvk_str_addf(&tmp, "%s, %s)", i0, i1);
    }
    if (tmp.oom) c->s->oom = 1;
    kcg_cast(c, k->exprs[v->expr].type, acc, tmp.p ? tmp.p : "0");
    kvk_str_free(&tmp);
    kvk_str_add(c->s, ";\n}\n");
}

static void glue_matmul(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    const kiln_kview *a = &k->views[KILN_KV_A], *b = &k->views[KILN_KV_B];
    int R = k->out_rank;
    kiln_dtype acc = kcg_is_float(k->value_type) ? (k->value_type == KILN_F64 ? KILN_F64 : KILN_F32) : k->value_type;
    const char *acc_t = kcg_vtype(c, acc);
    kvk_str_addf(c->s, "#define ACC_T %s\n#define MM_M KD%d\n#define MM_K KD%d\n#define MM_N KD%d\n#define MM_BATCH ",
                 acc_t, a->extent[R - 2], a->extent[R - 1], b->extent[R - 1]);
    kcg_dim_product(c, k->out_extent, R - 2);
    /* load order: along the unit stride, so neighbouring threads read neighbouring addresses */
    kvk_str_addf(c->s, "\n#define MM_A_KFAST %d\n#define MM_B_NFAST %d\n", unit_stride(k, a, R - 2) ? 0 : 1,
                 unit_stride(k, b, R - 2) && !unit_stride(k, b, R - 1) ? 0 : 1);
    for (int i = 0; i < R - 2; i++) kvk_str_addf(c->s, "IDX gb%d;\n", i);
    kvk_str_add(c->s, "IDX ga_base, gb_base;\nvoid mm_setup(IDX bi) {\n");
    kcg_unravel(c, "bi", "gb", "", k->out_extent, R - 2);
    const kiln_kview *ops[2] = {a, b};
    const char *bases[2] = {"ga_base", "gb_base"};
    for (int o = 0; o < 2; o++) {
        if (!ops[o]->strided) continue;
        kvk_str_addf(c->s, "    %s = KD%d", bases[o], ops[o]->offset);
        for (int i = 0; i < R - 2; i++) kvk_str_addf(c->s, " + gb%d * KD%d", i, ops[o]->stride[i]);
        kvk_str_add(c->s, ";\n");
    }
    kvk_str_add(c->s, "}\n");
    matmul_operand(c, KILN_KV_A, "mm_a", "ga_base", "m", "k", acc_t, acc);
    if (c->v->p[5] & KVK_MM_QDIRECT) kcg_qmatmul_glue(c, acc_t); /* weights decoded from their blocks */
    else matmul_operand(c, KILN_KV_B, "mm_b", "gb_base", "k", "n", acc_t, acc);
    value_round(c, acc_t, acc);
    kvk_str_add(c->s, "void mm_store(IDX bi, IDX m, IDX n, ACC_T v) { kstore((bi * MM_M + m) * MM_N + n, ");
    coord_list(c, "gb", 0, R - 2);
    kvk_str_add(c->s, "m, n, kvround(v)); }\n");
}

static void glue_attention(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    const kiln_kview *q = &k->views[KILN_KV_Q], *kk = &k->views[KILN_KV_K], *v = &k->views[KILN_KV_V];
    kvk_str_addf(c->s,
                 "#define AT_B KD%d\n#define AT_H KD%d\n#define AT_S KD%d\n#define AT_D KD%d\n#define AT_HK KD%d\n"
                 "#define AT_T KD%d\n#define AT_DV KD%d\n#define AT_CAUSAL %d\n#define AT_MASK %d\n#define AT_SCALE ",
                 q->extent[0], q->extent[1], q->extent[2], q->extent[3], kk->extent[1], kk->extent[2], v->extent[3],
                 k->causal ? 1 : 0, (int)k->mask);
    if (k->scale_dim >= 0) kvk_str_addf(c->s, "(1.0 / sqrt(float(KD%d)))\n", k->scale_dim);
    else {
        kcg_float_literal(c, KILN_F32, k->scale);
        kvk_str_add(c->s, "\n");
    }
    static const char *names[4] = {"at_q", "at_k", "at_v", "at_mask"};
    for (int i = 0; i < k->nviews && i < 4; i++) {
        kiln_dtype t = k->exprs[k->views[i].expr].type;
        int is_bool = i == KILN_KV_MASK && k->mask == KILN_KMASK_BOOL;
        kvk_str_addf(c->s, "%s %s(IDX a0, IDX a1, IDX a2, IDX a3) { return ", is_bool ? "bool" : "float", names[i]);
        kiln_dtype to = is_bool ? KILN_BOOL : KILN_F32;
        kcg_cast(c, t, to, i == 0 ? "kv0(a0, a1, a2, a3)" : i == 1 ? "kv1(a0, a1, a2, a3)" : i == 2 ? "kv2(a0, a1, a2, a3)"
                                                                                              : "kv3(a0, a1, a2, a3)");
        kvk_str_add(c->s, "; }\n");
    }
    value_round(c, "float", KILN_F32);
    kvk_str_add(c->s, "void at_store(IDX b, IDX h, IDX s, IDX j, float y) {\n"
                      "    kstore(((b * AT_H + h) * AT_S + s) * AT_DV + j, b, h, s, j, kvround(y));\n}\n");
}

void kcg_glue(kvk_cg *c) {
    switch (c->k->kind) {
    case KILN_K_POINTWISE: glue_pointwise(c); break;
    case KILN_K_REDUCE: glue_reduce(c); break;
    case KILN_K_ROW: glue_row(c); break;
    case KILN_K_MATMUL: glue_matmul(c); break;
    case KILN_K_ATTENTION: glue_attention(c); break;
    }
}
