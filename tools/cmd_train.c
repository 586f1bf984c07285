/* kiln train: train a language model (cross-entropy, AdamW) on a text file
 * or a fixed batch of tokens; write the weights, gradients, loss curve.
 * The work is kiln_train_run (runtime/train.c); this file parses options
 * and reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "kiln/plot.h"
#include "kiln/safetensors.h"
#include "kiln/train.h"
#include "model_args.h"

typedef struct train_args {
    const char *data, *tokens, *tokenizer, *device, *out, *grads_out, *csv, *plot, *logits;
    long steps, batch, seq, seed, threads, eval_every, eval_batches;
    double lr, weight_decay, beta1, beta2, eps, grad_clip, val_fraction;
    int quiet;
} train_args;

/* Progress on stderr: a bar rewritten in place on a terminal; otherwise a
 * line every twentieth of the run, so logs stay short. */
typedef struct progress_ctx {
    int tty, last;
} progress_ctx;

static void on_progress(void *ctx, const kiln_train_progress *p) {
    progress_ctx *c = ctx;
    char val[48] = "";
    if (!isnan(p->val_loss)) snprintf(val, sizeof val, "  val %.4f", p->val_loss);
    if (c->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int fill = p->steps > 0 ? (int)((int64_t)p->step * WIDTH / p->steps) : WIDTH;
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = 0;
        fprintf(stderr, "\r[%s] %d/%d  loss %.4f%s  %.0f tok/s  eta %.0fs\033[K", bar, p->step, p->steps, p->loss, val,
                p->tokens_per_s, p->eta_s);
        if (p->step == p->steps) fputc('\n', stderr);
    } else {
        int part = p->steps > 0 ? (int)((int64_t)p->step * 20 / p->steps) : 20;
        if (part == c->last && p->step != 1 && isnan(p->val_loss)) return;
        c->last = part;
        fprintf(stderr, "step %d/%d  loss %.4f%s  %.0f tok/s  eta %.0fs\n", p->step, p->steps, p->loss, val,
                p->tokens_per_s, p->eta_s);
    }
    fflush(stderr);
}

static kiln_status write_csv(const char *path, const kiln_train_result *r) {
    FILE *f = fopen(path, "w");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot write the loss CSV", path);
    fprintf(f, "step,train_loss,val_loss\n");
    int k = 0;
    for (int s = 1; s <= r->nsteps; s++) {
        fprintf(f, "%d,%.6f,", s, r->train_loss[s - 1]);
        while (k < r->nval && r->val_step[k] < s) k++;
        if (k < r->nval && r->val_step[k] == s) fprintf(f, "%.6f", r->val_loss[k]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? kiln_error(KILN_ERR_IO, "%s: write error", path) : KILN_OK;
}

static kiln_status write_plot(const char *path, const char *name, const kiln_train_result *r) {
    int n = r->nsteps > r->nval ? r->nsteps : r->nval;
    double *buf = malloc((size_t)(n ? n : 1) * 4 * sizeof *buf);
    if (!buf) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    double *tx = buf, *ty = buf + n, *vx = buf + 2 * n, *vy = buf + 3 * n;
    for (int i = 0; i < r->nsteps; i++) tx[i] = i + 1, ty[i] = r->train_loss[i];
    for (int i = 0; i < r->nval; i++) vx[i] = r->val_step[i], vy[i] = r->val_loss[i];
    kiln_plot_series s[2] = {{"train", tx, ty, r->nsteps}, {"validation", vx, vy, r->nval}};
    char title[256];
    snprintf(title, sizeof title, "%s: training loss", name);
    kiln_status st = kiln_plot_svg(path, title, "step", "cross-entropy loss", s, r->nval > 0 ? 2 : 1);
    free(buf);
    return st;
}

/* The name a tensor has in the model's own weight file: parameters found
 * there under another module prefix were aliased by the loader (a view of
 * the same data), and the file's name is the one to write back. */
static const char *own_name(const kiln_model *m, const char *name) {
    const kiln_tensor *w = m->weights ? kiln_tensor_map_get(m->weights, name) : NULL;
    if (!w) return name;
    for (int i = 0; i < kiln_tensor_map_count(m->weights); i++) {
        const char *other = kiln_tensor_map_name(m->weights, i);
        if (kiln_tensor_map_at(m->weights, i)->data == w->data && strcmp(other, name) != 0) return other;
    }
    return name;
}

/* The trained weights, plus every parameter that was not trained (not
 * f32), so the file alone runs the model. */
static kiln_status write_weights(const char *path, const kiln_model *m, const kiln_tensor_map *trained) {
    kiln_tensor_map *out = kiln_tensor_map_new();
    if (!out) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    for (int i = 0; i < kiln_tensor_map_count(trained) && !s; i++) {
        kiln_tensor v = *kiln_tensor_map_at(trained, i);
        v.owns_data = 0;
        s = kiln_tensor_map_put(out, own_name(m, kiln_tensor_map_name(trained, i)), v);
    }
    for (int v = 0; v < kiln_graph_node_count(m->graph) && !s; v++) {
        const kiln_node *n = kiln_graph_node(m->graph, v);
        if (n->op != KILN_OP_PARAM || kiln_tensor_map_get(trained, n->name) || !m->weights) continue;
        const kiln_tensor *w = kiln_tensor_map_get(m->weights, n->name);
        if (!w) continue;
        kiln_tensor view = *w;
        view.owns_data = 0;
        s = kiln_tensor_map_put(out, own_name(m, n->name), view);
    }
    if (!s) s = kiln_safetensors_save(path, out);
    kiln_tensor_map_free(out);
    return s;
}

/* grad.<name> of the last step, and its loss as train_loss [1] (the
 * layout of the Hugging Face reference fixtures). */
static kiln_status write_grads(const char *path, const kiln_train_result *r) {
    if (!r->grads || r->nsteps < 1) return kiln_error(KILN_ERR_INVALID, "--grads-out: no step ran, so there are no gradients");
    kiln_tensor_map *out = kiln_tensor_map_new();
    if (!out) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    float loss = r->train_loss[r->nsteps - 1];
    int64_t one = 1;
    kiln_status s = kiln_tensor_map_put(out, "train_loss", kiln_tensor_view(KILN_F32, 1, &one, &loss));
    for (int i = 0; i < kiln_tensor_map_count(r->grads) && !s; i++) {
        kiln_tensor v = *kiln_tensor_map_at(r->grads, i);
        v.owns_data = 0;
        s = kiln_tensor_map_put(out, kiln_tensor_map_name(r->grads, i), v);
    }
    if (!s) s = kiln_safetensors_save(path, out);
    kiln_tensor_map_free(out);
    return s;
}

static int report(const train_args *a, const kiln_model *m, const kiln_train_options *o, const kiln_train_result *r) {
    kiln_status s = KILN_OK;
    if (a->out && !s) s = write_weights(a->out, m, r->weights);
    if (a->grads_out && !s) s = write_grads(a->grads_out, r);
    if (a->csv && !s) s = write_csv(a->csv, r);
    if (a->plot && !s) s = write_plot(a->plot, m->name, r);
    if (s) return fail_status(s);
    if (!a->quiet) {
        char val[64] = "";
        if (r->nval > 0) snprintf(val, sizeof val, ", validation loss %.4f", r->val_loss[r->nval - 1]);
        fprintf(stderr,
                "kiln: trained %s (%lld parameters) on %s: %d steps, final loss %.4f%s; %.0f tokens/s "
                "(compiled in %.2f s, trained in %.2f s)\n",
                m->name, (long long)r->nparams, kiln_device_name(o->session.device.kind), r->nsteps,
                r->nsteps ? r->train_loss[r->nsteps - 1] : NAN, val, r->tokens_per_s, r->compile_s, r->train_s);
    }
    return 0;
}

static int int_arg(const char *name, long v, long lo, int *out) {
    if (v < lo || v > 1000000000L) return fail("train: --%s %ld: must be between %ld and 1000000000", name, v, lo);
    *out = (int)v;
    return 0;
}

int cmd_train(int argc, char **argv) {
    kiln_train_options o;
    kiln_train_options_default(&o);
    model_args ma = {0};
    train_args a;
    memset(&a, 0, sizeof a);
    a.device = "auto";
    a.steps = o.steps, a.batch = o.batch, a.seq = o.seq, a.seed = (long)o.seed;
    a.eval_every = 0, a.eval_batches = o.eval_batches;
    a.lr = o.lr, a.weight_decay = o.optim.weight_decay, a.beta1 = o.optim.beta1, a.beta2 = o.optim.beta2;
    a.eps = o.optim.eps, a.grad_clip = o.optim.grad_clip, a.val_fraction = o.val_fraction;
    const opt_spec opts[] = {
        {"data", 0, OPT_STRING, &a.data, "FILE.txt", "train on this text (tokenized for the model, or its bytes)"},
        {"tokens", 0, OPT_STRING, &a.tokens, "IN.safetensors", "train on its input_ids [batch, seq] every step"},
        {"tokenizer", 0, OPT_STRING, &a.tokenizer, "PATH", "tokenizer for --data (default: the model's own)"},
        {"steps", 'n', OPT_INT, &a.steps, "N", "optimizer steps (default 100)"},
        {"batch", 'b', OPT_INT, &a.batch, "N", "windows per step (default 4)"},
        {"seq", 0, OPT_INT, &a.seq, "N", "predicted tokens per window; windows are N + 1 tokens (default 64)"},
        {"lr", 0, OPT_DOUBLE, &a.lr, "X", "learning rate (default 1e-3)"},
        {"weight-decay", 0, OPT_DOUBLE, &a.weight_decay, "X", "AdamW decoupled weight decay (default 0.01)"},
        {"beta1", 0, OPT_DOUBLE, &a.beta1, "X", "AdamW first-moment decay (default 0.9)"},
        {"beta2", 0, OPT_DOUBLE, &a.beta2, "X", "AdamW second-moment decay (default 0.999)"},
        {"eps", 0, OPT_DOUBLE, &a.eps, "X", "AdamW epsilon (default 1e-8)"},
        {"grad-clip", 0, OPT_DOUBLE, &a.grad_clip, "X", "clip the global gradient norm to X; 0 = off (default 1)"},
        {"seed", 0, OPT_INT, &a.seed, "N", "seed for initialization and batch sampling (default 1)"},
        {"val-fraction", 0, OPT_DOUBLE, &a.val_fraction, "X", "share of --data held out for validation (default 0.1)"},
        {"eval-every", 0, OPT_INT, &a.eval_every, "N", "validate every N steps (default: at the end only)"},
        {"eval-batches", 0, OPT_INT, &a.eval_batches, "N", "batches per validation (default 4)"},
        {"device", 'd', OPT_STRING, &a.device, "DEV", "auto (default), ref, cpu, vulkan, vulkan:N, kir"},
        {"threads", 't', OPT_INT, &a.threads, "N", "CPU worker threads (default: all cores)"},
        {"out", 'o', OPT_STRING, &a.out, "FILE", "write the trained weights (safetensors, the model's tensor names)"},
        {"grads-out", 0, OPT_STRING, &a.grads_out, "FILE", "write the last step's gradients (grad.<name>) and loss (train_loss)"},
        {"csv", 0, OPT_STRING, &a.csv, "FILE", "write the loss curve: step,train_loss,val_loss"},
        {"plot", 0, OPT_STRING, &a.plot, "FILE.svg", "draw the loss curve (SVG)"},
        {"logits", 0, OPT_STRING, &a.logits, "NAME", "the output to train (default logits)"},
        {"quiet", 'q', OPT_FLAG, &a.quiet, NULL, "no progress and no summary"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "train", "MODEL (--data FILE.txt | --tokens IN.safetensors) [options]",
        "Train a causal language model with cross-entropy and AdamW, one compiled graph per step.",
        "The loss is Hugging Face's: logits[:, :-1] against input_ids[:, 1:], the mean over every\n"
        "position. Each step differentiates it with respect to every f32 parameter, clips the global\n"
        "gradient norm (--grad-clip) and applies AdamW as in torch.optim.AdamW. With --data, each\n"
        "step takes --batch random windows of --seq + 1 tokens from the first part of the text (seeded\n"
        "by --seed); the last --val-fraction is held out and evaluated on fixed windows. A model\n"
        "without a tokenizer and with at least 256 tokens reads the text as bytes. A .kiln model\n"
        "without weights starts from fresh ones: norm scales 1, other vectors 0, matrices normal(0, 0.02).\n"
        "Progress goes to stderr (a bar on a terminal). See docs/training.md.\n\n"
        "examples:\n"
        "  kiln train ../shared/fixtures/hf/gpt2-tiny --tokens in.safetensors --steps 1 --out ckpt.safetensors\n"
        "  kiln train examples/gpt2.kiln --set n_layer=2 --set n_embd=64 --set vocab_size=256 \\\n"
        "      --data notes.txt --steps 200 --seq 64 --device cpu --plot loss.svg\n"
        "  kiln run ../shared/fixtures/hf/gpt2-tiny --weights ckpt.safetensors --inputs in.safetensors",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int rc = parse_args(&spec, argc, argv, pos, &npos);
    if (rc) return rc == 1 ? 0 : 2;
    if (!a.data == !a.tokens) return fail("train: give exactly one of --data FILE.txt or --tokens IN.safetensors");
    if (int_arg("steps", a.steps, 0, &o.steps) || int_arg("batch", a.batch, 1, &o.batch) ||
        int_arg("seq", a.seq, 1, &o.seq) || int_arg("eval-every", a.eval_every, 0, &o.eval_every) ||
        int_arg("eval-batches", a.eval_batches, 0, &o.eval_batches))
        return 2;
    if (a.threads < 0 || a.threads > 4096) return fail("train: --threads %ld: must be between 0 and 4096", a.threads);
    if (a.seed < 0) return fail("train: --seed %ld: must be >= 0", a.seed);
    kiln_status s = kiln_device_parse(a.device, &o.session.device);
    if (s) return fail_status(s);
    o.session.threads = (int)a.threads;
    o.lr = a.lr;
    o.optim.weight_decay = a.weight_decay, o.optim.beta1 = a.beta1, o.optim.beta2 = a.beta2;
    o.optim.eps = a.eps, o.optim.grad_clip = a.grad_clip, o.optim.logits = a.logits;
    o.seed = (uint64_t)a.seed;
    o.data_path = a.data, o.tokens_path = a.tokens, o.tokenizer_path = a.tokenizer;
    o.val_fraction = a.val_fraction;
    o.keep_grads = a.grads_out != NULL;
    progress_ctx pc = {isatty(fileno(stderr)), -1};
    if (!a.quiet) o.progress = on_progress, o.progress_ctx = &pc;

    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    kiln_train_result r;
    s = kiln_train_run(m, &o, &r);
    if (s) {
        if (pc.tty && !a.quiet) fputc('\n', stderr);
        kiln_model_free(m);
        return fail_status(s);
    }
    rc = report(&a, m, &o, &r);
    kiln_train_result_free(&r);
    kiln_model_free(m);
    return rc;
}
