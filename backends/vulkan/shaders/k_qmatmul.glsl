// MATMUL GEMV over block-quantized weights in the NT layout (weight row n
// holds output column n; decode steps, M <= QM_ROWS). The glue defines
// MM_M, MM_N, MM_K (a multiple of 32), MM_BATCH, mm_setup(bi), mm_a(m, k),
// mm_store(bi, m, n, acc) and, from k_qdecode.glsl, kq_group(row, g, w).
//
// A column's K is split over the invocations sharing it in groups of 32
// weights: an invocation decodes its group once and multiplies it into
// every row of A; f32 sums. Partial sums meet by subgroupAdd, one column
// per subgroup (any subgroup size), when the device has subgroup
// arithmetic; otherwise QM_TPC invocations per column meet in a shared
// tree. Workgroups loop over column tiles (and batches along z).

// This invocation's share of column n: groups first, first + step, ...,
// each decoded once and multiplied into every row of A.
void qm_column(IDX n, IDX first, IDX step, IDX M, inout float acc[QM_ROWS]) {
    const IDX ngroups = MM_K / IDX(32);
    for (IDX g = first; g < ngroups; g += step) {
        float w[32];
        kq_group(n, g, w);
        const IDX k0 = g * IDX(32);
        for (uint r = 0u; r < QM_ROWS; r++) {
            if (IDX(r) >= M) break;
            float s = 0.0;
            for (int j = 0; j < 32; j++) s += w[j] * mm_a(IDX(r), k0 + IDX(j));
            acc[r] += s;
        }
    }
}

#ifdef K_SUBGROUPS
void main() {
    const IDX M = MM_M, N = MM_N;
    const IDX cols = IDX(gl_NumSubgroups), col = IDX(gl_SubgroupID);
    const uint lane = gl_SubgroupInvocationID, tpc = gl_SubgroupSize;
    for (IDX bi = IDX(gl_WorkGroupID.z); bi < MM_BATCH; bi += IDX(gl_NumWorkGroups.z)) {
        mm_setup(bi);
        for (IDX tile = IDX(kgid()); tile * cols < N; tile += IDX(gl_NumWorkGroups.x * gl_NumWorkGroups.y)) {
            const IDX n = tile * cols + col; // the same for the whole subgroup
            float acc[QM_ROWS];
            for (uint r = 0u; r < QM_ROWS; r++) acc[r] = 0.0;
            if (n < N) qm_column(n, IDX(lane), IDX(tpc), M, acc);
            for (uint r = 0u; r < QM_ROWS; r++) acc[r] = subgroupAdd(acc[r]);
            if (n < N && subgroupElect())
                for (uint r = 0u; r < QM_ROWS && IDX(r) < M; r++) mm_store(bi, IDX(r), n, acc[r]);
        }
    }
}
#else
shared float qm_part[QM_COLS * QM_TPC * QM_ROWS];

void main() {
    const uint t = gl_LocalInvocationID.x, col = t / QM_TPC, lane = t % QM_TPC;
    const IDX M = MM_M, N = MM_N;
    const IDX ntiles = (N + IDX(QM_COLS) - 1) / IDX(QM_COLS);
    for (IDX bi = IDX(gl_WorkGroupID.z); bi < MM_BATCH; bi += IDX(gl_NumWorkGroups.z)) {
        mm_setup(bi);
        for (IDX tile = IDX(kgid()); tile < ntiles; tile += IDX(gl_NumWorkGroups.x * gl_NumWorkGroups.y)) {
            const IDX n = tile * IDX(QM_COLS) + IDX(col);
            float acc[QM_ROWS];
            for (uint r = 0u; r < QM_ROWS; r++) acc[r] = 0.0;
            if (n < N) qm_column(n, IDX(lane), IDX(QM_TPC), M, acc);
            for (uint r = 0u; r < QM_ROWS; r++) qm_part[(r * QM_COLS + col) * QM_TPC + lane] = acc[r];
            barrier();
            for (uint s = QM_TPC / 2u; s > 0u; s >>= 1) {
                if (lane < s)
                    for (uint r = 0u; r < QM_ROWS; r++)
                        qm_part[(r * QM_COLS + col) * QM_TPC + lane] += qm_part[(r * QM_COLS + col) * QM_TPC + lane + s];
                barrier();
            }
            if (lane == 0u && n < N)
                for (uint r = 0u; r < QM_ROWS && IDX(r) < M; r++) mm_store(bi, IDX(r), n, qm_part[(r * QM_COLS + col) * QM_TPC]);
            barrier();
        }
    }
}
#endif
