/* Finding the tokenizer that goes with a model: beside a llama2.c
 * checkpoint, inside a GGUF file's metadata, or in a Hugging Face folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/gguf.h"
#include "runtime/generate_internal.h"

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcmp(path + n - e, ext) == 0;
}

/* The folder part of path ("." when none) into buf. */
static void dir_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, cap, ".");
    else if (slash == path) snprintf(buf, cap, "/");
    else snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* GPT-2 files in a folder: Hugging Face names, then OpenAI's. 1 when found. */
static int find_gpt2_files(const char *dir, char *vocab, char *merges, size_t cap) {
    static const char *const pairs[][2] = {{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        snprintf(vocab, cap, "%s/%s", dir, pairs[i][0]);
        snprintf(merges, cap, "%s/%s", dir, pairs[i][1]);
        if (is_file(vocab) && is_file(merges)) return 1;
    }
    return 0;
}

static kiln_status gpt2_from_dir(const char *dir, kiln_tokenizer **out, int *found) {
    char vocab[4096], merges[4096];
    *found = find_gpt2_files(dir, vocab, merges, sizeof vocab);
    return *found ? kiln_tokenizer_load_gpt2(vocab, merges, out) : KILN_OK;
}

/* The GGUF vocabulary, as a "llama" (SentencePiece-style) or "gpt2"
 * (byte-level BPE) tokenizer. */
static kiln_status from_gguf(const char *path, kiln_tokenizer **out, int *add_bos) {
    kiln_gguf *g = NULL;
    KILN_TRY(kiln_gguf_open(path, &g));
    kiln_gguf_tokenizer t;
    kiln_status s = kiln_gguf_tokenizer_get(g, &t);
    const char **strs = NULL, **merges = NULL;
    size_t *lens = NULL;
    if (!s && (t.n_tokens == 0 || t.n_tokens > INT32_MAX))
        s = kiln_error(KILN_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", path,
                       (unsigned long long)t.n_tokens);
    if (!s) {
        strs = malloc((size_t)t.n_tokens * sizeof *strs);
        lens = malloc((size_t)t.n_tokens * sizeof *lens);
        if (!strs || !lens) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; !s && i < t.n_tokens; i++) {
            strs[i] = t.tokens[i].str;
            lens[i] = (size_t)t.tokens[i].len;
        }
    }
    int32_t n = (int32_t)t.n_tokens, bos = (int32_t)t.bos_id, eos = (int32_t)t.eos_id;
    if (!s && strcmp(t.model, "llama") == 0) {
        if (!t.scores) s = kiln_error(KILN_ERR_FORMAT, "%s: a \"llama\" tokenizer needs tokenizer.ggml.scores", path);
        if (!s) s = kiln_tokenizer_from_llama_vocab(strs, lens, t.scores, t.token_type, n, bos, eos, out);
        if (!s) *add_bos = t.add_bos >= 0 ? t.add_bos : 1;
    } else if (!s && strcmp(t.model, "gpt2") == 0) {
        if (!t.merges) s = kiln_error(KILN_ERR_FORMAT, "%s: a \"gpt2\" tokenizer needs tokenizer.ggml.merges", path);
        if (!s && t.n_merges > INT32_MAX) s = kiln_error(KILN_ERR_FORMAT, "%s: too many merges", path);
        if (!s && !(merges = malloc((size_t)(t.n_merges ? t.n_merges : 1) * sizeof *merges)))
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; !s && i < t.n_merges; i++) merges[i] = t.merges[i].str;
        if (!s) s = kiln_tokenizer_from_gpt2_vocab(strs, lens, n, merges, (int32_t)t.n_merges, bos, eos, out);
        if (!s) *add_bos = t.add_bos >= 0 ? t.add_bos : 0;
    } else if (!s) {
        s = kiln_error(KILN_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%.60s\" is not supported (llama, gpt2)", path,
                       t.model);
    }
    free(strs);
    free(lens);
    free(merges);
    kiln_gguf_tokenizer_release(&t); /* safe after a failed get too: it zeroes t */
    kiln_gguf_close(g);
    return s;
}

/* A llama2.c tokenizer needs the vocabulary size, which only the model
 * knows. */
static kiln_status from_llama2c(const kiln_model *m, const char *path, kiln_tokenizer **out, int *add_bos) {
    int64_t vocab = 0;
    if (!kiln_generation_config_int(m, "vocab_size", &vocab) || vocab < 1 || vocab > INT32_MAX)
        return kiln_error(KILN_ERR_NOT_FOUND, "%s: reading the llama2.c tokenizer %s needs the model's vocab_size",
                          m->name, path);
    KILN_TRY(kiln_tokenizer_load_llama2c(path, (int32_t)vocab, out));
    *add_bos = 1;
    return KILN_OK;
}

/* An explicitly named tokenizer file or folder. */
static kiln_status from_path(const kiln_model *m, const char *path, kiln_tokenizer **out, int *add_bos) {
    *add_bos = 0;
    if (is_dir(path)) {
        int found = 0;
        KILN_TRY(gpt2_from_dir(path, out, &found));
        if (!found)
            return kiln_error(KILN_ERR_NOT_FOUND,
                              "%s: no tokenizer in this folder (vocab.json + merges.txt or encoder.json + vocab.bpe)",
                              path);
        return KILN_OK;
    }
    if (!is_file(path)) return kiln_error(KILN_ERR_IO, "%s: no such tokenizer file", path);
    if (has_ext(path, ".gguf")) return from_gguf(path, out, add_bos);
    if (has_ext(path, ".json")) {
        char dir[4096], merges[4200];
        dir_of(path, dir, sizeof dir);
        const char *names[2] = {"merges.txt", "vocab.bpe"};
        for (int i = 0; i < 2; i++) {
            snprintf(merges, sizeof merges, "%s/%s", dir, names[i]);
            if (is_file(merges)) return kiln_tokenizer_load_gpt2(path, merges, out);
        }
        return kiln_error(KILN_ERR_NOT_FOUND, "%s: a GPT-2 vocabulary needs merges.txt or vocab.bpe beside it", path);
    }
    return from_llama2c(m, path, out, add_bos);
}

/* No tokenizer file: a model with at least 256 tokens and no files of its
 * own reads text as bytes (as kiln train does); a smaller one has none. */
static kiln_status bytes_or_none(const kiln_model *m, const char *dir, kiln_tokenizer **out) {
    int64_t vocab = 0;
    if (kiln_generation_config_int(m, "vocab_size", &vocab) && vocab >= 256 && vocab <= INT32_MAX &&
        strcmp(m->format ? m->format : "", "huggingface") != 0)
        return kiln_tokenizer_bytes((int32_t)vocab, out);
    if (!dir) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no tokenizer found (the model names no folder to look in)", m->path);
    return kiln_error(KILN_ERR_NOT_FOUND,
                      "%s: no tokenizer found (looked for vocab.json + merges.txt and encoder.json + vocab.bpe in %s)",
                      m->path, dir);
}

kiln_status kiln_tokenizer_for_model(const kiln_model *m, const char *path, kiln_tokenizer **out, int *add_bos) {
    *out = NULL;
    int bos_dummy;
    if (!add_bos) add_bos = &bos_dummy;
    *add_bos = 0;
    if (!m) return kiln_error(KILN_ERR_INVALID, "kiln_tokenizer_for_model: no model");
    if (path && *path) return from_path(m, path, out, add_bos);
    const char *format = m->format ? m->format : "";
    if (strcmp(format, "gguf") == 0) return from_gguf(m->path, out, add_bos);
    char dir[4096];
    if (strcmp(format, "llama2c") == 0) {
        /* llama2.c names tokenizers tok<vocab>.bin, and tokenizer.bin for Llama 2's 32000 */
        int64_t vocab = 0;
        kiln_generation_config_int(m, "vocab_size", &vocab);
        dir_of(m->path, dir, sizeof dir);
        char cand[2][4200];
        snprintf(cand[0], sizeof cand[0], "%s/tok%lld.bin", dir, (long long)vocab);
        snprintf(cand[1], sizeof cand[1], "%s/tokenizer.bin", dir);
        for (int i = 0; i < 2; i++)
            if (is_file(cand[i])) return from_llama2c(m, cand[i], out, add_bos);
        return kiln_error(KILN_ERR_NOT_FOUND, "%s: no tokenizer found (looked for %s and %s)", m->path, cand[0], cand[1]);
    }
    /* a Hugging Face folder, or the folder of a .kiln model's weights */
    const char *where = strcmp(format, "huggingface") == 0 ? m->path : NULL;
    if (where) snprintf(dir, sizeof dir, "%s", where);
    else if (m->weights_path) dir_of(m->weights_path, dir, sizeof dir);
    else return bytes_or_none(m, NULL, out);
    int found = 0;
    KILN_TRY(gpt2_from_dir(dir, out, &found));
    if (found) return KILN_OK;
    return bytes_or_none(m, dir, out);
}
