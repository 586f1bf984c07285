// Helpers every generated kernel includes (backends/vulkan/vk_cg_kernel.c
// pastes this after its #defines). They give GLSL the semantics of the
// kernel evaluator (passes/kernel_scalar.c) where GLSL leaves a case
// undefined: log/sqrt of negatives, NaN in max/min, integer division by
// zero, shifts past the width, float -> int saturation, f16/bf16 rounding
// to nearest even. IDX is int, or int64_t in wide kernels (K_I64).

#define K_INF uintBitsToFloat(0x7f800000u)
#define K_NAN uintBitsToFloat(0x7fc00000u)

uint kgid() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// ---- f16 / bf16 as 16-bit words -------------------------------------------
float k_h2f(uint h) { return unpackHalf2x16(h).x; }

uint k_f2h(float f) { // round to nearest even, as kiln_f32_to_f16
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 255u) return sign | 0x7c00u | (m != 0u ? 0x200u : 0u);
    int ee = int(e) - 112; // rebias 127 -> 15
    if (ee >= 31) return sign | 0x7c00u;
    if (ee <= 0) { // subnormal or zero
        if (ee < -10) return sign;
        m |= 0x800000u;
        uint sh = uint(14 - ee);
        uint hm = m >> sh, rem = m & ((1u << sh) - 1u), half_ = 1u << (sh - 1u);
        if (rem > half_ || (rem == half_ && (hm & 1u) != 0u)) hm++;
        return sign | hm;
    }
    uint h = sign | (uint(ee) << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++; // a carry rounds into the exponent
    return h;
}

float k_bf2f(uint h) { return uintBitsToFloat(h << 16); }

uint k_f2bf(float f) {
    uint x = floatBitsToUint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 0x40u; // quiet NaN
    return (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
}

float k_rf16(float f) { return k_h2f(k_f2h(f)); }
float k_rbf16(float f) { return k_bf2f(k_f2bf(f)); }

// ---- narrow integers live in ints ------------------------------------------
int k_i8(int x) { return bitfieldExtract(x, 0, 8); }
int k_i16(int x) { return bitfieldExtract(x, 0, 16); }
int k_u8(int x) { return x & 0xff; }
int k_u16(int x) { return x & 0xffff; }

// ---- float ops --------------------------------------------------------------
float k_sign(float x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : x); }
float k_log(float x) { return isnan(x) ? x : (x < 0.0 ? K_NAN : (x == 0.0 ? -K_INF : log(x))); }
float k_sqrt(float x) { return x < 0.0 ? K_NAN : sqrt(x); }
float k_rsqrt(float x) {
    if (x == 0.0) return (floatBitsToUint(x) & 0x80000000u) != 0u ? -K_INF : K_INF;
    return x < 0.0 ? K_NAN : inversesqrt(x);
}
float k_recip(float x) { return 1.0 / x; }
// tanh(15) is 1 in float; clamping avoids inf/inf in exp-based tanh
float k_tanh(float x) { return isnan(x) ? x : tanh(clamp(x, -15.0, 15.0)); }
float k_sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }
float k_silu(float x) { return x / (1.0 + exp(-x)); }
float k_relu(float x) { return x > 0.0 ? x : (isnan(x) ? x : 0.0); }
// Vulkan lets asin/acos be as loose as atan2(x, sqrt(1 - x*x)) with a
// cancelling 1 - x*x; written with (1 - x)(1 + x) they keep atan's accuracy.
float k_asin(float x) { return abs(x) > 1.0 ? K_NAN : atan(x, sqrt((1.0 - x) * (1.0 + x))); }
float k_acos(float x) { return abs(x) > 1.0 ? K_NAN : atan(sqrt((1.0 - x) * (1.0 + x)), x); }
float k_acosh(float x) { return x < 1.0 ? K_NAN : acosh(x); }
float k_atanh(float x) {
    if (abs(x) > 1.0) return K_NAN;
    if (abs(x) == 1.0) return x * K_INF;
    return atanh(x);
}
float k_max(float a, float b) { return (isnan(a) || isnan(b)) ? K_NAN : max(a, b); }
float k_min(float a, float b) { return (isnan(a) || isnan(b)) ? K_NAN : min(a, b); }

// erf: Taylor series near 0 (where 1 - erfc cancels), else Numerical
// Recipes' erfc (fractional error < 1.2e-7).
float k_erf(float x) {
    float z = abs(x);
    if (isnan(x)) return x;
    if (z < 0.5) {
        float z2 = x * x;
        return x * 1.1283791671 * (1.0 + z2 * (-1.0 / 3.0 + z2 * (0.1 + z2 * (-1.0 / 42.0 + z2 * (1.0 / 216.0 - z2 / 1320.0)))));
    }
    float t = 1.0 / (1.0 + 0.5 * z);
    float r = t * exp(-z * z - 1.26551223 +
                      t * (1.00002368 +
                           t * (0.37409196 +
                                t * (0.09678418 +
                                     t * (-0.18628806 +
                                          t * (0.27886807 +
                                               t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0.0 ? 1.0 - r : r - 1.0;
}
float k_gelu(float x) { return 0.5 * x * (1.0 + k_erf(x * 0.70710678118654752)); }
float k_gelu_tanh(float x) {
    float u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + k_tanh(u));
}

bool k_odd_int(float b) { return floor(b) == b && abs(b) < 16777216.0 && (int(abs(b)) & 1) == 1; }
// C pow: pow(x, 0) = 1 and pow(1, y) = 1 even for NaN; a negative base
// needs an integer exponent; zero bases give 0 or inf with the sign of an odd power.
float k_pow(float a, float b) {
    if (b == 0.0 || a == 1.0) return 1.0;
    if (isnan(a) || isnan(b)) return K_NAN;
    if (abs(a) == 1.0 && isinf(b)) return 1.0;
    if (a == 0.0) {
        bool neg = (floatBitsToUint(a) & 0x80000000u) != 0u && k_odd_int(b);
        float r = b > 0.0 ? 0.0 : K_INF;
        return neg ? -r : r;
    }
    if (a < 0.0 && floor(b) != b) return isinf(b) ? pow(-a, b) : K_NAN;
    float r = exp2(b * log2(abs(a)));
    return (a < 0.0 && k_odd_int(b)) ? -r : r;
}
#ifdef K_F64
float k_fmod(float a, float b) { // in double: the truncated quotient of floats is exact there
    if (isinf(b) && !isinf(a)) return a;
    double q = trunc(double(a) / double(b));
    return float(double(a) - q * double(b));
}
#else
float k_fmod(float a, float b) {
    if (isinf(b) && !isinf(a)) return a;
    return a - b * trunc(a / b);
}
#endif
float k_mod(float a, float b) { // Python's: the sign of the divisor
    float r = k_fmod(a, b);
    return (r != 0.0 && ((r < 0.0) != (b < 0.0))) ? r + b : r;
}

#ifdef K_F64
double k_sign(double x) { return x > 0.0lf ? 1.0lf : (x < 0.0lf ? -1.0lf : x); }
double k_sqrt(double x) { return x < 0.0lf ? double(K_NAN) : sqrt(x); }
double k_rsqrt(double x) { return 1.0lf / k_sqrt(x); }
double k_recip(double x) { return 1.0lf / x; }
double k_relu(double x) { return x > 0.0lf ? x : (isnan(x) ? x : 0.0lf); }
double k_max(double a, double b) { return (isnan(a) || isnan(b)) ? double(K_NAN) : max(a, b); }
double k_min(double a, double b) { return (isnan(a) || isnan(b)) ? double(K_NAN) : min(a, b); }
#endif

// ---- float -> int: truncate toward zero, saturate, NaN -> 0 ----------------
int k_f2i(float x, int lo, int hi) {
    if (isnan(x)) return 0;
    if (x <= float(lo)) return lo;
    if (x >= float(hi)) return hi;
    return int(x);
}
uint k_f2u(float x) {
    if (isnan(x) || x <= 0.0) return 0u;
    if (x >= 4294967296.0) return 0xffffffffu;
    return uint(x);
}

// ---- integer ops (the evaluator's: x / 0 = 0, x / -1 wraps) ----------------
int k_absi(int a) { return a < 0 ? -a : a; }
int k_signi(int a) { return a > 0 ? 1 : (a < 0 ? -1 : 0); }
uint k_signi(uint a) { return a > 0u ? 1u : 0u; }
int k_div(int a, int b) { return b == 0 ? 0 : (b == -1 ? -a : a / b); }
uint k_div(uint a, uint b) { return b == 0u ? 0u : a / b; }
int k_fmodi(int a, int b) { return (b == 0 || b == -1) ? 0 : a - (a / b) * b; }
uint k_fmodi(uint a, uint b) { return b == 0u ? 0u : a % b; }
int k_modi(int a, int b) {
    int r = k_fmodi(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
uint k_modi(uint a, uint b) { return k_fmodi(a, b); }
int k_powi(int b, int e) {
    if (e < 0) return b == 1 ? 1 : (b == -1 ? ((e & 1) != 0 ? -1 : 1) : 0);
    int r = 1;
    for (; e != 0; e >>= 1) {
        if ((e & 1) != 0) r *= b;
        b *= b;
    }
    return r;
}
uint k_powi(uint b, uint e) {
    uint r = 1u;
    for (; e != 0u; e >>= 1) {
        if ((e & 1u) != 0u) r *= b;
        b *= b;
    }
    return r;
}
int k_shl(int a, int b, int bits) { return (b < 0 || b >= bits) ? 0 : (a << b); }
uint k_shl(uint a, uint b, int bits) { return b >= uint(bits) ? 0u : (a << b); }
int k_shr(int a, int b, int bits) { return (b < 0 || b >= bits) ? (a < 0 ? -1 : 0) : (a >> b); }
uint k_shr(uint a, uint b, int bits) { return b >= uint(bits) ? 0u : (a >> b); }
int k_shru(int a, int b, int bits) { // u8/u16 held in ints
    return (b < 0 || b >= bits) ? 0 : int((uint(a) & ((1u << bits) - 1u)) >> b);
}

#ifdef K_I64
int64_t k_f2l(float x) {
    if (isnan(x)) return 0l;
    if (x <= -9223372036854775808.0) return -9223372036854775807l - 1l;
    if (x >= 9223372036854775808.0) return 9223372036854775807l;
    return int64_t(x);
}
uint64_t k_f2ul(float x) {
    if (isnan(x) || x <= 0.0) return 0ul;
    if (x >= 18446744073709551616.0) return 18446744073709551615ul;
    return uint64_t(x);
}
int64_t k_absi(int64_t a) { return a < 0l ? -a : a; }
int64_t k_signi(int64_t a) { return a > 0l ? 1l : (a < 0l ? -1l : 0l); }
uint64_t k_signi(uint64_t a) { return a > 0ul ? 1ul : 0ul; }
int64_t k_div(int64_t a, int64_t b) { return b == 0l ? 0l : (b == -1l ? -a : a / b); }
uint64_t k_div(uint64_t a, uint64_t b) { return b == 0ul ? 0ul : a / b; }
int64_t k_fmodi(int64_t a, int64_t b) { return (b == 0l || b == -1l) ? 0l : a - (a / b) * b; }
uint64_t k_fmodi(uint64_t a, uint64_t b) { return b == 0ul ? 0ul : a % b; }
int64_t k_modi(int64_t a, int64_t b) {
    int64_t r = k_fmodi(a, b);
    return (r != 0l && ((r < 0l) != (b < 0l))) ? r + b : r;
}
uint64_t k_modi(uint64_t a, uint64_t b) { return k_fmodi(a, b); }
int64_t k_powi(int64_t b, int64_t e) {
    if (e < 0l) return b == 1l ? 1l : (b == -1l ? ((e & 1l) != 0l ? -1l : 1l) : 0l);
    int64_t r = 1l;
    for (; e != 0l; e >>= 1) {
        if ((e & 1l) != 0l) r *= b;
        b *= b;
    }
    return r;
}
uint64_t k_powi(uint64_t b, uint64_t e) {
    uint64_t r = 1ul;
    for (; e != 0ul; e >>= 1) {
        if ((e & 1ul) != 0ul) r *= b;
        b *= b;
    }
    return r;
}
int64_t k_shl(int64_t a, int64_t b, int bits) { return (b < 0l || b >= int64_t(bits)) ? 0l : (a << b); }
uint64_t k_shl(uint64_t a, uint64_t b, int bits) { return b >= uint64_t(bits) ? 0ul : (a << b); }
int64_t k_shr(int64_t a, int64_t b, int bits) { return (b < 0l || b >= int64_t(bits)) ? (a < 0l ? -1l : 0l) : (a >> b); }
uint64_t k_shr(uint64_t a, uint64_t b, int bits) { return b >= uint64_t(bits) ? 0ul : (a >> b); }
#endif
