/* Tokenizers for text generation: GPT-2 byte-level BPE and llama2.c /
 * SentencePiece-style score-based BPE.
 *
 * Four ways to build one:
 *   - GPT-2 from encoder.json + vocab.bpe files,
 *   - GPT-2 from in-memory token strings + "a b" merge strings (GGUF "gpt2"),
 *   - llama2.c from a tokenizer .bin (tok512.bin, tokenizer.bin),
 *   - llama from in-memory tokens + scores + token types (GGUF "llama").
 *
 * Encoding takes raw bytes (UTF-8 expected; invalid bytes are encoded too,
 * never rejected). Decoding works one token at a time and yields bytes: a
 * UTF-8 character split across tokens comes out split across calls, so the
 * caller should write the bytes as they come (the concatenation is valid). */
#ifndef KILN_TOKENIZER_H
#define KILN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_tokenizer kiln_tokenizer;

typedef enum kiln_tokenizer_kind {
    KILN_TOKENIZER_GPT2,  /* byte-level BPE, merges by rank */
    KILN_TOKENIZER_LLAMA, /* score-based BPE with byte fallback (llama2.c run.c) */
    KILN_TOKENIZER_BYTES, /* byte-level models: token i is byte i (ids 256.. decode to nothing) */
} kiln_tokenizer_kind;

/* The tokenizer of a byte-level model with n_vocab >= 256 tokens: text is
 * its bytes; no BOS or EOS. */
kiln_status kiln_tokenizer_bytes(int32_t n_vocab, kiln_tokenizer **out);

/* GPT-2 from encoder.json ({"token": id, ...}) and vocab.bpe (optional
 * "#version" line, then one "left right" merge per line, in rank order).
 * BOS and EOS are both the id of "<|endoftext|>" (50256 for GPT-2), or -1
 * when the vocabulary lacks it. */
kiln_status kiln_tokenizer_load_gpt2(const char *encoder_json_path, const char *vocab_bpe_path,
                                     kiln_tokenizer **out) KILN_NODISCARD;

/* GPT-2 from memory: tokens[i] is token i's string in the byte-to-unicode
 * alphabet (token_lens may be NULL for NUL-terminated strings); merges[r] is
 * "left right", rank r. bos_id / eos_id < 0 mean "the id of <|endoftext|>". */
kiln_status kiln_tokenizer_from_gpt2_vocab(const char *const *tokens, const size_t *token_lens,
                                           int32_t n_tokens, const char *const *merges, int32_t n_merges,
                                           int32_t bos_id, int32_t eos_id,
                                           kiln_tokenizer **out) KILN_NODISCARD;

/* llama2.c tokenizer .bin: int32 max_token_length, then vocab_size times
 * { float32 score, int32 length, length bytes }. vocab_size comes from the
 * model (it is not stored in the file); it must be at least 259 because
 * byte b falls back to token b + 3, as in run.c. BOS = 1, EOS = 2. */
kiln_status kiln_tokenizer_load_llama2c(const char *path, int32_t vocab_size,
                                        kiln_tokenizer **out) KILN_NODISCARD;

/* llama / SentencePiece vocabulary from memory (GGUF tokenizer.ggml.*):
 * tokens use U+2581 for spaces, byte tokens are spelled "<0xXX>".
 * types (may be NULL): 1 normal, 2 unknown, 3 control, 6 byte; with NULL,
 * tokens spelled exactly "<0xXX>" are the byte tokens. bos_id / eos_id < 0
 * mean 1 / 2 (run.c's fixed ids). Encodes and decodes like the .bin path
 * for the same vocabulary. */
kiln_status kiln_tokenizer_from_llama_vocab(const char *const *tokens, const size_t *token_lens,
                                            const float *scores, const int32_t *types, int32_t n_tokens,
                                            int32_t bos_id, int32_t eos_id,
                                            kiln_tokenizer **out) KILN_NODISCARD;

/* Encode text[0..len) into a malloc'd array of ids (*ids is NULL when
 * *n_ids is 0; free() it). add_bos / add_eos prepend BOS / append EOS.
 * GPT-2: special tokens written in the text ("<|endoftext|>") are encoded
 * as plain text, not as their special id. */
kiln_status kiln_tokenizer_encode(const kiln_tokenizer *t, const char *text, size_t len, int add_bos,
                                  int add_eos, int32_t **ids, size_t *n_ids) KILN_NODISCARD;

/* The bytes that token `token` adds to the text when it follows token `prev`
 * (prev < 0: no previous token). *bytes points into the tokenizer and lives
 * as long as it. llama: after BOS a leading space is dropped, and "<0xXX>"
 * byte tokens yield the raw byte, as run.c's decode() does. */
kiln_status kiln_tokenizer_decode(const kiln_tokenizer *t, int32_t prev, int32_t token, const char **bytes,
                                  size_t *len) KILN_NODISCARD;

kiln_tokenizer_kind kiln_tokenizer_get_kind(const kiln_tokenizer *t);
int32_t kiln_tokenizer_vocab_size(const kiln_tokenizer *t);
int32_t kiln_tokenizer_bos(const kiln_tokenizer *t); /* -1 when none */
int32_t kiln_tokenizer_eos(const kiln_tokenizer *t); /* -1 when none */
void kiln_tokenizer_free(kiln_tokenizer *t);

#ifdef __cplusplus
}
#endif
#endif
