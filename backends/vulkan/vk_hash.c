/* A 128-bit content hash for cache keys (not cryptographic: the inputs are
 * kiln's own shader sources, so only accidental collisions matter). Two
 * independent byte-wise lanes, each finished with a strong bit mixer. */
#include <string.h>

#include "vk_internal.h"

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

void kvk_hash_init(kvk_hasher *h) {
    h->a = 0xcbf29ce484222325ull; /* FNV-1a offset basis */
    h->b = 0x6a09e667f3bcc909ull;
    h->len = 0;
}

void kvk_hash_bytes(kvk_hasher *h, const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t a = h->a, b = h->b;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ s[i]) * 0x100000001b3ull;
        b = rotl((b ^ s[i]) * 0x9e3779b97f4a7c15ull, 23);
    }
    h->a = a;
    h->b = b;
    h->len += n;
}

void kvk_hash_str(kvk_hasher *h, const char *s) { kvk_hash_bytes(h, s ? s : "", strlen(s ? s : "") + 1); }

void kvk_hash_u64(kvk_hasher *h, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    kvk_hash_bytes(h, b, 8);
}

void kvk_hash_final(const kvk_hasher *h, uint64_t out[2]) {
    out[0] = mix(h->a ^ mix(h->len));
    out[1] = mix(h->b + 0x632be59bd9b4e019ull * h->len);
}
