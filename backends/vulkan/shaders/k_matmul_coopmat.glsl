// MATMUL on tensor cores (GL_NV_cooperative_matrix), the optional path of
// --precision fp16 with KILN_VK_COOPMAT=1. UNTESTED: no device at hand had
// the extension (lavapipe has none); it compiles and passes spirv-val, and
// a GPU session should run test_vk_ops and the bench with it before it is
// made the default. glslang 12 has no GL_KHR_cooperative_matrix, hence NV.
//
// Same glue as k_matmul.glsl (mm_setup, mm_a, mm_b, mm_store, MM_*): a
// workgroup of 4 subgroups of 32 owns a 64 x 64 tile of C; each subgroup a
// 32 x 32 block of four 16 x 16 f32 accumulators. Operand tiles go through
// shared memory as f16 (any view, any layout, edges zero-filled); the
// accumulators come back through shared memory so the epilogue runs per
// element like everywhere else.
#define CM_BM 64u
#define CM_BN 64u
#define CM_BK 32u
shared float16_t cm_a[CM_BM * CM_BK]; // row-major [m][k]
shared float16_t cm_b[CM_BK * CM_BN]; // row-major [k][n]
shared float cm_c[CM_BM * CM_BN];

#define CM_ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define CM_OP fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID, sm = (sg / 2u) * 32u, sn = (sg % 2u) * 32u;
    const IDX M = MM_M, N = MM_N, K = MM_K;
    const IDX col0 = IDX(gl_WorkGroupID.x * CM_BN);
    const IDX mtiles = (M + IDX(CM_BM) - 1) / IDX(CM_BM);
    for (IDX bi = IDX(gl_WorkGroupID.z); bi < MM_BATCH; bi += IDX(gl_NumWorkGroups.z)) {
        mm_setup(bi);
        for (IDX mt = IDX(gl_WorkGroupID.y); mt < mtiles; mt += IDX(gl_NumWorkGroups.y)) {
            const IDX row0 = mt * IDX(CM_BM);
            CM_ACC c00 = CM_ACC(0.0), c01 = CM_ACC(0.0), c10 = CM_ACC(0.0), c11 = CM_ACC(0.0);
            for (IDX k0 = IDX(0); k0 < K; k0 += IDX(CM_BK)) {
                for (uint idx = t; idx < CM_BM * CM_BK; idx += WG) {
                    const uint m = idx / CM_BK, k = idx % CM_BK;
                    const IDX gm = row0 + IDX(m), gk = k0 + IDX(k);
                    cm_a[idx] = float16_t((gm < M && gk < K) ? mm_a(gm, gk) : 0.0);
                }
                for (uint idx = t; idx < CM_BK * CM_BN; idx += WG) {
                    const uint k = idx / CM_BN, n = idx % CM_BN;
                    const IDX gn = col0 + IDX(n), gk = k0 + IDX(k);
                    cm_b[idx] = float16_t((gn < N && gk < K) ? mm_b(gk, gn) : 0.0);
                }
                barrier();
                for (uint kk = 0u; kk < CM_BK; kk += 16u) {
                    CM_OP a0, a1, b0, b1;
                    coopMatLoadNV(a0, cm_a, sm * CM_BK + kk, CM_BK, false);
                    coopMatLoadNV(a1, cm_a, (sm + 16u) * CM_BK + kk, CM_BK, false);
                    coopMatLoadNV(b0, cm_b, kk * CM_BN + sn, CM_BN, false);
                    coopMatLoadNV(b1, cm_b, kk * CM_BN + sn + 16u, CM_BN, false);
                    c00 = coopMatMulAddNV(a0, b0, c00);
                    c01 = coopMatMulAddNV(a0, b1, c01);
                    c10 = coopMatMulAddNV(a1, b0, c10);
                    c11 = coopMatMulAddNV(a1, b1, c11);
                }
                barrier();
            }
            coopMatStoreNV(c00, cm_c, sm * CM_BN + sn, CM_BN, false);
            coopMatStoreNV(c01, cm_c, sm * CM_BN + sn + 16u, CM_BN, false);
            coopMatStoreNV(c10, cm_c, (sm + 16u) * CM_BN + sn, CM_BN, false);
            coopMatStoreNV(c11, cm_c, (sm + 16u) * CM_BN + sn + 16u, CM_BN, false);
            barrier();
            for (uint idx = t; idx < CM_BM * CM_BN; idx += WG) {
                const IDX gm = row0 + IDX(idx / CM_BN), gn = col0 + IDX(idx % CM_BN);
                if (gm < M && gn < N) mm_store(bi, gm, gn, cm_c[idx]);
            }
            barrier();
        }
    }
}
