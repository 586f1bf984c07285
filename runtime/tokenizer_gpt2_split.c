/* GPT-2's pre-tokenizer, hand-compiled from its regular expression
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * The alternatives cover every character, so the text splits into
 * back-to-back matches; this returns the length of the one at the start.
 * Bytes that are not valid UTF-8 count as "other" characters of length 1. */
#include "tokenizer_internal.h"
#include "unicode.h"

static size_t next_char(const unsigned char *s, size_t n, kiln_uc_class *cls) {
    int32_t cp;
    int len = kiln_utf8_decode(s, n, &cp);
    *cls = cp < 0 ? KILN_UC_OTHER : kiln_unicode_class((uint32_t)cp);
    return (size_t)len;
}

/* End of the run of `want`-class characters starting at i. */
static size_t run_end(const unsigned char *s, size_t n, size_t i, kiln_uc_class want) {
    while (i < n) {
        kiln_uc_class c;
        size_t l = next_char(s + i, n - i, &c);
        if (c != want) break;
        i += l;
    }
    return i;
}

size_t tok_gpt2_pretoken_len(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    /* Contractions, lower case only (GPT-2 leaves "'S" to the other rules). */
    if (s[0] == '\'' && n >= 2) {
        if (n >= 3 && ((s[1] == 'r' && s[2] == 'e') || (s[1] == 'v' && s[2] == 'e') || (s[1] == 'l' && s[2] == 'l')))
            return 3;
        if (s[1] == 's' || s[1] == 't' || s[1] == 'm' || s[1] == 'd') return 2;
    }
    /* " ?X+" for letters, numbers and other: an optional ASCII space, then a
     * run of one class. A space followed by whitespace (or nothing) falls
     * through to the whitespace rules. */
    size_t start = s[0] == ' ' ? 1 : 0;
    if (start < n) {
        kiln_uc_class c;
        next_char(s + start, n - start, &c);
        if (c != KILN_UC_SPACE) return run_end(s, n, start, c);
    }
    /* Whitespace run. \s+(?!\S) takes it all at the end of the text, and
     * all but its last character before a non-space (that character then
     * joins the next match, e.g. " word"); a lone one is taken by \s+. */
    size_t end = 0, last = 0;
    while (end < n) {
        kiln_uc_class c;
        size_t l = next_char(s + end, n - end, &c);
        if (c != KILN_UC_SPACE) break;
        last = end;
        end += l;
    }
    if (end == n || last == 0) return end;
    return last;
}
