/* GLSL -> SPIR-V: the disk cache (miss, hit, key changes, --no-cache, a
 * corrupt entry), compile errors that quote glslang and the source line,
 * and kernels served from the cache in a second device session. */
#include <dirent.h>

#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
static const char *good_src =
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(std430, binding = 0) buffer Data { float d[]; };\n"
    "void main() { d[gl_GlobalInvocationID.x] *= SCALE; }\n";

/* Line 5 uses an undeclared identifier. */
static const char *bad_src =
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(std430, binding = 0) buffer Data { float d[]; };\n"
    "void main() {\n"
    "    d[gl_GlobalInvocationID.x] = undeclared_thing * 2.0;\n"
    "}\n";

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += l > s && strcmp(e->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return n;
}

static void test_cache(void) {
    kiln_vk_options opts = {.cache_dir = vk_cache_dir()};
    char spirv_dir[512];
    snprintf(spirv_dir, sizeof spirv_dir, "%s/spirv", vk_cache_dir());
    kiln_vk_define two = {"SCALE", "2.0"}, three = {"SCALE", "3.0"};
    kiln_vk_shader_source src = {.name = "scale", .glsl = good_src, .defines = &two, .ndefines = 1};

    kiln_vk_spirv a, b, c;
    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &a));
    CHECK(a.from_cache == 0);
    CHECK(a.nwords > 5 && a.words[0] == 0x07230203u); /* SPIR-V magic number */
    CHECK(count_files(spirv_dir, ".spv") == 1);

    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &b));
    CHECK(b.from_cache == 1);
    CHECK(b.nwords == a.nwords && memcmp(a.words, b.words, a.nwords * 4) == 0);
    CHECK(b.key[0] == a.key[0] && b.key[1] == a.key[1]);

    /* a different define is a different shader */
    src.defines = &three;
    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &c));
    CHECK(c.from_cache == 0);
    CHECK(c.key[0] != a.key[0] || c.key[1] != a.key[1]);
    CHECK(count_files(spirv_dir, ".spv") == 2);
    kiln_vk_spirv_free(&c);

    /* so is another SPIR-V target */
    src.defines = &two;
    src.vulkan_target = 13;
    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &c));
    CHECK(c.from_cache == 0);
    CHECK(c.words[1] == 0x00010600u); /* SPIR-V 1.6 */
    CHECK(a.words[1] == 0x00010300u); /* SPIR-V 1.3 for the default Vulkan 1.1 target */
    kiln_vk_spirv_free(&c);
    src.vulkan_target = 0;

    /* --no-cache: compiled every time, nothing written */
    kiln_vk_options nocache = {.cache_dir = vk_cache_dir(), .no_cache = 1};
    kiln_vk_define four = {"SCALE", "4.0"};
    src.defines = &four;
    for (int i = 0; i < 2; i++) {
        CHECK_OK(kiln_vk_compile_glsl(&nocache, &src, &c));
        CHECK(c.from_cache == 0);
        kiln_vk_spirv_free(&c);
    }
    CHECK(count_files(spirv_dir, ".spv") == 3);
    /* ... and a cached shader is not read either */
    src.defines = &two;
    CHECK_OK(kiln_vk_compile_glsl(&nocache, &src, &c));
    CHECK(c.from_cache == 0);
    kiln_vk_spirv_free(&c);

    /* a corrupt entry is recompiled, not trusted */
    char path[700];
    snprintf(path, sizeof path, "%s/%016llx%016llx.spv", spirv_dir, (unsigned long long)a.key[0],
             (unsigned long long)a.key[1]);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 40, SEEK_SET); /* inside the SPIR-V words, past the header */
        fputc(0x5a, f);
        fclose(f);
    }
    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &c));
    CHECK(c.from_cache == 0);
    CHECK(c.nwords == a.nwords && memcmp(a.words, c.words, a.nwords * 4) == 0);
    kiln_vk_spirv_free(&c);
    CHECK_OK(kiln_vk_compile_glsl(&opts, &src, &c)); /* rewritten: a hit again */
    CHECK(c.from_cache == 1);
    kiln_vk_spirv_free(&c);
    kiln_vk_spirv_free(&a);
    kiln_vk_spirv_free(&b);
}

static void test_errors(void) {
    kiln_vk_options opts = {.no_cache = 1};
    kiln_vk_spirv s;
    kiln_vk_shader_source src = {.name = "broken_kernel", .glsl = bad_src};
    kiln_status st = kiln_vk_compile_glsl(&opts, &src, &s);
    CHECK(st != NULL);
    if (st) {
        const char *m = kiln_status_message(st);
        fprintf(stderr, "expected compile error:\n%s\n", m);
        CHECK(kiln_status_code(st) == KILN_ERR_INVALID);
        CHECK(strstr(m, "broken_kernel") != NULL);
        CHECK(strstr(m, "undeclared_thing") != NULL);         /* glslang's log */
        CHECK(strstr(m, "0:5:") != NULL);                     /* ... with the caller's line number */
        CHECK(strstr(m, "line 5: ") != NULL);                 /* the offending line, quoted */
        CHECK(strstr(m, "= undeclared_thing * 2.0;") != NULL);
        kiln_status_free(st);
    }
    /* defines are inserted without shifting line numbers */
    kiln_vk_define d = {"UNUSED", "1"};
    src.defines = &d;
    src.ndefines = 1;
    CHECK_ERR(kiln_vk_compile_glsl(&opts, &src, &s), "line 5: ");

    kiln_vk_shader_source nov = {.name = "noversion", .glsl = "layout(local_size_x = 1) in;\nvoid main() {}\n"};
    CHECK_ERR(kiln_vk_compile_glsl(&opts, &nov, &s), "#version");
    kiln_vk_define badname = {"1X", "2"};
    kiln_vk_shader_source bd = {.name = "baddef", .glsl = good_src, .defines = &badname, .ndefines = 1};
    CHECK_ERR(kiln_vk_compile_glsl(&opts, &bd, &s), "identifier");
    kiln_vk_define newline = {"SCALE", "2.0\n#error injected"};
    bd.defines = &newline;
    CHECK_ERR(kiln_vk_compile_glsl(&opts, &bd, &s), "one-line");
    kiln_vk_shader_source target = {.name = "t", .glsl = good_src, .vulkan_target = 14};
    CHECK_ERR(kiln_vk_compile_glsl(&opts, &target, &s), "vulkan_target");
    CHECK_ERR(kiln_vk_compile_glsl(&opts, NULL, &s), "no GLSL");
}

/* Kernels in a second device session come from the SPIR-V cache, and the
 * pipeline cache is written to disk. */
static void test_device_sessions(void) {
    kiln_vk_define def = {"SCALE", "5.0"};
    kiln_vk_kernel_desc desc = {
        .source = {.name = "scale5", .glsl = good_src, .defines = &def, .ndefines = 1},
        .nbuffers = 1,
    };
    char pipe_dir[512];
    snprintf(pipe_dir, sizeof pipe_dir, "%s/pipelines", vk_cache_dir());
    for (int session = 0; session < 2; session++) {
        vk_env env;
        int rc = 0;
        if (!vk_open(&env, "test_vk_shader_cache", &rc)) {
            if (rc) test_failures++;
            return;
        }
        kiln_vk_kernel *k1 = NULL, *k2 = NULL;
        CHECK_OK(kiln_vk_kernel_create(env.dev, &desc, &k1));
        CHECK_OK(kiln_vk_kernel_create(env.dev, &desc, &k2));
        CHECK(k1 && k1 == k2); /* memoized by content */
        CHECK(k1 && strcmp(kiln_vk_kernel_name(k1), "scale5") == 0);
        kiln_vk_device_stats st;
        kiln_vk_device_get_stats(env.dev, &st);
        CHECK(st.pipelines == 1);
        CHECK(st.shader_compiles == (session == 0 ? 1u : 0u));
        CHECK(st.shader_cache_hits == (session == 0 ? 0u : 1u));
        kiln_vk_kernel_destroy(k2);
        kiln_vk_kernel_destroy(k1);

        /* bad kernel descriptions are refused with the kernel's name */
        kiln_vk_kernel_desc bad = desc;
        bad.source.name = "bad_push";
        bad.push_size = 6;
        kiln_vk_kernel *k = NULL;
        CHECK_ERR(kiln_vk_kernel_create(env.dev, &bad, &k), "bad_push");
        bad = desc;
        bad.source.name = "too_many";
        bad.nbuffers = KILN_VK_MAX_BINDINGS + 1;
        CHECK_ERR(kiln_vk_kernel_create(env.dev, &bad, &k), "too_many");
        bad = desc;
        bad.source.glsl = bad_src;
        bad.source.name = "bad_glsl";
        CHECK_ERR(kiln_vk_kernel_create(env.dev, &bad, &k), "line 5");
        vk_close(&env);
        CHECK(count_files(pipe_dir, ".bin") == 1);
    }
    /* a third session with --no-cache compiles again although the cache has it */
    kiln_vk_options opts = {.validation = 1, .no_cache = 1, .cache_dir = vk_cache_dir()};
    kiln_vk_device *dev = NULL;
    CHECK_OK(kiln_vk_open(&opts, "vulkan", &dev));
    if (!dev) return;
    kiln_vk_kernel *k = NULL;
    CHECK_OK(kiln_vk_kernel_create(dev, &desc, &k));
    kiln_vk_device_stats st;
    kiln_vk_device_get_stats(dev, &st);
    CHECK(st.shader_compiles == 1 && st.shader_cache_hits == 0);
    CHECK(kiln_vk_validation_messages(kiln_vk_device_instance(dev)) == 0);
    kiln_vk_device_close(dev);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_shader_cache", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    test_cache();
    test_errors();
    test_device_sessions();
    vk_cache_cleanup();
    return test_finish("test_vk_shader_cache");
#endif
}
