// REDUCE template. The generated part defines SRC_T (element type), RES_T,
// KR_OUT (outputs), KR_N (elements reduced into each), kr_setup(o) (the
// output's coordinates), kr_src(r) (element r of output o's reduction),
// kr_identity(), kr_combine(acc, ai, x, xi) (also merges partial results:
// ai/xi are element indices for argmax/argmin, -1 for none), kr_finish and
// kr_store.
#if KR_GROUP
// One workgroup per output, for long reductions: a strided pass per
// thread, then a tree in shared memory (WG is a power of two).
shared SRC_T kr_sv[WG];
shared IDX kr_si[WG];
void main() {
    IDX o = IDX(kgid());
    if (o >= KR_OUT) return; // the whole workgroup leaves together
    kr_setup(o);
    uint t = gl_LocalInvocationID.x;
    SRC_T acc = kr_identity();
    IDX ai = IDX(-1);
    for (IDX r = IDX(t); r < KR_N; r += IDX(WG)) kr_combine(acc, ai, kr_src(r), r);
    kr_sv[t] = acc;
    kr_si[t] = ai;
    barrier();
    for (uint h = WG / 2u; h > 0u; h >>= 1) {
        if (t < h) {
            SRC_T a = kr_sv[t];
            IDX i = kr_si[t];
            kr_combine(a, i, kr_sv[t + h], kr_si[t + h]);
            kr_sv[t] = a;
            kr_si[t] = i;
        }
        barrier();
    }
    if (t == 0u) kr_store(o, kr_finish(kr_sv[0], kr_si[0], KR_N));
}
#else
// One thread per output, for short reductions over many outputs.
void main() {
    IDX o = IDX(kgid()) * IDX(WG) + IDX(gl_LocalInvocationID.x);
    if (o >= KR_OUT) return;
    kr_setup(o);
    SRC_T acc = kr_identity();
    IDX ai = IDX(-1);
    for (IDX r = IDX(0); r < KR_N; r++) kr_combine(acc, ai, kr_src(r), r);
    kr_store(o, kr_finish(acc, ai, KR_N));
}
#endif
