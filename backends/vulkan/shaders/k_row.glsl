// ROW template: softmax, log_softmax, layer_norm, rms_norm along one axis,
// one workgroup per row. The generated part defines KW_OP (0 softmax,
// 1 log_softmax, 2 layer_norm, 3 rms_norm), KW_EPS, KW_ROWS, KW_LEN,
// kw_setup(row), kw_src(j) (element j of the row, as float) and
// kw_store(j, y) (the epilogue at element j with VALUE(0) = y).
//
// Rows of up to WG * KW_CACHE elements are read once into registers; longer
// rows re-evaluate kw_src in each pass (it may hold a fused prologue).
// Reductions use subgroup operations and one shared slot per subgroup when
// the device has them (any subgroup size), else a shared-memory tree.
#define KW_CACHE 4u

shared float kw_red[WG];

#ifdef K_SUBGROUPS
float kw_sum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) kw_red[gl_SubgroupID] = v;
    barrier();
    if (gl_SubgroupID == 0u) {
        float r = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) r += kw_red[i];
        r = subgroupAdd(r);
        if (subgroupElect()) kw_red[0] = r;
    }
    barrier();
    float res = kw_red[0];
    barrier(); // kw_red is reused by the next reduction
    return res;
}
float kw_max(float v) { // of values without NaN
    v = subgroupMax(v);
    if (subgroupElect()) kw_red[gl_SubgroupID] = v;
    barrier();
    if (gl_SubgroupID == 0u) {
        float r = -K_INF;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) r = max(r, kw_red[i]);
        r = subgroupMax(r);
        if (subgroupElect()) kw_red[0] = r;
    }
    barrier();
    float res = kw_red[0];
    barrier();
    return res;
}
#else
float kw_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    kw_red[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) kw_red[t] += kw_red[t + s];
        barrier();
    }
    float res = kw_red[0];
    barrier();
    return res;
}
float kw_max(float v) {
    uint t = gl_LocalInvocationID.x;
    kw_red[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) kw_red[t] = max(kw_red[t], kw_red[t + s]);
        barrier();
    }
    float res = kw_red[0];
    barrier();
    return res;
}
#endif

void main() {
    IDX row = IDX(kgid());
    if (row >= KW_ROWS) return; // the whole workgroup leaves together
    kw_setup(row);
    uint t = gl_LocalInvocationID.x;
    IDX L = KW_LEN;
    bool cached = L <= IDX(WG * KW_CACHE);
    float xv[KW_CACHE];
    if (cached)
        for (uint q = 0u; q < KW_CACHE; q++) {
            IDX j = IDX(t + q * WG);
            xv[q] = j < L ? kw_src(j) : 0.0;
        }
// FOR_ROW(body): body runs with x = element j of the row, for this thread's j
#define FOR_ROW(body)                                                   \
    if (cached) {                                                       \
        for (uint q = 0u; q < KW_CACHE; q++) {                          \
            IDX j = IDX(t + q * WG);                                    \
            if (j >= L) break;                                          \
            float x = xv[q];                                            \
            body                                                        \
        }                                                               \
    } else {                                                            \
        for (IDX j = IDX(t); j < L; j += IDX(WG)) {                     \
            float x = kw_src(j);                                        \
            body                                                        \
        }                                                               \
    }

#if KW_OP <= 1
    // softmax / log_softmax: any NaN in the row makes it all NaN
    float m = -K_INF, bad = 0.0;
    FOR_ROW(if (isnan(x)) bad = 1.0; else m = max(m, x);)
    m = kw_max(m);
    if (kw_max(bad) > 0.0) m = K_NAN;
    float s = 0.0;
    FOR_ROW(s += exp(x - m);)
    s = kw_sum(s);
#if KW_OP == 0
    float inv = 1.0 / s;
    FOR_ROW(kw_store(j, exp(x - m) * inv);)
#else
    float ls = log(s);
    FOR_ROW(kw_store(j, (x - m) - ls);)
#endif
#elif KW_OP == 2
    // layer_norm: two passes (mean, then variance around it)
    float s = 0.0;
    FOR_ROW(s += x;)
    float mean = kw_sum(s) / float(L);
    float v = 0.0;
    FOR_ROW(float d = x - mean; v += d * d;)
    float inv = inversesqrt(kw_sum(v) / float(L) + KW_EPS);
    FOR_ROW(kw_store(j, (x - mean) * inv);)
#else
    // rms_norm
    float v = 0.0;
    FOR_ROW(v += x * x;)
    float inv = inversesqrt(kw_sum(v) / float(L) + KW_EPS);
    FOR_ROW(kw_store(j, x * inv);)
#endif
}
