/* A kernel as one GLSL compute shader: declarations (extensions, push
 * constants, storage buffers, slot load/store functions, dims), the
 * kernel's expressions as functions, the glue each template calls, then
 * the template from shaders/. vk_codegen.h describes the layout. */
#include <stdlib.h>
#include <string.h>

#include "vk_cg_internal.h"
#include "vk_cg_qmatmul.h"
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
    if (k->kind == KILN_K_MATMUL && KVK_MM_MODE(c->v->p[5]) == 2)
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
        if (p[5] & KVK_MM_QGEMV) return kcg_qmatmul_defines(c, defs);
        if (KVK_MM_MODE(p[5]) == 2) {
            kvk_str_add(defs, "#define MM_COOPMAT 1\n");
            return 128; /* 4 subgroups of 32 */
        }
        if (KVK_MM_MODE(p[5])) {
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
        kcg_glue(&c);
        int mm = k->kind == KILN_K_MATMUL;
        const char *tname = mm && (v->p[5] & KVK_MM_QGEMV)      ? "k_qmatmul"
                            : mm && KVK_MM_MODE(v->p[5]) == 2 ? "k_matmul_coopmat"
                                                              : template_name(k->kind);
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
