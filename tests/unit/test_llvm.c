/* The LLVM layer: host target, IR helpers (loops with carried values,
 * branches, masked memory, transposes, horizontal sums) run through the JIT,
 * a JIT'd kernel calling back into the thread pool, verification and lookup
 * errors, object emission and reloading (bit-identical GEMM results), CPU
 * feature checks on objects, and GEMM argument/desc validation. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/llvm.h"

static kiln_llvm_target *host;

/* Builds, verifies, optimizes and JITs a module whose body `build` emits;
 * returns the address of `name` (NULL on failure). The JIT is kept in *jit. */
typedef void (*build_fn)(kiln_ir *ir);
static void *jit_one(build_fn build, const char *name, kiln_llvm_jit **jit) {
    kiln_llvm_module *m = NULL;
    void *addr = NULL;
    *jit = NULL;
    CHECK_OK(kiln_llvm_module_create(host, "test", &m));
    if (!m) return NULL;
    kiln_ir ir;
    kiln_ir_init(&ir, m, host);
    build(&ir);
    kiln_status s = kiln_llvm_module_verify(m);
    if (!s) s = kiln_llvm_module_optimize(m, host, NULL);
    if (!s) s = kiln_llvm_jit_create(host, jit);
    if (!s) s = kiln_llvm_jit_add_module(*jit, m);
    if (!s) s = kiln_llvm_jit_lookup(*jit, name, &addr);
    CHECK_OK(s);
    kiln_llvm_module_free(m);
    return addr;
}

/* float sum(const float *x, i64 n): a vector loop with a carried accumulator
 * and a masked tail, then a horizontal sum. */
static void build_sum(kiln_ir *ir) {
    LLVMTypeRef params[2] = {ir->ptr, ir->i64};
    LLVMValueRef fn = kiln_ir_function(ir, "sum", ir->f32, params, 2, 0);
    LLVMValueRef x = LLVMGetParam(fn, 0), n = LLVMGetParam(fn, 1);
    int w = kiln_llvm_target_f32_lanes(ir->target);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), n, kiln_ir_i64c(ir, w), "i");
    LLVMValueRef acc = kiln_ir_loop_carry(ir, &l, kiln_ir_f32c(ir, 0.0f, w));
    LLVMValueRef mask = kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, n, l.index, ""), w);
    kiln_ir_loop_set_next(&l, acc, LLVMBuildFAdd(ir->b, acc, kiln_ir_load_f32(ir, x, l.index, w, mask, 4), ""));
    kiln_ir_loop_end(ir, &l);
    LLVMBuildRet(ir->b, kiln_ir_hsum_many(ir, &acc, 1));
}

/* void tr(const float *in, float *out): out = transpose of the w x w in;
 * void hs(const float *in, float *out): out[0..G) = row sums of G x w in,
 * G = w/2; void sel(const float *in, float *out, i64 n): out[i] = in[i] > 0 ?
 * in[i] : -1 for i < n via scalar masked loads/stores and if/else. */
static void build_shuffles(kiln_ir *ir) {
    int w = kiln_llvm_target_f32_lanes(ir->target);
    LLVMTypeRef params[3] = {ir->ptr, ir->ptr, ir->i64};
    LLVMValueRef fn = kiln_ir_function(ir, "tr", ir->void_t, params, 2, 0);
    LLVMValueRef rows[64];
    for (int r = 0; r < w; r++)
        rows[r] = kiln_ir_load_f32(ir, LLVMGetParam(fn, 0), kiln_ir_i64c(ir, r * w), w, NULL, 4);
    kiln_ir_transpose(ir, rows, w);
    for (int r = 0; r < w; r++)
        kiln_ir_store_f32(ir, rows[r], LLVMGetParam(fn, 1), kiln_ir_i64c(ir, r * w), NULL, 4);
    LLVMBuildRetVoid(ir->b);

    fn = kiln_ir_function(ir, "hs", ir->void_t, params, 2, 0);
    int g = w / 2;
    for (int r = 0; r < g; r++)
        rows[r] = kiln_ir_load_f32(ir, LLVMGetParam(fn, 0), kiln_ir_i64c(ir, r * w), w, NULL, 4);
    kiln_ir_store_f32(ir, kiln_ir_hsum_many(ir, rows, g), LLVMGetParam(fn, 1), kiln_ir_i64c(ir, 0), NULL, 4);
    LLVMBuildRetVoid(ir->b);

    fn = kiln_ir_function(ir, "sel", ir->void_t, params, 3, 0);
    LLVMValueRef in = LLVMGetParam(fn, 0), out = LLVMGetParam(fn, 1), n = LLVMGetParam(fn, 2);
    for (int i = 0; i < 4; i++) {
        LLVMValueRef live = LLVMBuildICmp(ir->b, LLVMIntSLT, kiln_ir_i64c(ir, i), n, "");
        LLVMValueRef v = kiln_ir_load_f32(ir, in, kiln_ir_i64c(ir, i), 1, live, 4);
        kiln_ir_if c;
        kiln_ir_if_begin(ir, &c, LLVMBuildFCmp(ir->b, LLVMRealOGT, v, kiln_ir_f32c(ir, 0, 1), ""), "pos");
        kiln_ir_store_f32(ir, v, out, kiln_ir_i64c(ir, i), live, 4);
        kiln_ir_if_else(ir, &c);
        kiln_ir_store_f32(ir, kiln_ir_f32c(ir, -1, 1), out, kiln_ir_i64c(ir, i), live, 4);
        kiln_ir_if_end(ir, &c);
    }
    LLVMBuildRetVoid(ir->b);
}

/* void fill(int64_t *out, const kiln_jit_rt *rt): parallel_for over 100 tasks,
 * each writing out[task] = 3 * task + 1 and out[100 + task] = its thread. */
static void build_parallel(kiln_ir *ir) {
    LLVMTypeRef tp[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef task = kiln_ir_function(ir, "fill_task", ir->void_t, tp, 3, 1);
    LLVMValueRef out = LLVMGetParam(task, 0), t = LLVMGetParam(task, 1);
    LLVMValueRef v = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, t, kiln_ir_i64c(ir, 3), ""), kiln_ir_i64c(ir, 1), "");
    LLVMBuildStore(ir->b, v, LLVMBuildGEP2(ir->b, ir->i64, out, &t, 1, ""));
    LLVMValueRef slot = LLVMBuildAdd(ir->b, t, kiln_ir_i64c(ir, 100), "");
    LLVMBuildStore(ir->b, LLVMBuildSExt(ir->b, LLVMGetParam(task, 2), ir->i64, ""),
                   LLVMBuildGEP2(ir->b, ir->i64, out, &slot, 1, ""));
    LLVMBuildRetVoid(ir->b);
    LLVMTypeRef ep[2] = {ir->ptr, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, "fill", ir->void_t, ep, 2, 0);
    kiln_ir_rt_parallel_for(ir, LLVMGetParam(fn, 1), kiln_ir_i64c(ir, 100), task, LLVMGetParam(fn, 0));
    LLVMBuildRetVoid(ir->b);
}

static void test_ir_helpers(void) {
    kiln_llvm_jit *jit = NULL;
    float (*sum)(const float *, int64_t) = (float (*)(const float *, int64_t))jit_one(build_sum, "sum", &jit);
    if (sum) {
        float x[100];
        for (int i = 0; i < 100; i++)
            x[i] = (float)(i + 1); /* 1 + ... + n = n(n+1)/2, exact in f32 */
        int lens[] = {0, 1, 15, 16, 17, 37, 100};
        for (int i = 0; i < 7; i++)
            CHECK(sum(x, lens[i]) == (float)(lens[i] * (lens[i] + 1) / 2));
    }
    kiln_llvm_jit_free(jit);

    int w = kiln_llvm_target_f32_lanes(host);
    void (*tr)(const float *, float *) = (void (*)(const float *, float *))jit_one(build_shuffles, "tr", &jit);
    void *hs_addr = NULL, *sel_addr = NULL;
    if (jit) {
        CHECK_OK(kiln_llvm_jit_lookup(jit, "hs", &hs_addr));
        CHECK_OK(kiln_llvm_jit_lookup(jit, "sel", &sel_addr));
    }
    if (tr && hs_addr && sel_addr) {
        float in[256], out[256];
        for (int i = 0; i < w * w; i++)
            in[i] = (float)i;
        tr(in, out);
        int bad = 0;
        for (int r = 0; r < w; r++)
            for (int c = 0; c < w; c++)
                bad += out[r * w + c] != in[c * w + r];
        CHECK(bad == 0);
        ((void (*)(const float *, float *))hs_addr)(in, out);
        /* Row r holds r*w .. r*w + w-1, summing to r*w*w + w(w-1)/2. */
        for (int r = 0; r < w / 2; r++)
            CHECK(out[r] == (float)(r * w * w + w * (w - 1) / 2));
        float sin_[4] = {2, -3, 5, 7}, sout[4] = {9, 9, 9, 9};
        ((void (*)(const float *, float *, int64_t))sel_addr)(sin_, sout, 3);
        CHECK(sout[0] == 2 && sout[1] == -1 && sout[2] == 5 && sout[3] == 9);
    }
    kiln_llvm_jit_free(jit);

    /* JIT'd code calling back into the thread pool through kiln_jit_rt. */
    void (*fill)(int64_t *, const kiln_jit_rt *) =
        (void (*)(int64_t *, const kiln_jit_rt *))jit_one(build_parallel, "fill", &jit);
    kiln_threadpool *pool = NULL;
    CHECK_OK(kiln_threadpool_create(3, &pool));
    kiln_jit_rt rt;
    CHECK_OK(kiln_jit_rt_init(&rt, pool, 100, 5000));
    CHECK(rt.n_threads == 3 && rt.scratch_per_thread >= 100 && rt.scratch_per_thread % 64 == 0);
    CHECK(rt.shared && rt.shared_bytes >= 5000);
    if (fill) {
        int64_t out[200];
        memset(out, 0xff, sizeof out);
        fill(out, &rt);
        int bad = 0;
        for (int i = 0; i < 100; i++)
            bad += out[i] != 3 * i + 1 || out[100 + i] < 0 || out[100 + i] >= 3;
        CHECK(bad == 0);
    }
    kiln_jit_rt_release(&rt);
    kiln_threadpool_free(pool);
    kiln_llvm_jit_free(jit);
}

static void test_errors(void) {
    /* A block without a terminator fails verification with LLVM's reason. */
    kiln_llvm_module *m = NULL;
    CHECK_OK(kiln_llvm_module_create(host, "broken_mod", &m));
    if (m) {
        kiln_ir ir;
        kiln_ir_init(&ir, m, host);
        kiln_ir_function(&ir, "no_return", ir.void_t, NULL, 0, 0);
        kiln_status s = kiln_llvm_module_verify(m);
        CHECK(kiln_status_code(s) == KILN_ERR_INTERNAL);
        CHECK(strstr(kiln_status_message(s), "broken_mod") != NULL);
        CHECK(strstr(kiln_status_message(s), "terminator") != NULL);
        kiln_status_free(s);
        CHECK_ERR(kiln_llvm_module_optimize(m, host, "no-such-pass"), "no-such-pass");
    }
    kiln_llvm_module_free(m);

    /* Unknown symbols are NOT_FOUND and named. */
    kiln_llvm_jit *jit = NULL;
    CHECK_OK(kiln_llvm_jit_create(host, &jit));
    void *addr = (void *)1;
    kiln_status s = kiln_llvm_jit_lookup(jit, "kiln_no_such_kernel", &addr);
    CHECK(kiln_status_code(s) == KILN_ERR_NOT_FOUND);
    CHECK(strstr(kiln_status_message(s), "kiln_no_such_kernel") != NULL);
    CHECK(addr == NULL);
    kiln_status_free(s);

    /* Bytes that are not an object are refused, not crashed on. */
    kiln_llvm_object junk;
    const char bytes[] = "definitely not an ELF file";
    CHECK_OK(kiln_llvm_object_from_bytes(bytes, sizeof bytes, host->triple, host->cpu, host->features, &junk));
    CHECK_ERR(kiln_llvm_jit_add_object(jit, &junk), "object");
    kiln_llvm_object_release(&junk);
    kiln_llvm_jit_free(jit);
    CHECK_ERR(kiln_llvm_target_create("nonexistent-arch-none", "x", "", &(kiln_llvm_target *){0}), "nonexistent");
}

/* An object needing a feature the CPU lacks, or another triple, is refused. */
static void test_object_cpu_check(void) {
    kiln_llvm_object o;
    const char bytes[] = "x";
    char feats[256];
    snprintf(feats, sizeof feats, "+sse2,+kiln-imaginary-ext,-avx512f");
    CHECK_OK(kiln_llvm_object_from_bytes(bytes, 1, host->triple, "future-cpu", feats, &o));
    kiln_status s = kiln_llvm_object_check_cpu(&o, NULL);
    CHECK(kiln_status_code(s) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(kiln_status_message(s), "kiln-imaginary-ext") != NULL);
    CHECK(strstr(kiln_status_message(s), "sse2") == NULL); /* the host has SSE2 */
    kiln_status_free(s);
    kiln_llvm_object_release(&o);

    CHECK_OK(kiln_llvm_object_from_bytes(bytes, 1, "riscv64-unknown-linux-gnu", "generic", "", &o));
    CHECK_ERR(kiln_llvm_object_check_cpu(&o, host), "riscv64");
    kiln_llvm_object_release(&o);

    CHECK_OK(kiln_llvm_object_from_bytes(bytes, 1, host->triple, host->cpu, host->features, &o));
    CHECK_OK(kiln_llvm_object_check_cpu(&o, host));
    kiln_llvm_object_release(&o);
}

/* GEMM with an epilogue emitted to an object, loaded into a fresh JIT, run,
 * and compared bit for bit with the same module run through the JIT. */
static void test_object_round_trip(void) {
    kiln_gemm_desc d = {.trans_b = 1, .n_epilogue = 2};
    d.epilogue[0] = (kiln_gemm_epilogue_step){.kind = KILN_EPI_ADD_OPERAND, .operand = 0};
    d.epilogue[1] = (kiln_gemm_epilogue_step){.kind = KILN_EPI_GELU_TANH};
    CHECK_OK(kiln_gemm_resolve(host, &d, &d));
    kiln_llvm_module *m = NULL;
    CHECK_OK(kiln_llvm_module_create(host, "aot_gemm", &m));
    if (!m) return;
    kiln_ir ir;
    kiln_ir_init(&ir, m, host);
    CHECK_OK(kiln_gemm_emit(&ir, &d, "aot_gemm", NULL));
    CHECK_ERR(kiln_gemm_emit(&ir, &d, "aot_gemm", NULL), "already");
    CHECK_OK(kiln_llvm_module_verify(m));
    CHECK_OK(kiln_llvm_module_optimize(m, host, NULL));
    kiln_llvm_object obj;
    CHECK_OK(kiln_llvm_object_emit(host, m, &obj));
    CHECK(obj.size > 4 && memcmp(obj.data,
                                 "\x7f"
                                 "ELF",
                                 4) == 0);
    CHECK(strcmp(obj.cpu, host->cpu) == 0 && strcmp(obj.features, host->features) == 0);

    kiln_llvm_jit *jit_ir = NULL, *jit_obj = NULL;
    void *f_ir = NULL, *f_obj = NULL;
    CHECK_OK(kiln_llvm_jit_create(host, &jit_ir));
    CHECK_OK(kiln_llvm_jit_add_module(jit_ir, m));
    CHECK_OK(kiln_llvm_jit_lookup(jit_ir, "aot_gemm", &f_ir));
    kiln_llvm_module_free(m);
    /* The object outlives nothing: copy its bytes out as a .kmod loader would. */
    kiln_llvm_object copy;
    CHECK_OK(kiln_llvm_object_from_bytes(obj.data, obj.size, obj.triple, obj.cpu, obj.features, &copy));
    kiln_llvm_object_release(&obj);
    CHECK_OK(kiln_llvm_jit_create(host, &jit_obj));
    CHECK_OK(kiln_llvm_jit_add_object(jit_obj, &copy));
    CHECK_OK(kiln_llvm_jit_lookup(jit_obj, "aot_gemm", &f_obj));
    CHECK_ERR(kiln_llvm_jit_lookup(jit_obj, "aot_gemm_task", &(void *){0}), "aot_gemm_task"); /* internal */
    kiln_llvm_object_release(&copy);

    if (f_ir && f_obj) {
        enum { M = 29, N = 70, K = 300 };
        static float a[M * K], b[N * K], bias[N], c1[M * N], c2[M * N];
        for (int i = 0; i < M * K; i++)
            a[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        for (int i = 0; i < N * K; i++)
            b[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
        for (int i = 0; i < N; i++)
            bias[i] = (float)i / 10.0f - 3.0f;
        kiln_gemm_args args = {
            .m = M, .n = N, .k = K, .batch = 1, .a = a, .lda = K, .b = b, .ldb = K, .c = c1, .ldc = N};
        args.operands[0] = (kiln_gemm_operand){bias, 0, 0};
        kiln_threadpool *pool = NULL;
        CHECK_OK(kiln_threadpool_create(2, &pool));
        kiln_jit_rt rt;
        CHECK_OK(kiln_jit_rt_init(&rt, pool, kiln_gemm_scratch_bytes(host, &d), kiln_gemm_shared_bytes(host, &d)));
        ((kiln_gemm_entry_fn)f_ir)(&args, &rt);
        args.c = c2;
        ((kiln_gemm_entry_fn)f_obj)(&args, &rt);
        CHECK(memcmp(c1, c2, sizeof c1) == 0);
        /* And the result is right: one element against the formula in double. */
        double x = bias[5];
        for (int k = 0; k < K; k++)
            x += (double)a[3 * K + k] * b[5 * K + k];
        double want = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        CHECK(fabs(c1[3 * N + 5] - want) <= 1e-4 * (1 + fabs(want)));
        kiln_jit_rt_release(&rt);
        kiln_threadpool_free(pool);
    }
    kiln_llvm_jit_free(jit_ir);
    kiln_llvm_jit_free(jit_obj);
}

static void test_gemm_validation(void) {
    kiln_gemm_desc d = {.trans_b = 1, .n_epilogue = 1};
    d.epilogue[0] = (kiln_gemm_epilogue_step){.kind = KILN_EPI_ADD_OPERAND, .operand = 2};
    float buf[64] = {0};
    kiln_gemm_args a = {.m = 2, .n = 3, .k = 4, .batch = 1, .a = buf, .lda = 4, .b = buf, .ldb = 4, .c = buf, .ldc = 3};
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "operand 2");
    a.operands[2].data = buf;
    CHECK_OK(kiln_gemm_check_args(&d, &a));
    a.ldc = 2;
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "ldc");
    a.ldc = 3;
    a.ldb = 3;
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "ldb");
    a.ldb = 4;
    a.m = -1;
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "negative");
    a.m = 2;
    a.batch = 2;
    a.stride_c = 3;
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "overlaps");
    a.b = NULL;
    CHECK_ERR(kiln_gemm_check_args(&d, &a), "B");

    kiln_gemm_desc bad = {.mr = 40};
    CHECK_ERR(kiln_gemm_resolve(host, &bad, &bad), "register tile");
    bad = (kiln_gemm_desc){.n_epilogue = 1};
    bad.epilogue[0].kind = KILN_EPI_CUSTOM;
    CHECK_ERR(kiln_gemm_resolve(host, &bad, &bad), "custom");
    bad = (kiln_gemm_desc){.mc = 13, .mr = 6};
    CHECK_ERR(kiln_gemm_resolve(host, &bad, &bad), "multiple");

    /* An unresolved desc is refused by the emitter. */
    kiln_llvm_module *m = NULL;
    CHECK_OK(kiln_llvm_module_create(host, "unresolved", &m));
    if (m) {
        kiln_ir ir;
        kiln_ir_init(&ir, m, host);
        kiln_gemm_desc raw = {0};
        CHECK_ERR(kiln_gemm_emit(&ir, &raw, "g", NULL), "not resolved");
    }
    kiln_llvm_module_free(m);
    CHECK_ERR(kiln_gemm_run(NULL, &a, NULL), "no kernel");
}

int main(void) {
    CHECK_OK(kiln_llvm_target_host(&host));
    if (!host) return test_finish("test_llvm");
    CHECK(host->cpu[0] && host->features[0] && host->triple[0]);
    /* The vector width follows the feature string. */
    int has512 = strstr(host->features, "+avx512f") != NULL;
    CHECK(has512 ? host->vector_bits == 512 && host->vector_regs == 32 : host->vector_bits <= 256);
    test_ir_helpers();
    test_errors();
    test_object_cpu_check();
    test_object_round_trip();
    test_gemm_validation();
    kiln_llvm_target_free(host);
    return test_finish("test_llvm");
}
