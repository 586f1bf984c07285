#version 450
// fp32 C[b] = A[b] @ B[b], tiled through shared memory. A workgroup owns a
// BM x BN tile of C and walks K in steps of BK; each thread accumulates a
// TM x TN register block whose rows and columns are strided by the thread
// grid, so neighbouring threads touch neighbouring addresses (coalesced
// global stores, conflict-free shared reads). Shared rows are padded by one
// float so that the k-major stores of a tile spread over all banks.
// Define B_NT when B is [N, K] (else [K, N]); edges are bounds-checked.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

layout(std430, set = 0, binding = 0) readonly buffer MatA { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer MatB { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer MatC { float c[]; };

layout(push_constant) uniform Dims {
    uint M, N, K;
    uint stride_a, stride_b, stride_c; // elements between batch entries
} p;

const uint WM = BM / TM;        // threads along M
const uint WN = BN / TN;        // threads along N
const uint THREADS = WM * WN;   // the host sets local_size_x to this
const uint SA = BM + 1;         // padded shared row lengths
const uint SB = BN + 1;

shared float As[BK * SA];
shared float Bs[BK * SB];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint tx = t % WN, ty = t / WN;
    const uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
    const uint abase = gl_WorkGroupID.z * p.stride_a;
    const uint bbase = gl_WorkGroupID.z * p.stride_b;
    const uint cbase = gl_WorkGroupID.z * p.stride_c;

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++) acc[i] = 0.0;
    float ra[TM];
    float rb[TN];

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
        for (uint idx = t; idx < BM * BK; idx += THREADS) {
            const uint m = idx / BK, k = idx % BK; // k fastest: A rows are contiguous in k
            const uint gm = row0 + m, gk = k0 + k;
            As[k * SA + m] = (gm < p.M && gk < p.K) ? a[abase + gm * p.K + gk] : 0.0;
        }
#ifdef B_NT
        for (uint idx = t; idx < BN * BK; idx += THREADS) {
            const uint n = idx / BK, k = idx % BK; // B rows are contiguous in k
            const uint gn = col0 + n, gk = k0 + k;
            Bs[k * SB + n] = (gn < p.N && gk < p.K) ? b[bbase + gn * p.K + gk] : 0.0;
        }
#else
        for (uint idx = t; idx < BN * BK; idx += THREADS) {
            const uint k = idx / BN, n = idx % BN; // B rows are contiguous in n
            const uint gn = col0 + n, gk = k0 + k;
            Bs[k * SB + n] = (gn < p.N && gk < p.K) ? b[bbase + gk * p.N + gn] : 0.0;
        }
#endif
        barrier();
        for (uint k = 0; k < BK; k++) {
            for (uint i = 0; i < TM; i++) ra[i] = As[k * SA + ty + i * WM];
            for (uint j = 0; j < TN; j++) rb[j] = Bs[k * SB + tx + j * WN];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++) acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
        }
        barrier();
    }

    for (uint i = 0; i < TM; i++) {
        const uint gm = row0 + ty + i * WM;
        if (gm >= p.M) break; // rows grow with i
        for (uint j = 0; j < TN; j++) {
            const uint gn = col0 + tx + j * WN;
            if (gn < p.N) c[cbase + gm * p.N + gn] = acc[i * TN + j];
        }
    }
}
