/* GPT-2 byte-level BPE: vocabulary and merges (from encoder.json +
 * vocab.bpe or from memory), and encoding.
 *
 * Tokens are spelled in GPT-2's byte alphabet: every byte is one printable
 * code point (printable Latin-1 bytes stand for themselves, the other 68
 * bytes for U+0100..U+0143 in byte order), so text of any bytes can be
 * spelled with the 256 single-character tokens and then merged. */
#include <stdlib.h>
#include <string.h>

#include "kiln/json.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#define GPT2_ENDOFTEXT "<|endoftext|>"
#define GPT2_ALPHABET_END 0x144 /* one past the last code point the alphabet uses */

static int is_self_byte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

/* byte -> code point of its character in the alphabet */
static void byte_alphabet(uint32_t cp_of[256]) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) cp_of[b] = is_self_byte(b) ? (uint32_t)b : next++;
}

/* The bytes a token stands for: alphabet characters map back to their byte;
 * anything else (special tokens outside the alphabet) is kept as written. */
static size_t decode_piece(const char *p, size_t n, const int16_t *byte_of, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int l = kiln_utf8_decode((const unsigned char *)p + i, n - i, &cp);
        if (cp >= 0 && cp < GPT2_ALPHABET_END && byte_of[cp] >= 0) {
            out[o++] = (char)byte_of[cp];
        } else {
            memcpy(out + o, p + i, (size_t)l);
            o += (size_t)l;
        }
        i += (size_t)l;
    }
    return o;
}

/* Vocabulary, byte tokens and BOS/EOS. `what` names the source in errors. */
static kiln_status gpt2_vocab(const char *what, const char *const *tokens, const size_t *lens, int32_t n,
                              kiln_tokenizer **out) {
    kiln_tokenizer *t;
    KILN_TRY(tok_new(KILN_TOKENIZER_GPT2, n, &t));
    uint32_t cp_of[256];
    int16_t byte_of[GPT2_ALPHABET_END];
    byte_alphabet(cp_of);
    for (int i = 0; i < GPT2_ALPHABET_END; i++) byte_of[i] = -1;
    for (int b = 0; b < 256; b++) byte_of[cp_of[b]] = (int16_t)b;

    kiln_status s = KILN_OK;
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (int32_t id = 0; id < n && !s; id++) {
        if (!tokens[id]) {
            s = kiln_error(KILN_ERR_INVALID, "%s: token %d is NULL", what, id);
            break;
        }
        size_t len = lens ? lens[id] : strlen(tokens[id]);
        if (len == 0) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %d is empty", what, id);
            break;
        }
        if (len > tmp_cap) {
            char *p = realloc(tmp, len);
            if (!p) {
                s = kiln_error(KILN_ERR_NOMEM, "%s: out of memory", what);
                break;
            }
            tmp = p;
            tmp_cap = len;
        }
        size_t dn = decode_piece(tokens[id], len, byte_of, tmp);
        t->piece_len[id] = len;
        t->out_len[id] = dn;
        s = tok_arena_add(t, tokens[id], len, &t->piece_off[id]);
        if (!s) s = tok_arena_add(t, tmp, dn, &t->out_off[id]);
    }
    free(tmp);
    if (!s) s = tok_index_pieces(t);
    for (int b = 0; b < 256 && !s; b++) {
        char u[4];
        int l = kiln_utf8_encode(cp_of[b], u);
        t->byte_token[b] = tok_lookup(t, u, (size_t)l);
        if (t->byte_token[b] < 0)
            s = kiln_error(KILN_ERR_FORMAT, "%s: no token for byte 0x%02X (\"%.*s\"); byte-level BPE needs all 256", what,
                           b, l, u);
    }
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    t->bos = t->eos = tok_lookup(t, GPT2_ENDOFTEXT, strlen(GPT2_ENDOFTEXT));
    *out = t;
    return KILN_OK;
}

static kiln_status alloc_pairs(kiln_tokenizer *t, size_t n_merges) {
    size_t slots = 16;
    while (slots < n_merges * 2) slots *= 2;
    t->pair_keys = malloc(slots * sizeof *t->pair_keys);
    t->pair_rank = malloc(slots * sizeof *t->pair_rank);
    t->pair_id = malloc(slots * sizeof *t->pair_id);
    if (!t->pair_keys || !t->pair_rank || !t->pair_id)
        return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for %zu merges", n_merges);
    memset(t->pair_keys, 0xff, slots * sizeof *t->pair_keys);
    t->pair_mask = slots - 1;
    return KILN_OK;
}

/* One merge "left right" of rank `rank`. Errors carry no location: the
 * caller prefixes file and line (or array index). */
static kiln_status add_merge(kiln_tokenizer *t, const char *m, size_t n, int32_t rank, char **buf, size_t *cap) {
    const char *sp = memchr(m, ' ', n);
    if (!sp || sp == m || sp == m + n - 1 || memchr(sp + 1, ' ', (size_t)(m + n - sp - 1)))
        return kiln_error(KILN_ERR_FORMAT, "expected \"left right\" (two tokens, one space), got \"%.*s\"", (int)n, m);
    size_t la = (size_t)(sp - m), lb = n - la - 1;
    int32_t a = tok_lookup(t, m, la), b = tok_lookup(t, sp + 1, lb);
    if (a < 0 || b < 0)
        return kiln_error(KILN_ERR_FORMAT, "merge names unknown token \"%.*s\"", (int)(a < 0 ? la : lb),
                          a < 0 ? m : sp + 1);
    if (la + lb > *cap) {
        char *p = realloc(*buf, la + lb);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        *buf = p;
        *cap = la + lb;
    }
    memcpy(*buf, m, la);
    memcpy(*buf + la, sp + 1, lb);
    int32_t ab = tok_lookup(t, *buf, la + lb);
    if (ab < 0) return kiln_error(KILN_ERR_FORMAT, "merge result \"%.*s\" is not a token", (int)(la + lb), *buf);
    uint64_t key = tok_pair_key(a, b);
    size_t i = tok_pair_slot(key, t->pair_mask);
    while (t->pair_keys[i] != UINT64_MAX) {
        if (t->pair_keys[i] == key) return KILN_OK; /* listed twice: the better rank stays */
        i = (i + 1) & t->pair_mask;
    }
    t->pair_keys[i] = key;
    t->pair_rank[i] = rank;
    t->pair_id[i] = ab;
    return KILN_OK;
}

static kiln_status set_special(kiln_tokenizer *t, const char *what, int32_t bos, int32_t eos) {
    if (bos >= t->n_vocab || eos >= t->n_vocab)
        return kiln_error(KILN_ERR_INVALID, "%s: %s id %d outside the vocabulary (0..%d)", what,
                          bos >= t->n_vocab ? "BOS" : "EOS", bos >= t->n_vocab ? bos : eos, t->n_vocab - 1);
    if (bos >= 0) t->bos = bos;
    if (eos >= 0) t->eos = eos;
    return KILN_OK;
}

kiln_status kiln_tokenizer_from_gpt2_vocab(const char *const *tokens, const size_t *token_lens, int32_t n_tokens,
                                           const char *const *merges, int32_t n_merges, int32_t bos_id,
                                           int32_t eos_id, kiln_tokenizer **out) {
    const char *what = "gpt2 tokenizer";
    if (!out) return kiln_error(KILN_ERR_INVALID, "%s: NULL output pointer", what);
    *out = NULL;
    if (!tokens || (n_merges > 0 && !merges) || n_merges < 0)
        return kiln_error(KILN_ERR_INVALID, "%s: missing token or merge array", what);
    kiln_tokenizer *t;
    KILN_TRY(gpt2_vocab(what, tokens, token_lens, n_tokens, &t));
    kiln_status s = set_special(t, what, bos_id, eos_id);
    if (!s) s = alloc_pairs(t, (size_t)n_merges);
    char *buf = NULL;
    size_t cap = 0;
    for (int32_t r = 0; r < n_merges && !s; r++) {
        if (!merges[r]) s = kiln_error(KILN_ERR_INVALID, "%s: merges[%d] is NULL", what, r);
        else s = kiln_error_wrap(add_merge(t, merges[r], strlen(merges[r]), r, &buf, &cap), "%s: merges[%d]", what, r);
    }
    free(buf);
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

/* encoder.json -> token strings and lengths indexed by id (pointing into j). */
static kiln_status encoder_tokens(const char *path, const kiln_json *j, const char ***tokens, size_t **lens) {
    if (j->type != KILN_JSON_OBJECT || j->count <= 0)
        return kiln_error(KILN_ERR_FORMAT, "%s: expected a non-empty JSON object mapping token -> id", path);
    const char **tok = calloc((size_t)j->count, sizeof *tok);
    size_t *len = calloc((size_t)j->count, sizeof *len);
    if (!tok || !len) {
        free(tok);
        free(len);
        return kiln_error(KILN_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < j->count; i++) {
        const kiln_json *v = &j->items[i];
        if (v->type != KILN_JSON_NUMBER || !v->is_integer || v->integer < 0 || v->integer >= j->count) {
            free(tok);
            free(len);
            return kiln_error(KILN_ERR_FORMAT, "%s:%d:%d: id of token \"%s\" must be an integer in 0..%d", path,
                              v->line, v->col, j->keys[i], j->count - 1);
        }
        if (tok[v->integer]) {
            kiln_status s = kiln_error(KILN_ERR_FORMAT, "%s:%d:%d: id %lld is given to both \"%s\" and \"%s\"", path,
                                       v->line, v->col, (long long)v->integer, tok[v->integer], j->keys[i]);
            free(tok);
            free(len);
            return s;
        }
        tok[v->integer] = j->keys[i];
        len[v->integer] = j->key_lens[i];
    }
    *tokens = tok; /* j->count distinct ids in 0..count-1: every id is taken */
    *lens = len;
    return KILN_OK;
}

/* vocab.bpe: optional "#version" first line, then one merge per line. */
static kiln_status load_merges(kiln_tokenizer *t, const char *path) {
    char *data;
    size_t len;
    KILN_TRY(tok_read_file(path, &data, &len));
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    kiln_status s = alloc_pairs(t, lines);
    char *buf = NULL;
    size_t cap = 0;
    int32_t rank = 0;
    int line = 0;
    for (size_t pos = 0; pos < len && !s;) {
        const char *l = data + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        pos += n + 1;
        line++;
        if (n && l[n - 1] == '\r') n--;
        if (n == 0 || (line == 1 && n >= 8 && memcmp(l, "#version", 8) == 0)) continue;
        if (memchr(l, '\0', n)) {
            s = kiln_error(KILN_ERR_FORMAT, "%s:%d: NUL byte in merge line", path, line);
            break;
        }
        s = kiln_error_wrap(add_merge(t, l, n, rank++, &buf, &cap), "%s:%d", path, line);
    }
    free(buf);
    free(data);
    return s;
}

kiln_status kiln_tokenizer_load_gpt2(const char *encoder_json_path, const char *vocab_bpe_path,
                                     kiln_tokenizer **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "gpt2 tokenizer: NULL output pointer");
    *out = NULL;
    if (!encoder_json_path || !vocab_bpe_path)
        return kiln_error(KILN_ERR_INVALID, "gpt2 tokenizer: NULL encoder.json or vocab.bpe path");
    kiln_json *j;
    KILN_TRY(kiln_json_parse_file(encoder_json_path, &j));
    const char **tokens = NULL;
    size_t *lens = NULL;
    kiln_tokenizer *t = NULL;
    kiln_status s = encoder_tokens(encoder_json_path, j, &tokens, &lens);
    if (!s) s = gpt2_vocab(encoder_json_path, tokens, lens, j->count, &t);
    free(tokens);
    free(lens);
    kiln_json_free(j);
    if (!s) s = load_merges(t, vocab_bpe_path);
    if (s) {
        kiln_tokenizer_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

kiln_status tok_gpt2_encode(const kiln_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap) {
    tok_merge_work w = {0};
    int32_t *word = NULL;
    size_t word_cap = 0;
    kiln_status s = KILN_OK;
    for (size_t pos = 0; pos < len && !s;) {
        size_t wl = tok_gpt2_pretoken_len(text + pos, len - pos);
        if (wl > word_cap) {
            int32_t *p = realloc(word, wl * sizeof *p);
            if (!p) {
                s = kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte word", wl);
                break;
            }
            word = p;
            word_cap = wl;
        }
        for (size_t i = 0; i < wl; i++) word[i] = t->byte_token[(unsigned char)text[pos + i]];
        size_t wn = wl;
        s = tok_merge(t, &w, word, &wn);
        for (size_t i = 0; i < wn && !s; i++) s = tok_push(ids, n, cap, word[i]);
        pos += wl;
    }
    free(word);
    tok_merge_work_free(&w);
    return s;
}
