/* The Vulkan backend's quantized-weight matmuls (backends/vulkan/
 * vk_cg_qmatmul.c, shaders/k_qdecode.glsl, shaders/k_qmatmul.glsl) with
 * the validation layer on: every block type, both weight layouts, rows 1,
 * 2, 7 and 64, plain and with a bias + silu + residual epilogue, against
 * the exact product (test_quant_kernels_util.h: expectations and the
 * derived tolerance). Three device settings: the device's own parameters,
 * subgroups off (the block GEMV's shared-memory tree), and the parameters a
 * discrete GPU gets (KILN_VK_GPU_PARAMS). check_choice proves the runs
 * took the block GEMV and the direct decode (and the slice did not).
 * Activation accuracy: Vulkan allows exp 3 + 2|x| ulps and a division 2.5,
 * so silu is held to 8 + 2|z| ulps. */
#include "test_quant_kernels_util.h"
#include "test_vk_plan_util.h"

#ifdef KILN_WITH_VULKAN
#include "backends/vulkan/vk_cg_qmatmul.h"

/* The variant choice the sessions make (vk_plan_variant.c calls
 * kvk_qmm_choose): at seq 1 the NT products take the block GEMV (whose
 * GLSL holds kq_group), the others decode B directly (mm_b = kq_elem),
 * the sliced weight takes neither; at seq 64 all but the slice decode
 * directly. */
static void check_choice(const qk_model *m, const kvk_cg_device *dev) {
    kiln_plan *plan = NULL;
    CHECK_OK(kiln_plan_compile(m->g, NULL, &plan));
    if (!plan) return;
    int gemv = 0, direct = 0, generic = 0;
    for (int si = 0; si < 2; si++) {
        int64_t seq = si ? 64 : 1;
        for (int i = 0; i < kiln_plan_kernel_count(plan); i++) {
            const kiln_kernel *k = kiln_plan_kernel(plan, i);
            int64_t dims[64];
            if (k->kind != KILN_K_MATMUL || k->ndims > 64) continue;
            CHECK_OK(kiln_kernel_dims(k, kiln_plan_graph(plan), &seq, dims));
            uint32_t p[KVK_TPARAMS] = {0};
            kvk_qmm_choose(k, dims, 1, dev, p);
            if (p[5] & KVK_MM_QGEMV) {
                gemv++;
                kvk_kinfo ki;
                CHECK_OK(kvk_kinfo_init(k, &ki));
                kvk_slot_map slots[16];
                for (int b = 0; b < k->nbufs && b < 16; b++) slots[b] = (kvk_slot_map){k->bufs[b].dtype, b, 1, -1};
                kvk_variant v = {0, {0}, k->nbufs, slots, k->nbufs, ki.ndim_push};
                memcpy(v.p, p, sizeof p);
                char *glsl = NULL;
                uint32_t wg = 0;
                CHECK_OK(kvk_codegen(&ki, &v, dev, &glsl, &wg));
                CHECK(glsl && strstr(glsl, "kq_group(n, g, w)") && strstr(glsl, "mm_b(IDX k, IDX n)") && wg == p[1] * p[2]);
                free(glsl);
                kvk_kinfo_free(&ki);
            } else if (p[5] & KVK_MM_QDIRECT) direct++;
            else generic++;
        }
    }
    /* seq 1: y1, y2, y5 GEMV; y3, y4 direct; y6 generic. seq 64: 5 direct, y6 generic */
    if (gemv != 3 || direct != 7 || generic != 2) {
        fprintf(stderr, "%s: %d block GEMV, %d direct, %d generic choices; expected 3, 7, 2\n", kiln_ggml_type_name(m->type),
                gemv, direct, generic);
        test_failures++;
    }
    kiln_plan_free(plan);
}

static void test_type(uint32_t type, const char *setting) {
    const char *tn = kiln_ggml_type_name(type);
    qk_model m;
    qk_model_build(&m, type);
    kiln_plan_options po = {NULL, 0, 0};
    kvk_session *s = NULL;
    CHECK_OK(kvk_session_create(vp_env.dev, m.g, m.weights, NULL, &po, &s));
    static const int64_t seqs[4] = {1, 2, 7, 64};
    for (int si = 0; si < 4 && s; si++)
        for (int one_hot = 0; one_hot < 2; one_hot++) {
            kiln_tensor_map *in = qk_feed(&m, seqs[si], one_hot), *out = NULL;
            CHECK_OK(kvk_session_run(s, in, &out));
            char what[160];
            snprintf(what, sizeof what, "vulkan %s, seq %lld, %s%s", tn, (long long)seqs[si], setting,
                     one_hot ? ", one-hot rows" : "");
            qk_check_run(&m, in, out, seqs[si], one_hot, (qk_act){8.0, 2.0}, what);
            kiln_tensor_map_free(in);
            kiln_tensor_map_free(out);
        }
    if (s) check_choice(&m, &s->cg);
    kvk_session_destroy(s);
    qk_model_free(&m);
}

int main(void) {
    int rc = 0;
    if (!vp_open("test_quant_kernels_vk", &rc)) return rc;
    static const char *settings[3] = {"device parameters", "subgroups off", "GPU parameters"};
    for (int st = 0; st < 3; st++) {
        if (st == 1) setenv("KILN_VK_DISABLE_SUBGROUPS", "1", 1);
        if (st == 2) {
            unsetenv("KILN_VK_DISABLE_SUBGROUPS");
            setenv("KILN_VK_GPU_PARAMS", "1", 1);
        }
        for (int i = 0; i < QK_NTYPES; i++) test_type(qk_types[i], settings[st]);
    }
    unsetenv("KILN_VK_GPU_PARAMS");
    vp_close();
    return test_finish("test_quant_kernels_vk");
}
#else
int main(void) {
    fprintf(stderr, "test_quant_kernels_vk: built without Vulkan, skipped\n");
    return test_finish("test_quant_kernels_vk");
}
#endif
