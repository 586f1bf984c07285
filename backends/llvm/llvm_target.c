/* Targets: the CPU name, feature string and target machine code is made for,
 * plus what the kernel emitters want to know (vector width, registers, caches). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llvm_internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed;

static void init_native(void) {
    init_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() || LLVMInitializeNativeAsmParser();
}

kiln_status kiln_llvm_init(void) {
    pthread_once(&init_once, init_native);
    if (init_failed) return kiln_error(KILN_ERR_DEVICE, "LLVM: initializing the native target failed");
    return KILN_OK;
}

kiln_status kiln_llvm_error(LLVMErrorRef err, kiln_code code, const char *what) {
    if (!err) return KILN_OK;
    char *msg = LLVMGetErrorMessage(err);
    kiln_status s = kiln_error(code, "%s: %s", what, msg ? msg : "(no message)");
    LLVMDisposeErrorMessage(msg);
    return s;
}

kiln_status kiln_llvm_strdup(const char *s, char **out) {
    *out = strdup(s ? s : "");
    return *out ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
}

/* True when the comma-separated LLVM feature list enables `name`. */
static int has_feature(const char *features, const char *name) {
    size_t n = strlen(name);
    for (const char *p = features; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n + 1 && p[0] == '+' && strncmp(p + 1, name, n) == 0) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static size_t cache_bytes(int name, size_t fallback) {
    long v = sysconf(name);
    return v > 0 ? (size_t)v : fallback;
}

kiln_status kiln_llvm_target_create(const char *triple, const char *cpu, const char *features, kiln_llvm_target **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_target_create: NULL output pointer");
    *out = NULL;
    KILN_TRY(kiln_llvm_init());
    kiln_llvm_target *t = calloc(1, sizeof *t);
    if (!t) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    if (triple) {
        s = kiln_llvm_strdup(triple, &t->triple);
    } else {
        char *def = LLVMGetDefaultTargetTriple();
        char *norm = LLVMNormalizeTargetTriple(def);
        s = kiln_llvm_strdup(norm, &t->triple);
        LLVMDisposeMessage(norm);
        LLVMDisposeMessage(def);
    }
    if (!s) s = kiln_llvm_strdup(cpu ? cpu : "generic", &t->cpu);
    if (!s) s = kiln_llvm_strdup(features ? features : "", &t->features);
    if (s) {
        kiln_llvm_target_free(t);
        return s;
    }
    LLVMTargetRef target = NULL;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &target, &err)) {
        s = kiln_error(KILN_ERR_UNSUPPORTED, "LLVM target '%s': %s", t->triple, err ? err : "unknown");
        LLVMDisposeMessage(err);
        kiln_llvm_target_free(t);
        return s;
    }
    /* PIC so the same code links in the JIT and as an object in a .kmod. */
    t->tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                    LLVMCodeModelDefault);
    if (!t->tm) {
        s = kiln_error(KILN_ERR_UNSUPPORTED, "LLVM: no target machine for %s cpu %s", t->triple, t->cpu);
        kiln_llvm_target_free(t);
        return s;
    }
    t->data_layout = LLVMCreateTargetDataLayout(t->tm);
    if (has_feature(t->features, "avx512f")) {
        t->vector_bits = 512;
        t->vector_regs = 32;
    } else if (has_feature(t->features, "avx")) {
        t->vector_bits = 256;
        t->vector_regs = 16;
    } else {
        t->vector_bits = 128;
        t->vector_regs = strstr(t->triple, "aarch64") ? 32 : 16;
    }
    t->has_fma = has_feature(t->features, "fma") || strstr(t->triple, "aarch64") != NULL;
    t->l1d_bytes = cache_bytes(_SC_LEVEL1_DCACHE_SIZE, 32 << 10);
    t->l2_bytes = cache_bytes(_SC_LEVEL2_CACHE_SIZE, 512 << 10);
    t->l3_bytes = cache_bytes(_SC_LEVEL3_CACHE_SIZE, 0);
    *out = t;
    return KILN_OK;
}

kiln_status kiln_llvm_target_host(kiln_llvm_target **out) {
    KILN_TRY(kiln_llvm_init());
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    kiln_status s = kiln_llvm_target_create(NULL, cpu, features, out);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return s;
}

void kiln_llvm_target_free(kiln_llvm_target *t) {
    if (!t) return;
    if (t->data_layout) LLVMDisposeTargetData(t->data_layout);
    if (t->tm) LLVMDisposeTargetMachine(t->tm);
    free(t->triple);
    free(t->cpu);
    free(t->features);
    free(t);
}

static void add_string_attr(LLVMValueRef fn, const char *k, const char *v) {
    LLVMContextRef ctx = LLVMGetTypeContext(LLVMTypeOf(fn));
    LLVMAttributeRef a = LLVMCreateStringAttribute(ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

void kiln_llvm_target_apply(const kiln_llvm_target *t, LLVMValueRef fn) {
    add_string_attr(fn, "target-cpu", t->cpu);
    add_string_attr(fn, "target-features", t->features);
    /* Without these, CPUs tuned to prefer 256-bit vectors would split the
     * kernels' explicit 512-bit vectors in two. */
    char bits[16];
    snprintf(bits, sizeof bits, "%d", t->vector_bits);
    add_string_attr(fn, "prefer-vector-width", bits);
    add_string_attr(fn, "min-legal-vector-width", bits);
    add_string_attr(fn, "no-trapping-math", "true");
}
