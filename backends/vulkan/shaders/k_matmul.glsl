// MATMUL template: C[batch, m, n] = sum_k A[batch, m, k] * B[batch, k, n],
// then the fused epilogue per element. The generated part defines ACC_T,
// MM_M, MM_N, MM_K, MM_BATCH, mm_setup(bi) (the batch's coordinates and
// strided bases), mm_a(m, k), mm_b(k, n) (view loads: a strided fast path
// or the view's expression), mm_store(bi, m, n, acc), and MM_A_KFAST /
// MM_B_NFAST, the axis along which each operand is contiguous (tiles are
// loaded along it, so neighbouring threads read neighbouring addresses).
#ifndef MM_GEMV
// Tiled: a workgroup owns a BM x BN tile of C and walks K in steps of BK
// through shared memory; each thread accumulates a TM x TN register block
// strided by the thread grid (coalesced stores, conflict-free shared
// reads). Shared rows are padded by one element. Grids larger than the
// device's workgroup counts loop over tiles (y) and batches (z).
const uint WM = BM / TM, WN = BN / TN;
const uint SA = BM + 1u, SB = BN + 1u;
shared ACC_T As[BK * SA];
shared ACC_T Bs[BK * SB];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint tx = t % WN, ty = t / WN;
    const IDX M = MM_M, N = MM_N, K = MM_K;
    const IDX col0 = IDX(gl_WorkGroupID.x * BN);
    const IDX mtiles = (M + IDX(BM) - 1) / IDX(BM);
    for (IDX bi = IDX(gl_WorkGroupID.z); bi < MM_BATCH; bi += IDX(gl_NumWorkGroups.z)) {
        mm_setup(bi);
        for (IDX mt = IDX(gl_WorkGroupID.y); mt < mtiles; mt += IDX(gl_NumWorkGroups.y)) {
            const IDX row0 = mt * IDX(BM);
            ACC_T acc[TM * TN];
            for (uint i = 0u; i < TM * TN; i++) acc[i] = ACC_T(0);
            for (IDX k0 = IDX(0); k0 < K; k0 += IDX(BK)) {
                for (uint idx = t; idx < BM * BK; idx += WG) {
#if MM_A_KFAST
                    const uint m = idx / BK, k = idx % BK;
#else
                    const uint k = idx / BM, m = idx % BM;
#endif
                    const IDX gm = row0 + IDX(m), gk = k0 + IDX(k);
                    As[k * SA + m] = (gm < M && gk < K) ? mm_a(gm, gk) : ACC_T(0);
                }
                for (uint idx = t; idx < BN * BK; idx += WG) {
#if MM_B_NFAST
                    const uint k = idx / BN, n = idx % BN;
#else
                    const uint n = idx / BK, k = idx % BK;
#endif
                    const IDX gn = col0 + IDX(n), gk = k0 + IDX(k);
                    Bs[k * SB + n] = (gn < N && gk < K) ? mm_b(gk, gn) : ACC_T(0);
                }
                barrier();
                // each tile's products are summed apart and then added: one
                // running sum over a long K (50257 in a vocabulary-sized
                // backward matmul) would lose about K ulps, this K / BK + BK
                ACC_T part[TM * TN];
                for (uint i = 0u; i < TM * TN; i++) part[i] = ACC_T(0);
                for (uint k = 0u; k < BK; k++) {
                    ACC_T ra[TM], rb[TN];
                    for (uint i = 0u; i < TM; i++) ra[i] = As[k * SA + ty + i * WM];
                    for (uint j = 0u; j < TN; j++) rb[j] = Bs[k * SB + tx + j * WN];
                    for (uint i = 0u; i < TM; i++)
                        for (uint j = 0u; j < TN; j++) part[i * TN + j] += ra[i] * rb[j];
                }
                for (uint i = 0u; i < TM * TN; i++) acc[i] += part[i];
                barrier();
            }
            for (uint i = 0u; i < TM; i++) {
                const IDX gm = row0 + IDX(ty + i * WM);
                if (gm >= M) break; // rows grow with i
                for (uint j = 0u; j < TN; j++) {
                    const IDX gn = col0 + IDX(tx + j * WN);
                    if (gn < N) mm_store(bi, gm, gn, acc[i * TN + j]);
                }
            }
        }
    }
}
#else
// GEMV form for a few rows (decode steps: M = 1..GM_ROWS): GM_TPC threads
// share each of GM_COLS output columns, splitting K; partial sums meet in
// shared memory. B is read once, along K when its K stride is 1.
shared ACC_T gm_part[GM_COLS * GM_TPC * GM_ROWS];
#define GM_KCHUNK 64u

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint col = t / GM_TPC, lane = t % GM_TPC;
    const IDX M = MM_M, N = MM_N, K = MM_K;
    const IDX ntiles = (N + IDX(GM_COLS) - 1) / IDX(GM_COLS);
    for (IDX bi = IDX(gl_WorkGroupID.z); bi < MM_BATCH; bi += IDX(gl_NumWorkGroups.z)) {
        mm_setup(bi);
        for (IDX tile = IDX(kgid()); tile < ntiles; tile += IDX(gl_NumWorkGroups.x * gl_NumWorkGroups.y)) {
            const IDX n = tile * IDX(GM_COLS) + IDX(col);
            ACC_T acc[GM_ROWS];
            for (uint r = 0u; r < GM_ROWS; r++) acc[r] = ACC_T(0);
            // K in chunks of GM_KCHUNK steps per lane, each summed apart
            // (accuracy over a long K, as in the tiled form)
            const IDX chunk = IDX(GM_TPC * GM_KCHUNK);
            if (n < N)
                for (IDX k0 = IDX(lane); k0 < K; k0 += chunk) {
                    ACC_T part[GM_ROWS];
                    for (uint r = 0u; r < GM_ROWS; r++) part[r] = ACC_T(0);
                    const IDX kend = K - k0 < chunk ? K : k0 + chunk;
                    for (IDX k = k0; k < kend; k += IDX(GM_TPC)) {
                        ACC_T b = mm_b(k, n);
                        for (uint r = 0u; r < GM_ROWS; r++)
                            if (IDX(r) < M) part[r] += mm_a(IDX(r), k) * b;
                    }
                    for (uint r = 0u; r < GM_ROWS; r++) acc[r] += part[r];
                }
            for (uint r = 0u; r < GM_ROWS; r++) gm_part[(r * GM_COLS + col) * GM_TPC + lane] = acc[r];
            barrier();
            if (lane == 0u && n < N)
                for (uint r = 0u; r < GM_ROWS && IDX(r) < M; r++) {
                    ACC_T s = ACC_T(0);
                    for (uint l = 0u; l < GM_TPC; l++) s += gm_part[(r * GM_COLS + col) * GM_TPC + l];
                    mm_store(bi, IDX(r), n, s);
                }
            barrier();
        }
    }
}
#endif
