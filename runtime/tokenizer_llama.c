/* llama2.c / SentencePiece-style tokenizer: score-based BPE with byte
 * fallback, behaving like llama2.c's run.c encode() and decode().
 *
 * Pieces are stored with plain spaces (run.c's tokenizer .bin already has
 * them; GGUF's U+2581 is converted), so both sources encode alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define SPM_SPACE "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */

enum { TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_BYTE = 6 };

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a piece spelled exactly "<0xXX>", or -1. */
static int byte_piece(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Store one piece. When it may be a byte token and is spelled "<0xXX>", it
 * decodes to that byte, else to itself. */
static kiln_status add_piece(kiln_tokenizer *t, int32_t id, const char *p, size_t n, int is_byte) {
    KILN_TRY(tok_arena_add(t, p, n, &t->piece_off[id]));
    t->piece_len[id] = n;
    int b = is_byte ? byte_piece(p, n) : -1;
    if (b < 0) {
        t->out_off[id] = t->piece_off[id];
        t->out_len[id] = n;
        return KILN_OK;
    }
    char c = (char)b;
    t->out_len[id] = 1;
    return tok_arena_add(t, &c, 1, &t->out_off[id]);
}

static kiln_status finish(kiln_tokenizer *t) {
    KILN_TRY(tok_index_pieces(t));
    t->space_id = tok_lookup(t, " ", 1);
    return KILN_OK;
}

kiln_status kiln_tokenizer_load_llama2c(const char *path, int32_t vocab_size, kiln_tokenizer **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "llama2.c tokenizer: NULL output pointer");
    *out = NULL;
    if (!path) return kiln_error(KILN_ERR_INVALID, "llama2.c tokenizer: NULL path");
    if (vocab_size < 259)
        return kiln_error(KILN_ERR_INVALID,
                          "%s: vocab_size %d is too small: llama2.c's byte fallback needs tokens 3..258 for the "
                          "256 bytes",
                          path, vocab_size);
    char *data;
    size_t len;
    KILN_TRY(tok_read_file(path, &data, &len));
    /* Every token needs at least its 8-byte header: reject a short file
     * before allocating for a vocabulary it cannot hold. */
    if (len < 4 || (len - 4) / 8 < (size_t)vocab_size) {
        kiln_status s = kiln_error(KILN_ERR_FORMAT,
                                   "%s: truncated: %zu bytes cannot hold max_token_length and %d tokens (at least "
                                   "%zu bytes)",
                                   path, len, vocab_size, 4 + 8 * (size_t)vocab_size);
        free(data);
        return s;
    }
    kiln_tokenizer *t;
    kiln_status s = tok_new(KILN_TOKENIZER_LLAMA, vocab_size, &t);
    if (!s && !(t->scores = malloc((size_t)vocab_size * sizeof *t->scores)))
        s = kiln_error(KILN_ERR_NOMEM, "%s: out of memory", path);
    size_t off = 4; /* max_token_length: run.c sizes a buffer with it; we measure pieces instead */
    for (int32_t id = 0; id < vocab_size && !s; id++) {
        float score;
        int32_t n;
        if (len - off < 8) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: truncated at offset %zu: token %d of %d needs a score and a length",
                           path, off, id, vocab_size);
            break;
        }
        memcpy(&score, data + off, 4);
        memcpy(&n, data + off + 4, 4);
        if (n < 0 || (size_t)n > len - off - 8) {
            s = kiln_error(KILN_ERR_FORMAT,
                           "%s: token %d at offset %zu: length %d %s (file is %zu bytes)", path, id, off + 4, n,
                           n < 0 ? "is negative" : "runs past the end of the file", len);
            break;
        }
        if (score != score) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %d at offset %zu: score is NaN", path, id, off);
            break;
        }
        t->scores[id] = score;
        s = add_piece(t, id, data + off + 8, (size_t)n, 1);
        off += 8 + (size_t)n;
    }
    free(data);
    if (!s) s = finish(t);
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    for (int b = 0; b < 256; b++) t->byte_token[b] = b + 3; /* run.c's fixed layout */
    t->bos = 1;
    t->eos = 2;
    *out = t;
    return KILN_OK;
}

/* A GGUF piece with U+2581 turned into spaces, into buf (grown as needed). */
static kiln_status unescape(const char *p, size_t n, char **buf, size_t *cap, size_t *out_n) {
    if (n > *cap) {
        char *b = realloc(*buf, n);
        if (!b) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        *buf = b;
        *cap = n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(p + i, SPM_SPACE, 3) == 0) {
            (*buf)[o++] = ' ';
            i += 3;
        } else {
            (*buf)[o++] = p[i++];
        }
    }
    *out_n = o;
    return KILN_OK;
}

kiln_status kiln_tokenizer_from_llama_vocab(const char *const *tokens, const size_t *token_lens, const float *scores,
                                            const int32_t *types, int32_t n_tokens, int32_t bos_id, int32_t eos_id,
                                            kiln_tokenizer **out) {
    const char *what = "llama tokenizer";
    if (!out) return kiln_error(KILN_ERR_INVALID, "%s: NULL output pointer", what);
    *out = NULL;
    if (!tokens || !scores) return kiln_error(KILN_ERR_INVALID, "%s: missing token or score array", what);
    if (n_tokens <= 0) return kiln_error(KILN_ERR_INVALID, "%s: vocabulary size %d must be positive", what, n_tokens);
    if (bos_id < 0) bos_id = 1;
    if (eos_id < 0) eos_id = 2;
    if (bos_id >= n_tokens || eos_id >= n_tokens)
        return kiln_error(KILN_ERR_INVALID, "%s: %s id %d outside the vocabulary of %d tokens", what,
                          bos_id >= n_tokens ? "BOS" : "EOS", bos_id >= n_tokens ? bos_id : eos_id, n_tokens);
    kiln_tokenizer *t;
    KILN_TRY(tok_new(KILN_TOKENIZER_LLAMA, n_tokens, &t));
    kiln_status s = KILN_OK;
    if (!(t->scores = malloc((size_t)n_tokens * sizeof *t->scores))) s = kiln_error(KILN_ERR_NOMEM, "%s: out of memory", what);
    char *buf = NULL;
    size_t cap = 0;
    int32_t unk = -1;
    for (int32_t id = 0; id < n_tokens && !s; id++) {
        if (!tokens[id]) {
            s = kiln_error(KILN_ERR_INVALID, "%s: token %d is NULL", what, id);
            break;
        }
        if (scores[id] != scores[id]) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %d has a NaN score", what, id);
            break;
        }
        size_t len = token_lens ? token_lens[id] : strlen(tokens[id]), n = 0;
        int is_byte = types ? types[id] == TYPE_BYTE : byte_piece(tokens[id], len) >= 0;
        if (types && is_byte && byte_piece(tokens[id], len) < 0) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %d has the byte type but is spelled \"%.*s\", not <0xXX>",
                           what, id, (int)len, tokens[id]);
            break;
        }
        if (types && types[id] == TYPE_UNKNOWN && unk < 0) unk = id;
        s = unescape(tokens[id], len, &buf, &cap, &n);
        if (!s) s = add_piece(t, id, buf, n, is_byte);
        t->scores[id] = scores[id];
        if (!s && is_byte) {
            int b = byte_piece(tokens[id], len);
            if (t->byte_token[b] < 0) t->byte_token[b] = id;
        }
    }
    free(buf);
    if (!s) s = finish(t);
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    /* Bytes without a byte token become <unk> (SentencePiece without byte
     * fallback); with neither, encoding such a byte fails. */
    for (int b = 0; b < 256; b++)
        if (t->byte_token[b] < 0) t->byte_token[b] = unk;
    t->bos = bos_id;
    t->eos = eos_id;
    *out = t;
    return KILN_OK;
}

kiln_status tok_llama_encode(const kiln_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids,
                             size_t *n, size_t *cap) {
    size_t first = *n; /* the merge loop works on what this call adds */
    kiln_status s = KILN_OK;
    if (add_bos) s = tok_push(ids, n, cap, t->bos);
    if (!s && len > 0 && t->space_id >= 0) s = tok_push(ids, n, cap, t->space_id); /* dummy prefix */
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len && !s;) {
        /* As run.c: a unit is a byte plus the continuation bytes (10xxxxxx)
         * after it, at most 4 bytes, whether or not it is valid UTF-8. */
        size_t j = i + 1;
        while (j < len && (u[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int32_t id = tok_lookup(t, text + i, j - i);
        if (id >= 0) {
            s = tok_push(ids, n, cap, id);
        } else {
            for (size_t k = i; k < j && !s; k++) {
                int32_t b = t->byte_token[u[k]];
                if (b < 0)
                    s = kiln_error(KILN_ERR_INVALID,
                                   "llama tokenizer: byte 0x%02X at offset %zu has no token (no byte or unknown token)",
                                   u[k], k);
                else
                    s = tok_push(ids, n, cap, b);
            }
        }
        i = j;
    }
    if (s) return s;
    tok_merge_work w = {0};
    size_t m = *n - first;
    s = tok_merge(t, &w, *ids + first, &m);
    tok_merge_work_free(&w);
    if (!s) *n = first + m;
    return s;
}
