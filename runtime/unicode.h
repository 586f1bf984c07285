/* Unicode helpers for the tokenizers: UTF-8 decoding and the character
 * classes GPT-2's pre-tokenizer needs. Internal to the runtime. */
#ifndef KILN_RUNTIME_UNICODE_H
#define KILN_RUNTIME_UNICODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum kiln_uc_class {
    KILN_UC_OTHER = 0,
    KILN_UC_LETTER, /* \p{L} */
    KILN_UC_NUMBER, /* \p{N} */
    KILN_UC_SPACE,  /* \s (White_Space) */
} kiln_uc_class;

typedef struct kiln_unicode_range {
    uint32_t lo, hi; /* inclusive */
    uint8_t cls;     /* kiln_uc_class */
} kiln_unicode_range;

/* Generated tables (unicode_tables.c): sorted, disjoint, non-OTHER ranges. */
extern const kiln_unicode_range kiln_unicode_ranges[];
extern const int kiln_unicode_range_count;
extern const char kiln_unicode_version[];

kiln_uc_class kiln_unicode_class(uint32_t cp);

/* Decode the UTF-8 character at s[0..n), n >= 1. Returns its length in
 * bytes and sets *cp. Malformed input (bad lead byte, missing continuation,
 * overlong form, surrogate, > U+10FFFF) yields length 1 and *cp = -1. */
int kiln_utf8_decode(const unsigned char *s, size_t n, int32_t *cp);

/* Encode cp (<= U+10FFFF) into out; returns the byte count (1..4). */
int kiln_utf8_encode(uint32_t cp, char out[4]);

#endif
