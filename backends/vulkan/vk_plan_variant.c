/* One kernel's dispatch in a run: where its tensors are bound (windows of
 * device buffers, split where a tensor exceeds a storage-buffer range),
 * which variant runs it (index width, tile sizes from the run's sizes and
 * the device), compiling that variant on first use, push constants, the
 * grid, and the hazard ranges the recorder places barriers from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_cg_qmatmul.h"
#include "vk_plan.h"

#define MAX_SLOTS 64

typedef struct slot_window {
    kiln_vk_buffer *buf;
    uint64_t base, total; /* bytes bound: [base, base + total) */
    int nchunks;
    int64_t elem_off;     /* the tensor's first element within the window */
} slot_window;

/* Parameters are picked for the device type; KILN_VK_GPU_PARAMS=1 picks
 * them as for a discrete GPU anywhere, so tests on lavapipe compile and
 * check the variants real GPUs run (large tiles and workgroups). */
static int is_cpu(const kvk_session *s) {
    const char *e = getenv("KILN_VK_GPU_PARAMS");
    if (e && *e && strcmp(e, "0") != 0) return 0;
    return kiln_vk_device_get_info(s->dev)->type == KILN_VK_TYPE_CPU;
}

static kiln_vk_matmul_config matmul_tiles(const kvk_session *s, uint64_t batch, uint32_t m, uint32_t n, uint32_t k) {
    kiln_vk_device_info info = *kiln_vk_device_get_info(s->dev);
    /* tests: KILN_VK_MATMUL_TILE=128|64|32 forces a tile whatever the size */
    const char *e = getenv("KILN_VK_MATMUL_TILE");
    static const kiln_vk_matmul_config forced[] = {{128, 128, 16, 8, 8}, {64, 64, 16, 4, 4}, {32, 32, 16, 4, 4}};
    for (int i = 0; e && i < 3; i++)
        if (atoi(e) == (int)forced[i].bm && (forced[i].bm / forced[i].tm) * (forced[i].bn / forced[i].tn) <=
                                                info.max_workgroup_invocations)
            return forced[i];
    if (!is_cpu(s) && info.type == KILN_VK_TYPE_CPU) info.type = KILN_VK_TYPE_DISCRETE;
    return kiln_vk_matmul_pick(&info, batch, m, n, k);
}

static uint32_t pow2_at_least(uint64_t n) {
    uint32_t p = 1;
    while (p < n && p < (1u << 30)) p <<= 1;
    return p;
}

/* The bytes bound for a tensor: its own range (the start aligned down to
 * the device's offset alignment), split into chunks of at most one
 * storage-buffer range. Binding exactly the tensor keeps the hazards the
 * recorder (and the validation layer) sees equal to what the kernel
 * touches. */
static void window_of(const kvk_session *s, const kvk_place *pl, kiln_dtype st, slot_window *w) {
    uint64_t chunk = s->cg.chunk_bytes;
    memset(w, 0, sizeof *w);
    w->nchunks = 1;
    if (!pl->buf || pl->bytes == 0) {
        w->buf = s->dummy;
        w->total = kiln_vk_buffer_size(s->dummy);
        return;
    }
    w->buf = pl->buf;
    w->base = pl->offset / s->align * s->align;
    w->total = pl->offset - w->base + pl->bytes;
    w->nchunks = (int)((w->total + chunk - 1) / chunk);
    w->elem_off = (int64_t)((pl->offset - w->base) / kiln_dtype_size(st));
}

static int64_t product(const int64_t *dims, const int32_t *slots, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= dims[slots[i]];
    return p;
}

/* Template parameters for this run's sizes (vk_codegen.h lists them). */
static kiln_status pick_params(const kvk_session *s, const kiln_kernel *k, const int64_t *dims, uint32_t p[KVK_TPARAMS]) {
    const kiln_vk_device_info *info = kiln_vk_device_get_info(s->dev);
    int cpu = is_cpu(s);
    uint32_t sg = info->subgroup_size ? info->subgroup_size : 32;
    uint32_t maxwg = info->max_workgroup_invocations < info->max_workgroup_size[0] ? info->max_workgroup_invocations
                                                                                  : info->max_workgroup_size[0];
    memset(p, 0, KVK_TPARAMS * sizeof *p);
    switch (k->kind) {
    case KILN_K_POINTWISE: p[0] = cpu ? 64 : 256; break;
    case KILN_K_REDUCE: {
        const kiln_kview *v = &k->views[KILN_KV_SRC];
        int64_t o = product(dims, k->out_extent, k->out_rank);
        int64_t n = product(dims, v->extent + k->out_rank, v->rank - k->out_rank);
        p[1] = n >= 256 || (n > 16 && o < 256);
        p[0] = p[1] ? pow2_at_least(n < 256 ? (uint64_t)n : 256) : (cpu ? 64 : 128);
        if (p[0] < 32) p[0] = 32;
        if (p[0] < sg) p[0] = sg;
        break;
    }
    case KILN_K_ROW: {
        int64_t len = dims[k->out_extent[k->axis]];
        uint32_t wg = pow2_at_least((uint64_t)(len + 3) / 4);
        if (wg < 32) wg = 32;
        if (wg < sg) wg = sg;
        if (wg > 1024) wg = 1024;
        while (wg > maxwg) wg /= 2;
        p[0] = wg;
        break;
    }
    case KILN_K_MATMUL: {
        int R = k->out_rank;
        const kiln_kview *a = &k->views[KILN_KV_A], *b = &k->views[KILN_KV_B];
        int64_t m = dims[a->extent[R - 2]], kk = dims[a->extent[R - 1]], n = dims[b->extent[R - 1]];
        int64_t batch = product(dims, k->out_extent, R - 2);
        int kfast = b->strided && kiln_dim_is_const(k->dims[b->stride[R - 2]]) && k->dims[b->stride[R - 2]] == 1;
        /* tensor cores for f16 math with f32 sums: only --precision fp16 rounds operands to f16 */
        if (s->cg.nv_coopmat && s->fp16 && k->value_type == KILN_F32 && m > 4) {
            p[0] = 64, p[1] = 64, p[2] = 32, p[5] = 2;
            break;
        }
        if (m <= 4) {
            p[5] = 1;
            p[0] = m <= 1 ? 1 : 4;
            p[2] = kfast ? (cpu ? 8 : 32) : 4;  /* threads per column */
            p[1] = kfast ? 8 : (cpu ? 16 : 64); /* columns per workgroup */
        } else {
            kiln_vk_matmul_config c = matmul_tiles(s, (uint64_t)batch, (uint32_t)m, (uint32_t)n, (uint32_t)kk);
            if (k->value_type == KILN_F64) c = (kiln_vk_matmul_config){32, 32, 16, 4, 4}; /* doubles take twice the shared memory */
            p[0] = c.bm, p[1] = c.bn, p[2] = c.bk, p[3] = c.tm, p[4] = c.tn;
        }
        break;
    }
    case KILN_K_ATTENTION: {
        int64_t H = dims[k->views[KILN_KV_Q].extent[1]], Hk = dims[k->views[KILN_KV_K].extent[1]];
        if (Hk <= 0 || H % Hk)
            return kiln_error(KILN_ERR_SHAPE, "vulkan: kernel '%s': %lld heads for %lld kv heads", k->name, (long long)H,
                              (long long)Hk);
        int64_t d = dims[k->views[KILN_KV_Q].extent[3]], dv = dims[k->views[KILN_KV_V].extent[3]];
        int64_t S = dims[k->views[KILN_KV_Q].extent[2]];
        uint32_t dmax = pow2_at_least((uint64_t)(d > dv ? d : dv));
        if (dmax < 16) dmax = 16;
        uint32_t br = S >= 16 ? 16 : pow2_at_least((uint64_t)(S > 0 ? S : 1)), bc = cpu ? 16 : 32;
#define AT_SHARED(br, bc) (4u * (2u * (br) * dmax + 2u * (bc) * dmax + (br) * (bc) + 3u * (br)))
        while (AT_SHARED(br, bc) > s->cg.max_shared && bc > 8) bc /= 2;
        while (AT_SHARED(br, bc) > s->cg.max_shared && br > 1) br /= 2;
        if (AT_SHARED(br, bc) > s->cg.max_shared)
            return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': head size %lld needs more shared memory than '%s' has "
                              "(%u bytes)", k->name, (long long)(d > dv ? d : dv), info->name, s->cg.max_shared);
#undef AT_SHARED
        p[0] = cpu ? 64 : 128, p[1] = br, p[2] = bc, p[3] = dmax;
        break;
    }
    }
    return KILN_OK;
}

static kiln_status groups_for(const kvk_session *s, const kiln_kernel *k, const int64_t *dims, const uint32_t *p,
                              uint32_t g[3]) {
    const uint32_t *maxg = kiln_vk_device_get_info(s->dev)->max_workgroup_count;
    int64_t out = product(dims, k->out_extent, k->out_rank);
    g[0] = g[1] = g[2] = 1;
    switch (k->kind) {
    case KILN_K_POINTWISE: return kiln_vk_grid_1d(s->dev, (uint64_t)(out + p[0] - 1) / p[0], g);
    case KILN_K_REDUCE:
        return kiln_vk_grid_1d(s->dev, p[1] ? (uint64_t)out : (uint64_t)(out + p[0] - 1) / p[0], g);
    case KILN_K_ROW: return kiln_vk_grid_1d(s->dev, (uint64_t)(out / dims[k->out_extent[k->axis]]), g);
    case KILN_K_MATMUL: {
        int R = k->out_rank;
        int64_t m = dims[k->views[KILN_KV_A].extent[R - 2]], n = dims[k->views[KILN_KV_B].extent[R - 1]];
        int64_t batch = product(dims, k->out_extent, R - 2);
        uint64_t z = (uint64_t)batch < maxg[2] ? (uint64_t)batch : maxg[2];
        if (KVK_MM_MODE(p[5]) == 1) {
            KILN_TRY(kiln_vk_grid_1d(s->dev, (uint64_t)(n + p[1] - 1) / p[1], g));
        } else {
            uint64_t x = (uint64_t)(n + p[1] - 1) / p[1], y = (uint64_t)(m + p[0] - 1) / p[0];
            if (x > maxg[0])
                return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': %lld columns need more workgroups than the "
                                  "device allows", k->name, (long long)n);
            g[0] = (uint32_t)x;
            g[1] = (uint32_t)(y < maxg[1] ? y : maxg[1]); /* the shader loops over the rest */
        }
        g[2] = (uint32_t)z;
        return KILN_OK;
    }
    case KILN_K_ATTENTION: {
        const kiln_kview *q = &k->views[KILN_KV_Q];
        int64_t S = dims[q->extent[2]];
        uint64_t blocks = (uint64_t)dims[q->extent[0]] * (uint64_t)dims[q->extent[1]] * (uint64_t)((S + p[1] - 1) / p[1]);
        return kiln_vk_grid_1d(s->dev, blocks, g);
    }
    }
    return KILN_OK;
}

/* The variant's compiled kernel, compiling it on first use. */
static kiln_status get_kernel(kvk_session *s, kvk_kern *kern, const kvk_variant *v, kiln_vk_kernel **out) {
    const kiln_kernel *k = kern->ki.k;
    int key[16 + 4 * MAX_SLOTS], n = 0;
    key[n++] = (int)k->kind;
    key[n++] = v->wide;
    for (int i = 0; i < KVK_TPARAMS; i++) key[n++] = (int)v->p[i];
    key[n++] = v->nbindings;
    key[n++] = v->npush;
    for (int i = 0; i < v->nslots; i++) {
        key[n++] = (int)v->slot[i].storage;
        key[n++] = v->slot[i].binding;
        key[n++] = v->slot[i].nchunks;
        key[n++] = v->slot[i].offset_push;
    }
    for (int i = 0; i < kern->nvars; i++)
        if (kern->vars[i].nkey == n && memcmp(kern->vars[i].key, key, (size_t)n * sizeof *key) == 0) {
            *out = kern->vars[i].kernel;
            return KILN_OK;
        }
    char *glsl = NULL;
    uint32_t wg = 0;
    KILN_TRY(kvk_codegen(&kern->ki, v, &s->cg, &glsl, &wg));
    const char *dump = getenv("KILN_VK_DUMP_GLSL");
    if (dump && *dump) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s-%d.comp", dump, k->name, kern->nvars);
        for (char *c = path + strlen(dump) + 1; *c; c++)
            if (*c == '+' || *c == '/') *c = '_';
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(glsl, f);
            fclose(f);
        }
    }
    kiln_vk_kernel_desc desc = {
        .source = {.name = k->name, .glsl = glsl},
        .nbuffers = v->nbindings,
        .push_size = (uint32_t)v->npush * 4,
    };
    kiln_vk_kernel *kernel = NULL;
    kiln_status st = kvk_has_push_descriptors(s->dev) ? kvk_kernel_create_push(s->dev, &desc, &kernel)
                                                      : kiln_vk_kernel_create(s->dev, &desc, &kernel);
    free(glsl);
    if (st) return kiln_error_wrap(st, "vulkan: compiling kernel '%s'", k->name);
    kvk_compiled *vars = realloc(kern->vars, (size_t)(kern->nvars + 1) * sizeof *vars);
    int *copy = malloc((size_t)n * sizeof *copy);
    if (!vars || !copy) {
        if (vars) kern->vars = vars;
        free(copy);
        kiln_vk_kernel_destroy(kernel);
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    }
    memcpy(copy, key, (size_t)n * sizeof *copy);
    kern->vars = vars;
    kern->vars[kern->nvars++] = (kvk_compiled){copy, n, kernel};
    *out = kernel;
    return KILN_OK;
}

kiln_status kvk_record_kernel(kvk_session *s, kiln_vk_recorder *r, int index, const int64_t *dims, const kvk_place *place) {
    kvk_kern *kern = &s->kerns[index];
    const kiln_kernel *k = kern->ki.k;
    if (k->nbufs > MAX_SLOTS)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s' has %d buffers; at most %d", k->name, k->nbufs, MAX_SLOTS);
    if (product(dims, k->out_extent, k->out_rank) == 0) return KILN_OK; /* writes nothing */
    /* push constants are signed: a backwards slice's offset and strides
     * are negative dims, only extents must not be */
    for (int i = 0; i < k->ndims; i++)
        if (dims[i] < INT32_MIN || dims[i] > INT32_MAX)
            return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': dim %d is %lld; dims must fit in 32 bits", k->name, i,
                              (long long)dims[i]);
    for (int i = 0; i < k->out_rank; i++)
        if (dims[k->out_extent[i]] < 0)
            return kiln_error(KILN_ERR_SHAPE, "vulkan: kernel '%s': output extent %d is %lld", k->name, i,
                              (long long)dims[k->out_extent[i]]);
    for (int v = 0; v < k->nviews; v++)
        for (int i = 0; i < k->views[v].rank; i++)
            if (dims[k->views[v].extent[i]] < 0)
                return kiln_error(KILN_ERR_SHAPE, "vulkan: kernel '%s': view %d extent %d is %lld", k->name, v, i,
                                  (long long)dims[k->views[v].extent[i]]);
    kvk_slot_map smap[MAX_SLOTS];
    slot_window win[MAX_SLOTS];
    kvk_variant v;
    memset(&v, 0, sizeof v);
    v.nslots = k->nbufs;
    v.slot = smap;
    v.wide = kern->ki.need_wide;
    int npush = kern->ki.ndim_push;
    int32_t push[64];
    if (npush > 64) return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s' has %d symbolic dims; at most 64", k->name, npush);
    for (int i = 0; i < k->ndims; i++)
        if (kern->ki.dim_push[i] >= 0) push[kern->ki.dim_push[i]] = (int32_t)dims[i];
    kiln_vk_binding binds[KILN_VK_MAX_BINDINGS];
    for (int i = 0; i < k->nbufs; i++) {
        int t = k->bufs[i].tensor;
        const kvk_place *pl = &place[t];
        kiln_dtype st = s->storage[t];
        kiln_vk_access access = (k->bufs[i].access & KILN_KBUF_WRITE) ? KILN_VK_WRITE : KILN_VK_READ;
        window_of(s, pl, st, &win[i]);
        /* indices past 2^31 need the 64-bit form */
        if ((uint64_t)win[i].elem_off + pl->bytes / kiln_dtype_size(st) >= (uint64_t)INT32_MAX) v.wide = 1;
        smap[i].storage = st;
        smap[i].nchunks = win[i].nchunks;
        smap[i].offset_push = -1;
        if (win[i].elem_off) {
            if (npush >= 64 || win[i].elem_off > INT32_MAX)
                return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': too many push constants", k->name);
            smap[i].offset_push = npush;
            push[npush++] = (int32_t)win[i].elem_off;
        }
        /* equal windows (an output written in place of an input) share bindings */
        smap[i].binding = -1;
        for (int j = 0; j < i; j++)
            if (win[j].buf == win[i].buf && win[j].base == win[i].base && win[j].total == win[i].total &&
                win[j].nchunks == win[i].nchunks) {
                smap[i].binding = smap[j].binding;
                for (int c = 0; c < win[i].nchunks; c++) binds[smap[i].binding + c].access |= access;
            }
        if (smap[i].binding < 0) {
            if (v.nbindings + win[i].nchunks > KILN_VK_MAX_BINDINGS)
                return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s' needs more than %d storage buffers", k->name,
                                  KILN_VK_MAX_BINDINGS);
            smap[i].binding = v.nbindings;
            for (int c = 0; c < win[i].nchunks; c++) {
                uint64_t off = win[i].base + (uint64_t)c * s->cg.chunk_bytes;
                uint64_t left = win[i].total - (uint64_t)c * s->cg.chunk_bytes;
                binds[v.nbindings++] = (kiln_vk_binding){
                    win[i].buf, (size_t)off, (size_t)(left < s->cg.chunk_bytes ? left : s->cg.chunk_bytes), access};
            }
        }
    }
    if (product(dims, k->out_extent, k->out_rank) >= INT32_MAX) v.wide = 1;
    v.npush = npush;
    KILN_TRY(pick_params(s, k, dims, v.p));
    if (k->kind == KILN_K_MATMUL) kvk_qmm_choose(k, dims, is_cpu(s), &s->cg, v.p); /* quantized weights */
    kiln_vk_kernel *kernel = NULL;
    KILN_TRY(get_kernel(s, kern, &v, &kernel));
    kiln_vk_dispatch d = {
        .kernel = kernel,
        .label = k->name,
        .bindings = binds,
        .nbindings = v.nbindings,
        .push = npush ? push : NULL,
        .push_size = (uint32_t)npush * 4,
    };
    KILN_TRY(groups_for(s, k, dims, v.p, d.groups));
    kiln_status st = kiln_vk_record_dispatch(r, &d);
    return st ? kiln_error_wrap(st, "vulkan: kernel '%s'", k->name) : KILN_OK;
}
