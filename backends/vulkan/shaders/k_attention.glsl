// ATTENTION template, flash style: a workgroup takes BR query rows of one
// (batch, head), walks the keys in tiles of BC through shared memory and
// keeps a running max and sum per row (online softmax), so the S x T score
// matrix never exists. The generated part defines AT_B, AT_H, AT_S, AT_D,
// AT_HK, AT_T, AT_DV (dims), AT_SCALE, AT_CAUSAL, AT_MASK (0 none, 1 bool:
// keep where true, 2 added to the score), at_q/at_k/at_v/at_mask(b, h, s|t,
// d|j|t) (view loads) and at_store(b, h, s, j, y) (the epilogue).
//
// Semantics (docs/compiler.md): head h reads kv head h / (H / HK); causal
// drops key t > s + T - S; a score of -inf drops the key; a row with no
// key left gives 0. DMAX bounds the head sizes (the host picks a variant).
shared float sq[BR * DMAX];
shared float sk[BC * DMAX];
shared float sv[BC * DMAX];
shared float ss[BR * BC];
shared float so[BR * DMAX];
shared float sm[BR], sl[BR], sa[BR];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const IDX S = AT_S, T = AT_T, D = AT_D, DV = AT_DV, H = AT_H;
    const IDX sblocks = (S + IDX(BR) - 1) / IDX(BR);
    const IDX blk = IDX(kgid());
    if (blk >= AT_B * H * sblocks) return; // uniform: the whole workgroup leaves
    const IDX s0 = (blk % sblocks) * IDX(BR);
    const IDX h = (blk / sblocks) % H, b = blk / sblocks / H;
    const IDX hk = h / (H / AT_HK);
    const float scale = AT_SCALE;

    for (uint i = t; i < BR * DMAX; i += WG) {
        const IDX r = IDX(i / DMAX), d = IDX(i % DMAX), s = s0 + r;
        sq[i] = (s < S && d < D) ? at_q(b, h, s, d) : 0.0;
        so[i] = 0.0;
    }
    for (uint r = t; r < BR; r += WG) {
        sm[r] = -K_INF;
        sl[r] = 0.0;
    }
    // keys past the last row's causal limit are never needed
    IDX tend = T;
#if AT_CAUSAL
    tend = min(T, s0 + IDX(BR) + T - S);
#endif
    barrier();
    for (IDX t0 = IDX(0); t0 < tend; t0 += IDX(BC)) {
        for (uint i = t; i < BC * DMAX; i += WG) {
            const IDX c = IDX(i / DMAX), d = IDX(i % DMAX), tt = t0 + c;
            sk[i] = (tt < T && d < D) ? at_k(b, hk, tt, d) : 0.0;
            sv[i] = (tt < T && d < DV) ? at_v(b, hk, tt, d) : 0.0;
        }
        barrier();
        for (uint i = t; i < BR * BC; i += WG) {
            const uint r = i / BC, c = i % BC;
            const IDX s = s0 + IDX(r), tt = t0 + IDX(c);
            float sc = -K_INF;
            bool keep = s < S && tt < T;
#if AT_CAUSAL
            keep = keep && tt <= s + T - S;
#endif
            if (keep) {
                float dot = 0.0;
                for (uint d = 0u; d < uint(D); d++) dot += sq[r * DMAX + d] * sk[c * DMAX + d];
                sc = dot * scale;
#if AT_MASK == 1
                if (!at_mask(b, h, s, tt)) sc = -K_INF;
#elif AT_MASK == 2
                sc += at_mask(b, h, s, tt);
#endif
            }
            ss[i] = sc;
        }
        barrier();
        // per row: new running max, rescale factor, probabilities
        for (uint r = t; r < BR; r += WG) {
            float mt = -K_INF;
            bool nan_ = false;
            for (uint c = 0u; c < BC; c++) {
                float x = ss[r * BC + c];
                if (isnan(x)) nan_ = true;
                else mt = max(mt, x);
            }
            const float mold = sm[r];
            const float mnew = nan_ ? K_NAN : max(mold, mt);
            float alpha = 1.0, sum = 0.0;
            if (mnew != -K_INF) {
                alpha = mold == -K_INF ? 0.0 : exp(mold - mnew);
                for (uint c = 0u; c < BC; c++) {
                    float x = ss[r * BC + c];
                    float p = x == -K_INF ? 0.0 : exp(x - mnew);
                    ss[r * BC + c] = p;
                    sum += p;
                }
            } else {
                for (uint c = 0u; c < BC; c++) ss[r * BC + c] = 0.0;
            }
            sm[r] = mnew;
            sl[r] = sl[r] * alpha + sum;
            sa[r] = alpha;
        }
        barrier();
        for (uint i = t; i < BR * DMAX; i += WG) {
            const uint r = i / DMAX, j = i % DMAX;
            if (IDX(j) >= DV) continue;
            float acc = so[i] * sa[r];
            for (uint c = 0u; c < BC; c++) acc += ss[r * BC + c] * sv[c * DMAX + j];
            so[i] = acc;
        }
        barrier();
    }
    for (uint i = t; i < BR * DMAX; i += WG) {
        const uint r = i / DMAX, j = i % DMAX;
        const IDX s = s0 + IDX(r);
        if (s >= S || IDX(j) >= DV) continue;
        const float l = sl[r];
        at_store(b, h, s, IDX(j), l > 0.0 ? so[i] / l : (isnan(l) ? l : 0.0));
    }
}
