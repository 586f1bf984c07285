/* Kernels that read more tensors than a backend can bind (Vulkan binds at
 * most KILN_VK_MAX_BINDINGS storage buffers per kernel): one of the
 * kernel's inlined values becomes a kernel of its own, so the big kernel
 * reads its one output instead of the tensors behind it. A bicubic
 * GridSample sums 16 taps, each from its own weight tensors, in one
 * pointwise kernel of 25 buffers. */
#include <stdlib.h>
#include <string.h>

#include "fusion.h"
#include "plan_internal.h"

/* Does this input occupy a buffer slot? A one-element constant is a
 * literal in the kernel. */
static int is_buffer(const kiln_graph *g, const fusion *f, kiln_value u) {
    const kiln_node *n = kiln_graph_node(g, u);
    if (n->op == KILN_OP_CONST && kiln_tensor_numel(&n->value) == 1) return 0;
    return f->materialized[u];
}

/* Distinct materialized tensors value v reads through inlined nodes, at
 * most cap + 1 counted. seen/mark are scratch arrays over nodes, stamped
 * with `stamp` so they need no clearing between calls. */
static int reads(const kiln_graph *g, const fusion *f, kiln_value v, int cap, int *seen, int stamp, kiln_value *stack) {
    int count = 0, top = 0;
    stack[top++] = v;
    seen[v] = stamp;
    while (top > 0 && count <= cap) {
        const kiln_node *n = kiln_graph_node(g, stack[--top]);
        for (int i = 0; i < n->ninputs; i++) {
            kiln_value u = n->inputs[i];
            if (u == KILN_NONE || seen[u] == stamp) continue;
            seen[u] = stamp;
            if (is_buffer(g, f, u)) count++;
            else if (!f->materialized[u]) stack[top++] = u;
        }
    }
    return count;
}

kiln_status plan_split_kernel(const kiln_graph *g, const fusion *f, const kiln_kernel *k, int max_buffers, char *force) {
    int n = kiln_graph_node_count(g);
    int *seen = calloc((size_t)n + 1, sizeof *seen);
    kiln_value *stack = malloc(((size_t)n + 1) * sizeof *stack);
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    /* the inlined value reading the most tensors that, with its own output,
     * still fits one kernel; two or more, or splitting gains nothing */
    kiln_value best = KILN_NONE;
    int best_reads = 1;
    for (int i = 0; i < k->nnodes; i++) {
        kiln_value v = k->nodes[i];
        if (f->materialized[v] || f->group_of[v] >= 0 || force[v]) continue;
        int r = reads(g, f, v, max_buffers - 1, seen, i + 1, stack);
        if (r > best_reads && r <= max_buffers - 1) best = v, best_reads = r;
    }
    free(seen);
    free(stack);
    if (best == KILN_NONE)
        return kiln_error(KILN_ERR_LIMIT, "kernel '%s' reads %d tensors and cannot be split into kernels of at most %d buffers",
                          k->name, k->nbufs - 1, max_buffers);
    force[best] = 1;
    return KILN_OK;
}
