/* kiln_autodiff through whole models: each examples/ .kiln description
 * with a tiny config (two heads, 8 features, a 13-token vocabulary) and
 * random weights, loss = sum over its outputs of output * fixed random
 * weights, gradients for every parameter. Checked against central
 * differences of an f64 copy of the forward graph on ref, on a few
 * elements of every parameter.
 *
 * Step and tolerance: in f64 the difference quotient's rounding error is
 * ~1e-16 |L| / h, negligible at h = 1e-5, and its truncation error
 * h^2 |f'''| / 6 ~ 1e-10; a step that small also makes crossing a relu
 * kink (gpt2_relu, t5) unlikely (a pre-activation would have to lie
 * within ~1e-5 of 0). What remains is the f32 rounding of the backward
 * graph itself, a few ulp per op through ~100 ops on values of size ~1,
 * seen up to ~5e-7: atol 1e-5 + rtol 1e-4 allows for it with room, and a
 * wrong rule anywhere in a block moves some gradient by far more.
 * ctest-label: slow (a minute: every model compiled for the cpu) */
#include "test_grad_model_util.h"

#define H 1e-5
#define RTOL 1e-4
#define ATOL 1e-5

int main(void) {
    gt_max_elems = 3;
    const char *devices[] = {"ref", "cpu"};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        if (!gt_device_built(devices[i])) {
            fprintf(stderr, "test_grad_models: device %s not built, skipped\n", devices[i]);
            continue;
        }
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_model(&cases[k], devices[i], H, RTOL, ATOL);
    }
    return test_finish("test_grad_models");
}
