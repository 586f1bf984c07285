#version 450
// Softmax over the last axis: one workgroup per row, three strided passes
// (max, sum of exponentials, normalised write). Reductions go through
// subgroup operations and one shared slot per subgroup when USE_SUBGROUPS
// is defined, else through a shared-memory tree (WG a power of two). The
// subgroup path makes no assumption about the subgroup size, which varies
// across vendors (8 on lavapipe, 32 on NVIDIA, 64 on AMD GCN, 8-32 on Intel).
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, set = 0, binding = 0) readonly buffer In { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float y[]; };

layout(push_constant) uniform Dims {
    uint rows, n;
} p;

shared float red[WG];

#ifdef USE_SUBGROUPS
float reduce_max(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    if (gl_SubgroupID == 0) {
        float r = uintBitsToFloat(0xff800000u); // -inf
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) r = max(r, red[i]);
        r = subgroupMax(r);
        if (subgroupElect()) red[0] = r;
    }
    barrier();
    const float res = red[0];
    barrier(); // red is reused by the next reduction
    return res;
}

float reduce_sum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    if (gl_SubgroupID == 0) {
        float r = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) r += red[i];
        r = subgroupAdd(r);
        if (subgroupElect()) red[0] = r;
    }
    barrier();
    const float res = red[0];
    barrier();
    return res;
}
#else
float reduce_max(float v) {
    const uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (t < s) red[t] = max(red[t], red[t + s]);
        barrier();
    }
    const float res = red[0];
    barrier();
    return res;
}

float reduce_sum(float v) {
    const uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier();
    }
    const float res = red[0];
    barrier();
    return res;
}
#endif

void main() {
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= p.rows) return; // the whole workgroup leaves together
    const uint base = row * p.n;
    const uint t = gl_LocalInvocationID.x;

    float m = uintBitsToFloat(0xff800000u);
    for (uint i = t; i < p.n; i += WG) m = max(m, x[base + i]);
    m = reduce_max(m);

    float s = 0.0;
    for (uint i = t; i < p.n; i += WG) s += exp(x[base + i] - m);
    s = reduce_sum(s);

    const float inv = 1.0 / s;
    for (uint i = t; i < p.n; i += WG) y[base + i] = exp(x[base + i] - m) * inv;
}
