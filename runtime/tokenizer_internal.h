/* Shared internals of the tokenizers (tokenizer*.c). Not public API. */
#ifndef KILN_RUNTIME_TOKENIZER_INTERNAL_H
#define KILN_RUNTIME_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/tokenizer.h"

/* llama2.c starts the merge search at this score: pairs scoring at or
 * below it are never merged (run.c: float best_score = -1e10). */
#define TOK_LLAMA_SCORE_FLOOR (-1e10f)

struct kiln_tokenizer {
    kiln_tokenizer_kind kind;
    int32_t n_vocab, bos, eos;

    /* All strings live in one arena; tokens refer to it by offset. */
    char *arena;
    size_t arena_len, arena_cap;
    size_t *piece_off, *piece_len; /* the string merges and lookups see */
    size_t *out_off, *out_len;     /* the bytes decode yields */
    size_t max_piece_len;

    /* piece -> id, open addressing; -1 marks an empty slot. */
    int32_t *piece_slots;
    size_t piece_mask;

    /* Token for each byte: GPT-2's byte alphabet, llama's byte fallback
     * (-1: no token; encode fails if that byte occurs). */
    int32_t byte_token[256];

    /* GPT-2: (left, right) -> rank and merged id, open addressing. */
    uint64_t *pair_keys; /* UINT64_MAX marks an empty slot */
    int32_t *pair_rank, *pair_id;
    size_t pair_mask;

    /* llama */
    float *scores;
    int32_t space_id; /* the " " piece (dummy prefix), or -1 */
};

/* Slot where the GPT-2 pair (a, b) = key starts probing. */
static inline size_t tok_pair_slot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}
static inline uint64_t tok_pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static inline const char *tok_piece(const kiln_tokenizer *t, int32_t id) { return t->arena + t->piece_off[id]; }

/* --- tokenizer.c: construction helpers shared by both kinds --- */
kiln_status tok_new(kiln_tokenizer_kind kind, int32_t n_vocab, kiln_tokenizer **out);
/* Append bytes to the arena; *off receives where they start. */
kiln_status tok_arena_add(kiln_tokenizer *t, const char *s, size_t n, size_t *off);
/* Index every piece (after piece_off/len are set); first id wins on duplicates. */
kiln_status tok_index_pieces(kiln_tokenizer *t);
int32_t tok_lookup(const kiln_tokenizer *t, const char *s, size_t n);
/* Read a whole file (NUL-terminated for convenience). */
kiln_status tok_read_file(const char *path, char **data, size_t *len);

/* --- tokenizer_merge.c: the BPE merge loop both kinds share --- */
/* Reusable scratch memory for tok_merge. */
typedef struct tok_merge_work {
    size_t cap;
    size_t *prev, *next;
    void *heap;
    size_t heap_cap;
    char *buf; /* llama: concatenation of two pieces */
    size_t buf_cap;
} tok_merge_work;

/* Repeatedly merge the adjacent pair with the best priority (GPT-2: lowest
 * merge rank; llama: highest score of the merged piece), the leftmost one
 * on ties, until no pair merges. ids[0..*n) is rewritten in place. */
kiln_status tok_merge(const kiln_tokenizer *t, tok_merge_work *w, int32_t *ids, size_t *n);
void tok_merge_work_free(tok_merge_work *w);

/* --- tokenizer_gpt2.c / tokenizer_gpt2_split.c --- */
kiln_status tok_gpt2_encode(const kiln_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap);
/* Byte length of the GPT-2 pre-token starting at text (len > 0). */
size_t tok_gpt2_pretoken_len(const char *text, size_t len);

/* --- tokenizer_llama.c --- */
kiln_status tok_llama_encode(const kiln_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids,
                             size_t *n, size_t *cap);

/* Append one id to a growing array. */
kiln_status tok_push(int32_t **ids, size_t *n, size_t *cap, int32_t id);

#endif
