/* kiln_train_run through the C API (what kiln compare uses) on the
 * reference interpreter: a tiny byte-level GPT from examples/gpt2.kiln
 * trained on a generated text; progress reports, result arrays, gradients,
 * determinism under one seed, and option errors. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/train.h"

typedef struct seen {
    int calls, last_step, vals;
    double last_loss;
} seen;

static void on_progress(void *ctx, const kiln_train_progress *p) {
    seen *s = ctx;
    s->calls++;
    CHECK(p->step == s->last_step + 1 && p->steps == 6);
    CHECK(isfinite(p->loss) && p->tokens_per_s > 0 && p->eta_s >= 0);
    if (!isnan(p->val_loss)) s->vals++;
    s->last_step = p->step;
    s->last_loss = p->loss;
}

static kiln_model *tiny_model(void) {
    char path[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/examples/gpt2.kiln", src ? src : ".");
    static const char *const sets[] = {"vocab_size=256", "n_layer=1", "n_embd=16", "n_head=2", "n_positions=32"};
    kiln_model_options o = {NULL, sets, 5};
    kiln_model *m = NULL;
    CHECK_OK(kiln_model_load(path, &o, &m));
    return m;
}

int main(void) {
    kiln_model *m = tiny_model();
    if (!m) return test_finish("train_run");
    /* 1600 bytes: a 40-byte sentence 40 times */
    char text_path[] = "/tmp/kiln_train_run_XXXXXX";
    int fd = mkstemp(text_path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; f && i < 40; i++) fputs("the cat sat on the mat and the dog ran. ", f);
    if (f) fclose(f);

    kiln_train_options o;
    kiln_train_options_default(&o);
    o.steps = 6, o.batch = 2, o.seq = 16, o.lr = 1e-2, o.seed = 5;
    o.data_path = text_path;
    o.eval_every = 3, o.eval_batches = 2, o.keep_grads = 1;
    seen s = {0};
    o.progress = on_progress, o.progress_ctx = &s;
    kiln_train_result r;
    CHECK_OK(kiln_train_run(m, &o, &r));
    CHECK(s.calls == 6 && s.vals == 2);
    CHECK(r.nsteps == 6 && r.nval == 2 && r.val_step[0] == 3 && r.val_step[1] == 6);
    CHECK(r.train_loss && (float)s.last_loss == r.train_loss[5]);
    /* the last 10% of 1600 bytes held out */
    CHECK(r.train_tokens == 1440 && r.val_tokens == 160);
    /* parameters: wte 256x16 + wpe 32x16 + one block + ln_f */
    int64_t block = 2 * 16 * 2 + (16 * 48 + 48) + (16 * 16 + 16) + (16 * 64 + 64) + (64 * 16 + 16);
    CHECK(r.nparams == 256 * 16 + 32 * 16 + block + 2 * 16);
    CHECK(r.tokens_per_s > 0 && r.weights && r.grads);
    const kiln_tensor *w = r.weights ? kiln_tensor_map_get(r.weights, "transformer.wte.weight") : NULL;
    const kiln_tensor *g = r.grads ? kiln_tensor_map_get(r.grads, "grad.transformer.wte.weight") : NULL;
    CHECK(w && w->rank == 2 && w->shape[0] == 256 && w->shape[1] == 16);
    CHECK(g && g->rank == 2 && g->shape[0] == 256);
    /* bytes that never occur get no gradient through the embedding, only
     * through the LM head (softmax mass): nonzero, but the row of 'Z' is
     * smaller than that of 't', which occurs often */
    if (g) {
        const float *gd = g->data;
        double nz = 0, nt = 0;
        for (int j = 0; j < 16; j++) nz += fabs(gd['Z' * 16 + j]), nt += fabs(gd['t' * 16 + j]);
        CHECK(nt > nz);
    }
    /* the same seed gives the same run */
    kiln_train_result r2;
    o.progress = NULL;
    CHECK_OK(kiln_train_run(m, &o, &r2));
    CHECK(r2.nsteps == 6 && memcmp(r.train_loss, r2.train_loss, 6 * sizeof(float)) == 0);
    kiln_train_result_free(&r2);
    kiln_train_result_free(&r);

    /* errors leave the result empty */
    o.data_path = NULL;
    CHECK_ERR(kiln_train_run(m, &o, &r), "exactly one of");
    CHECK(r.train_loss == NULL && r.weights == NULL);
    o.data_path = text_path;
    o.seq = 40; /* 41 tokens > n_positions 32 */
    CHECK_ERR(kiln_train_run(m, &o, &r), "use --seq 31 or less");
    o.seq = 16;
    o.optim.eps = 0;
    CHECK_ERR(kiln_train_run(m, &o, &r), "eps");
    remove(text_path);
    kiln_model_free(m);
    return test_finish("train_run");
}
