/* Finite-difference checks of every differentiable op's gradient rule
 * (test_grad_cases.h) on the reference interpreter, the kernel-IR evaluator
 * (the fused kernels the backends compile) and the cpu. */
#include "test_grad_cases.h"

int main(void) {
    const char *devices[] = {"ref", "kir", "cpu"};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        dev = devices[i];
        if (!gt_device_built(dev)) {
            fprintf(stderr, "test_grad_ops: device %s not built, skipped\n", dev);
            continue;
        }
        run_all();
    }
    return test_finish("test_grad_ops");
}
