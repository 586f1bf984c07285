/* llama2.c legacy checkpoints. The weights are stacked per kind over all
 * layers in run.c's order: token embedding, attention rmsnorm, wq, wk, wv,
 * wo, ffn rmsnorm, w1, w2, w3, final rmsnorm, the precomputed RoPE tables
 * (freq_cis_real/imag, unused here), then the classifier when untied.
 * Matrices are [out, in] row-major, like HF Linear weights, and q/k rows
 * are in Meta's interleaved-pair RoPE order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/gguf_llama_config.h"
#include "kiln/llama2c.h"

#define HEADER_BYTES 28
#define MAX_FIELD (1 << 24) /* far beyond any real model, small enough that sizes fit in 64 bits */

/* Element counts of each stacked array, in file order. */
enum { E_EMBED, E_RMS_ATT, E_WQ, E_WK, E_WV, E_WO, E_RMS_FFN, E_W1, E_W2, E_W3, E_RMS_FINAL, E_FREQ_RE, E_FREQ_IM,
       E_WCLS, E_COUNT };

/* a*b*c, saturating at UINT64_MAX so that absurd headers fail the size
 * comparison instead of wrapping around to a plausible number. */
static uint64_t mul3(uint64_t a, uint64_t b, uint64_t c) {
    if (b && a > UINT64_MAX / b) return UINT64_MAX;
    a *= b;
    if (c && a > UINT64_MAX / c) return UINT64_MAX;
    return a * c;
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static void section_sizes(const kiln_llama2c_header *h, uint64_t n[E_COUNT]) {
    uint64_t dim = (uint64_t)h->dim, hid = (uint64_t)h->hidden_dim, L = (uint64_t)h->n_layers;
    uint64_t vocab = (uint64_t)(h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size);
    uint64_t hs = dim / (uint64_t)h->n_heads, kv = hs * (uint64_t)h->n_kv_heads;
    n[E_EMBED] = mul3(vocab, dim, 1);
    n[E_RMS_ATT] = mul3(L, dim, 1);
    n[E_WQ] = mul3(L, dim, dim);
    n[E_WK] = mul3(L, dim, kv);
    n[E_WV] = mul3(L, dim, kv);
    n[E_WO] = mul3(L, dim, dim);
    n[E_RMS_FFN] = mul3(L, dim, 1);
    n[E_W1] = mul3(L, dim, hid);
    n[E_W2] = mul3(L, hid, dim);
    n[E_W3] = mul3(L, dim, hid);
    n[E_RMS_FINAL] = dim;
    n[E_FREQ_RE] = mul3((uint64_t)h->seq_len, hs / 2, 1);
    n[E_FREQ_IM] = n[E_FREQ_RE];
    n[E_WCLS] = h->tied ? 0 : n[E_EMBED];
}

kiln_status kiln_llama2c_header_read(const void *data, size_t size, const char *name, kiln_llama2c_header *out) {
    memset(out, 0, sizeof *out);
    if (size < HEADER_BYTES)
        return kiln_error(KILN_ERR_FORMAT, "%s: %zu bytes is too short for a llama2.c header (28 bytes)", name, size);
    int32_t f[7];
    memcpy(f, data, sizeof f);
    if (memcmp(data, "24ka", 4) == 0) /* uint32 0x616b3432 "ak42" little-endian */
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: llama2.c export version %d file (magic \"ak42\"); only legacy version-0 .bin "
                          "checkpoints are supported",
                          name, f[1]);
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                         "seq_len"};
    for (int i = 0; i < 7; i++) {
        int64_t v = i == 5 && f[i] < 0 ? -(int64_t)f[i] : f[i];
        if (v < 1 || v > MAX_FIELD)
            return kiln_error(KILN_ERR_FORMAT, "%s: offset %d: header field %s is %d, expected 1..%d%s", name, 4 * i,
                              names[i], f[i], MAX_FIELD, i == 5 ? " (or its negative)" : "");
    }
    kiln_llama2c_header h = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[5] > 0, 0};
    if (h.dim % h.n_heads || h.n_heads % h.n_kv_heads || (h.dim / h.n_heads) % 2)
        return kiln_error(KILN_ERR_FORMAT,
                          "%s: dim %d, n_heads %d, n_kv_heads %d: heads must divide dim into even head sizes and "
                          "kv heads must divide heads",
                          name, h.dim, h.n_heads, h.n_kv_heads);
    uint64_t n[E_COUNT], total = 0;
    section_sizes(&h, n);
    for (int i = 0; i < E_COUNT; i++) total = add_sat(total, n[i]);
    h.expected_bytes = add_sat(HEADER_BYTES, mul3(4, total, 1));
    *out = h;
    if (h.expected_bytes == UINT64_MAX)
        return kiln_error(KILN_ERR_FORMAT, "%s: header (dim %d, hidden_dim %d, n_layers %d) implies more than 2^64 bytes",
                          name, h.dim, h.hidden_dim, h.n_layers);
    if (h.expected_bytes != size)
        return kiln_error(KILN_ERR_FORMAT,
                          "%s: header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
                          "seq_len %d) implies %llu bytes, the file has %zu",
                          name, h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len,
                          (unsigned long long)h.expected_bytes, size);
    return KILN_OK;
}

static kiln_status config_of(const kiln_llama2c_header *h, const char *name, kiln_json **out) {
    kiln_llama_config c = {
        .vocab_size = h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size,
        .hidden_size = h->dim, .intermediate_size = h->hidden_dim, .num_hidden_layers = h->n_layers,
        .num_attention_heads = h->n_heads, .num_key_value_heads = h->n_kv_heads, .head_dim = h->dim / h->n_heads,
        .max_position_embeddings = h->seq_len, .rms_norm_eps = 1e-5, .rms_norm_eps_is_f32 = 0,
        .rope_theta = 10000.0, .rope_linear_factor = 0, .tie_word_embeddings = h->tied,
        .bos_token_id = 1, .eos_token_id = 2, /* llama2.c's run.c hard-codes these (sentencepiece <s>, </s>) */
    };
    return kiln_llama_config_json(&c, name, out);
}

/* Adds a [rows, cols] (cols 0: [rows]) tensor at float index `at`. */
static kiln_status add(kiln_tensor_map *m, const char *hf, const float *base, uint64_t at, int64_t rows,
                       int64_t cols) {
    int64_t shape[2] = {rows, cols};
    int rank = cols ? 2 : 1;
    const float *p = base + at;
    kiln_tensor t;
    if ((uintptr_t)p % sizeof(float) == 0) {
        t = kiln_tensor_view(KILN_F32, rank, shape, (void *)p);
    } else { /* only memory callers can hand in misaligned bytes */
        KILN_TRY(kiln_tensor_alloc(&t, KILN_F32, rank, shape));
        memcpy(t.data, (const void *)p, t.nbytes);
    }
    kiln_status s = kiln_tensor_map_put(m, hf, t);
    if (s) kiln_tensor_release(&t);
    return s;
}

static kiln_status build_weights(const kiln_llama2c_header *h, const void *data, kiln_tensor_map *m) {
    uint64_t n[E_COUNT], start[E_COUNT + 1];
    section_sizes(h, n);
    start[0] = 0;
    for (int i = 0; i < E_COUNT; i++) start[i + 1] = start[i] + n[i];
    const float *w = (const float *)((const char *)data + HEADER_BYTES);
    int64_t dim = h->dim, hid = h->hidden_dim, vocab = h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size;
    int64_t kv = dim / h->n_heads * h->n_kv_heads;
    KILN_TRY(add(m, "model.embed_tokens.weight", w, start[E_EMBED], vocab, dim));
    for (int64_t l = 0; l < h->n_layers; l++) {
        char name[128];
        const uint64_t L = (uint64_t)l;
        struct {
            const char *hf;
            int sec;
            int64_t rows, cols;
        } parts[] = {
            {"input_layernorm.weight", E_RMS_ATT, dim, 0},
            {"self_attn.q_proj.weight", E_WQ, dim, dim},
            {"self_attn.k_proj.weight", E_WK, kv, dim},
            {"self_attn.v_proj.weight", E_WV, kv, dim},
            {"self_attn.o_proj.weight", E_WO, dim, dim},
            {"post_attention_layernorm.weight", E_RMS_FFN, dim, 0},
            {"mlp.gate_proj.weight", E_W1, hid, dim},
            {"mlp.down_proj.weight", E_W2, dim, hid},
            {"mlp.up_proj.weight", E_W3, hid, dim},
        };
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            uint64_t per_layer = (uint64_t)parts[i].rows * (uint64_t)(parts[i].cols ? parts[i].cols : 1);
            snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, parts[i].hf);
            KILN_TRY(add(m, name, w, start[parts[i].sec] + L * per_layer, parts[i].rows, parts[i].cols));
        }
    }
    KILN_TRY(add(m, "model.norm.weight", w, start[E_RMS_FINAL], dim, 0));
    if (!h->tied) KILN_TRY(add(m, "lm_head.weight", w, start[E_WCLS], vocab, dim));
    return KILN_OK;
}

typedef struct mapping {
    void *addr;
    size_t size;
} mapping;

static void unmap(void *ctx) {
    mapping *mp = ctx;
    munmap(mp->addr, mp->size);
    free(mp);
}

/* Reads the header, then builds what was asked for. `hold` (may be NULL)
 * is handed to the weight map, or released when there is none. */
static kiln_status load(const void *data, size_t size, const char *name, kiln_json **config,
                        kiln_tensor_map **weights, mapping *hold) {
    if (config) *config = NULL;
    if (weights) *weights = NULL;
    kiln_llama2c_header h;
    kiln_status s = kiln_llama2c_header_read(data, size, name, &h);
    kiln_json *cfg = NULL;
    if (!s && config) s = config_of(&h, name, &cfg);
    kiln_tensor_map *m = NULL;
    if (!s && weights) {
        m = kiln_tensor_map_new();
        if (!m) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        if (!s) {
            kiln_tensor_map_set_origin(m, name);
            if (hold) {
                s = kiln_tensor_map_hold(m, hold, unmap);
                hold = NULL; /* the map owns it now, even on failure */
            }
        }
        if (!s) s = build_weights(&h, data, m);
    }
    if (hold) unmap(hold);
    if (s) {
        kiln_json_free(cfg);
        kiln_tensor_map_free(m);
        return s;
    }
    if (config) *config = cfg;
    if (weights) *weights = m;
    return KILN_OK;
}

kiln_status kiln_llama2c_load_memory(const void *data, size_t size, const char *name, kiln_json **config,
                                     kiln_tensor_map **weights) {
    if (!data && size) return kiln_error(KILN_ERR_INVALID, "kiln_llama2c_load_memory: NULL data");
    return load(data, size, name ? name : "<memory>", config, weights, NULL);
}

kiln_status kiln_llama2c_load(const char *path, kiln_json **config, kiln_tensor_map **weights) {
    if (config) *config = NULL;
    if (weights) *weights = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s: not a readable regular file", path);
    }
    if (st.st_size < HEADER_BYTES) {
        close(fd);
        return kiln_error(KILN_ERR_FORMAT, "%s: %lld bytes is too short for a llama2.c header (28 bytes)", path,
                          (long long)st.st_size);
    }
    mapping *mp = malloc(sizeof *mp);
    void *addr = mp ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    int e = errno;
    close(fd);
    if (!mp) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (addr == MAP_FAILED) {
        free(mp);
        return kiln_error(KILN_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    }
    mp->addr = addr;
    mp->size = (size_t)st.st_size;
    return load(addr, mp->size, path, config, weights, mp);
}
