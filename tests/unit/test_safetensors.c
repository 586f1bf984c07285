/* safetensors: round trips of every dtype, the gpt2-tiny fixture against
 * Python's reading of it, alignment copies, and malformed files built here,
 * each rejected with a message naming the problem. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/safetensors.h"

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Bytes of a file: 8-byte length (hlen_override when >= 0, else the real
 * header length), the header, then `data_len` bytes of data (i & 0xff). */
typedef struct {
    unsigned char *p;
    size_t len;
} bytes;

static bytes make_file(const char *header, long long hlen_override, size_t data_len) {
    size_t hl = strlen(header);
    bytes b = {malloc(8 + hl + data_len + 1), 8 + hl + data_len};
    uint64_t n = hlen_override >= 0 ? (uint64_t)hlen_override : hl;
    for (int i = 0; i < 8; i++) b.p[i] = (unsigned char)(n >> (8 * i));
    memcpy(b.p + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b.p[8 + hl + i] = (unsigned char)i;
    return b;
}

static void write_bytes(const char *path, bytes b) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b.p, 1, b.len, f) == b.len);
    fclose(f);
}

/* Must be rejected from memory and from a file; both messages must name
 * the source and contain `needle` (and `tensor` when given). */
static void rejects(const char *header, long long hlen_override, size_t data_len, const char *needle,
                    const char *tensor, int line) {
    bytes b = make_file(header, hlen_override, data_len);
    for (int from_file = 0; from_file < 2; from_file++) {
        kiln_tensor_map *m = (kiln_tensor_map *)1;
        const char *path = tmp_path("bad.safetensors");
        kiln_status s;
        if (from_file) {
            write_bytes(path, b);
            s = kiln_safetensors_load(path, &m);
        } else {
            s = kiln_safetensors_load_memory(b.p, b.len, "mem.safetensors", &m);
        }
        const char *msg = kiln_status_message(s);
        const char *who = from_file ? path : "mem.safetensors";
        char quoted[128] = "";
        if (tensor) snprintf(quoted, sizeof quoted, "tensor \"%s\"", tensor);
        if (!s || m != NULL || !strstr(msg, needle) || !strstr(msg, who) || (tensor && !strstr(msg, quoted))) {
            fprintf(stderr, "test_safetensors.c:%d: %s: got \"%s\", want \"%s\"%s%s\n", line,
                    from_file ? "file" : "memory", s ? msg : "success", needle, tensor ? " naming " : "",
                    tensor ? quoted : "");
            test_failures++;
        }
        if (!s) kiln_tensor_map_free(m);
        kiln_status_free(s);
    }
    free(b.p);
}
#define REJECTS(header, data_len, needle, tensor) rejects((header), -1, (data_len), (needle), (tensor), __LINE__)

static void test_round_trip(void) {
    /* One tensor of every dtype, plus a scalar, an empty and a rank-8 tensor.
     * Odd sizes make later tensors start unaligned inside the data section. */
    kiln_tensor_map *m = kiln_tensor_map_new();
    char name[32];
    for (int d = 0; d < KILN_DTYPE_COUNT; d++) {
        kiln_tensor t;
        int64_t shape[2] = {3, d + 1};
        CHECK_OK(kiln_tensor_alloc(&t, (kiln_dtype)d, 2, shape));
        unsigned char *p = t.data;
        for (size_t i = 0; i < t.nbytes; i++) p[i] = d == KILN_BOOL ? (unsigned char)(i % 2) : (unsigned char)(i * 37 + d);
        snprintf(name, sizeof name, "t_%s", kiln_dtype_name((kiln_dtype)d));
        CHECK_OK(kiln_tensor_map_put(m, name, t));
    }
    kiln_tensor t;
    CHECK_OK(kiln_tensor_alloc(&t, KILN_F64, 0, NULL));
    *(double *)t.data = -2.5;
    CHECK_OK(kiln_tensor_map_put(m, "scalar", t));
    int64_t empty_shape[2] = {0, 5};
    CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 2, empty_shape));
    CHECK_OK(kiln_tensor_map_put(m, "empty", t));
    int64_t r8[8] = {1, 2, 1, 2, 1, 2, 1, 3};
    CHECK_OK(kiln_tensor_alloc(&t, KILN_I16, 8, r8));
    for (int i = 0; i < 24; i++) ((int16_t *)t.data)[i] = (int16_t)(i * 1000 - 12000);
    CHECK_OK(kiln_tensor_map_put(m, "weird \"name\"\\\n\xC3\xA9", t));

    const char *path = tmp_path("rt.safetensors");
    CHECK_OK(kiln_safetensors_save(path, m));

    /* Layout: 8-byte length, header padded to a multiple of 8, then the data. */
    size_t total = 0;
    for (int i = 0; i < kiln_tensor_map_count(m); i++) total += kiln_tensor_map_at(m, i)->nbytes;
    FILE *f = fopen(path, "rb");
    unsigned char len8[8] = {0};
    long fsize = -1;
    if (f) {
        CHECK(fread(len8, 1, 8, f) == 8);
        fseek(f, 0, SEEK_END);
        fsize = ftell(f);
        fclose(f);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    CHECK(hlen % 8 == 0);
    CHECK((uint64_t)fsize == 8 + hlen + total);

    kiln_tensor_map *back = NULL;
    CHECK_OK(kiln_safetensors_load(path, &back));
    if (!back) {
        kiln_tensor_map_free(m);
        return;
    }
    CHECK(strcmp(kiln_tensor_map_origin(back), path) == 0);
    CHECK(kiln_tensor_map_count(back) == kiln_tensor_map_count(m));
    int copies = 0;
    for (int i = 0; i < kiln_tensor_map_count(m) && i < kiln_tensor_map_count(back); i++) {
        const kiln_tensor *a = kiln_tensor_map_at(m, i), *b = kiln_tensor_map_at(back, i);
        CHECK(strcmp(kiln_tensor_map_name(m, i), kiln_tensor_map_name(back, i)) == 0);
        CHECK(a->dtype == b->dtype && a->rank == b->rank && a->nbytes == b->nbytes);
        CHECK(memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->rank) == 0);
        CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
        CHECK((uintptr_t)b->data % kiln_dtype_size(b->dtype) == 0);
        copies += b->owns_data;
    }
    /* Byte sizes are 3*(d+1)*size: f32 12, f16 12, bf16 18, so t_f64 starts
     * 42 bytes into the 8-aligned data section and must have been copied. */
    const kiln_tensor *f64 = kiln_tensor_map_get(back, "t_f64");
    CHECK(f64 && f64->owns_data);
    CHECK(copies > 0);
    const kiln_tensor *sc = kiln_tensor_map_get(back, "scalar");
    CHECK(sc && sc->rank == 0 && *(const double *)sc->data == -2.5);

    /* Saving over the file that `back` still maps must not disturb it. */
    CHECK_OK(kiln_safetensors_save(path, back));
    const kiln_tensor *w = kiln_tensor_map_get(back, "weird \"name\"\\\n\xC3\xA9");
    CHECK(w && ((const int16_t *)w->data)[23] == 23 * 1000 - 12000);
    kiln_tensor_map *again = NULL;
    CHECK_OK(kiln_safetensors_load(path, &again));
    if (again) CHECK(kiln_tensor_map_count(again) == kiln_tensor_map_count(m));
    kiln_tensor_map_free(again);
    kiln_tensor_map_free(back);
    remove(path);

    /* Bad maps are refused before any file appears. */
    kiln_tensor_map *bad = kiln_tensor_map_new();
    int64_t one = 1;
    kiln_tensor v = kiln_tensor_view(KILN_F32, 1, &one, NULL);
    CHECK_OK(kiln_tensor_map_put(bad, "nodata", v));
    CHECK_ERR(kiln_safetensors_save(path, bad), "no data");
    CHECK(access(path, F_OK) != 0);
    kiln_tensor_map_free(bad);
    bad = kiln_tensor_map_new();
    float x = 1;
    CHECK_OK(kiln_tensor_map_put(bad, "__metadata__", kiln_tensor_view(KILN_F32, 1, &one, &x)));
    CHECK_ERR(kiln_safetensors_save(path, bad), "__metadata__");
    kiln_tensor_map_free(bad);
    bad = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(bad, "\xFF", kiln_tensor_view(KILN_F32, 1, &one, &x)));
    CHECK_ERR(kiln_safetensors_save(path, bad), "not valid UTF-8");
    kiln_tensor_map_free(bad);
    CHECK_ERR(kiln_safetensors_save("/nonexistent/dir/x.safetensors", m), "/nonexistent/dir/x.safetensors");
    kiln_tensor_map_free(m);
}

static void test_gpt2_fixture(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/hf/gpt2-tiny/model.safetensors", test_shared_dir());
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skipping gpt2-tiny: %s not found\n", path);
        return;
    }
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_safetensors_load(path, &m));
    if (!m) return;
    /* Reference from Python's safetensors 0.8.0:
     *   with safe_open(path, "np") as f:
     *     len(f.keys())                                    -> 28
     *     w = f.get_tensor("transformer.h.0.attn.c_attn.weight")
     *     w.dtype, w.shape, hex(w[1:2,2:3].view(np.uint32)[0,0])
     *                                        -> float32 (32, 96) 0xbd59d135
     *     e = f.get_tensor("transformer.wte.weight")
     *     e.shape, hex(e[1000:1001,31:32].view(np.uint32)[0,0])
     *                                        -> (50257, 32) 0xbc477073 */
    CHECK(kiln_tensor_map_count(m) == 28);
    const kiln_tensor *w = kiln_tensor_map_get(m, "transformer.h.0.attn.c_attn.weight");
    CHECK(w && w->dtype == KILN_F32 && w->rank == 2 && w->shape[0] == 32 && w->shape[1] == 96);
    uint32_t bits = 0;
    if (w) memcpy(&bits, (const float *)w->data + 1 * 96 + 2, 4);
    CHECK(bits == 0xbd59d135u);
    const kiln_tensor *e = kiln_tensor_map_get(m, "transformer.wte.weight");
    CHECK(e && e->rank == 2 && e->shape[0] == 50257 && e->shape[1] == 32 && !e->owns_data);
    if (e) memcpy(&bits, (const float *)e->data + 1000 * 32 + 31, 4);
    CHECK(bits == 0xbc477073u);
    /* Views, in the order of their data: offsets must increase. */
    for (int i = 1; i < kiln_tensor_map_count(m); i++)
        CHECK((const char *)kiln_tensor_map_at(m, i)->data > (const char *)kiln_tensor_map_at(m, i - 1)->data);
    kiln_tensor_map_free(m);
}

static void test_valid_edge_cases(void) {
    /* Header order b, a but data order a, b: the map follows the data.
     * A gap (bytes 4..8), an extra unknown field, metadata, two empty
     * tensors at the same offset and trailing header spaces are all fine. */
    char hdr[512] = "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10],\"extra\":[1]},"
                      "\"__metadata__\":{\"format\":\"pt\",\"x\":\"\"},"
                      "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      "\"z1\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[4,4]},"
                      "\"z2\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[4,4]}}";
    while ((8 + strlen(hdr)) % 8) strcat(hdr, " ");
    bytes b = make_file(hdr, -1, 10);
    /* An aligned buffer, so that nothing needs copying. */
    size_t hl = strlen(hdr);
    unsigned char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 16, b.len) == 0);
    memcpy(buf, b.p, b.len);
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_safetensors_load_memory(buf, b.len, "edge", &m));
    if (m) {
        CHECK(kiln_tensor_map_count(m) == 4);
        CHECK(strcmp(kiln_tensor_map_name(m, 0), "a") == 0);
        CHECK(strcmp(kiln_tensor_map_name(m, 1), "z1") == 0); /* ties keep header order */
        CHECK(strcmp(kiln_tensor_map_name(m, 2), "z2") == 0);
        CHECK(strcmp(kiln_tensor_map_name(m, 3), "b") == 0);
        const kiln_tensor *a = kiln_tensor_map_get(m, "a");
        /* data bytes are 0,1,2,3 -> little-endian int32 0x03020100 */
        CHECK(a->rank == 0 && *(const int32_t *)a->data == 0x03020100);
        const kiln_tensor *bb = kiln_tensor_map_get(m, "b");
        CHECK(bb->nbytes == 2 && ((const uint8_t *)bb->data)[1] == 9);
        CHECK(bb->data == buf + 8 + hl + 8 && !bb->owns_data); /* a view into the buffer */
        CHECK(kiln_tensor_map_get(m, "z1")->nbytes == 0);
        CHECK(kiln_tensor_map_get(m, "__metadata__") == NULL);
        CHECK(strcmp(kiln_tensor_map_origin(m), "edge") == 0);
    }
    kiln_tensor_map_free(m);
    free(buf);
    free(b.p);

    /* An empty header object is an empty map. */
    b = make_file("{}      ", -1, 0);
    CHECK_OK(kiln_safetensors_load_memory(b.p, b.len, "empty", &m));
    if (m) CHECK(kiln_tensor_map_count(m) == 0);
    kiln_tensor_map_free(m);
    free(b.p);
}

/* A header whose length puts the data at file offset 8k + 6, so "f"
 * (3 bytes in) sits at 8k + 9: misaligned for F32 in the page-aligned
 * mapping, so it must come back as an owned aligned copy of the same bytes. */
static void test_unaligned(void) {
    const char *hdr = "{\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                      "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}";
    char padded[256];
    snprintf(padded, sizeof padded, "%s", hdr);
    while ((8 + strlen(padded)) % 8 != 6) strcat(padded, " ");
    bytes b = make_file(padded, -1, 11);
    float want[2];
    memcpy(want, b.p + 8 + strlen(padded) + 3, 8); /* the same bytes, read safely */
    const char *path = tmp_path("unaligned.safetensors");
    write_bytes(path, b);
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_safetensors_load(path, &m));
    if (m) {
        const kiln_tensor *f = kiln_tensor_map_get(m, "f");
        CHECK(f && f->owns_data && (uintptr_t)f->data % 4 == 0);
        if (f) CHECK(memcmp(f->data, want, 8) == 0);
        const kiln_tensor *u = kiln_tensor_map_get(m, "u");
        CHECK(u && !u->owns_data); /* bytes need no alignment: still a view */
    }
    kiln_tensor_map_free(m);
    remove(path);
    free(b.p);

    /* An empty tensor with absurd (but not overflowing) dims, misaligned:
     * nothing to copy, so it loads with an aligned dummy pointer. */
    snprintf(padded, sizeof padded, "%s",
             "{\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"e\":{\"dtype\":\"F64\",\"shape\":[144115188075855872,0],\"data_offsets\":[1,1]}}");
    while ((8 + strlen(padded)) % 8) strcat(padded, " ");
    b = make_file(padded, -1, 1);
    write_bytes(path, b);
    CHECK_OK(kiln_safetensors_load(path, &m));
    if (m) {
        const kiln_tensor *e = kiln_tensor_map_get(m, "e");
        CHECK(e && e->nbytes == 0 && e->shape[0] == 144115188075855872ll && (uintptr_t)e->data % 8 == 0);
    }
    kiln_tensor_map_free(m);
    remove(path);
    free(b.p);
}

static void test_malformed(void) {
    /* Sizes and the header length. */
    bytes b = make_file("", 0, 0);
    kiln_tensor_map *m = NULL;
    CHECK_ERR(kiln_safetensors_load_memory(b.p, 7, "short", &m), "short: file is 7 bytes, too short");
    CHECK_ERR(kiln_safetensors_load_memory(b.p, 0, "short", &m), "file is 0 bytes");
    write_bytes(tmp_path("tiny.safetensors"), (bytes){b.p, 5});
    CHECK_ERR(kiln_safetensors_load(tmp_path("tiny.safetensors"), &m), "tiny.safetensors: file is 5 bytes");
    free(b.p);
    CHECK_ERR(kiln_safetensors_load(tmp_path("missing.safetensors"), &m), "cannot open");
    CHECK_ERR(kiln_safetensors_load(tmpdir, &m), "not a regular file");

    const char *ok_entry = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    rejects(ok_entry, 1000, 8, "header length 1000 is larger than the", NULL, __LINE__);
    rejects(ok_entry, 1ll << 40, 8, "exceeds the limit of 100000000 bytes", NULL, __LINE__);
    rejects(ok_entry, (long long)strlen(ok_entry) - 3, 8, "header:1:", NULL, __LINE__); /* truncated JSON */
    REJECTS("", 0, "header:1:1: expected a value but found end of input", NULL);
    REJECTS("{bad", 0, "header:1:2: expected '\"' or '}'", NULL);
    REJECTS("{} x", 0, "header:1:4: expected end of input", NULL);
    REJECTS("[1]", 0, "header is an array, expected a JSON object", NULL);

    /* Entries of the wrong JSON type and missing fields. */
    REJECTS("{\"w\":3}", 0, "entry is 3, expected an object", "w");
    REJECTS("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\"", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\"", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing \"data_offsets\"", "w");
    REJECTS("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is 5, expected a string", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "\"shape\" is 3, expected an array",
            "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, "\"data_offsets\" is an object", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "\"data_offsets\" has 1 elements, expected two", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4,
            "data_offsets[0] is a string, expected a non-negative integer", "w");

    /* Dtypes. */
    REJECTS("{\"w8\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
            "dtype \"F8_E4M3\" is not supported", "w8");
    REJECTS("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype \"f32\" is not supported", "w");
    b = make_file("{\"w\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", -1, 8);
    kiln_status s = kiln_safetensors_load_memory(b.p, b.len, "c", &m);
    CHECK(kiln_status_code(s) == KILN_ERR_UNSUPPORTED);
    kiln_status_free(s);
    free(b.p);

    /* Shapes. */
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
            "shape[0] is -1, expected a non-negative integer", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]}}", 8,
            "shape[1] is 2.0, expected a non-negative integer", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}", 4, "shape[0] is a null", "w");
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
            "rank 9 exceeds the maximum of 8", "w");
    /* 2^32 * 2^32 elements overflow 64 bits; 2^61 F32 elements are 2^63 bytes. */
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
            "is too large (its byte size overflows", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", 4, "is too large",
            "w");
    /* Even with a zero dim, absurd dims are refused (later products would overflow). */
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0,
            "is too large", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
            "shape[0] is 1e+20", "w");

    /* Offsets. */
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4.5]}}", 8, "data_offsets[1] is 4.5", "w");
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[-4,0]}}", 8, "data_offsets[0] is -4", "w");
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 8,
            "data_offsets[1] is 1.8446744073709552e+19", "w");
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 8, "[4, 2] end before they begin", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
            "data_offsets end 12 is past the end of the data (8 bytes)", "w");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12,
            "data_offsets [0, 8] span 8 bytes but F32[3] needs 12", "w");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12, "bytes [4, 12) overlap tensor \"a\" at [0, 8)", "b");
    /* A small tensor inside a large one, listed first in the header. */
    REJECTS("{\"small\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[5,6]},"
            "\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]}}",
            16, "overlap tensor \"big\"", "small");

    /* Metadata and names. */
    REJECTS("{\"__metadata__\":[]}", 0, "__metadata__ is an array, expected an object of strings", NULL);
    REJECTS("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ \"k\" is 1, expected a string", NULL);
    REJECTS("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "contains a NUL character",
            "a");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_test_st_%d", (int)getpid());
    if (mkdir(tmpdir, 0700) != 0) {
        perror(tmpdir);
        return 1;
    }
    test_round_trip();
    test_gpt2_fixture();
    test_valid_edge_cases();
    test_unaligned();
    test_malformed();
    remove(tmp_path("bad.safetensors"));
    remove(tmp_path("tiny.safetensors"));
    rmdir(tmpdir);
    return test_finish("test_safetensors");
}
