/* The tokenizer object: storage, piece lookup, encode/decode entry points.
 * The two algorithms live in tokenizer_gpt2.c and tokenizer_llama.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

kiln_status tok_new(kiln_tokenizer_kind kind, int32_t n_vocab, kiln_tokenizer **out) {
    *out = NULL;
    if (n_vocab <= 0) return kiln_error(KILN_ERR_INVALID, "tokenizer: vocabulary size %d must be positive", n_vocab);
    kiln_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory");
    t->kind = kind;
    t->n_vocab = n_vocab;
    t->bos = t->eos = t->space_id = -1;
    for (int b = 0; b < 256; b++) t->byte_token[b] = -1;
    size_t n = (size_t)n_vocab;
    t->piece_off = calloc(n, sizeof *t->piece_off);
    t->piece_len = calloc(n, sizeof *t->piece_len);
    t->out_off = calloc(n, sizeof *t->out_off);
    t->out_len = calloc(n, sizeof *t->out_len);
    if (!t->piece_off || !t->piece_len || !t->out_off || !t->out_len) {
        kiln_tokenizer_free(t);
        return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for %d tokens", n_vocab);
    }
    *out = t;
    return KILN_OK;
}

kiln_status tok_arena_add(kiln_tokenizer *t, const char *s, size_t n, size_t *off) {
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_len + n + 1) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for token strings");
        t->arena = a;
        t->arena_cap = cap;
    }
    *off = t->arena_len;
    if (n) memcpy(t->arena + t->arena_len, s, n);
    t->arena[t->arena_len + n] = '\0'; /* keeps pieces printable in messages */
    t->arena_len += n + 1;
    return KILN_OK;
}

kiln_status tok_index_pieces(kiln_tokenizer *t) {
    size_t slots = 16;
    while (slots < (size_t)t->n_vocab * 2) slots *= 2; /* load factor <= 1/2 */
    t->piece_slots = malloc(slots * sizeof *t->piece_slots);
    if (!t->piece_slots) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for the piece index");
    memset(t->piece_slots, 0xff, slots * sizeof *t->piece_slots);
    t->piece_mask = slots - 1;
    t->max_piece_len = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = tok_piece(t, id);
        size_t n = t->piece_len[id];
        if (n > t->max_piece_len) t->max_piece_len = n;
        if (tok_lookup(t, s, n) >= 0) continue; /* duplicate: the first id keeps the piece */
        size_t i = (size_t)hash_bytes(s, n) & t->piece_mask;
        while (t->piece_slots[i] >= 0) i = (i + 1) & t->piece_mask;
        t->piece_slots[i] = id;
    }
    return KILN_OK;
}

int32_t tok_lookup(const kiln_tokenizer *t, const char *s, size_t n) {
    size_t i = (size_t)hash_bytes(s, n) & t->piece_mask;
    for (;;) {
        int32_t id = t->piece_slots[i];
        if (id < 0) return -1;
        if (t->piece_len[id] == n && memcmp(tok_piece(t, id), s, n) == 0) return id;
        i = (i + 1) & t->piece_mask;
    }
}

kiln_status tok_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return kiln_error(KILN_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return KILN_OK;
}

kiln_status tok_push(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for token ids");
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return KILN_OK;
}

kiln_status kiln_tokenizer_encode(const kiln_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos,
                                  int32_t **ids, size_t *n_ids) {
    if (!ids || !n_ids) return kiln_error(KILN_ERR_INVALID, "tokenizer encode: NULL output pointer");
    *ids = NULL;
    *n_ids = 0;
    if (!t) return kiln_error(KILN_ERR_INVALID, "tokenizer encode: NULL tokenizer");
    if (!text && len) return kiln_error(KILN_ERR_INVALID, "tokenizer encode: NULL text of length %zu", len);
    if ((add_bos && t->bos < 0) || (add_eos && t->eos < 0))
        return kiln_error(KILN_ERR_INVALID, "tokenizer encode: the vocabulary has no %s token",
                          add_bos && t->bos < 0 ? "BOS" : "EOS");
    int32_t *out = NULL;
    size_t n = 0, cap = 0;
    kiln_status s = KILN_OK;
    if (t->kind == KILN_TOKENIZER_GPT2) {
        if (add_bos) s = tok_push(&out, &n, &cap, t->bos);
        if (!s) s = tok_gpt2_encode(t, text, len, &out, &n, &cap);
    } else if (t->kind == KILN_TOKENIZER_BYTES) {
        for (size_t i = 0; !s && i < len; i++) s = tok_push(&out, &n, &cap, (unsigned char)text[i]);
    } else {
        /* BOS takes part in llama2.c's merge loop, so the encoder adds it. */
        s = tok_llama_encode(t, text, len, add_bos, &out, &n, &cap);
    }
    if (!s && add_eos) s = tok_push(&out, &n, &cap, t->eos);
    if (s) {
        free(out);
        return s;
    }
    if (!n) {
        free(out);
        out = NULL;
    }
    *ids = out;
    *n_ids = n;
    return KILN_OK;
}

kiln_status kiln_tokenizer_decode(const kiln_tokenizer *t, int32_t prev, int32_t token, const char **bytes,
                                  size_t *len) {
    if (!bytes || !len) return kiln_error(KILN_ERR_INVALID, "tokenizer decode: NULL output pointer");
    *bytes = "";
    *len = 0;
    if (!t) return kiln_error(KILN_ERR_INVALID, "tokenizer decode: NULL tokenizer");
    if (token < 0 || token >= t->n_vocab)
        return kiln_error(KILN_ERR_INVALID, "tokenizer decode: token id %d outside the vocabulary (0..%d)", token,
                          t->n_vocab - 1);
    const char *p = t->arena + t->out_off[token];
    size_t n = t->out_len[token];
    /* run.c: after BOS the piece's leading space is dropped (a byte token
     * "<0x20>" is not a leading space: it is checked on the piece). */
    if (t->kind == KILN_TOKENIZER_LLAMA && prev >= 0 && prev == t->bos && t->piece_len[token] > 0 &&
        tok_piece(t, token)[0] == ' ') {
        p++;
        n--;
    }
    *bytes = p;
    *len = n;
    return KILN_OK;
}

kiln_status kiln_tokenizer_bytes(int32_t n_vocab, kiln_tokenizer **out) {
    *out = NULL;
    if (n_vocab < 256)
        return kiln_error(KILN_ERR_INVALID, "a byte-level tokenizer needs 256 tokens or more, the model has %d", n_vocab);
    kiln_tokenizer *t = NULL;
    KILN_TRY(tok_new(KILN_TOKENIZER_BYTES, n_vocab, &t));
    kiln_status s = KILN_OK;
    for (int b = 0; b < 256 && !s; b++) {
        char c = (char)b;
        size_t off = 0;
        s = tok_arena_add(t, &c, 1, &off);
        t->piece_off[b] = t->out_off[b] = off;
        t->piece_len[b] = t->out_len[b] = 1;
        t->byte_token[b] = b;
    }
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

kiln_tokenizer_kind kiln_tokenizer_get_kind(const kiln_tokenizer *t) { return t ? t->kind : KILN_TOKENIZER_GPT2; }
int32_t kiln_tokenizer_vocab_size(const kiln_tokenizer *t) { return t ? t->n_vocab : 0; }
int32_t kiln_tokenizer_bos(const kiln_tokenizer *t) { return t ? t->bos : -1; }
int32_t kiln_tokenizer_eos(const kiln_tokenizer *t) { return t ? t->eos : -1; }

void kiln_tokenizer_free(kiln_tokenizer *t) {
    if (!t) return;
    free(t->arena);
    free(t->piece_off);
    free(t->piece_len);
    free(t->out_off);
    free(t->out_len);
    free(t->piece_slots);
    free(t->pair_keys);
    free(t->pair_rank);
    free(t->pair_id);
    free(t->scores);
    free(t);
}
