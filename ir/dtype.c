/* dtype table, half-precision conversions and generic element access. */
#include <math.h>
#include <string.h>

#include "kiln/dtype.h"

static const kiln_dtype_info infos[KILN_DTYPE_COUNT] = {
    [KILN_F32] = {"f32", 4, 1, 1},  [KILN_F16] = {"f16", 2, 1, 1},  [KILN_BF16] = {"bf16", 2, 1, 1},
    [KILN_F64] = {"f64", 8, 1, 1},  [KILN_I8] = {"i8", 1, 0, 1},    [KILN_I16] = {"i16", 2, 0, 1},
    [KILN_I32] = {"i32", 4, 0, 1},  [KILN_I64] = {"i64", 8, 0, 1},  [KILN_U8] = {"u8", 1, 0, 0},
    [KILN_U16] = {"u16", 2, 0, 0},  [KILN_U32] = {"u32", 4, 0, 0},  [KILN_U64] = {"u64", 8, 0, 0},
    [KILN_BOOL] = {"bool", 1, 0, 0},
};

const kiln_dtype_info *kiln_dtype_get(kiln_dtype t) {
    return (unsigned)t < KILN_DTYPE_COUNT ? &infos[t] : NULL;
}
const char *kiln_dtype_name(kiln_dtype t) {
    return (unsigned)t < KILN_DTYPE_COUNT ? infos[t].name : "?";
}
size_t kiln_dtype_size(kiln_dtype t) { return (unsigned)t < KILN_DTYPE_COUNT ? infos[t].size : 0; }
int kiln_dtype_is_float(kiln_dtype t) { return (unsigned)t < KILN_DTYPE_COUNT && infos[t].is_float; }
int kiln_dtype_is_int(kiln_dtype t) {
    return (unsigned)t < KILN_DTYPE_COUNT && !infos[t].is_float && t != KILN_BOOL;
}

kiln_status kiln_dtype_parse(const char *name, kiln_dtype *out) {
    static const struct { const char *alias; kiln_dtype t; } aliases[] = {
        {"float32", KILN_F32}, {"float", KILN_F32},  {"float16", KILN_F16}, {"half", KILN_F16},
        {"bfloat16", KILN_BF16}, {"float64", KILN_F64}, {"double", KILN_F64}, {"int8", KILN_I8},
        {"int16", KILN_I16}, {"int32", KILN_I32}, {"int64", KILN_I64}, {"uint8", KILN_U8},
        {"uint16", KILN_U16}, {"uint32", KILN_U32}, {"uint64", KILN_U64},
    };
    for (int i = 0; i < KILN_DTYPE_COUNT; i++)
        if (strcmp(name, infos[i].name) == 0) {
            *out = (kiln_dtype)i;
            return KILN_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].t;
            return KILN_OK;
        }
    return kiln_error(KILN_ERR_TYPE, "unknown dtype '%s' (expected f32, f16, bf16, f64, i8..i64, u8..u64 or bool)",
                      name);
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float kiln_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        /* zero or subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t kiln_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or nan */
        return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0);
    if (a >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: overflow */
    if (a < 0x38800000u) {
        /* result is subnormal or zero: scale so that rounding happens at 2^-24 */
        float v = bits_f32(a) * 16777216.0f; /* exact: a * 2^24 */
        uint32_t m = (uint32_t)lrintf(v);      /* current rounding mode is nearest-even */
        return sign | (uint16_t)m;
    }
    uint32_t mant = a & 0x7fffff, exp = (a >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

float kiln_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t kiln_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

double kiln_load_f64(const void *data, kiln_dtype t, size_t i) {
    switch (t) {
    case KILN_F32: return ((const float *)data)[i];
    case KILN_F16: return kiln_f16_to_f32(((const uint16_t *)data)[i]);
    case KILN_BF16: return kiln_bf16_to_f32(((const uint16_t *)data)[i]);
    case KILN_F64: return ((const double *)data)[i];
    case KILN_U64: return (double)((const uint64_t *)data)[i];
    default: return (double)kiln_load_i64(data, t, i);
    }
}

int64_t kiln_load_i64(const void *data, kiln_dtype t, size_t i) {
    switch (t) {
    case KILN_I8: return ((const int8_t *)data)[i];
    case KILN_I16: return ((const int16_t *)data)[i];
    case KILN_I32: return ((const int32_t *)data)[i];
    case KILN_I64: return ((const int64_t *)data)[i];
    case KILN_U8: return ((const uint8_t *)data)[i];
    case KILN_U16: return ((const uint16_t *)data)[i];
    case KILN_U32: return ((const uint32_t *)data)[i];
    case KILN_U64: return (int64_t)((const uint64_t *)data)[i];
    case KILN_BOOL: return ((const uint8_t *)data)[i] != 0;
    default: {
        /* float to int truncates toward zero, saturating like a cast should not trap */
        double v = kiln_load_f64(data, t, i);
        if (v != v) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

void kiln_store_f64(void *data, kiln_dtype t, size_t i, double v) {
    switch (t) {
    case KILN_F32: ((float *)data)[i] = (float)v; return;
    case KILN_F16: ((uint16_t *)data)[i] = kiln_f32_to_f16((float)v); return;
    case KILN_BF16: ((uint16_t *)data)[i] = kiln_f32_to_bf16((float)v); return;
    case KILN_F64: ((double *)data)[i] = v; return;
    case KILN_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    default: {
        int64_t x;
        if (v != v) x = 0;
        else if (v >= 9.2233720368547758e18) x = INT64_MAX;
        else if (v <= -9.2233720368547758e18) x = INT64_MIN;
        else x = (int64_t)v;
        kiln_store_i64(data, t, i, x);
    }
    }
}

void kiln_store_i64(void *data, kiln_dtype t, size_t i, int64_t v) {
    switch (t) {
    case KILN_I8: ((int8_t *)data)[i] = (int8_t)v; return;
    case KILN_I16: ((int16_t *)data)[i] = (int16_t)v; return;
    case KILN_I32: ((int32_t *)data)[i] = (int32_t)v; return;
    case KILN_I64: ((int64_t *)data)[i] = v; return;
    case KILN_U8: ((uint8_t *)data)[i] = (uint8_t)v; return;
    case KILN_U16: ((uint16_t *)data)[i] = (uint16_t)v; return;
    case KILN_U32: ((uint32_t *)data)[i] = (uint32_t)v; return;
    case KILN_U64: ((uint64_t *)data)[i] = (uint64_t)v; return;
    case KILN_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    default: kiln_store_f64(data, t, i, (double)v);
    }
}
