#include "model_args.h"

kiln_model *load_model(const char *path, const model_args *ma) {
    kiln_model_options opt = {ma->weights, ma->sets.items, ma->sets.count};
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(path, &opt, &m);
    if (s) {
        fail_status(s);
        return NULL;
    }
    return m;
}
