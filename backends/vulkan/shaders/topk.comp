#version 450
// The k largest of one row of f32 logits, in order: value descending, the
// lower index first on ties, NaN never. One workgroup; pass j finds the
// best element that comes after pass j-1's pick in that order, so no list
// of earlier picks is needed (k passes over the row; k is small).
// Output words: ids[0..k), value bits [k..2k), then the count found.
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, set = 0, binding = 0) readonly buffer Row { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Picks { uint y[]; };

layout(push_constant) uniform Args {
    uint n, k, off; // row length, picks, the row's first element in x
} p;

const uint NONE = 0xffffffffu;
shared float sv[WG];
shared uint si[WG];
shared float prev_v;
shared uint prev_i, found;

// a comes before b
bool before(float av, uint ai, float bv, uint bi) {
    if (bi == NONE) return ai != NONE;
    if (ai == NONE) return false;
    return av > bv || (av == bv && ai < bi);
}

void main() {
    const uint t = gl_LocalInvocationID.x;
    if (t == 0u) {
        prev_v = 0.0;
        prev_i = NONE;
        found = 0u;
    }
    barrier();
    for (uint j = 0u; j < p.k; j++) {
        float bv = 0.0;
        uint bi = NONE;
        const float pv = prev_v;
        const uint pi = prev_i;
        for (uint i = t; i < p.n; i += WG) {
            const float v = x[p.off + i];
            if (isnan(v)) continue;
            if ((pi == NONE || before(pv, pi, v, i)) && before(v, i, bv, bi)) {
                bv = v;
                bi = i;
            }
        }
        sv[t] = bv;
        si[t] = bi;
        barrier();
        for (uint h = WG / 2u; h > 0u; h >>= 1) {
            if (t < h && before(sv[t + h], si[t + h], sv[t], si[t])) {
                sv[t] = sv[t + h];
                si[t] = si[t + h];
            }
            barrier();
        }
        if (t == 0u && si[0] != NONE) {
            y[j] = si[0];
            y[p.k + j] = floatBitsToUint(sv[0]);
            prev_v = sv[0];
            prev_i = si[0];
            found = j + 1u;
        }
        barrier();
        if (found != j + 1u) break; // uniform: every thread reads the same shared value
    }
    if (t == 0u) y[2u * p.k] = found;
}
