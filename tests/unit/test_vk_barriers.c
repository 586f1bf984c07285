/* The command recorder: barriers exactly where declared accesses conflict
 * (RAW chains, WAR, WAW, transfers; none for independent work or disjoint
 * ranges of one buffer), checked by counting barriers, by results, and by
 * the validation layer's synchronization validation (which must stay quiet
 * here, and must complain when barriers are switched off). Also replay,
 * descriptor-set reuse, profiles and the Chrome trace, and refused commands. */
#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
#define N 1000

static const char *step_src = /* y = 2x + 1 */
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(std430, binding = 0) readonly buffer X { float x[]; };\n"
    "layout(std430, binding = 1) writeonly buffer Y { float y[]; };\n"
    "layout(push_constant) uniform P { uint n; } p;\n"
    "void main() { uint i = gl_GlobalInvocationID.x; if (i < p.n) y[i] = 2.0 * x[i] + 1.0; }\n";

static const char *inc_src = /* x += 1 */
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(std430, binding = 0) buffer X { float x[]; };\n"
    "layout(push_constant) uniform P { uint n; } p;\n"
    "void main() { uint i = gl_GlobalInvocationID.x; if (i < p.n) x[i] += 1.0; }\n";

typedef struct ctx {
    vk_env env;
    kiln_vk_kernel *step, *inc;
    kiln_vk_buffer *buf[6];
    kiln_vk_buffer *big; /* two disjoint halves */
    size_t half;         /* aligned offset of the second half */
} ctx;

static uint32_t n_elems = N;

static kiln_status step(kiln_vk_recorder *r, ctx *c, kiln_vk_buffer *x, size_t xo, kiln_vk_buffer *y, size_t yo,
                        const char *label) {
    kiln_vk_binding b[2] = {{x, xo, N * 4, KILN_VK_READ}, {y, yo, N * 4, KILN_VK_WRITE}};
    kiln_vk_dispatch d = {.kernel = c->step, .label = label, .bindings = b, .nbindings = 2, .push = &n_elems,
                          .push_size = 4, .groups = {(N + 63) / 64, 1, 1}};
    return kiln_vk_record_dispatch(r, &d);
}

static kiln_status inc(kiln_vk_recorder *r, ctx *c, kiln_vk_buffer *x) {
    kiln_vk_binding b = {x, 0, N * 4, KILN_VK_READ_WRITE};
    kiln_vk_dispatch d = {.kernel = c->inc, .bindings = &b, .nbindings = 1, .push = &n_elems, .push_size = 4,
                          .groups = {(N + 63) / 64, 1, 1}};
    return kiln_vk_record_dispatch(r, &d);
}

static void upload(kiln_vk_buffer *b, size_t off, float v) {
    float h[N];
    for (int i = 0; i < N; i++) h[i] = v + (float)(i % 7);
    CHECK_OK(kiln_vk_buffer_write(b, off, h, sizeof h));
}

/* Whether every element of b at off equals f(i % 7) where the uploaded
 * value was v: small integers, so fp32 arithmetic is exact. */
static int holds(kiln_vk_buffer *b, size_t off, double scale, double add, float v) {
    float h[N];
    CHECK_OK(kiln_vk_buffer_read(b, off, h, sizeof h));
    for (int i = 0; i < N; i++)
        if (h[i] != (float)(scale * (v + i % 7) + add)) return 0;
    return 1;
}

static kiln_vk_recorder *new_rec(ctx *c, unsigned flags) {
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(c->env.dev, flags, &r));
    return r;
}

static void test_raw_chain(ctx *c) {
    upload(c->buf[0], 0, 1);
    kiln_vk_recorder *r = new_rec(c, 0);
    for (int i = 0; i < 5; i++) CHECK_OK(step(r, c, c->buf[i], 0, c->buf[i + 1], 0, NULL));
    CHECK(kiln_vk_recorder_barrier_count(r) == 4); /* each link waits for the one before */
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    /* five times x -> 2x + 1: 32x + 31 */
    CHECK(holds(c->buf[5], 0, 32, 31, 1));
}

static void test_independent(ctx *c) {
    upload(c->buf[0], 0, 3);
    kiln_vk_recorder *r = new_rec(c, 0);
    for (int i = 1; i < 6; i++) CHECK_OK(step(r, c, c->buf[0], 0, c->buf[i], 0, NULL));
    CHECK(kiln_vk_recorder_barrier_count(r) == 0); /* all read buf0, write distinct buffers */
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    for (int i = 1; i < 6; i++) CHECK(holds(c->buf[i], 0, 2, 1, 3));
}

static void test_war_waw(ctx *c) {
    upload(c->buf[0], 0, 1);
    upload(c->buf[2], 0, 5);
    kiln_vk_recorder *r = new_rec(c, 0);
    CHECK_OK(step(r, c, c->buf[0], 0, c->buf[1], 0, NULL)); /* reads 0 */
    CHECK_OK(step(r, c, c->buf[2], 0, c->buf[0], 0, NULL)); /* writes 0: WAR */
    CHECK(kiln_vk_recorder_barrier_count(r) == 1);
    CHECK_OK(step(r, c, c->buf[2], 0, c->buf[3], 0, NULL)); /* reads 2 (read before: no hazard), writes 3 */
    CHECK(kiln_vk_recorder_barrier_count(r) == 1);
    CHECK_OK(step(r, c, c->buf[4], 0, c->buf[3], 0, NULL)); /* writes 3 again: WAW */
    CHECK(kiln_vk_recorder_barrier_count(r) == 2);
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    CHECK(holds(c->buf[1], 0, 2, 1, 1)); /* from the old contents of buf0 */
    CHECK(holds(c->buf[0], 0, 2, 1, 5));
}

static void test_disjoint_ranges(ctx *c) {
    upload(c->buf[0], 0, 2);
    kiln_vk_recorder *r = new_rec(c, 0);
    CHECK_OK(step(r, c, c->buf[0], 0, c->big, 0, NULL));
    CHECK_OK(step(r, c, c->buf[0], 0, c->big, c->half, NULL));
    CHECK(kiln_vk_recorder_barrier_count(r) == 0); /* same buffer, different bytes */
    CHECK_OK(step(r, c, c->big, 0, c->buf[1], 0, NULL));
    CHECK(kiln_vk_recorder_barrier_count(r) == 1); /* reads the first half: RAW */
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    CHECK(holds(c->big, c->half, 2, 1, 2));
    CHECK(holds(c->buf[1], 0, 4, 3, 2)); /* 2(2x+1)+1 */
}

static void test_transfers(ctx *c) {
    kiln_vk_recorder *r = new_rec(c, 0);
    CHECK_OK(kiln_vk_record_fill(r, c->buf[0], 0, N * 4, 0x40400000u)); /* 3.0f */
    CHECK_OK(step(r, c, c->buf[0], 0, c->buf[1], 0, NULL));              /* RAW after the fill */
    CHECK_OK(kiln_vk_record_copy(r, c->buf[1], 0, c->buf[2], 0, N * 4)); /* RAW after the dispatch */
    CHECK_OK(step(r, c, c->buf[2], 0, c->buf[3], 0, NULL));              /* RAW after the copy */
    CHECK(kiln_vk_recorder_barrier_count(r) == 3);
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    float h[N];
    CHECK_OK(kiln_vk_buffer_read(c->buf[3], 0, h, sizeof h));
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= h[i] == 15.0f; /* 2(2*3+1)+1 */
    CHECK(ok);
    r = new_rec(c, 0);
    CHECK_ERR(kiln_vk_record_copy(r, c->big, 0, c->big, 16, 64), "overlap");
    CHECK_ERR(kiln_vk_record_fill(r, c->buf[0], 2, 8, 0), "multiples of 4");
    CHECK_ERR(kiln_vk_record_copy(r, c->buf[0], 8, c->buf[1], 0, N * 4), "outside");
    kiln_vk_recorder_destroy(r);
}

static void test_replay_and_reuse(ctx *c) {
    upload(c->buf[4], 0, 10);
    kiln_vk_device_stats s0, s1;
    kiln_vk_recorder *r = new_rec(c, 0);
    for (int i = 0; i < 3; i++) CHECK_OK(inc(r, c, c->buf[4]));
    CHECK(kiln_vk_recorder_barrier_count(r) == 2);
    CHECK_OK(kiln_vk_recorder_submit(r));
    CHECK_OK(kiln_vk_recorder_submit(r)); /* replay the same command buffer */
    CHECK(holds(c->buf[4], 0, 1, 6, 10));
    CHECK_ERR(inc(r, c, c->buf[4]), "already submitted");
    kiln_vk_recorder_destroy(r);
    /* the same bindings in a new recorder reuse their descriptor sets */
    kiln_vk_device_get_stats(c->env.dev, &s0);
    r = new_rec(c, 0);
    for (int i = 0; i < 5; i++) CHECK_OK(step(r, c, c->buf[i], 0, c->buf[i + 1], 0, NULL));
    CHECK_OK(inc(r, c, c->buf[4]));
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    kiln_vk_device_get_stats(c->env.dev, &s1);
    CHECK(s1.descriptor_sets == s0.descriptor_sets);
    CHECK(s1.descriptor_sets > 0);
}

static int count_substr(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_profile(ctx *c) {
    if (!c->env.info->timestamps) {
        fprintf(stderr, "device has no timestamps: profile not tested\n");
        return;
    }
    upload(c->buf[0], 0, 1);
    kiln_vk_recorder *r = new_rec(c, KILN_VK_REC_PROFILE);
    static const char *labels[] = {"layer0.\"mlp\"", "layer1.mlp", "layer0.\"mlp\"", "layer1.mlp", "head"};
    for (int i = 0; i < 5; i++) CHECK_OK(step(r, c, c->buf[i], 0, c->buf[i + 1], 0, labels[i]));
    const kiln_vk_profile_entry *e = NULL;
    int n = 0;
    CHECK_ERR(kiln_vk_recorder_profile(r, &e, &n), "not finished");
    CHECK_OK(kiln_vk_recorder_submit(r));
    CHECK_OK(kiln_vk_recorder_profile(r, &e, &n));
    CHECK(n == 5);
    for (int i = 0; i < n && e; i++) {
        CHECK(strcmp(e[i].name, labels[i]) == 0);
        CHECK(e[i].dur_us >= 0 && e[i].start_us >= 0);
        if (i) CHECK(e[i].start_us >= e[i - 1].start_us); /* a chain: each starts after the last */
    }
    CHECK(holds(c->buf[5], 0, 32, 31, 1)); /* timestamps change nothing */

    char path[512];
    snprintf(path, sizeof path, "%s/trace.json", vk_cache_dir());
    CHECK_OK(kiln_vk_trace_write(path, e, n));
    FILE *f = fopen(path, "r");
    char text[8192] = {0};
    if (f) {
        size_t got = fread(text, 1, sizeof text - 1, f);
        text[got] = 0;
        fclose(f);
    }
    CHECK(strncmp(text, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", 41) == 0);
    CHECK(count_substr(text, "\"ph\": \"X\"") == 5);
    CHECK(count_substr(text, "\"name\": \"layer0.\\\"mlp\\\"\"") == 2); /* quotes escaped */
    CHECK(strstr(text, "]}") != NULL);

    char *table = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&table, &len);
    kiln_vk_profile_print(e, n, m);
    fclose(m);
    CHECK(table && strstr(table, "layer1.mlp") && strstr(table, "head") && strstr(table, "total"));
    CHECK(table && count_substr(table, "layer1.mlp") == 1); /* aggregated by name */
    free(table);
    kiln_vk_recorder_destroy(r);

    r = new_rec(c, 0);
    CHECK_OK(kiln_vk_recorder_submit(r)); /* an empty run is fine */
    CHECK_ERR(kiln_vk_recorder_profile(r, &e, &n), "KILN_VK_REC_PROFILE");
    kiln_vk_recorder_destroy(r);
}

static void test_refused(ctx *c) {
    kiln_vk_recorder *r = new_rec(c, 0);
    kiln_vk_binding b[2] = {{c->buf[0], 0, N * 4, KILN_VK_READ}, {c->buf[1], 0, N * 4, KILN_VK_WRITE}};
    kiln_vk_dispatch d = {.kernel = c->step, .bindings = b, .nbindings = 1, .push = &n_elems, .push_size = 4,
                          .groups = {1, 1, 1}};
    CHECK_ERR(kiln_vk_record_dispatch(r, &d), "takes 2 buffers");
    d.nbindings = 2;
    d.push_size = 8;
    CHECK_ERR(kiln_vk_record_dispatch(r, &d), "push constants");
    d.push_size = 4;
    b[1].size = N * 4 + 4;
    CHECK_ERR(kiln_vk_record_dispatch(r, &d), "outside buffer");
    b[1].size = N * 4;
    b[0].access = 0;
    CHECK_ERR(kiln_vk_record_dispatch(r, &d), "access");
    b[0].access = KILN_VK_READ;
    b[0].buffer = NULL;
    CHECK_ERR(kiln_vk_record_dispatch(r, &d), "NULL");
    b[0].buffer = c->buf[0];
    d.groups[0] = c->env.info->max_workgroup_count[0] + 1u;
    if (d.groups[0] != 0) CHECK_ERR(kiln_vk_record_dispatch(r, &d), "exceed");
    d.groups[0] = 0;
    CHECK_OK(kiln_vk_record_dispatch(r, &d)); /* no workgroups: nothing runs */
    CHECK(kiln_vk_recorder_dispatch_count(r) == 0);
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
}

static int setup(ctx *c) {
    memset(c, 0, sizeof *c);
    int rc = 0;
    if (!vk_open(&c->env, "test_vk_barriers", &rc)) return rc ? -1 : 0;
    kiln_vk_kernel_desc sd = {.source = {.name = "step", .glsl = step_src}, .nbuffers = 2, .push_size = 4};
    kiln_vk_kernel_desc id = {.source = {.name = "inc", .glsl = inc_src}, .nbuffers = 1, .push_size = 4};
    CHECK_OK(kiln_vk_kernel_create(c->env.dev, &sd, &c->step));
    CHECK_OK(kiln_vk_kernel_create(c->env.dev, &id, &c->inc));
    for (int i = 0; i < 6; i++) CHECK_OK(kiln_vk_buffer_create(c->env.dev, N * 4, "chain", &c->buf[i]));
    size_t al = c->env.info->min_storage_buffer_offset_alignment;
    c->half = (N * 4 + al - 1) / al * al;
    CHECK_OK(kiln_vk_buffer_create(c->env.dev, c->half + N * 4, "halves", &c->big));
    return c->step && c->inc && c->big ? 1 : -1;
}

/* With barriers switched off, synchronization validation must report the
 * hazards of a RAW chain: proof that the quiet runs above mean something. */
static void test_validation_catches_missing_barriers(void) {
    ctx c;
    if (setup(&c) != 1) return;
    fprintf(stderr, "--- synchronization hazards expected below (barriers switched off) ---\n");
    kiln_vk_recorder *r = new_rec(&c, KILN_VK_REC_NO_BARRIERS_UNSAFE);
    for (int i = 0; i < 3; i++) CHECK_OK(step(r, &c, c.buf[i], 0, c.buf[i + 1], 0, NULL));
    CHECK(kiln_vk_recorder_barrier_count(r) == 0);
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    fprintf(stderr, "--- end of expected hazards ---\n");
    CHECK(kiln_vk_validation_messages(c.env.inst) > 0);
    kiln_vk_device_close(c.env.dev);
    kiln_vk_instance_destroy(c.env.inst);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_barriers", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    ctx c;
    int ok = setup(&c);
    if (ok == 0) return 0;
    if (ok < 0) return test_finish("test_vk_barriers") | 1;
    test_raw_chain(&c);
    test_independent(&c);
    test_war_waw(&c);
    test_disjoint_ranges(&c);
    test_transfers(&c);
    test_replay_and_reuse(&c);
    test_profile(&c);
    test_refused(&c);
    vk_close(&c.env); /* zero validation messages, sync validation included */
    test_validation_catches_missing_barriers();
    vk_cache_cleanup();
    return test_finish("test_vk_barriers");
#endif
}
