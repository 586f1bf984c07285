/* GGUF reader and writer: a file written by gguf-py (every value type,
 * nested arrays), files built byte by byte with known layouts, writer round
 * trips, and malformed files (every truncation, lying counts and lengths,
 * bad alignment, bad tensors, random corruption) that must fail cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/gguf.h"

/* ---- a byte builder for hand-made files ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u8(buf *b, uint8_t v) { put(b, &v, 1); }
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(buf *b, const char *key, uint32_t v) {
    str(b, key);
    u32(b, KILN_GGUF_UINT32);
    u32(b, v);
}
static void tinfo(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    str(b, name);
    u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) u64(b, ne[i]);
    u32(b, type);
    u64(b, offset);
}
static void pad_to(buf *b, size_t align) {
    while (b->n % align) u8(b, 0);
}
static void zeros(buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) u8(b, 0);
}

/* Opens exactly b's bytes from a heap copy of that size, so a reader that
 * looks one byte too far trips AddressSanitizer. */
static kiln_status open_copy(const uint8_t *p, size_t n, kiln_gguf **g, void **copy) {
    *copy = malloc(n ? n : 1);
    if (n) memcpy(*copy, p, n);
    return kiln_gguf_open_memory(*copy, n, "test.gguf", g);
}

static void expect_bad(buf *b, const char *needle, int line) {
    kiln_gguf *g = NULL;
    void *copy;
    kiln_status s = open_copy(b->p, b->n, &g, &copy);
    if (!s) {
        fprintf(stderr, "line %d: malformed file was accepted (expected \"%s\")\n", line, needle);
        test_failures++;
        kiln_gguf_close(g);
    } else {
        if (!strstr(kiln_status_message(s), needle) || !strstr(kiln_status_message(s), "test.gguf")) {
            fprintf(stderr, "line %d: error \"%s\" does not mention \"%s\" and the file\n", line,
                    kiln_status_message(s), needle);
            test_failures++;
        }
        kiln_status_free(s);
    }
    free(copy);
    free(b->p);
    memset(b, 0, sizeof *b);
}
#define EXPECT_BAD(b, needle) expect_bad((b), (needle), __LINE__)

static int64_t geti(const kiln_gguf *g, const char *key) {
    int64_t v = 0;
    CHECK_OK(kiln_gguf_get_int(g, key, &v));
    return v;
}

static uint32_t rd32(const void *p, size_t i) {
    uint32_t v;
    memcpy(&v, (const uint8_t *)p + 4 * i, 4);
    return v;
}

/* ---- a file written by gguf-py (tests/tools/gguf_sample.py) ---- */

static void test_gguf_py_sample(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/gguf/sample.gguf", src ? src : ".");
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open(path, &g));
    if (!g) return;
    CHECK(kiln_gguf_version(g) == 3);
    CHECK(kiln_gguf_alignment(g) == 32);
    CHECK(kiln_gguf_kv_count(g) == 19); /* general.architecture + 18 keys in the script */
    CHECK(strcmp(kiln_gguf_kv_key(g, 0), "general.architecture") == 0);
    CHECK(geti(g, "t.u8") == 200);
    CHECK(geti(g, "t.i8") == -100);
    CHECK(geti(g, "t.u16") == 60000);
    CHECK(geti(g, "t.i16") == -30000);
    CHECK(geti(g, "t.u32") == 4000000000ll);
    CHECK(geti(g, "t.i32") == -2000000000ll);
    CHECK(geti(g, "t.i64") == -9000000000000000000ll);
    int64_t iv;
    CHECK_ERR(kiln_gguf_get_int(g, "t.u64", &iv), "too large");
    CHECK(kiln_gguf_find(g, "t.u64")->v.u == 18000000000000000000ull);
    double f;
    CHECK_OK(kiln_gguf_get_float(g, "t.f32", &f));
    CHECK(f == 0.15625);
    CHECK_OK(kiln_gguf_get_float(g, "t.f64", &f));
    CHECK(f == -2.5e300);
    CHECK_OK(kiln_gguf_get_float(g, "t.u16", &f)); /* integers are numbers too */
    CHECK(f == 60000.0);
    int bv = 0;
    CHECK_OK(kiln_gguf_get_bool(g, "t.bool", &bv));
    CHECK(bv == 1);
    kiln_gguf_string s;
    CHECK_OK(kiln_gguf_get_string(g, "t.str", &s));
    CHECK(s.len == 6 && memcmp(s.str, "h\xc3\xa9llo", 7) == 0);
    CHECK_OK(kiln_gguf_get_string(g, "general.architecture", &s));
    CHECK(strcmp(s.str, "sample") == 0);

    const kiln_gguf_string *strs;
    uint64_t n = 0;
    CHECK_OK(kiln_gguf_get_strings(g, "t.strs", &strs, &n));
    CHECK(n == 3 && strcmp(strs[0].str, "a") == 0 && strs[1].len == 0 && strcmp(strs[2].str, "xyz") == 0);
    float *fl = NULL;
    CHECK_OK(kiln_gguf_get_floats(g, "t.floats", &fl, &n));
    CHECK(n == 3 && fl && fl[0] == 1.5f && fl[1] == -2.0f && fl[2] == 0.25f);
    free(fl);
    int64_t *in = NULL;
    CHECK_OK(kiln_gguf_get_ints(g, "t.ints", &in, &n));
    CHECK(n == 3 && in && in[0] == 3 && in[1] == -4 && in[2] == 5);
    free(in);
    CHECK_OK(kiln_gguf_get_ints(g, "t.u8s", &in, &n));
    CHECK(n == 3 && in && in[2] == 255);
    free(in);
    CHECK_OK(kiln_gguf_get_floats(g, "t.ints", &fl, &n));
    CHECK(n == 3 && fl && fl[1] == -4.0f);
    free(fl);
    CHECK_ERR(kiln_gguf_get_ints(g, "t.floats", &in, &n), "array of float32, expected an array of integers");
    CHECK_ERR(kiln_gguf_get_strings(g, "t.ints", &strs, &n), "expected an array of strings");
    CHECK_ERR(kiln_gguf_get_string(g, "t.u8", &s), "is uint8, expected string");
    CHECK_ERR(kiln_gguf_get_bool(g, "t.str", &bv), "t.str");
    CHECK_ERR(kiln_gguf_get_int(g, "t.f32", &iv), "expected an integer");
    CHECK_ERR(kiln_gguf_get_int(g, "no.such.key", &iv), "no key 'no.such.key'");
    CHECK_ERR(kiln_gguf_get_floats(g, "t.nested", &fl, &n), "array of array");

    /* [[1, 2], [3], [[4.5], [5.5, 6.5]]] */
    const kiln_gguf_value *v = kiln_gguf_find(g, "t.nested");
    CHECK(v && v->type == KILN_GGUF_ARRAY && v->elem_type == KILN_GGUF_ARRAY && v->count == 3);
    if (v && v->count == 3) {
        const kiln_gguf_value *a = &v->v.items[0], *c = &v->v.items[2];
        CHECK(a->elem_type == KILN_GGUF_INT32 && a->count == 2 && rd32(a->v.raw, 1) == 2);
        CHECK(v->v.items[1].count == 1 && rd32(v->v.items[1].v.raw, 0) == 3);
        CHECK(c->elem_type == KILN_GGUF_ARRAY && c->count == 2);
        if (c->count == 2) {
            const kiln_gguf_value *d = &c->v.items[1];
            float x;
            memcpy(&x, (const uint8_t *)d->v.raw + 4, 4);
            CHECK(d->elem_type == KILN_GGUF_FLOAT32 && d->count == 2 && x == 6.5f);
        }
    }
    v = kiln_gguf_find(g, "t.nested_strs");
    CHECK(v && v->count == 2 && v->v.items[1].elem_type == KILN_GGUF_STRING &&
          strcmp(v->v.items[1].v.strs[0].str, "bc") == 0);

    /* Tensors: gguf-py's reader reports data at 864, 896 and 928. */
    CHECK(kiln_gguf_tensor_count(g) == 3);
    CHECK(kiln_gguf_data_offset(g) == 864);
    const kiln_gguf_tensor *t = kiln_gguf_tensor_find(g, "w2x3");
    CHECK(t && t->ggml_type == KILN_GGML_F32 && t->n_dims == 2 && t->ne[0] == 3 && t->ne[1] == 2);
    CHECK(t && t->shape[0] == 2 && t->shape[1] == 3 && t->file_offset == 864 && t->nbytes == 24);
    if (t) {
        float x[6];
        memcpy(x, t->data, sizeof x);
        CHECK(x[0] == 0 && x[4] == 4 && x[5] == 5); /* np.arange(6) row-major */
    }
    t = kiln_gguf_tensor_find(g, "h4");
    CHECK(t && t->ggml_type == KILN_GGML_F16 && t->file_offset == 896 && t->numel == 4);
    if (t) {
        uint16_t h[4];
        memcpy(h, t->data, sizeof h);
        CHECK(kiln_f16_to_f32(h[1]) == -2.0f && kiln_f16_to_f32(h[3]) == 65504.0f);
    }
    t = kiln_gguf_tensor_find(g, "b3x1x2");
    CHECK(t && t->ggml_type == KILN_GGML_I32 && t->n_dims == 3 && t->shape[0] == 3 && t->shape[1] == 1 &&
          t->shape[2] == 2 && t->ne[0] == 2 && t->file_offset == 928);
    CHECK(kiln_gguf_tensor_find(g, "nope") == NULL);
    kiln_gguf_close(g);
}

/* ---- a file laid out by hand ---- */

static void test_hand_layout(void) {
    /* header 24 + key/value (8 + 1 + 4 + 4 = 17) = 41; tensor info
     * (8 + 1 + 4 + 8 + 4 + 8 = 33) = 74; data section at 96 (32-aligned). */
    for (uint32_t version = 2; version <= 3; version++) {
        buf b = {0};
        header(&b, version, 1, 1);
        kv_u32(&b, "a", 7);
        uint64_t ne[1] = {4};
        tinfo(&b, "t", 1, ne, KILN_GGML_F32, 0);
        CHECK(b.n == 74);
        pad_to(&b, 32);
        float data[4] = {1, 2, 3, 4};
        put(&b, data, sizeof data);
        kiln_gguf *g = NULL;
        void *copy;
        CHECK_OK(open_copy(b.p, b.n, &g, &copy));
        if (g) {
            CHECK(kiln_gguf_version(g) == version);
            CHECK(kiln_gguf_data_offset(g) == 96);
            const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, 0);
            CHECK(t->file_offset == 96 && t->info_offset == 41 && t->nbytes == 16);
            CHECK(kiln_gguf_find(g, "a")->offset == 37); /* value after key (8 + 1) and type (4) */
            kiln_gguf_close(g);
        }
        free(copy);
        free(b.p);
    }
    /* No tensors: the file may end right after the metadata. */
    buf b = {0};
    header(&b, 3, 0, 1);
    kv_u32(&b, "a", 7);
    kiln_gguf *g = NULL;
    void *copy;
    CHECK_OK(open_copy(b.p, b.n, &g, &copy));
    kiln_gguf_close(g);
    free(copy);
    free(b.p);
}

/* ---- writer ---- */

static const float wf32[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

/* Builds the writer test file: alignment 64, one value of each kind, an
 * array of arrays, and f32 / f16 / q8_0 / empty tensors. */
static kiln_gguf_writer *make_writer(uint16_t *f16, uint8_t *q8) {
    kiln_gguf_writer *w = NULL;
    CHECK_OK(kiln_gguf_writer_new(&w));
    if (!w) return NULL;
    CHECK_OK(kiln_gguf_writer_add_string(w, "general.architecture", "kiln-test"));
    CHECK_OK(kiln_gguf_writer_set_alignment(w, 64));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "w.u32", 123456789));
    CHECK_OK(kiln_gguf_writer_add_int32(w, "w.i32", -5));
    CHECK_OK(kiln_gguf_writer_add_uint64(w, "w.u64", 1ull << 40));
    CHECK_OK(kiln_gguf_writer_add_float32(w, "w.f32", 1e-5f));
    CHECK_OK(kiln_gguf_writer_add_bool(w, "w.bool", 0));
    const char *toks[3] = {"<s>", "h\xc3\xa9", ""};
    CHECK_OK(kiln_gguf_writer_add_string_array(w, "w.strs", toks, 3));
    const float fs[3] = {0.5f, -1.0f, 2.0f};
    CHECK_OK(kiln_gguf_writer_add_array(w, "w.floats", KILN_GGUF_FLOAT32, fs, 3));
    const int8_t i8s[2] = {-1, 127};
    CHECK_OK(kiln_gguf_writer_add_array(w, "w.i8s", KILN_GGUF_INT8, i8s, 2));
    CHECK_OK(kiln_gguf_writer_add_array(w, "w.empty", KILN_GGUF_UINT32, NULL, 0));
    const uint16_t u16s[2] = {1, 65535};
    kiln_gguf_value inner[2] = {
        {.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_UINT16, .count = 2, .v.raw = u16s},
        {.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_STRING, .count = 3, .v.strs = NULL},
    };
    kiln_gguf_string ss[3] = {{"x", 1}, {"yz", 2}, {"", 0}};
    inner[1].v.strs = ss;
    kiln_gguf_value nested = {.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_ARRAY, .count = 2, .v.items = inner};
    CHECK_OK(kiln_gguf_writer_add_value(w, "w.nested", &nested));

    int64_t s35[2] = {3, 5}, s7[1] = {7}, s264[2] = {2, 64}, s04[2] = {0, 4};
    CHECK_OK(kiln_gguf_writer_add_tensor(w, "a.f32", KILN_GGML_F32, 2, s35, wf32, sizeof wf32));
    for (int i = 0; i < 7; i++) f16[i] = kiln_f32_to_f16((float)i - 3.0f);
    CHECK_OK(kiln_gguf_writer_add_tensor(w, "b.f16", KILN_GGML_F16, 1, s7, f16, 14));
    CHECK_OK(kiln_gguf_writer_add_tensor(w, "d.empty", KILN_GGML_F32, 2, s04, NULL, 0));
    float x[128];
    for (int i = 0; i < 128; i++) x[i] = (float)(i % 17) - 8.0f;
    CHECK_OK(kiln_quantize(KILN_GGML_Q8_0, x, 128, q8, 4 * 34));
    CHECK_OK(kiln_gguf_writer_add_tensor(w, "c.q8", KILN_GGML_Q8_0, 2, s264, q8, 4 * 34));
    return w;
}

static void check_written(const kiln_gguf *g, const uint16_t *f16, const uint8_t *q8) {
    CHECK(kiln_gguf_version(g) == 3);
    CHECK(kiln_gguf_alignment(g) == 64);
    CHECK(kiln_gguf_data_offset(g) % 64 == 0);
    CHECK(geti(g, "w.u32") == 123456789);
    CHECK(geti(g, "w.i32") == -5);
    CHECK(geti(g, "w.u64") == (1ll << 40));
    double f = 0;
    CHECK_OK(kiln_gguf_get_float(g, "w.f32", &f));
    CHECK((float)f == 1e-5f);
    int b = 1;
    CHECK_OK(kiln_gguf_get_bool(g, "w.bool", &b));
    CHECK(b == 0);
    const kiln_gguf_string *strs;
    uint64_t n;
    CHECK_OK(kiln_gguf_get_strings(g, "w.strs", &strs, &n));
    CHECK(n == 3 && strcmp(strs[1].str, "h\xc3\xa9") == 0 && strs[2].len == 0);
    int64_t *ints = NULL;
    CHECK_OK(kiln_gguf_get_ints(g, "w.i8s", &ints, &n));
    CHECK(n == 2 && ints && ints[0] == -1 && ints[1] == 127);
    free(ints);
    CHECK_OK(kiln_gguf_get_ints(g, "w.empty", &ints, &n));
    CHECK(n == 0);
    free(ints);
    const kiln_gguf_value *v = kiln_gguf_find(g, "w.nested");
    CHECK(v && v->count == 2 && v->v.items[0].count == 2 && v->v.items[1].count == 3);
    if (v && v->count == 2) {
        uint16_t u;
        memcpy(&u, (const uint8_t *)v->v.items[0].v.raw + 2, 2);
        CHECK(u == 65535);
        CHECK(strcmp(v->v.items[1].v.strs[1].str, "yz") == 0);
    }
    CHECK(kiln_gguf_tensor_count(g) == 4);
    for (int i = 0; i < kiln_gguf_tensor_count(g); i++) CHECK(kiln_gguf_tensor_at(g, i)->file_offset % 64 == 0);
    const kiln_gguf_tensor *t = kiln_gguf_tensor_find(g, "a.f32");
    CHECK(t && t->shape[0] == 3 && t->shape[1] == 5 && t->ne[0] == 5 && memcmp(t->data, wf32, sizeof wf32) == 0);
    t = kiln_gguf_tensor_find(g, "b.f16");
    CHECK(t && t->nbytes == 14 && memcmp(t->data, f16, 14) == 0);
    t = kiln_gguf_tensor_find(g, "c.q8");
    CHECK(t && t->ggml_type == KILN_GGML_Q8_0 && t->numel == 128 && t->nbytes == 136 &&
          memcmp(t->data, q8, 136) == 0);
    t = kiln_gguf_tensor_find(g, "d.empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0);
}

static void test_writer_roundtrip(void) {
    uint16_t f16[7];
    uint8_t q8[4 * 34];
    kiln_gguf_writer *w = make_writer(f16, q8);
    if (!w) return;
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(kiln_gguf_writer_write_memory(w, &mem, &size));
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open_memory(mem, size, "written.gguf", &g));
    if (g) check_written(g, f16, q8);

    /* Through a real file too (the mmap path); the build directory copy
     * is what tests/tools/gguf_check_writer.py reads with gguf-py. */
    const char *bdir = getenv("KILN_BUILD_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/gguf_writer_sample.gguf", bdir ? bdir : ".");
    CHECK_OK(kiln_gguf_writer_write(w, path));
    kiln_gguf *g2 = NULL;
    CHECK_OK(kiln_gguf_open(path, &g2));
    if (g2) {
        check_written(g2, f16, q8);
        CHECK(kiln_gguf_file_size(g2) == size);
        kiln_gguf_close(g2);
    }

    /* Copying every key/value of a file into a new writer reproduces the
     * metadata bytes exactly. */
    if (g) {
        kiln_gguf_writer *w2 = NULL;
        CHECK_OK(kiln_gguf_writer_new(&w2));
        for (int i = 0; i < kiln_gguf_kv_count(g); i++)
            CHECK_OK(kiln_gguf_writer_add_value(w2, kiln_gguf_kv_key(g, i), kiln_gguf_kv_value(g, i)));
        void *mem2 = NULL;
        size_t size2 = 0;
        CHECK_OK(kiln_gguf_writer_write_memory(w2, &mem2, &size2));
        /* Same header except the tensor count, same key/values. */
        uint64_t kv_end = kiln_gguf_tensor_at(g, 0)->info_offset;
        CHECK(size2 >= kv_end && memcmp((char *)mem2 + 16, (char *)mem + 16, kv_end - 16) == 0);
        free(mem2);
        kiln_gguf_writer_free(w2);
    }
    kiln_gguf_close(g);
    free(mem);
    kiln_gguf_writer_free(w);
}

static void test_writer_errors(void) {
    kiln_gguf_writer *w = NULL;
    CHECK_OK(kiln_gguf_writer_new(&w));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "k", 1));
    CHECK_ERR(kiln_gguf_writer_add_string(w, "k", "again"), "duplicate key 'k'");
    CHECK_ERR(kiln_gguf_writer_set_alignment(w, 48), "not a power of two");
    CHECK_ERR(kiln_gguf_writer_add_float32(w, "general.alignment", 32.0f), "must be uint32");
    CHECK_ERR(kiln_gguf_writer_add_uint32(w, "", 1), "empty key");
    kiln_gguf_value deep[KILN_GGUF_MAX_ARRAY_DEPTH + 1];
    for (int i = 0; i <= KILN_GGUF_MAX_ARRAY_DEPTH; i++)
        deep[i] = (kiln_gguf_value){.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_ARRAY, .count = 1,
                                    .v.items = i < KILN_GGUF_MAX_ARRAY_DEPTH ? &deep[i + 1] : NULL};
    deep[KILN_GGUF_MAX_ARRAY_DEPTH].count = 0;
    CHECK_ERR(kiln_gguf_writer_add_value(w, "deep", &deep[0]), "cannot encode");
    float x[64] = {0};
    int64_t s33[1] = {33}, s2x2[2] = {2, 2}, s5[5] = {1, 1, 1, 1, 1};
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "q", KILN_GGML_Q8_0, 1, s33, x, 34), "not whole q8_0 blocks");
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "f", KILN_GGML_F32, 2, s2x2, x, 12), "is 16 bytes, got 12");
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "r", KILN_GGML_F32, 5, s5, x, 4), "rank 5");
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "u", 77, 2, s2x2, x, 16), "unknown ggml type 77");
    int64_t s_big0[3] = {1ll << 40, 1ll << 40, 0};
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "z", KILN_GGML_F32, 3, s_big0, NULL, 0), "bad dimension");
    CHECK_OK(kiln_gguf_writer_add_tensor(w, "f", KILN_GGML_F32, 2, s2x2, x, 16));
    CHECK_ERR(kiln_gguf_writer_add_tensor(w, "f", KILN_GGML_F32, 2, s2x2, x, 16), "duplicate tensor 'f'");
    CHECK_ERR(kiln_gguf_writer_write(w, "/nonexistent-dir/x.gguf"), "/nonexistent-dir/x.gguf");
    /* The failed add_value left nothing behind: the file still parses. */
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(kiln_gguf_writer_write_memory(w, &mem, &size));
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open_memory(mem, size, "w.gguf", &g));
    CHECK(g && kiln_gguf_kv_count(g) == 1 && kiln_gguf_tensor_count(g) == 1);
    kiln_gguf_close(g);
    free(mem);
    kiln_gguf_writer_free(w);
}

/* ---- malformed files ---- */

static void test_truncations(void) {
    uint16_t f16[7];
    uint8_t q8[4 * 34];
    kiln_gguf_writer *w = make_writer(f16, q8);
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(kiln_gguf_writer_write_memory(w, &mem, &size));
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open_memory(mem, size, "full.gguf", &g));
    if (!g) return;
    /* The file is valid as long as the last tensor's bytes are there
     * (an empty tensor's offset must still lie inside the data section);
     * only the padding after it may go. */
    uint64_t end = 0;
    for (int i = 0; i < kiln_gguf_tensor_count(g); i++) {
        const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, i);
        if (t->file_offset + t->nbytes > end) end = t->file_offset + t->nbytes;
    }
    kiln_gguf_close(g);
    int wrong = 0;
    for (size_t k = 0; k < size; k++) {
        void *copy;
        kiln_status s = open_copy(mem, k, &g, &copy);
        int ok = s == NULL;
        if (ok != (k >= end)) {
            fprintf(stderr, "truncated at %zu of %zu (data ends at %llu): %s\n", k, size, (unsigned long long)end,
                    s ? kiln_status_message(s) : "accepted");
            wrong++;
        }
        if (s && !strstr(kiln_status_message(s), "offset") && k >= 4) {
            fprintf(stderr, "truncated at %zu: error without an offset: %s\n", k, kiln_status_message(s));
            wrong++;
        }
        kiln_status_free(s);
        kiln_gguf_close(g);
        g = NULL;
        free(copy);
    }
    CHECK(wrong == 0);
    CHECK(end < size); /* the last tensor is padded, so some truncations are harmless */
    free(mem);
    kiln_gguf_writer_free(w);
}

static void test_malformed(void) {
    buf b = {0};
    uint64_t ne1[1] = {8};

    put(&b, "GGUX", 4), u32(&b, 3), u64(&b, 0), u64(&b, 0);
    EXPECT_BAD(&b, "not a GGUF file");
    header(&b, 1, 0, 0);
    EXPECT_BAD(&b, "version 1 is not supported");
    header(&b, 0x03000000, 0, 0); /* version 3 written big-endian */
    EXPECT_BAD(&b, "big-endian");
    header(&b, 7, 0, 0);
    EXPECT_BAD(&b, "unknown GGUF version 7");
    put(&b, "GGUF", 4), u32(&b, 3), u32(&b, 0);
    EXPECT_BAD(&b, "offset 8: tensor count needs 8 bytes");

    /* Counts that the file cannot possibly hold are refused before any
     * allocation. */
    header(&b, 3, 0, 1ull << 40);
    kv_u32(&b, "a", 1);
    EXPECT_BAD(&b, "key/value count 1099511627776 cannot fit");
    header(&b, 3, 1ull << 40, 1);
    kv_u32(&b, "a", 1);
    EXPECT_BAD(&b, "tensor count 1099511627776 cannot fit");
    header(&b, 3, 0, 2); /* two key/values take at least 26 bytes, 17 are there */
    kv_u32(&b, "a", 1);
    EXPECT_BAD(&b, "offset 16: key/value count 2 cannot fit in a 41-byte file");
    header(&b, 3, 0, 2); /* the second value is cut short (it starts at 41 + 13) */
    kv_u32(&b, "a", 1);
    str(&b, "x"), u32(&b, KILN_GGUF_UINT32);
    EXPECT_BAD(&b, "offset 54: key 'x': uint32 needs 4 bytes but the file ends after 0");

    /* Lying lengths. The key length field is at offset 24. */
    header(&b, 3, 0, 1);
    u64(&b, 1ull << 63), put(&b, "abc", 3), zeros(&b, 20);
    EXPECT_BAD(&b, "offset 24: key/value 0: key length 9223372036854775808 runs past the end");
    header(&b, 3, 0, 1);
    str(&b, "s"), u32(&b, KILN_GGUF_STRING), u64(&b, 100), put(&b, "short", 5);
    EXPECT_BAD(&b, "offset 37: key 's': string value length 100 runs past the end of the file (5 bytes left)");
    header(&b, 3, 0, 1);
    str(&b, "arr"), u32(&b, KILN_GGUF_ARRAY), u32(&b, KILN_GGUF_UINT32), u64(&b, 1ull << 61), u32(&b, 5);
    EXPECT_BAD(&b, "key 'arr': array of 2305843009213693952 uint32 elements cannot fit");
    header(&b, 3, 0, 1);
    str(&b, "arr"), u32(&b, KILN_GGUF_ARRAY), u32(&b, KILN_GGUF_STRING), u64(&b, 3), str(&b, "x");
    EXPECT_BAD(&b, "array of 3 string elements cannot fit");
    header(&b, 3, 0, 1);
    str(&b, "arr"), u32(&b, KILN_GGUF_ARRAY), u32(&b, KILN_GGUF_STRING), u64(&b, 2), str(&b, "x"),
        u64(&b, 5), put(&b, "ab", 2);
    EXPECT_BAD(&b, "array string length 5 runs past");

    /* Unknown types, bad bools, deep nesting, bad keys. */
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, 13), u32(&b, 0);
    EXPECT_BAD(&b, "offset 33: key 'k': unknown value type 13");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, KILN_GGUF_ARRAY), u32(&b, 99), u64(&b, 0);
    EXPECT_BAD(&b, "unknown array element type 99");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, KILN_GGUF_BOOL), u8(&b, 2);
    EXPECT_BAD(&b, "bool value is 2");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, KILN_GGUF_ARRAY), u32(&b, KILN_GGUF_BOOL), u64(&b, 2), u8(&b, 1), u8(&b, 9);
    EXPECT_BAD(&b, "bool array element 1 is 9");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, KILN_GGUF_ARRAY);
    for (int i = 0; i < 20; i++) u32(&b, KILN_GGUF_ARRAY), u64(&b, 1);
    EXPECT_BAD(&b, "nested deeper than 8");
    header(&b, 3, 0, 2);
    kv_u32(&b, "dup", 1), kv_u32(&b, "dup", 2);
    EXPECT_BAD(&b, "duplicate key 'dup'");
    header(&b, 3, 0, 1);
    kv_u32(&b, "", 1);
    EXPECT_BAD(&b, "key is empty");
    header(&b, 3, 0, 1);
    u64(&b, 3), put(&b, "a\0b", 3), u32(&b, KILN_GGUF_UINT8), u8(&b, 1);
    EXPECT_BAD(&b, "NUL byte");

    /* Alignment. */
    header(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 24);
    EXPECT_BAD(&b, "'general.alignment' is 24, not a power of two");
    header(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 0);
    EXPECT_BAD(&b, "not a power of two");
    header(&b, 3, 0, 1);
    str(&b, "general.alignment"), u32(&b, KILN_GGUF_UINT64), u64(&b, 32);
    EXPECT_BAD(&b, "'general.alignment' is uint64, expected uint32");
    /* A tensor at offset 4 when the alignment is 32 (info at 24). */
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne1, KILN_GGML_F32, 4);
    pad_to(&b, 32), zeros(&b, 64);
    EXPECT_BAD(&b, "offset 24: tensor 't': data offset 4 is not a multiple of the alignment 32");
    /* With alignment 4, offset 4 is fine. */
    header(&b, 3, 1, 1);
    kv_u32(&b, "general.alignment", 4);
    tinfo(&b, "t", 1, ne1, KILN_GGML_F32, 4);
    pad_to(&b, 4), zeros(&b, 36);
    {
        kiln_gguf *g = NULL;
        void *copy;
        CHECK_OK(open_copy(b.p, b.n, &g, &copy));
        CHECK(g && kiln_gguf_tensor_at(g, 0)->file_offset % 4 == 0);
        kiln_gguf_close(g);
        free(copy);
        free(b.p);
        memset(&b, 0, sizeof b);
    }

    /* Tensor infos. */
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    header(&b, 3, 1, 0);
    tinfo(&b, "t5", 5, ne5, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor 't5': 5 dimensions (at most 4)");
    uint64_t neg[2] = {4, (uint64_t)-3};
    header(&b, 3, 1, 0);
    tinfo(&b, "neg", 2, neg, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor 'neg': dimension 1 is negative (-3)");
    uint64_t big[3] = {1ull << 40, 1ull << 30, 2};
    header(&b, 3, 1, 0);
    tinfo(&b, "big", 3, big, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor 'big': element count overflows");
    uint64_t zero_first[3] = {0, 1ull << 40, 1ull << 40}; /* empty, but the other dims still must fit */
    header(&b, 3, 1, 0);
    tinfo(&b, "z", 3, zero_first, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor 'z': element count overflows");
    uint64_t huge[1] = {1ull << 62};
    header(&b, 3, 1, 0);
    tinfo(&b, "huge", 1, huge, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor 'huge': byte size overflows");
    header(&b, 3, 1, 0);
    tinfo(&b, "ty", 1, ne1, 4, 0); /* 4 and 5 were removed from ggml (q4_2, q4_3) */
    EXPECT_BAD(&b, "tensor 'ty': unknown ggml type 4");
    uint64_t ne33[2] = {33, 2};
    header(&b, 3, 1, 0);
    tinfo(&b, "q", 2, ne33, KILN_GGML_Q8_0, 0);
    EXPECT_BAD(&b, "tensor 'q': row length 33 is not a multiple of the q8_0 block size 32");
    header(&b, 3, 1, 0);
    tinfo(&b, "far", 1, ne1, KILN_GGML_F32, 1ull << 60);
    pad_to(&b, 32), zeros(&b, 32);
    EXPECT_BAD(&b, "tensor 'far': data [1152921504606846976, +32) runs past the end");
    header(&b, 3, 1, 0);
    tinfo(&b, "edge", 1, ne1, KILN_GGML_F32, 0);
    pad_to(&b, 32), zeros(&b, 31); /* one byte short */
    EXPECT_BAD(&b, "tensor 'edge': data [0, +32) runs past the end of the data section (31 bytes)");
    header(&b, 3, 2, 0);
    tinfo(&b, "a", 1, ne1, KILN_GGML_F32, 0);
    uint64_t ne16[1] = {16};
    tinfo(&b, "b", 1, ne16, KILN_GGML_F32, 0); /* 64 bytes at 0 covers a */
    pad_to(&b, 32), zeros(&b, 64);
    EXPECT_BAD(&b, "tensors 'a' and 'b' overlap");
    header(&b, 3, 2, 0);
    tinfo(&b, "a", 1, ne16, KILN_GGML_F32, 0);
    tinfo(&b, "b", 1, ne1, KILN_GGML_F32, 32); /* starts inside a */
    pad_to(&b, 32), zeros(&b, 96);
    EXPECT_BAD(&b, "overlap");
    header(&b, 3, 2, 0);
    tinfo(&b, "same", 1, ne1, KILN_GGML_F32, 0);
    tinfo(&b, "same", 1, ne1, KILN_GGML_F32, 32);
    pad_to(&b, 32), zeros(&b, 64);
    EXPECT_BAD(&b, "duplicate tensor 'same'");
    header(&b, 3, 1, 0);
    tinfo(&b, "", 1, ne1, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "tensor info 0: name is empty");
    header(&b, 3, 1, 0);
    tinfo(&b, "nodata", 1, ne1, KILN_GGML_F32, 0);
    EXPECT_BAD(&b, "ends before its data section");
}

/* Random corruption of a valid file: any outcome but a crash, a hang or an
 * out-of-bounds read (which the sanitizer build reports) is acceptable. */
static void test_random_corruption(void) {
    uint16_t f16[7];
    uint8_t q8[4 * 34];
    kiln_gguf_writer *w = make_writer(f16, q8);
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(kiln_gguf_writer_write_memory(w, &mem, &size));
    uint8_t *copy = malloc(size);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(copy, mem, size);
        int flips = 1 + iter % 4;
        for (int f = 0; f < flips; f++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
            size_t at = (size_t)(state % size);
            /* Bias half the hits toward the header and metadata, where
             * counts and lengths live. */
            if (iter % 2) at %= 400 < size ? 400 : size;
            copy[at] = (uint8_t)(state >> 32);
        }
        kiln_gguf *g = NULL;
        kiln_status s = kiln_gguf_open_memory(copy, size, "fuzz.gguf", &g);
        if (!s) {
            accepted++;
            /* Whatever was accepted must be internally consistent. */
            for (int i = 0; i < kiln_gguf_tensor_count(g); i++) {
                const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, i);
                CHECK(t->file_offset + t->nbytes <= size);
            }
        }
        kiln_status_free(s);
        kiln_gguf_close(g);
    }
    CHECK(accepted > 0 && accepted < 4000); /* the corruption both hits and misses fields */
    free(copy);
    free(mem);
    kiln_gguf_writer_free(w);
}

static void test_file_errors(void) {
    kiln_gguf *g = NULL;
    CHECK_ERR(kiln_gguf_open("/nonexistent/model.gguf", &g), "/nonexistent/model.gguf: cannot open");
    CHECK(g == NULL);
    CHECK_ERR(kiln_gguf_open("/", &g), "not a regular file");
    char path[] = "/tmp/kiln_gguf_emptyXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK_ERR(kiln_gguf_open(path, &g), "empty file");
        unlink(path);
    }
    CHECK(strcmp(kiln_gguf_type_name(KILN_GGUF_FLOAT64), "float64") == 0);
    CHECK(strcmp(kiln_gguf_type_name(40), "unknown") == 0);
}

int main(void) {
    test_gguf_py_sample();
    test_hand_layout();
    test_writer_roundtrip();
    test_writer_errors();
    test_truncations();
    test_malformed();
    test_random_corruption();
    test_file_errors();
    return test_finish("test_gguf");
}
