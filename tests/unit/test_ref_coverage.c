/* Every op in ops.def must have a reference kernel: the interpreter is the
 * oracle for every other backend, so an op it cannot run cannot be tested.
 * Adding an op to ops.def without a kernel in backends/ref fails here. */
#include "harness.h"
#include "kiln/ref.h"

int main(void) {
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (!kiln_ref_supports((kiln_op)op)) {
            fprintf(stderr, "op '%s' has no reference kernel\n", kiln_op_name((kiln_op)op));
            test_failures++;
        }
    }
    CHECK(!kiln_ref_supports(KILN_OP_COUNT));
    CHECK(!kiln_ref_supports((kiln_op)-1));
    return test_finish("test_ref_coverage");
}
