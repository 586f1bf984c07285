/* The BPE merge loop shared by GPT-2 (rank-based) and llama2.c (score-based).
 *
 * Both reference implementations rescan the whole sequence after every merge
 * (quadratic). Here candidate pairs sit in a binary heap ordered by
 * (priority, position of the left symbol) and symbols form a linked list, so
 * a merge costs O(log n). Stale heap entries (a neighbour already merged
 * away) are recognised when popped and skipped. Popping the minimum of
 * (priority, position) picks the same pair the rescan would: the best
 * priority, and the leftmost among equals. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define DEAD (-1)
#define NONE ((size_t)-1)

typedef struct cand {
    double prio; /* lower merges first */
    size_t left, right;
    int32_t left_id, right_id, merged;
} cand;

static int cand_before(const cand *a, const cand *b) {
    if (a->prio != b->prio) return a->prio < b->prio;
    return a->left < b->left;
}

/* Does (a, b) merge? GPT-2: listed in the merges. llama: the concatenated
 * piece is in the vocabulary with a score above run.c's starting floor. */
static int pair_lookup(const kiln_tokenizer *t, tok_merge_work *w, int32_t a, int32_t b, int32_t *merged,
                       double *prio) {
    if (t->kind == KILN_TOKENIZER_GPT2) {
        uint64_t key = tok_pair_key(a, b);
        size_t i = tok_pair_slot(key, t->pair_mask);
        while (t->pair_keys[i] != UINT64_MAX) {
            if (t->pair_keys[i] == key) {
                *merged = t->pair_id[i];
                *prio = t->pair_rank[i];
                return 1;
            }
            i = (i + 1) & t->pair_mask;
        }
        return 0;
    }
    size_t la = t->piece_len[a], lb = t->piece_len[b];
    if (la + lb > t->max_piece_len) return 0; /* too long to be a piece */
    memcpy(w->buf, tok_piece(t, a), la);
    memcpy(w->buf + la, tok_piece(t, b), lb);
    int32_t id = tok_lookup(t, w->buf, la + lb);
    if (id < 0 || !(t->scores[id] > TOK_LLAMA_SCORE_FLOOR)) return 0;
    *merged = id;
    *prio = -(double)t->scores[id];
    return 1;
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const cand *best = &last;
        if (l < *n && cand_before(&h[l], best)) m = l, best = &h[l];
        if (r < *n && cand_before(&h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static kiln_status reserve(const kiln_tokenizer *t, tok_merge_work *w, size_t n) {
    /* Each merge pushes at most two candidates: n - 1 + 2 (n - 1) in all. */
    size_t heap_need = n * 3 + 1;
    if (n > w->cap) {
        size_t *p = realloc(w->prev, n * sizeof *p), *q = p ? realloc(w->next, n * sizeof *q) : NULL;
        if (p) w->prev = p;
        if (q) w->next = q;
        if (!p || !q) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory merging %zu symbols", n);
        w->cap = n;
    }
    if (heap_need > w->heap_cap) {
        void *h = realloc(w->heap, heap_need * sizeof(cand));
        if (!h) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory merging %zu symbols", n);
        w->heap = h;
        w->heap_cap = heap_need;
    }
    if (t->kind == KILN_TOKENIZER_LLAMA && w->buf_cap < 2 * t->max_piece_len + 1) {
        char *b = realloc(w->buf, 2 * t->max_piece_len + 1);
        if (!b) return kiln_error(KILN_ERR_NOMEM, "tokenizer: out of memory");
        w->buf = b;
        w->buf_cap = 2 * t->max_piece_len + 1;
    }
    return KILN_OK;
}

static void consider(const kiln_tokenizer *t, tok_merge_work *w, const int32_t *ids, size_t left, size_t right,
                     size_t *heap_n) {
    cand c = {0, left, right, ids[left], ids[right], -1};
    if (pair_lookup(t, w, c.left_id, c.right_id, &c.merged, &c.prio)) heap_push(w->heap, heap_n, c);
}

kiln_status tok_merge(const kiln_tokenizer *t, tok_merge_work *w, int32_t *ids, size_t *n) {
    size_t count = *n;
    if (count < 2) return KILN_OK;
    KILN_TRY(reserve(t, w, count));
    size_t *prev = w->prev, *next = w->next, heap_n = 0;
    cand *heap = w->heap;
    for (size_t i = 0; i < count; i++) {
        prev[i] = i ? i - 1 : NONE;
        next[i] = i + 1 < count ? i + 1 : NONE;
    }
    for (size_t i = 0; i + 1 < count; i++) consider(t, w, ids, i, i + 1, &heap_n);
    while (heap_n) {
        cand c = heap_pop(heap, &heap_n);
        if (ids[c.left] != c.left_id || next[c.left] != c.right || ids[c.right] != c.right_id) continue;
        ids[c.left] = c.merged;
        ids[c.right] = DEAD;
        next[c.left] = next[c.right];
        if (next[c.right] != NONE) prev[next[c.right]] = c.left;
        if (prev[c.left] != NONE) consider(t, w, ids, prev[c.left], c.left, &heap_n);
        if (next[c.left] != NONE) consider(t, w, ids, c.left, next[c.left], &heap_n);
    }
    size_t out = 0;
    for (size_t i = 0; i != NONE; i = next[i]) ids[out++] = ids[i];
    *n = out;
    return KILN_OK;
}

void tok_merge_work_free(tok_merge_work *w) {
    free(w->prev);
    free(w->next);
    free(w->heap);
    free(w->buf);
    memset(w, 0, sizeof *w);
}
