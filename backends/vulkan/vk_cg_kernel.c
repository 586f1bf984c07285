/* A kernel as one GLSL compute shader: declarations (extensions, push
 * constants, storage buffers, slot load/store functions, dims), the
 * kernel's expressions as functions, the glue each template calls, then
 * the template from shaders/. vk_codegen.h describes the layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vk_cg_internal.h"
#include "vk_shaders.h"

/* ---- kernel facts ------------------------------------------------------------ */

kiln_status kvk_kinfo_init(const kiln_kernel *k, kvk_kinfo *out) {
    memset(out, 0, sizeof *out);
    out->k = k;
    out->dim_push = malloc(((size_t)k->ndims + 1) * sizeof *out->dim_push);
    if (!out->dim_push) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    for (int i = 0; i < k->ndims; i++) out->dim_push[i] = kiln_dim_is_const(k->dims[i]) ? -1 : out->ndim_push++;
    for (int i = 0; i < k->nbufs; i++) {
        kiln_dtype t = k->bufs[i].dtype;
        if (t == KILN_I64 || t == KILN_U64) out->need_wide = 1;
        if (t == KILN_F64) out->uses_f64 = 1;
    }
    for (int e = 0; e < k->nexprs; e++) {
        const kiln_kexpr *x = &k->exprs[e];
        if (x->type == KILN_U64) out->need_wide = 1;
        if (x->type == KILN_F64) out->uses_f64 = 1;
        if (x->kind == KILN_KX_CONST && x->type == KILN_I64 && (x->i > INT32_MAX || x->i < INT32_MIN)) out->need_wide = 1;
        if (x->kind == KILN_KX_BITCAST && kiln_dtype_size(x->type) == 8) out->need_wide = 1; /* all 64 bits matter */
    }
    return KILN_OK;
}

void kvk_kinfo_free(kvk_kinfo *ki) {
    free(ki->dim_push);
    ki->dim_push = NULL;
}

/* ---- dims and coordinates ------------------------------------------------------ */

void kcg_dim(kvk_cg *c, int32_t slot) { kvk_str_addf(c->s, "KD%d", slot); }

void kcg_dim_product(kvk_cg *c, const int32_t *slots, int n) {
    if (n == 0) {
        kvk_str_add(c->s, "IDX(1)");
        return;
    }
    kvk_str_add(c->s, "(");
    for (int i = 0; i < n; i++) {
        if (i) kvk_str_add(c->s, " * ");
        kcg_dim(c, slots[i]);
    }
    kvk_str_add(c->s, ")");
}

void kcg_unravel(kvk_cg *c, const char *lin, const char *prefix, const char *decl, const int32_t *extents, int n) {
    if (n == 0) return;
    int id = c->uid++; /* deterministic names: equal kernels give equal text (and cache hits) */
    kvk_str_addf(c->s, "    IDX ku%d = %s;\n", id, lin);
    for (int i = n - 1; i > 0; i--) {
        kvk_str_addf(c->s, "    %s%s%d = ku%d %% KD%d;\n", decl, prefix, i, id, extents[i]);
        kvk_str_addf(c->s, "    ku%d /= KD%d;\n", id, extents[i]);
    }
    kvk_str_addf(c->s, "    %s%s0 = ku%d;\n", decl, prefix, id);
}

/* ---- declarations ------------------------------------------------------------ */

static const char *storage_tag(kiln_dtype t) {
    switch (t) {
    case KILN_F32: return "f32";
    case KILN_F16:
    case KILN_BF16:
    case KILN_U16: return "u16";
    case KILN_F64: return "f64";
    case KILN_I8: return "i8";
    case KILN_U8:
    case KILN_BOOL: return "u8";
    case KILN_I16: return "i16";
    case KILN_I32: return "i32";
    case KILN_U32: return "u32";
    case KILN_I64: return "i64";
    case KILN_U64: return "u64";
    default: return "f32";
    }
}

static int slot_covers(const kvk_slot_map *m, int binding) {
    return binding >= m->binding && binding < m->binding + m->nchunks;
}

static void declare_buffers(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    const kvk_variant *v = c->v;
    for (int b = 0; b < v->nbindings; b++) {
        int writes = 0;
        for (int s = 0; s < k->nbufs; s++)
            if (slot_covers(&v->slot[s], b) && (k->bufs[s].access & KILN_KBUF_WRITE)) writes = 1;
        const char *done[16];
        int ndone = 0;
        for (int s = 0; s < k->nbufs; s++) {
            if (!slot_covers(&v->slot[s], b)) continue;
            const char *tag = storage_tag(v->slot[s].storage);
            int seen = 0;
            for (int i = 0; i < ndone; i++) seen |= strcmp(done[i], tag) == 0;
            if (seen || ndone == 16) continue;
            done[ndone++] = tag;
            kvk_str_addf(c->s, "layout(std430, set = 0, binding = %d) %sbuffer KB%d_%s { %s kb%d_%s[]; };\n", b,
                         writes ? "" : "readonly ", b, tag, kcg_storage_type(v->slot[s].storage), b, tag);
        }
    }
}

/* The value of storage element `x` of slot s as the slot's register type. */
static void load_conv(kvk_cg *c, int s, const char *x) {
    kiln_dtype t = c->k->bufs[s].dtype, st = c->v->slot[s].storage;
    if (st == KILN_F16) kvk_str_addf(c->s, "k_h2f(uint(%s))", x);
    else if (st == KILN_BF16) kvk_str_addf(c->s, "k_bf2f(uint(%s))", x);
    else if (t == KILN_BOOL) kvk_str_addf(c->s, "(uint(%s) != 0u)", x);
    else if (st == KILN_I8 || st == KILN_U8 || st == KILN_I16 || st == KILN_U16) kvk_str_addf(c->s, "int(%s)", x);
    else kvk_str_addf(c->s, "%s", x);
}

static void store_conv(kvk_cg *c, int s, const char *x) {
    kiln_dtype t = c->k->bufs[s].dtype, st = c->v->slot[s].storage;
    if (st == KILN_F16) kvk_str_addf(c->s, "uint16_t(k_f2h(%s))", x);
    else if (st == KILN_BF16) kvk_str_addf(c->s, "uint16_t(k_f2bf(%s))", x);
    else if (t == KILN_BOOL) kvk_str_addf(c->s, "uint8_t(%s ? 1u : 0u)", x);
    else if (st == KILN_I8 || st == KILN_U8 || st == KILN_I16 || st == KILN_U16)
        kvk_str_addf(c->s, "%s(%s)", kcg_storage_type(st), x);
    else kvk_str_addf(c->s, "%s", x);
}

/* The element index within the slot's window (and, when split, its chunk). */
static void slot_index(kvk_cg *c, int s) {
    const kvk_slot_map *m = &c->v->slot[s];
    if (m->offset_push >= 0) kvk_str_addf(c->s, "    i += IDX(kpc.w[%d]);\n", m->offset_push);
    if (m->nchunks > 1) {
        uint64_t ce = c->dev->chunk_bytes / kiln_dtype_size(m->storage);
        kvk_str_addf(c->s, "    IDX q = i / IDX(%llu);\n    uint r = uint(i - q * IDX(%llu));\n", (unsigned long long)ce,
                     (unsigned long long)ce);
    } else {
        kvk_str_add(c->s, "    uint r = uint(i);\n");
    }
}

static void slot_functions(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    for (int s = 0; s < k->nbufs; s++) {
        const kvk_slot_map *m = &c->v->slot[s];
        const char *tag = storage_tag(m->storage);
        const char *vt = kcg_vtype(c, k->bufs[s].dtype);
        if (k->bufs[s].access & KILN_KBUF_READ) {
            kvk_str_addf(c->s, "%s ld%d(IDX i) {\n", vt, s);
            slot_index(c, s);
            for (int q = 0; q < m->nchunks; q++) {
                char el[64];
                snprintf(el, sizeof el, "kb%d_%s[r]", m->binding + q, tag);
                if (m->nchunks > 1 && q < m->nchunks - 1) kvk_str_addf(c->s, "    if (q == IDX(%d)) ", q);
                else kvk_str_add(c->s, "    ");
                kvk_str_add(c->s, "return ");
                load_conv(c, s, el);
                kvk_str_add(c->s, ";\n");
            }
            kvk_str_add(c->s, "}\n");
        }
        if (s == k->out_buf) {
            kvk_str_addf(c->s, "void st%d(IDX i, %s v) {\n", s, vt);
            slot_index(c, s);
            for (int q = 0; q < m->nchunks; q++) {
                if (m->nchunks > 1 && q < m->nchunks - 1) kvk_str_addf(c->s, "    %sif (q == IDX(%d)) ", q ? "else " : "", q);
                else if (m->nchunks > 1) kvk_str_add(c->s, "    else ");
                else kvk_str_add(c->s, "    ");
                kvk_str_addf(c->s, "kb%d_%s[r] = ", m->binding + q, tag);
                store_conv(c, s, "v");
                kvk_str_add(c->s, ";\n");
            }
            kvk_str_add(c->s, "}\n");
        }
    }
}

static void declare_dims(kvk_cg *c) {
    const kiln_kernel *k = c->k;
    for (int i = 0; i < k->ndims; i++) {
        if (c->ki->dim_push[i] >= 0) kvk_str_addf(c->s, "#define KD%d IDX(kpc.w[%d])\n", i, c->ki->dim_push[i]);
        else kvk_str_addf(c->s, "#define KD%d IDX(%lld)\n", i, (long long)k->dims[i]);
    }
}

static int any_storage(const kvk_cg *c, kiln_dtype a, kiln_dtype b, kiln_dtype d) {
    for (int s = 0; s < c->k->nbufs; s++) {
        kiln_dtype t = c->v->slot[s].storage;
        if (t == a || t == b || t == d) return 1;
    }
    return 0;
}

static kiln_status header(kvk_cg *c, uint32_t wg) {
    const kiln_kernel *k = c->k;
    int i64 = c->v->wide || any_storage(c, KILN_I64, KILN_U64, KILN_U64) || c->ki->need_wide;
    if (i64 && !c->dev->int64)
        return kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: kernel '%s' needs 64-bit integers (shaderInt64), which this "
                          "device lacks", k->name);
    if (c->ki->uses_f64 && !c->dev->float64)
        return kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: kernel '%s' computes in f64 (shaderFloat64), which this "
                          "device lacks", k->name);
    kvk_str_add(c->s, "#version 450\n");
    if (i64) kvk_str_add(c->s, "#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require\n#define K_I64 1\n");
    if (any_storage(c, KILN_F16, KILN_BF16, KILN_U16) || any_storage(c, KILN_I16, KILN_I16, KILN_I16))
        kvk_str_add(c->s, "#extension GL_EXT_shader_16bit_storage : require\n");
    if (any_storage(c, KILN_I8, KILN_U8, KILN_BOOL)) kvk_str_add(c->s, "#extension GL_EXT_shader_8bit_storage : require\n");
    if (c->dev->subgroup_arithmetic)
        kvk_str_add(c->s, "#extension GL_KHR_shader_subgroup_basic : require\n"
                          "#extension GL_KHR_shader_subgroup_arithmetic : require\n#define K_SUBGROUPS 1\n");
    if (c->dev->float64) kvk_str_add(c->s, "#define K_F64 1\n");
    if (k->kind == KILN_K_MATMUL && c->v->p[5] == 2)
        kvk_str_add(c->s, "#extension GL_NV_cooperative_matrix : require\n#extension GL_KHR_memory_scope_semantics : require\n"
                          "#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require\n"
                          "#extension GL_KHR_shader_subgroup_basic : require\n");
    kvk_str_addf(c->s, "#define WG %uu\nlayout(local_size_x = %u) in;\n", wg, wg);
    kvk_str_addf(c->s, "#define IDX %s\n", c->v->wide ? "int64_t" : "int");
    const char *prelude = kvk_shader_source("k_prelude");
    if (!prelude) return kiln_error(KILN_ERR_INTERNAL, "vulkan: shaders/k_prelude.glsl is not embedded");
    kvk_str_add(c->s, prelude);
    if (c->v->npush > 0) kvk_str_addf(c->s, "layout(push_constant) uniform KPC { int w[%d]; } kpc;\n", c->v->npush);
    declare_buffers(c);
    declare_dims(c);
    slot_functions(c);
    for (int i = 0; i < k->nviews; i++) {
        char name[16];
        snprintf(name, sizeof name, "kv%d", i);
        kcg_expr_function(c, name, k->views[i].expr, k->views[i].rank, 0);
    }
    int with_value = k->kind != KILN_K_POINTWISE;
    kcg_expr_function(c, "kout", k->out_expr, k->out_rank, with_value);
    /* kstore(lin, coords..., [v]): the output expression stored at lin */
    kvk_str_add(c->s, "void kstore(IDX lin");
    for (int i = 0; i < k->out_rank; i++) kvk_str_addf(c->s, ", IDX c%d", i);
    if (with_value) kvk_str_addf(c->s, ", %s v", kcg_vtype(c, k->value_type));
    kvk_str_addf(c->s, ") {\n    st%d(lin, ", k->out_buf);
    kvk_str tmp = {0};
    kvk_str_add(&tmp, "kout(");
    for (int i = 0; i < k->out_rank; i++) kvk_str_addf(&tmp, "%sc%d", i ? ", " : "", i);
    if (with_value) kvk_str_addf(&tmp, "%sv", k->out_rank ? ", " : "");
    kvk_str_add(&tmp, ")");
    if (tmp.oom) c->s->oom = 1;
    kcg_cast(c, k->exprs[k->out_expr].type, k->bufs[k->out_buf].dtype, tmp.p ? tmp.p : "0");
    kvk_str_free(&tmp);
    kvk_str_add(c->s, ");\n}\n");
    return KILN_OK;
}

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

/* ---- template glue -------------------------------------------------------------- */

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
    matmul_operand(c, KILN_KV_B, "mm_b", "gb_base", "k", "n", acc_t, acc);
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

/* ---- the shader ------------------------------------------------------------------ */

static const char *template_name(kiln_ktemplate t) {
    switch (t) {
    case KILN_K_POINTWISE: return "k_pointwise";
    case KILN_K_REDUCE: return "k_reduce";
    case KILN_K_ROW: return "k_row";
    case KILN_K_MATMUL: return "k_matmul"; /* or k_matmul_coopmat: kvk_codegen */
    case KILN_K_ATTENTION: return "k_attention";
    }
    return "?";
}

/* Workgroup size and template #defines from the variant's parameters. */
static uint32_t template_params(kvk_cg *c, kvk_str *defs) {
    const uint32_t *p = c->v->p;
    switch (c->k->kind) {
    case KILN_K_MATMUL:
        if (p[5] == 2) {
            kvk_str_add(defs, "#define MM_COOPMAT 1\n");
            return 128; /* 4 subgroups of 32 */
        }
        if (p[5]) {
            kvk_str_addf(defs, "#define MM_GEMV 1\n#define GM_ROWS %u\n#define GM_COLS %u\n#define GM_TPC %u\n", p[0], p[1],
                         p[2]);
            return p[1] * p[2];
        }
        kvk_str_addf(defs, "#define BM %uu\n#define BN %uu\n#define BK %uu\n#define TM %uu\n#define TN %uu\n", p[0], p[1],
                     p[2], p[3], p[4]);
        return (p[0] / p[3]) * (p[1] / p[4]);
    case KILN_K_ATTENTION:
        kvk_str_addf(defs, "#define BR %uu\n#define BC %uu\n#define DMAX %uu\n", p[1], p[2], p[3]);
        return p[0];
    default: return p[0];
    }
}

kiln_status kvk_codegen(const kvk_kinfo *ki, const kvk_variant *v, const kvk_cg_device *dev, char **glsl,
                        uint32_t *workgroup) {
    *glsl = NULL;
    const kiln_kernel *k = ki->k;
    if (v->nslots != k->nbufs)
        return kiln_error(KILN_ERR_INTERNAL, "vulkan: kernel '%s': variant has %d slots, the kernel %d", k->name,
                          v->nslots, k->nbufs);
    kvk_str s = {0}, defs = {0};
    kvk_cg c = {ki, k, v, dev, &s, calloc((size_t)k->nexprs + 1, 1), 0};
    if (!c.mark) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    uint32_t wg = template_params(&c, &defs);
    kiln_status st = header(&c, wg);
    if (!st) {
        kvk_str_add(&s, defs.p ? defs.p : "");
        switch (k->kind) {
        case KILN_K_POINTWISE: glue_pointwise(&c); break;
        case KILN_K_REDUCE: glue_reduce(&c); break;
        case KILN_K_ROW: glue_row(&c); break;
        case KILN_K_MATMUL: glue_matmul(&c); break;
        case KILN_K_ATTENTION: glue_attention(&c); break;
        }
        const char *tname = k->kind == KILN_K_MATMUL && v->p[5] == 2 ? "k_matmul_coopmat" : template_name(k->kind);
        const char *tpl = kvk_shader_source(tname);
        if (!tpl) st = kiln_error(KILN_ERR_INTERNAL, "vulkan: shaders/%s.glsl is not embedded", tname);
        else kvk_str_add(&s, tpl);
    }
    free(c.mark);
    kvk_str_free(&defs);
    if (!st) st = kvk_str_done(&s);
    if (st) {
        kvk_str_free(&s);
        return st;
    }
    *glsl = s.p;
    *workgroup = wg;
    return KILN_OK;
}
