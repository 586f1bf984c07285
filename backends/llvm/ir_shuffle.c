/* Register shuffles: in-register transposes (for packing K-contiguous
 * panels) and many-vector horizontal sums (for dot-product kernels). Both use
 * only two-input shufflevectors with constant masks, which x86 lowers to
 * single permutes (vpermt2ps with AVX-512). */
#include "llvm_internal.h"

static LLVMValueRef shuffle(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b, const int *idx, int n) {
    LLVMValueRef m[64];
    for (int i = 0; i < n; i++)
        m[i] = LLVMConstInt(ir->i32, (unsigned long long)idx[i], 0);
    return LLVMBuildShuffleVector(ir->b, a, b, LLVMConstVector(m, (unsigned)n), "");
}

/* Swap the off-diagonal halves of every 2b x 2b block, for b = n/2 .. 1;
 * after all levels every (row, lane) bit pair has been exchanged. */
void kiln_ir_transpose(kiln_ir *ir, LLVMValueRef *rows, int n) {
    int lo_idx[64], hi_idx[64];
    for (int b = n / 2; b >= 1; b /= 2) {
        for (int l = 0; l < n; l++) {
            lo_idx[l] = (l & b) ? n + l - b : l;
            hi_idx[l] = (l & b) ? n + l : l + b;
        }
        for (int r = 0; r < n; r++) {
            if (r & b) continue;
            LLVMValueRef x = rows[r], y = rows[r + b];
            rows[r] = shuffle(ir, x, y, lo_idx, n);
            rows[r + b] = shuffle(ir, x, y, hi_idx, n);
        }
    }
}

/* Pairs of vectors are folded together so that lane i of the result holds a
 * partial sum of row (i mod rows-so-far); a final fold narrows to n lanes. */
LLVMValueRef kiln_ir_hsum_many(kiln_ir *ir, LLVMValueRef *vecs, int n) {
    int w = kiln_ir_width(vecs[0]);
    LLVMValueRef cur[64] = {0};
    for (int i = 0; i < n && i < 64; i++)
        cur[i] = vecs[i];
    int count = n;
    for (int rows = 1; count > 1; rows *= 2) { /* rows: per vector before this level */
        int a_idx[64], b_idx[64];
        for (int i = 0; i < w; i++) {
            int k = (i / (2 * rows)) * rows + i % rows;
            int from_y = (i / rows) % 2;
            a_idx[i] = k + (from_y ? w : 0);
            b_idx[i] = k + w / 2 + (from_y ? w : 0);
        }
        for (int j = 0; j < count / 2; j++) {
            LLVMValueRef x = cur[2 * j], y = cur[2 * j + 1];
            cur[j] = LLVMBuildFAdd(ir->b, shuffle(ir, x, y, a_idx, w), shuffle(ir, x, y, b_idx, w), "hsum");
        }
        count /= 2;
    }
    LLVMValueRef v = cur[0];
    for (int width = w; width > n; width /= 2) {
        int lo[64], hi[64];
        for (int i = 0; i < width / 2; i++) {
            lo[i] = i;
            hi[i] = i + width / 2;
        }
        LLVMValueRef poison = LLVMGetPoison(LLVMTypeOf(v));
        v = LLVMBuildFAdd(ir->b, shuffle(ir, v, poison, lo, width / 2), shuffle(ir, v, poison, hi, width / 2), "");
    }
    if (n == 1) v = LLVMBuildExtractElement(ir->b, v, kiln_ir_i32c(ir, 0), "");
    return v;
}
