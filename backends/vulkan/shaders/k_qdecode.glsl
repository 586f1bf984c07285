// Block-quantized weights read straight from their bytes (the ggml layouts
// of include/kiln/quant.h), for MATMUL kernels whose B view is quantized
// (backends/vulkan/vk_cg_qmatmul.c). The glue defines QK_TYPE (the ggml
// type id), QK_RB (bytes per weight row, an IDX) and KQ_LD(i) (byte i of
// the raw buffer, 0..255 in an int; bytes, never words: rows need not be
// 4-byte aligned).
//   kq_elem(row, col)   one weight
//   kq_group(row, g, w) weights 32g .. 32g+31 of a row, the block's scales
//                       read once
// The f32 steps are those of ir/quant_dequant.c in the same order, and
// `precise` keeps the compiler from fusing them into fma, so every weight
// equals kiln_dequantize's bit for bit.

uint kq_b(IDX i) { return uint(KQ_LD(i)) & 0xffu; }
float kq_h(IDX i) { return unpackHalf2x16(kq_b(i) | (kq_b(i + IDX(1)) << 8)).x; }
int kq_s8(uint b) { return (int(b) << 24) >> 24; }

#if QK_TYPE == 8 // q8_0: f16 d, 32 x i8; x = q * d
float kq_elem(IDX row, IDX col) {
    IDX base = row * QK_RB + (col / IDX(32)) * IDX(34);
    precise float x = float(kq_s8(kq_b(base + IDX(2) + col % IDX(32)))) * kq_h(base);
    return x;
}
void kq_group(IDX row, IDX g, inout float w[32]) {
    IDX base = row * QK_RB + g * IDX(34);
    float d = kq_h(base);
    for (int j = 0; j < 32; j++) {
        precise float x = float(kq_s8(kq_b(base + IDX(2 + j)))) * d;
        w[j] = x;
    }
}
#elif QK_TYPE == 2 // q4_0: f16 d, byte j = x[j] | x[j+16] << 4; x = (q - 8) * d
float kq_elem(IDX row, IDX col) {
    IDX base = row * QK_RB + (col / IDX(32)) * IDX(18);
    int j = int(col % IDX(32));
    uint q = (kq_b(base + IDX(2 + (j & 15))) >> uint(4 * (j >> 4))) & 15u;
    precise float x = float(int(q) - 8) * kq_h(base);
    return x;
}
void kq_group(IDX row, IDX g, inout float w[32]) {
    IDX base = row * QK_RB + g * IDX(18);
    float d = kq_h(base);
    for (int j = 0; j < 16; j++) {
        uint b = kq_b(base + IDX(2 + j));
        precise float lo = float(int(b & 15u) - 8) * d;
        precise float hi = float(int(b >> 4) - 8) * d;
        w[j] = lo;
        w[j + 16] = hi;
    }
}
#elif QK_TYPE == 12 // q4_K: 256 per block, 8 sub-blocks with 6-bit scale and min
// ir/quant_dequant.c q4_k_scale_min
void kq_scale_min(IDX base, int s, out float sc, out float m) {
    IDX S = base + IDX(4);
    if (s < 4) {
        sc = float(kq_b(S + IDX(s)) & 63u);
        m = float(kq_b(S + IDX(s + 4)) & 63u);
    } else {
        uint a = kq_b(S + IDX(s + 4));
        sc = float((a & 15u) | ((kq_b(S + IDX(s - 4)) >> 6) << 4));
        m = float((a >> 4) | ((kq_b(S + IDX(s)) >> 6) << 4));
    }
}
float kq_elem(IDX row, IDX col) {
    IDX base = row * QK_RB + (col / IDX(256)) * IDX(144);
    int j = int(col % IDX(256)), s = j >> 5, l = j & 31;
    float sc, m;
    kq_scale_min(base, s, sc, m);
    precise float dsc = kq_h(base) * sc;
    precise float dm = kq_h(base + IDX(2)) * m;
    uint q = (kq_b(base + IDX(16 + 32 * (s >> 1) + l)) >> uint(4 * (s & 1))) & 15u;
    precise float x = dsc * float(q) - dm;
    return x;
}
void kq_group(IDX row, IDX g, inout float w[32]) {
    IDX base = row * QK_RB + (g >> 3) * IDX(144);
    int s = int(g & IDX(7));
    float sc, m;
    kq_scale_min(base, s, sc, m);
    precise float dsc = kq_h(base) * sc;
    precise float dm = kq_h(base + IDX(2)) * m;
    IDX qo = base + IDX(16 + 32 * (s >> 1));
    uint sh = uint(4 * (s & 1));
    for (int l = 0; l < 32; l++) {
        precise float x = dsc * float((kq_b(qo + IDX(l)) >> sh) & 15u) - dm;
        w[l] = x;
    }
}
#elif QK_TYPE == 14 // q6_K: 256 per block; ql nibbles, qh 2-bit fields, 16 i8 scales, f16 d
// group s = 4 half + gg: output 128 half + 32 gg + l
float kq_q6(IDX base, int s, int l) {
    int half_ = s >> 2, gg = s & 3;
    uint lo = (kq_b(base + IDX(64 * half_ + 32 * (gg & 1) + l)) >> uint(4 * (gg >> 1))) & 15u;
    uint hi = (kq_b(base + IDX(128 + 32 * half_ + l)) >> uint(2 * gg)) & 3u;
    return float(int(lo | (hi << 4)) - 32);
}
float kq_elem(IDX row, IDX col) {
    IDX base = row * QK_RB + (col / IDX(256)) * IDX(210);
    int j = int(col % IDX(256)), s = j >> 5, l = j & 31;
    precise float sc = kq_h(base + IDX(208)) * float(kq_s8(kq_b(base + IDX(192 + 8 * (s >> 2) + 2 * (s & 3) + (l >> 4)))));
    precise float x = sc * kq_q6(base, s, l);
    return x;
}
void kq_group(IDX row, IDX g, inout float w[32]) {
    IDX base = row * QK_RB + (g >> 3) * IDX(210);
    int s = int(g & IDX(7));
    float d = kq_h(base + IDX(208));
    IDX so = base + IDX(192 + 8 * (s >> 2) + 2 * (s & 3));
    precise float s0 = d * float(kq_s8(kq_b(so)));
    precise float s1 = d * float(kq_s8(kq_b(so + IDX(1))));
    for (int l = 0; l < 32; l++) {
        precise float x = (l < 16 ? s0 : s1) * kq_q6(base, s, l);
        w[l] = x;
    }
}
#endif
