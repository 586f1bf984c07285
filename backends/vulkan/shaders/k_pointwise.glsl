// POINTWISE template: one invocation per output element. The generated
// part defines KP_N (the element count) and kp_run(i), which evaluates the
// output expression at linear index i and stores it.
void main() {
    IDX i = IDX(kgid()) * IDX(WG) + IDX(gl_LocalInvocationID.x);
    if (i >= KP_N) return;
    kp_run(i);
}
