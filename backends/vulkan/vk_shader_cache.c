/* SPIR-V cached on disk by a hash of everything that determines it: the
 * source, the defines, the SPIR-V target and the compiler version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define SPV_MAGIC 0x5650534Bu /* "KSPV" */
#define SPV_FORMAT 1u
#define HEADER_WORDS 8

static void shader_key(const kiln_vk_shader_source *src, uint64_t key[2]) {
    kvk_hasher h;
    kvk_hash_init(&h);
    kvk_hash_str(&h, "kiln-spirv-1");
    kvk_hash_str(&h, kiln_vk_compiler_version());
    kvk_hash_u64(&h, (uint64_t)(src->vulkan_target ? src->vulkan_target : 11));
    kvk_hash_str(&h, src->glsl);
    kvk_hash_u64(&h, (uint64_t)src->ndefines);
    for (int i = 0; i < src->ndefines; i++) {
        kvk_hash_str(&h, src->defines[i].name);
        kvk_hash_str(&h, src->defines[i].value ? src->defines[i].value : "");
    }
    kvk_hash_final(&h, key);
}

static uint32_t words_checksum(const uint32_t *w, size_t n) {
    kvk_hasher h;
    kvk_hash_init(&h);
    kvk_hash_bytes(&h, w, n * 4);
    uint64_t k[2];
    kvk_hash_final(&h, k);
    return (uint32_t)k[0];
}

static int cache_path(const kiln_vk_options *opts, const uint64_t key[2], char *path, size_t cap) {
    char dir[4096];
    kiln_status s = kvk_cache_dir(opts ? opts->cache_dir : NULL, dir, sizeof dir);
    if (s) {
        kiln_status_free(s);
        return 0; /* no cache directory: compile every time */
    }
    char sub[4200];
    int w = snprintf(sub, sizeof sub, "%s/spirv", dir);
    if (w < 0 || (size_t)w >= sizeof sub) return 0;
    s = kvk_cache_dir(sub, dir, sizeof dir);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    int n = snprintf(path, cap, "%s/%016llx%016llx.spv", dir, (unsigned long long)key[0], (unsigned long long)key[1]);
    return n > 0 && (size_t)n < cap;
}

/* A valid cache entry for key, or 0 (missing, truncated or corrupt). */
static int load_cached(const char *path, const uint64_t key[2], kiln_vk_spirv *out) {
    void *data;
    size_t size;
    kiln_status s = kvk_read_file(path, &data, &size);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    const uint32_t *w = data;
    int ok = size >= HEADER_WORDS * 4 && size % 4 == 0 && w[0] == SPV_MAGIC && w[1] == SPV_FORMAT &&
             (size_t)w[2] == size / 4 - HEADER_WORDS && w[2] > 0;
    ok = ok && w[4] == (uint32_t)key[0] && w[5] == (uint32_t)(key[0] >> 32) && w[6] == (uint32_t)key[1] &&
         w[7] == (uint32_t)(key[1] >> 32);
    ok = ok && words_checksum(w + HEADER_WORDS, w[2]) == w[3];
    if (ok) {
        out->words = malloc((size_t)w[2] * 4);
        if (!out->words) ok = 0;
        else {
            memcpy(out->words, w + HEADER_WORDS, (size_t)w[2] * 4);
            out->nwords = w[2];
        }
    }
    free(data);
    return ok;
}

static void store_cached(const char *path, const uint64_t key[2], const kiln_vk_spirv *spv) {
    size_t n = HEADER_WORDS + spv->nwords;
    uint32_t *w = malloc(n * 4);
    if (!w) return;
    w[0] = SPV_MAGIC;
    w[1] = SPV_FORMAT;
    w[2] = (uint32_t)spv->nwords;
    w[3] = words_checksum(spv->words, spv->nwords);
    w[4] = (uint32_t)key[0];
    w[5] = (uint32_t)(key[0] >> 32);
    w[6] = (uint32_t)key[1];
    w[7] = (uint32_t)(key[1] >> 32);
    memcpy(w + HEADER_WORDS, spv->words, spv->nwords * 4);
    kiln_status s = kvk_write_file_atomic(path, w, n * 4);
    kiln_status_free(s); /* a cache that cannot be written only costs time */
    free(w);
}

kiln_status kiln_vk_compile_glsl(const kiln_vk_options *opts, const kiln_vk_shader_source *src, kiln_vk_spirv *out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_compile_glsl: out is NULL");
    memset(out, 0, sizeof *out);
    if (!src || !src->glsl) return kiln_error(KILN_ERR_INVALID, "kiln_vk_compile_glsl: no GLSL source");
    if (src->ndefines < 0 || (src->ndefines > 0 && !src->defines))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': bad define list", src->name ? src->name : "(unnamed)");
    for (int i = 0; i < src->ndefines; i++)
        if (!src->defines[i].name)
            return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': define %d has no name",
                              src->name ? src->name : "(unnamed)", i);
    shader_key(src, out->key);
    int no_cache = opts && opts->no_cache;
    char path[4400];
    int cached = !no_cache && cache_path(opts, out->key, path, sizeof path);
    if (cached && load_cached(path, out->key, out)) {
        out->from_cache = 1;
        return KILN_OK;
    }
    KILN_TRY(kvk_glslang_compile(src, &out->words, &out->nwords));
    if (cached) store_cached(path, out->key, out);
    return KILN_OK;
}

void kiln_vk_spirv_free(kiln_vk_spirv *s) {
    if (!s) return;
    free(s->words);
    s->words = NULL;
    s->nwords = 0;
}
