/* The ggml type table and byte-size arithmetic shared by the GGUF reader,
 * the writer and the (de)quantizers. */
#include <stdint.h>

#include "kiln/quant.h"

_Static_assert(sizeof(kiln_block_q8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(kiln_block_q4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(kiln_block_q4_k) == 144, "q4_K block is 144 bytes");
_Static_assert(sizeof(kiln_block_q6_k) == 210, "q6_K block is 210 bytes");

/* Sizes follow ggml's type traits: every type a GGUF file may name is
 * listed so that files holding types kiln cannot decode still parse and
 * validate; only the flagged ones can be converted. */
#define QK KILN_QK_K
static const kiln_ggml_type_info infos[] = {
    [KILN_GGML_F32] = {"f32", 1, 4, 1, 1},
    [KILN_GGML_F16] = {"f16", 1, 2, 1, 1},
    [KILN_GGML_Q4_0] = {"q4_0", 32, 2 + 16, 1, 1},
    [KILN_GGML_Q4_1] = {"q4_1", 32, 2 + 2 + 16, 0, 0},
    [KILN_GGML_Q5_0] = {"q5_0", 32, 2 + 4 + 16, 0, 0},
    [KILN_GGML_Q5_1] = {"q5_1", 32, 2 + 2 + 4 + 16, 0, 0},
    [KILN_GGML_Q8_0] = {"q8_0", 32, 2 + 32, 1, 1},
    [KILN_GGML_Q8_1] = {"q8_1", 32, 4 + 4 + 32, 0, 0},
    [KILN_GGML_Q2_K] = {"q2_K", QK, 2 + 2 + QK / 16 + QK / 4, 0, 0},
    [KILN_GGML_Q3_K] = {"q3_K", QK, 2 + QK / 4 + QK / 8 + 12, 0, 0},
    [KILN_GGML_Q4_K] = {"q4_K", QK, 2 + 2 + QK / 2 + 12, 1, 0},
    [KILN_GGML_Q5_K] = {"q5_K", QK, 2 + 2 + QK / 2 + QK / 8 + 12, 0, 0},
    [KILN_GGML_Q6_K] = {"q6_K", QK, 2 + QK / 2 + QK / 4 + QK / 16, 1, 0},
    [KILN_GGML_Q8_K] = {"q8_K", QK, 4 + QK + QK / 8, 0, 0},
    [KILN_GGML_IQ2_XXS] = {"iq2_xxs", QK, 2 + QK / 4, 0, 0},
    [KILN_GGML_IQ2_XS] = {"iq2_xs", QK, 2 + QK / 4 + QK / 32, 0, 0},
    [KILN_GGML_IQ3_XXS] = {"iq3_xxs", QK, 2 + QK / 4 + QK / 8, 0, 0},
    [KILN_GGML_IQ1_S] = {"iq1_s", QK, 2 + QK / 8 + QK / 16, 0, 0},
    [KILN_GGML_IQ4_NL] = {"iq4_nl", 32, 2 + 16, 0, 0},
    [KILN_GGML_IQ3_S] = {"iq3_s", QK, 2 + QK / 4 + QK / 8 + QK / 32 + 4, 0, 0},
    [KILN_GGML_IQ2_S] = {"iq2_s", QK, 2 + QK / 4 + QK / 16, 0, 0},
    [KILN_GGML_IQ4_XS] = {"iq4_xs", QK, 2 + 2 + QK / 2 + QK / 64, 0, 0},
    [KILN_GGML_I8] = {"i8", 1, 1, 0, 0},
    [KILN_GGML_I16] = {"i16", 1, 2, 0, 0},
    [KILN_GGML_I32] = {"i32", 1, 4, 0, 0},
    [KILN_GGML_I64] = {"i64", 1, 8, 0, 0},
    [KILN_GGML_F64] = {"f64", 1, 8, 0, 0},
    [KILN_GGML_IQ1_M] = {"iq1_m", QK, QK / 8 + QK / 16 + QK / 32, 0, 0},
    [KILN_GGML_BF16] = {"bf16", 1, 2, 1, 1},
    [KILN_GGML_TQ1_0] = {"tq1_0", QK, 2 + 4 * 13, 0, 0},
    [KILN_GGML_TQ2_0] = {"tq2_0", QK, 2 + 64, 0, 0},
    [KILN_GGML_MXFP4] = {"mxfp4", 32, 1 + 16, 0, 0},
};
#undef QK

const kiln_ggml_type_info *kiln_ggml_type_get(uint32_t type) {
    if (type >= sizeof infos / sizeof infos[0] || !infos[type].name) return NULL;
    return &infos[type];
}

const char *kiln_ggml_type_name(uint32_t type) {
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    return ti ? ti->name : "unknown";
}

kiln_status kiln_ggml_nbytes(uint32_t type, int64_t n, size_t *out) {
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    if (!ti) return kiln_error(KILN_ERR_TYPE, "unknown ggml type %u", type);
    if (n < 0) return kiln_error(KILN_ERR_INVALID, "negative element count %lld", (long long)n);
    if (n % ti->block_size)
        return kiln_error(KILN_ERR_SHAPE, "%lld elements is not a whole number of %s blocks of %d",
                          (long long)n, ti->name, ti->block_size);
    uint64_t blocks = (uint64_t)n / (uint64_t)ti->block_size;
    if (blocks > SIZE_MAX / (uint64_t)ti->type_size)
        return kiln_error(KILN_ERR_LIMIT, "%lld %s elements overflow the address space", (long long)n, ti->name);
    *out = (size_t)(blocks * (uint64_t)ti->type_size);
    return KILN_OK;
}
