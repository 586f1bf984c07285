/* The whole training step as one graph: loss graph, kiln_autodiff, then
 * clipping and AdamW (runtime/train_optim.c). */
#include <stdlib.h>

#include "kiln/autodiff.h"
#include "runtime/train_internal.h"

kiln_status kiln_train_graph_build(const kiln_graph *fwd, const kiln_train_graph_options *o, kiln_graph **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_train_graph_build: no output pointer");
    *out = NULL;
    if (!fwd || !o) return kiln_error(KILN_ERR_INVALID, "kiln_train_graph_build: no graph or options");
    const char **names = NULL;
    int n = 0;
    KILN_TRY(train_param_names(fwd, &names, &n));
    if (n == 0) {
        free(names);
        return kiln_error(KILN_ERR_INVALID, "%s: no f32 parameters to train", kiln_graph_name(fwd));
    }
    kiln_graph *loss = NULL, *grads = NULL;
    kiln_status s = kiln_loss_graph_build(fwd, o->logits, &loss);
    if (!s) {
        kiln_grad_options go = {"loss", names, n};
        s = kiln_autodiff(loss, &go, &grads);
        if (s) s = kiln_error_wrap(s, "%s: differentiating the loss", kiln_graph_name(fwd));
    }
    if (!s) s = train_append_optimizer(grads, names, n, o, out);
    kiln_graph_free(grads);
    kiln_graph_free(loss);
    free(names);
    return s;
}
