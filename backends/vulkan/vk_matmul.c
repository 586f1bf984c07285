/* The tiled fp32 matmul (shaders/matmul.comp): tile choice from device
 * properties and problem size, argument checks, dispatch. */
#include <stdio.h>
#include <string.h>

#include "vk_recorder.h"
#include "vk_shaders.h"

/* Candidates, largest first. Each uses bm/tm * bn/tn threads (a multiple of
 * every subgroup size in use: 8..64) and pads shared rows by one float. */
static const kiln_vk_matmul_config configs[] = {
    {128, 128, 16, 8, 8}, /* 256 threads, 16.5 KiB shared: big GPUs, big problems */
    {64, 64, 16, 4, 4},   /* 256 threads, 8.3 KiB */
    {32, 32, 16, 4, 4},   /* 64 threads, 4.2 KiB: small problems */
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

static uint32_t threads_of(const kiln_vk_matmul_config *c) { return (c->bm / c->tm) * (c->bn / c->tn); }
static uint32_t shared_of(const kiln_vk_matmul_config *c) { return 4 * c->bk * ((c->bm + 1) + (c->bn + 1)); }

static int fits(const kiln_vk_device_info *info, const kiln_vk_matmul_config *c) {
    uint32_t t = threads_of(c);
    /* whole subgroups only, so no lanes idle in every workgroup */
    int whole = !info->subgroup_size || t % info->subgroup_size == 0;
    return whole && t <= info->max_workgroup_invocations && t <= info->max_workgroup_size[0] &&
           shared_of(c) <= info->max_shared_memory;
}

static uint64_t tiles(const kiln_vk_matmul_config *c, uint64_t batch, uint32_t m, uint32_t n) {
    return batch * ((m + c->bm - 1) / c->bm) * ((n + c->bn - 1) / c->bn);
}

kiln_vk_matmul_config kiln_vk_matmul_pick(const kiln_vk_device_info *info, uint64_t batch, uint32_t m, uint32_t n,
                                          uint32_t k) {
    (void)k;
    int last = NCONFIGS - 1;
    if (!info) return configs[last];
    /* CPU devices (lavapipe) run a workgroup per core thread: the mid tile
     * keeps every core busy without the large tile's register pressure. */
    int first = info->type == KILN_VK_TYPE_CPU ? 1 : 0;
    for (int i = first; i < last; i++) {
        /* enough tiles to occupy a big GPU (an H100 has 132 SMs) */
        uint64_t want = info->type == KILN_VK_TYPE_CPU ? 16 : 128;
        if (fits(info, &configs[i]) && tiles(&configs[i], batch, m, n) >= want) return configs[i];
    }
    return configs[last];
}

static kiln_status check_config(const kiln_vk_device_info *info, const kiln_vk_matmul_config *c) {
    if (!c->bm || !c->bn || !c->bk || !c->tm || !c->tn || c->bm % c->tm || c->bn % c->tn || c->bm > 1024 ||
        c->bn > 1024 || c->bk > 256)
        return kiln_error(KILN_ERR_INVALID, "vulkan: matmul tile %ux%ux%u with %ux%u per thread is not a valid tiling",
                          c->bm, c->bn, c->bk, c->tm, c->tn);
    uint32_t t = threads_of(c);
    if (t > info->max_workgroup_invocations || t > info->max_workgroup_size[0] ||
        shared_of(c) > info->max_shared_memory)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: matmul tile %ux%ux%u needs %u threads and %u bytes of shared memory; "
                          "'%s' allows %u and %u", c->bm, c->bn, c->bk, threads_of(c), shared_of(c), info->name,
                          info->max_workgroup_invocations, info->max_shared_memory);
    return KILN_OK;
}

static kiln_status check_cover(const kiln_vk_binding *b, const char *what, uint64_t batch, uint64_t stride,
                               uint64_t elems) {
    uint64_t need = ((batch - 1) * stride + elems) * 4;
    uint64_t have = kvk_binding_bytes(b);
    if (!b->buffer) return kiln_error(KILN_ERR_INVALID, "vulkan: matmul: buffer %s is NULL", what);
    if (need > have)
        return kiln_error(KILN_ERR_SHAPE, "vulkan: matmul: %s needs %llu bytes but its binding of '%s' has %llu", what,
                          (unsigned long long)need, b->buffer->name, (unsigned long long)have);
    return KILN_OK;
}

kiln_status kiln_vk_record_matmul(kiln_vk_recorder *r, const kiln_vk_matmul_args *x) {
    if (!r || !x) return kiln_error(KILN_ERR_INVALID, "kiln_vk_record_matmul: NULL argument");
    if (x->layout != KILN_VK_MATMUL_NN && x->layout != KILN_VK_MATMUL_NT)
        return kiln_error(KILN_ERR_INVALID, "vulkan: matmul: unknown layout %d", (int)x->layout);
    if (x->batch == 0 || x->m == 0 || x->n == 0) return KILN_OK; /* C is empty */
    kiln_vk_device *dev = r->dev;
    const kiln_vk_device_info *info = &dev->phys->info;
    KILN_TRY(check_cover(&x->a, "A", x->batch, x->stride_a, (uint64_t)x->m * x->k));
    KILN_TRY(check_cover(&x->b, "B", x->batch, x->stride_b, (uint64_t)x->k * x->n));
    KILN_TRY(check_cover(&x->c, "C", x->batch, x->stride_c, (uint64_t)x->m * x->n));
    kiln_vk_matmul_config cfg = x->config ? *x->config : kiln_vk_matmul_pick(info, x->batch, x->m, x->n, x->k);
    KILN_TRY(check_config(info, &cfg));

    const char *src = kvk_shader_source("matmul");
    if (!src) return kiln_error(KILN_ERR_INTERNAL, "vulkan: the matmul shader is not embedded");
    int nt = x->layout == KILN_VK_MATMUL_NT;
    char key[96];
    snprintf(key, sizeof key, "matmul/%s/%ux%ux%u/%ux%u", nt ? "nt" : "nn", cfg.bm, cfg.bn, cfg.bk, cfg.tm, cfg.tn);
    kiln_vk_define def = {"B_NT", "1"};
    uint32_t spec[6] = {threads_of(&cfg), cfg.bm, cfg.bn, cfg.bk, cfg.tm, cfg.tn};
    kiln_vk_kernel_desc desc = {
        .source = {.name = nt ? "matmul_nt" : "matmul_nn", .glsl = src, .defines = &def, .ndefines = nt},
        .nbuffers = 3,
        .push_size = 6 * 4,
        .spec = spec,
        .nspec = 6,
    };
    kiln_vk_kernel *k;
    KILN_TRY(kvk_builtin_kernel(dev, key, &desc, &k));

    kiln_vk_binding b[3] = {x->a, x->b, x->c};
    b[0].access = KILN_VK_READ;
    b[1].access = KILN_VK_READ;
    b[2].access = KILN_VK_WRITE;
    uint32_t push[6] = {x->m, x->n, x->k, x->stride_a, x->stride_b, x->stride_c};
    kiln_vk_dispatch d = {
        .kernel = k,
        .bindings = b,
        .nbindings = 3,
        .push = push,
        .push_size = sizeof push,
        .groups = {(x->n + cfg.bn - 1) / cfg.bn, (x->m + cfg.bm - 1) / cfg.bm, x->batch},
    };
    return kiln_vk_record_dispatch(r, &d);
}
