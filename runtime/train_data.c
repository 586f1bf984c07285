/* Training data: a text file tokenized for the model (or taken as bytes),
 * or a fixed batch of token ids from a safetensors file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/generate.h"
#include "kiln/safetensors.h"
#include "runtime/train_internal.h"

void train_data_free(train_data *d) {
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

#define MAX_TEXT ((size_t)1 << 30)

static kiln_status read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot open the training text", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    kiln_status s = KILN_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_TEXT) {
                s = kiln_error(KILN_ERR_LIMIT, "%s: larger than 1 GiB", path);
                break;
            }
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(buf, cap);
            if (!p) {
                s = kiln_error(KILN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (!s && ferror(f)) s = kiln_error(KILN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    *out = buf;
    *len = n;
    return KILN_OK;
}

static kiln_status check_ids(const int32_t *ids, int64_t n, int64_t vocab, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return kiln_error(KILN_ERR_INVALID, "%s: token %lld is %d, outside the model's vocabulary of %lld", what,
                              (long long)i, (int)ids[i], (long long)vocab);
    return KILN_OK;
}

kiln_status train_data_load_text(const kiln_model *m, const char *path, const char *tokenizer_path, int64_t vocab,
                                 double val_fraction, train_data *d) {
    memset(d, 0, sizeof *d);
    if (!(val_fraction >= 0 && val_fraction < 1))
        return kiln_error(KILN_ERR_INVALID, "validation fraction %g: must be in [0, 1)", val_fraction);
    char *text = NULL;
    size_t len = 0;
    KILN_TRY(read_file(path, &text, &len));
    kiln_tokenizer *tok = NULL;
    int add_bos = 0;
    kiln_status s = kiln_tokenizer_for_model(m, tokenizer_path, &tok, &add_bos);
    if (s && kiln_status_code(s) == KILN_ERR_NOT_FOUND && !tokenizer_path && vocab >= 256) {
        /* a byte-level model: every byte is its own token */
        kiln_status_free(s);
        s = KILN_OK;
        d->source = "bytes";
        d->tokens = malloc((len ? len : 1) * sizeof *d->tokens);
        if (!d->tokens) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !s && i < len; i++) d->tokens[i] = (unsigned char)text[i];
        d->n = (int64_t)len;
    } else if (s) {
        if (kiln_status_code(s) == KILN_ERR_NOT_FOUND)
            s = kiln_error_wrap(s, "%s: the model has %lld tokens, too few to read the text as bytes; name a tokenizer",
                                path, (long long)vocab);
    } else {
        d->source = kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_BYTES ? "bytes" : "tokenizer";
        size_t n = 0;
        s = kiln_tokenizer_encode(tok, text, len, 0, 0, &d->tokens, &n);
        if (s) s = kiln_error_wrap(s, "%s: tokenizing", path);
        d->n = (int64_t)n;
    }
    kiln_tokenizer_free(tok);
    free(text);
    if (!s) s = check_ids(d->tokens, d->n, vocab, path);
    if (s) {
        train_data_free(d);
        return s;
    }
    d->ntrain = d->n - (int64_t)((double)d->n * val_fraction);
    return KILN_OK;
}

kiln_status train_data_load_tokens(const char *path, int64_t vocab, train_data *d) {
    memset(d, 0, sizeof *d);
    kiln_tensor_map *map = NULL;
    KILN_TRY(kiln_safetensors_load(path, &map));
    const kiln_tensor *t = kiln_tensor_map_get(map, "input_ids");
    kiln_status s = KILN_OK;
    char shape[256];
    if (!t) s = kiln_error(KILN_ERR_NOT_FOUND, "%s: no tensor 'input_ids'", path);
    else if (!kiln_dtype_is_int(t->dtype) || t->rank < 1 || t->rank > 2)
        s = kiln_error(KILN_ERR_SHAPE, "%s: input_ids is %s; expected integer [batch, seq] or [seq]", path,
                       kiln_tensor_shape_str(t, shape, sizeof shape));
    if (!s) {
        d->rows = t->rank == 2 ? t->shape[0] : 1;
        d->cols = t->shape[t->rank - 1];
        d->n = d->rows * d->cols;
        if (d->rows < 1 || d->cols < 2)
            s = kiln_error(KILN_ERR_SHAPE, "%s: input_ids is %s; training needs at least 2 tokens per row", path,
                           kiln_tensor_shape_str(t, shape, sizeof shape));
    }
    if (!s && !(d->tokens = malloc((size_t)d->n * sizeof *d->tokens))) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !s && i < d->n; i++) {
        int64_t v = kiln_load_i64(t->data, t->dtype, (size_t)i);
        if (v < 0 || v >= vocab)
            s = kiln_error(KILN_ERR_INVALID, "%s: input_ids element %lld is %lld, outside the model's vocabulary of %lld",
                           path, (long long)i, (long long)v, (long long)vocab);
        else d->tokens[i] = (int32_t)v;
    }
    kiln_tensor_map_free(map);
    if (s) {
        train_data_free(d);
        return s;
    }
    d->ntrain = d->n;
    d->source = "tokens";
    return KILN_OK;
}
