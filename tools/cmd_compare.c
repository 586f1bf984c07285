/* kiln compare: train several architecture variants with the same seed,
 * data and budget, then put their numbers side by side (a table, a CSV)
 * and their loss curves in one plot. Training itself is kiln_train_run
 * (runtime/train.c); this file only runs it per variant and reports. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "kiln/plot.h"
#include "kiln/train.h"
#include "model_args.h"

#define MAX_VARIANTS 16

typedef struct compare_args {
    const char *data, *device, *plot, *csv, *logits, *tokenizer;
    long steps, batch, seq, seed, threads, eval_every, eval_batches;
    double lr, weight_decay, val_fraction;
    string_list sets;
} compare_args;

typedef struct variant {
    const char *path;
    char label[128];
    kiln_model *model;
    kiln_train_result result;
    int trained;
} variant;

/* Progress on stderr: one rewritten line on a terminal, a line every tenth
 * of the run otherwise (logs stay short). */
typedef struct progress_ctx {
    const char *label;
    int index, count, tty, last_tenth;
} progress_ctx;

static void on_progress(void *ctx, const kiln_train_progress *p) {
    progress_ctx *c = ctx;
    int tenth = p->steps > 0 ? p->step * 10 / p->steps : 10;
    if (!c->tty && tenth == c->last_tenth && p->step != 1) return;
    c->last_tenth = tenth;
    char val[48] = "";
    if (!isnan(p->val_loss)) snprintf(val, sizeof val, "  val %.4f", p->val_loss);
    fprintf(stderr, "%s[%d/%d] %-16s step %5d/%-5d loss %.4f%s  %7.0f tok/s  eta %4.0fs%s", c->tty ? "\r" : "",
            c->index + 1, c->count, c->label, p->step, p->steps, p->loss, val, p->tokens_per_s, p->eta_s,
            c->tty ? "\033[K" : "\n");
    fflush(stderr);
}

/* Labels are the models' names (file stems); a name used twice gets "#2",
 * "#3" so rows and curves stay apart. */
static void make_labels(variant *v, int n) {
    for (int i = 0; i < n; i++) {
        const char *name = v[i].model->name ? v[i].model->name : v[i].path;
        int same = 0;
        for (int j = 0; j < i; j++)
            if (strcmp(v[j].model->name ? v[j].model->name : v[j].path, name) == 0) same++;
        if (same)
            snprintf(v[i].label, sizeof v[i].label, "%s#%d", name, same + 1);
        else
            snprintf(v[i].label, sizeof v[i].label, "%s", name);
    }
}

/* Checked before any training starts, so a bad variant fails in seconds,
 * not after the others have trained. */
static kiln_status check_variant(const variant *v, const char *logits) {
    const kiln_graph *g = v->model->graph;
    for (int i = 0; i < kiln_graph_output_count(g); i++)
        if (strcmp(kiln_graph_output_name(g, i), logits) == 0) return KILN_OK;
    return kiln_error(KILN_ERR_NOT_FOUND,
                      "%s: the model has no output '%s' to train on (a language model's logits; --logits NAME picks "
                      "another output)",
                      v->path, logits);
}

/* An output file whose folder is missing or read-only is reported before
 * minutes of training, not after. */
static kiln_status check_writable(const char *path, const char *what) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK) != 0)
        return kiln_error(KILN_ERR_IO, "%s: cannot write the %s there: %s: %s", path, what, dir, strerror(errno));
    return KILN_OK;
}

/* Mean of the last tenth of the steps (at least one): a single step's loss
 * is one batch's, too noisy to rank variants by. */
static int tail_steps(const kiln_train_result *r) { return r->nsteps / 10 > 0 ? r->nsteps / 10 : 1; }

static double tail_loss(const kiln_train_result *r) {
    int k = tail_steps(r);
    double s = 0;
    for (int i = r->nsteps - k; i < r->nsteps; i++) s += r->train_loss[i];
    return r->nsteps > 0 ? s / k : NAN;
}

static double final_val(const kiln_train_result *r) { return r->nval > 0 ? r->val_loss[r->nval - 1] : NAN; }

static void print_table(const variant *v, int n) {
    int w = 7;
    for (int i = 0; i < n; i++)
        if ((int)strlen(v[i].label) > w) w = (int)strlen(v[i].label);
    printf("\n%-*s  %10s  %10s  %10s  %10s  %8s\n", w, "variant", "params", "train loss", "val loss", "tokens/s",
           "time s");
    for (int i = 0; i < n; i++) {
        const kiln_train_result *r = &v[i].result;
        printf("%-*s  %10lld  %10.4f  %10.4f  %10.0f  %8.1f\n", w, v[i].label, (long long)r->nparams, tail_loss(r),
               final_val(r), r->tokens_per_s, r->compile_s + r->train_s);
    }
    if (n > 0)
        printf("train loss: mean of the last %d steps; val loss: held-out text after the last step; "
               "time: compile + train\n",
               tail_steps(&v[0].result));
}

/* Long format: one row per variant and step, validation where it ran. */
static kiln_status write_csv(const char *path, const variant *v, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot write CSV: %s", path, strerror(errno));
    fprintf(f, "variant,step,train_loss,val_loss\n");
    for (int i = 0; i < n; i++) {
        const kiln_train_result *r = &v[i].result;
        int k = 0;
        for (int s = 0; s < r->nsteps; s++) {
            fprintf(f, "%s,%d,%.6f,", v[i].label, s + 1, r->train_loss[s]);
            while (k < r->nval && r->val_step[k] < s + 1) k++;
            if (k < r->nval && r->val_step[k] == s + 1) fprintf(f, "%.6f", r->val_loss[k]);
            fputc('\n', f);
        }
    }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    return bad ? kiln_error(KILN_ERR_IO, "%s: writing CSV failed: %s", path, strerror(errno ? errno : EIO)) : KILN_OK;
}

/* Smoothing window of the plotted train curves: one batch's loss is noisy,
 * and four noisy curves on top of each other hide their differences. */
static int smooth_window(int nsteps) { return nsteps / 50 > 1 ? nsteps / 50 : 1; }

/* One colour per variant: its train loss (a trailing mean over
 * smooth_window steps) solid, its validation loss dashed with markers. */
static kiln_status write_plot(const char *path, const char *data, const variant *v, int n) {
    kiln_plot_series *series = calloc((size_t)(2 * n), sizeof *series);
    kiln_plot_style *styles = calloc((size_t)(2 * n), sizeof *styles);
    double **buf = calloc((size_t)(4 * n), sizeof *buf);
    char(*labels)[160] = calloc((size_t)(2 * n), sizeof *labels);
    kiln_status s = KILN_OK;
    int ns = 0, w = n > 0 ? smooth_window(v[0].result.nsteps) : 1;
    if (!series || !styles || !buf || !labels) s = kiln_error(KILN_ERR_NOMEM, "plot %s: out of memory", path);
    for (int i = 0; i < n && !s; i++) {
        const kiln_train_result *r = &v[i].result;
        double *x = buf[4 * i] = malloc(sizeof(double) * (size_t)(r->nsteps + 1));
        double *y = buf[4 * i + 1] = malloc(sizeof(double) * (size_t)(r->nsteps + 1));
        double *vx = buf[4 * i + 2] = malloc(sizeof(double) * (size_t)(r->nval + 1));
        double *vy = buf[4 * i + 3] = malloc(sizeof(double) * (size_t)(r->nval + 1));
        if (!x || !y || !vx || !vy) {
            s = kiln_error(KILN_ERR_NOMEM, "plot %s: out of memory", path);
            break;
        }
        double sum = 0;
        for (int k = 0; k < r->nsteps; k++) {
            sum += r->train_loss[k];
            if (k >= w) sum -= r->train_loss[k - w];
            x[k] = k + 1;
            y[k] = sum / (k + 1 < w ? k + 1 : w);
        }
        snprintf(labels[ns], sizeof labels[ns], "%s train", v[i].label);
        series[ns] = (kiln_plot_series){labels[ns], x, y, r->nsteps};
        styles[ns++] = (kiln_plot_style){i + 1, 0};
        if (r->nval == 0) continue;
        for (int k = 0; k < r->nval; k++) vx[k] = r->val_step[k], vy[k] = r->val_loss[k];
        snprintf(labels[ns], sizeof labels[ns], "%s val", v[i].label);
        series[ns] = (kiln_plot_series){labels[ns], vx, vy, r->nval};
        styles[ns++] = (kiln_plot_style){i + 1, 1};
    }
    if (!s) {
        const char *base = strrchr(data, '/');
        char title[256], ylabel[96];
        snprintf(title, sizeof title, "kiln compare: loss on %s", base ? base + 1 : data);
        if (w > 1)
            snprintf(ylabel, sizeof ylabel, "loss (nats/token); train: mean of %d steps", w);
        else
            snprintf(ylabel, sizeof ylabel, "loss (nats/token)");
        s = kiln_plot_svg_styled(path, title, "step", ylabel, series, styles, ns);
    }
    for (int i = 0; buf && i < 4 * n; i++) free(buf[i]);
    free(buf);
    free(series);
    free(styles);
    free(labels);
    return s;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare(const compare_args *a, variant *v, int n) {
    double start = now_s();
    kiln_train_options o;
    kiln_train_options_default(&o);
    kiln_status s = kiln_device_parse(a->device, &o.session.device);
    if (s) return fail_status(s);
    o.session.threads = (int)a->threads;
    o.steps = (int)a->steps;
    o.batch = (int)a->batch;
    o.seq = (int)a->seq;
    o.lr = a->lr;
    o.optim.weight_decay = a->weight_decay;
    o.optim.logits = a->logits;
    o.seed = (uint64_t)a->seed;
    o.data_path = a->data;
    o.tokenizer_path = a->tokenizer;
    if (a->val_fraction >= 0) o.val_fraction = a->val_fraction;
    o.eval_every = a->eval_every >= 0 ? (int)a->eval_every : (o.steps >= 10 ? o.steps / 10 : 0);
    if (a->eval_batches > 0) o.eval_batches = (int)a->eval_batches;
    o.progress = on_progress;

    printf("compare: %d variant%s on %s (%s), %d steps x batch %d x seq %d, lr %g, weight decay %g, seed %llu\n", n,
           n == 1 ? "" : "s", a->data, kiln_device_name(o.session.device.kind), o.steps, o.batch, o.seq, o.lr,
           o.optim.weight_decay, (unsigned long long)o.seed);
    fflush(stdout);
    progress_ctx pc = {0};
    pc.count = n;
    pc.tty = isatty(fileno(stderr));
    for (int i = 0; i < n; i++) {
        pc.index = i;
        pc.label = v[i].label;
        pc.last_tenth = -1;
        o.progress_ctx = &pc;
        s = kiln_train_run(v[i].model, &o, &v[i].result);
        if (pc.tty) fputc('\n', stderr);
        if (s) return fail_status(kiln_error_wrap(s, "compare: training %s", v[i].path));
        v[i].trained = 1;
        if (i == 0)
            printf("data: %lld training tokens, %lld held out for validation\n", (long long)v[i].result.train_tokens,
                   (long long)v[i].result.val_tokens);
    }
    print_table(v, n);
    printf("total wall time: %.1f s\n", now_s() - start);
    if (a->csv) {
        s = write_csv(a->csv, v, n);
        if (s) return fail_status(s);
        printf("wrote %s\n", a->csv);
    }
    if (a->plot) {
        s = write_plot(a->plot, a->data, v, n);
        if (s) return fail_status(s);
        printf("wrote %s\n", a->plot);
    }
    return 0;
}

int cmd_compare(int argc, char **argv) {
    compare_args a = {0};
    kiln_train_options d;
    kiln_train_options_default(&d);
    a.device = "cpu";
    a.steps = d.steps;
    a.batch = d.batch;
    a.seq = d.seq;
    a.lr = d.lr;
    a.weight_decay = d.optim.weight_decay;
    a.seed = (long)d.seed;
    a.eval_every = -1;
    a.val_fraction = -1;
    a.logits = "logits";
    const opt_spec opts[] = {
        {"data", 0, OPT_STRING, &a.data, "FILE", "training text (bytes for byte-level models, else the model's tokenizer)"},
        {"steps", 0, OPT_INT, &a.steps, "N", "optimizer steps per variant (default 100)"},
        {"batch", 'b', OPT_INT, &a.batch, "N", "sequences per step (default 4)"},
        {"seq", 0, OPT_INT, &a.seq, "N", "predicted tokens per sequence (default 64)"},
        {"lr", 0, OPT_DOUBLE, &a.lr, "X", "AdamW learning rate (default 1e-3)"},
        {"weight-decay", 0, OPT_DOUBLE, &a.weight_decay, "X", "AdamW decoupled weight decay (default 0.01)"},
        {"seed", 0, OPT_INT, &a.seed, "N", "initialization and batch order, the same for every variant (default 1)"},
        {"eval-every", 0, OPT_INT, &a.eval_every, "N", "validate every N steps (default: steps / 10; 0: at the end only)"},
        {"eval-batches", 0, OPT_INT, &a.eval_batches, "N", "batches averaged per validation (default 4)"},
        {"val-fraction", 0, OPT_DOUBLE, &a.val_fraction, "X", "share of the text held out for validation (default 0.1)"},
        {"device", 'd', OPT_STRING, &a.device, "DEV", "cpu (default), vulkan, vulkan:N, kir, ref"},
        {"threads", 't', OPT_INT, &a.threads, "N", "CPU worker threads (default: all cores)"},
        {"plot", 0, OPT_STRING, &a.plot, "FILE.svg", "draw every variant's train and validation loss in one SVG plot"},
        {"csv", 0, OPT_STRING, &a.csv, "FILE.csv", "write the losses: variant,step,train_loss,val_loss"},
        {"logits", 0, OPT_STRING, &a.logits, "NAME", "the output holding the logits (default logits)"},
        {"tokenizer", 0, OPT_STRING, &a.tokenizer, "FILE", "tokenizer for the text (default: the model's own)"},
        {"set", 0, OPT_LIST, &a.sets, "NAME=VALUE", "override a config value in every variant (repeatable)"},
        {0},
    };
    const command_spec spec = {
        "compare", "VARIANT... --data FILE [options]",
        "Train architecture variants with the same seed, data and budget; compare their losses.",
        "Each VARIANT (a .kiln description or any model kiln train accepts) is trained from scratch (or from its\n"
        "weights, if it has some) on the same text with the same seed, batches and budget. The table gives each\n"
        "variant's trainable parameters, training loss (mean of the last tenth of the steps), validation loss on\n"
        "the held-out end of the text, throughput and time; --plot draws all loss curves in one SVG, --csv\n"
        "writes them as numbers. Every variant is checked (loads, has logits) before any training starts.\n\n"
        "example:\n"
        "  kiln compare examples/train/gpt_*.kiln --data examples/train/shakespeare.txt --plot compare.svg",
        opts, 1, MAX_VARIANTS};
    const char *pos[MAX_VARIANTS];
    int npos = 0;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (!a.data) return fail("compare: --data FILE is required");
    if (a.steps < 1 || a.batch < 1 || a.seq < 1)
        return fail("compare: --steps, --batch and --seq must be at least 1 (got %ld, %ld, %ld)", a.steps, a.batch,
                    a.seq);
    if (a.steps > 100000000 || a.batch > 1000000 || a.seq > 1000000)
        return fail("compare: --steps, --batch or --seq is too large");
    if (!(a.lr > 0) || !isfinite(a.lr)) return fail("compare: --lr must be a positive number (got %g)", a.lr);
    if (!(a.weight_decay >= 0) || !isfinite(a.weight_decay))
        return fail("compare: --weight-decay must be a non-negative number (got %g)", a.weight_decay);
    if (a.seed < 0) return fail("compare: --seed must be non-negative");
    if (a.val_fraction >= 1) return fail("compare: --val-fraction must be below 1 (got %g)", a.val_fraction);
    FILE *df = fopen(a.data, "rb");
    if (!df) return fail("compare: cannot read data file '%s': %s", a.data, strerror(errno));
    fclose(df);
    kiln_status ws = a.plot ? check_writable(a.plot, "plot") : KILN_OK;
    if (!ws && a.csv) ws = check_writable(a.csv, "CSV");
    if (ws) return fail_status(kiln_error_wrap(ws, "compare"));

    variant v[MAX_VARIANTS];
    memset(v, 0, sizeof v);
    model_args ma = {0};
    ma.sets = a.sets;
    int rc = 0;
    for (int i = 0; i < npos && !rc; i++) {
        v[i].path = pos[i];
        if (!(v[i].model = load_model(pos[i], &ma))) rc = 1;
        else {
            kiln_status s = check_variant(&v[i], a.logits);
            if (s) rc = fail_status(s);
        }
    }
    if (!rc) {
        make_labels(v, npos);
        rc = compare(&a, v, npos);
    }
    for (int i = 0; i < npos; i++) {
        if (v[i].trained) kiln_train_result_free(&v[i].result);
        kiln_model_free(v[i].model);
    }
    return rc;
}
