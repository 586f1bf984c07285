/* kiln onnx-test: runs ONNX backend node tests (a folder with model.onnx
 * and test_data_set_N/{input,output}_M.pb TensorProto files, or a folder
 * of such folders) and compares kiln's outputs with the expected ones.
 *
 * Tolerances: |got - want| <= atol + rtol |want|, NaN matching NaN and
 * infinities exactly. float32/float64: rtol 1e-3, atol 1e-5 -- the expected
 * outputs were computed by numpy (often in float32, op by op), kiln's
 * reference rounds each op's double result to the stored type, so results
 * differ by a few ulps per op (~1e-6 relative); composites (softmax, norms,
 * attention) are computed by different but equivalent formulas; 1e-3 leaves
 * room for that and for long reductions, while a wrong result is off by far
 * more. atol 1e-5 covers values that cancel to near zero (x - mean).
 * float16 (rtol 5e-3, atol 1e-3) and bfloat16 (rtol 3e-2, atol 1e-2) scale
 * the same allowance, a few ulps, to their 11- and 8-bit significands.
 * Integers and bools must match exactly. */
#include <dirent.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "args.h"
#include "kiln/onnx.h"
#include "kiln/session.h"

typedef struct tally {
    int passed, failed, unsupported;
} tally;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of entries in dir starting with prefix; caller frees. */
static char **list_dir(const char *dir, const char *prefix, int *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, sizeof *p * (size_t)cap);
            if (!p) break;
            names = p;
        }
        if (!(names[*count] = strdup(e->d_name))) break;
        (*count)++;
    }
    closedir(d);
    if (names) qsort(names, (size_t)*count, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void tolerance(kiln_dtype t, double *rtol, double *atol) {
    if (t == KILN_F16) *rtol = 5e-3, *atol = 1e-3;
    else if (t == KILN_BF16) *rtol = 3e-2, *atol = 1e-2;
    else *rtol = 1e-3, *atol = 1e-5;
}

static void index_str(const kiln_tensor *t, int64_t i, char *buf, size_t cap) {
    int64_t idx[KILN_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->rank && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* 1 when got matches want; else a message naming the worst element. */
static int compare(const char *name, const kiln_tensor *got, const kiln_tensor *want, char *msg, size_t cap) {
    char s1[128], s2[128];
    int same = got->rank == want->rank;
    for (int d = 0; same && d < got->rank; d++) same = got->shape[d] == want->shape[d];
    if (!same || got->dtype != want->dtype) {
        snprintf(msg, cap, "output '%s' is %s, expected %s", name, kiln_tensor_shape_str(got, s1, sizeof s1),
                 kiln_tensor_shape_str(want, s2, sizeof s2));
        return 0;
    }
    int64_t n = kiln_tensor_numel(want), worst = -1, bad = 0;
    double worst_excess = 0;
    if (kiln_dtype_is_float(want->dtype)) {
        double rtol, atol;
        tolerance(want->dtype, &rtol, &atol);
        for (int64_t i = 0; i < n; i++) {
            double a = kiln_load_f64(got->data, got->dtype, (size_t)i), e = kiln_load_f64(want->data, want->dtype, (size_t)i);
            double excess;
            if (isnan(e) || isnan(a)) excess = isnan(e) && isnan(a) ? 0 : INFINITY;
            else if (isinf(e) || isinf(a)) excess = a == e ? 0 : INFINITY;
            else excess = fabs(a - e) - (atol + rtol * fabs(e));
            if (excess > 0) {
                bad++;
                if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
            }
        }
        if (worst >= 0) {
            index_str(want, worst, s1, sizeof s1);
            snprintf(msg, cap, "output '%s': %lld of %lld elements differ; worst at %s: got %.9g, expected %.9g (rtol %g, atol %g)",
                     name, (long long)bad, (long long)n, s1, kiln_load_f64(got->data, got->dtype, (size_t)worst),
                     kiln_load_f64(want->data, want->dtype, (size_t)worst), rtol, atol);
            return 0;
        }
        return 1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (kiln_load_i64(got->data, got->dtype, (size_t)i) != kiln_load_i64(want->data, want->dtype, (size_t)i)) {
            if (worst < 0) worst = i;
            bad++;
        }
    }
    if (worst >= 0) {
        index_str(want, worst, s1, sizeof s1);
        snprintf(msg, cap, "output '%s': %lld of %lld elements differ; first at %s: got %lld, expected %lld", name,
                 (long long)bad, (long long)n, s1, (long long)kiln_load_i64(got->data, got->dtype, (size_t)worst),
                 (long long)kiln_load_i64(want->data, want->dtype, (size_t)worst));
        return 0;
    }
    return 1;
}

enum { R_PASS, R_FAIL, R_UNSUPPORTED };

static int classify(kiln_status s) { return kiln_status_code(s) == KILN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL; }

/* The data set's input_M.pb tensors by name: the tensor's own name when
 * the graph (if given) has such an input, else the graph's M-th input. */
static kiln_status read_feed(const char *dir, const kiln_graph *g, kiln_tensor_map **out) {
    int nin;
    char **ins = list_dir(dir, "input_", &nin);
    kiln_tensor_map *feed = kiln_tensor_map_new();
    kiln_status s = feed ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    int ngraph_in = g ? kiln_graph_input_count(g) : 0;
    for (int m = 0; m < nin && !s; m++) {
        char path[4096], *tname = NULL;
        if ((size_t)snprintf(path, sizeof path, "%s/input_%d.pb", dir, m) >= sizeof path) {
            s = kiln_error(KILN_ERR_LIMIT, "%s: path too long", dir);
            break;
        }
        kiln_tensor t;
        s = kiln_onnx_read_tensor(path, &t, &tname);
        if (s) break;
        const char *name = NULL;
        if (tname && *tname && (!g || kiln_graph_find_input(g, tname) != KILN_NONE)) name = tname;
        else if (m < ngraph_in) name = kiln_graph_node(g, kiln_graph_input_value(g, m))->name;
        if (!name) s = kiln_error(KILN_ERR_UNSUPPORTED, "%s: cannot tell which graph input it is", path);
        else s = kiln_tensor_map_put(feed, name, t);
        if (s) kiln_tensor_release(&t);
        free(tname);
    }
    free_list(ins, nin);
    if (s) kiln_tensor_map_free(feed);
    else *out = feed;
    return s;
}

/* Runs the graph on one data set's inputs and compares every output. */
static int run_data_set(const char *dir, const kiln_graph *g, kiln_session *sess, const kiln_tensor_map *feed, char *msg,
                        size_t cap) {
    int nout, rc = R_PASS;
    char **outs = list_dir(dir, "output_", &nout);
    kiln_tensor_map *res = NULL;
    kiln_status s = kiln_session_run(sess, feed, &res);
    if (s) {
        rc = classify(s);
        snprintf(msg, cap, "%s", kiln_status_message(s));
        kiln_status_free(s);
    } else if (nout != kiln_graph_output_count(g)) {
        rc = R_FAIL;
        snprintf(msg, cap, "%d expected outputs for %d graph outputs", nout, kiln_graph_output_count(g));
    }
    for (int j = 0; rc == R_PASS && j < nout; j++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/output_%d.pb", dir, j) >= sizeof path) {
            rc = R_FAIL;
            snprintf(msg, cap, "path too long");
            break;
        }
        kiln_tensor want;
        s = kiln_onnx_read_tensor(path, &want, NULL);
        if (s) {
            rc = classify(s);
            snprintf(msg, cap, "%s", kiln_status_message(s));
            kiln_status_free(s);
            break;
        }
        const char *oname = kiln_graph_output_name(g, j);
        const kiln_tensor *got = kiln_tensor_map_get(res, oname);
        if (!got) {
            rc = R_FAIL;
            snprintf(msg, cap, "no output '%s'", oname);
        } else if (!compare(oname, got, &want, msg, cap)) {
            rc = R_FAIL;
        }
        kiln_tensor_release(&want);
    }
    kiln_tensor_map_free(res);
    free_list(outs, nout);
    return rc;
}

/* Inputs that play the part of attributes (shapes, axes, K, a Range's
 * bounds, Resize's scales and roi): integer tensors of up to 64 elements,
 * float tensors of up to 8. */
static kiln_tensor_map *shape_like_inputs(const kiln_tensor_map *feed) {
    kiln_tensor_map *bind = kiln_tensor_map_new();
    for (int i = 0; bind && i < kiln_tensor_map_count(feed); i++) {
        const kiln_tensor *t = kiln_tensor_map_at(feed, i);
        int64_t n = kiln_tensor_numel(t);
        if ((!kiln_dtype_is_float(t->dtype) && n <= 64) || n <= 8) {
            kiln_tensor copy;
            kiln_status s = kiln_tensor_convert(t, t->dtype, &copy);
            if (!s) s = kiln_tensor_map_put(bind, kiln_tensor_map_name(feed, i), copy);
            if (s) {
                kiln_status_free(s);
                kiln_tensor_map_free(bind);
                return NULL;
            }
        }
    }
    return bind;
}

/* "path: message" -> "message" */
static void set_msg(char *msg, size_t cap, kiln_status s, const char *path) {
    const char *m = kiln_status_message(s);
    size_t n = strlen(path);
    if (strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    snprintf(msg, cap, "%s", m);
}

/* Loads (with `bind` when given), builds a session, runs one data set. */
static int load_and_run(const char *model, const char *set, const kiln_tensor_map *bind, const kiln_session_options *so,
                        char *msg, size_t cap) {
    kiln_graph *g = NULL;
    kiln_tensor_map *w = NULL, *feed = NULL;
    kiln_session *sess = NULL;
    int rc = R_PASS;
    kiln_status s = kiln_onnx_load_bound(model, bind, &g, &w);
    if (!s) s = kiln_session_create(g, w, so, &sess);
    if (!s) s = read_feed(set, bind ? NULL : g, &feed);
    if (s) {
        rc = classify(s);
        set_msg(msg, cap, s, model);
        kiln_status_free(s);
    } else {
        rc = run_data_set(set, g, sess, feed, msg, cap);
    }
    kiln_tensor_map_free(feed);
    kiln_session_free(sess);
    kiln_graph_free(g);
    kiln_tensor_map_free(w);
    return rc;
}

/* One test folder. Models that take shape arguments as inputs are
 * imported again per data set with those inputs bound (see
 * kiln_onnx_load_bound). */
static int run_test(const char *dir, const char *name, const kiln_session_options *so, int verbose, tally *t) {
    char model[4096], msg[2048] = "";
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    int nsets = 0, rc = R_PASS, bound = 0;
    char **sets = list_dir(dir, "test_data_set_", &nsets);
    kiln_graph *g = NULL;
    kiln_tensor_map *w = NULL;
    kiln_status s = kiln_onnx_load(model, &g, &w);
    if (s) {
        bound = kiln_status_code(s) == KILN_ERR_UNSUPPORTED;
        rc = classify(s);
        set_msg(msg, sizeof msg, s, model);
        kiln_status_free(s);
    }
    kiln_graph_free(g);
    kiln_tensor_map_free(w);
    if (rc == R_PASS || bound) {
        char first[2048];
        snprintf(first, sizeof first, "%s", msg);
        rc = R_PASS;
        for (int i = 0; i < nsets && rc == R_PASS; i++) {
            char set[4096];
            snprintf(set, sizeof set, "%s/%s", dir, sets[i]);
            kiln_tensor_map *bind = NULL, *feed = NULL;
            if (bound) {
                s = read_feed(set, NULL, &feed);
                if (s) { /* inputs kiln cannot read: the first reason stands */
                    rc = R_UNSUPPORTED;
                    kiln_status_free(s);
                    break;
                }
                bind = shape_like_inputs(feed);
                kiln_tensor_map_free(feed);
                if (!bind) {
                    rc = R_FAIL;
                    snprintf(msg, sizeof msg, "out of memory");
                    break;
                }
            }
            rc = load_and_run(model, set, bind, so, msg, sizeof msg);
            kiln_tensor_map_free(bind);
            if (rc == R_UNSUPPORTED && bound) snprintf(msg, sizeof msg, "%s", first);
            if (rc != R_PASS && nsets > 1) {
                char tmp[sizeof msg];
                snprintf(tmp, sizeof tmp, "%s", msg);
                snprintf(msg, sizeof msg, "%.64s: %.1900s", sets[i], tmp);
            }
        }
        if (rc == R_PASS && nsets == 0) {
            rc = R_FAIL;
            snprintf(msg, sizeof msg, "no test_data_set_* folders");
        }
    }
    free_list(sets, nsets);
    if (rc == R_PASS) {
        t->passed++;
        if (verbose) printf("pass %s%s\n", name, bound ? " (shape inputs bound at import)" : "");
    } else if (rc == R_FAIL) {
        t->failed++;
        printf("FAIL %s: %s\n", name, msg);
    } else {
        t->unsupported++;
        if (verbose) printf("unsupported %s: %s\n", name, msg);
    }
    fflush(stdout);
    return rc;
}

/* 1 when name matches one of the comma-separated glob patterns. */
static int matches_any(const char *name, const char *patterns) {
    while (patterns && *patterns) {
        const char *end = strchr(patterns, ',');
        size_t len = end ? (size_t)(end - patterns) : strlen(patterns);
        char pat[256];
        if (len > 0 && len < sizeof pat) {
            memcpy(pat, patterns, len);
            pat[len] = 0;
            if (fnmatch(pat, name, 0) == 0) return 1;
        }
        patterns = end ? end + 1 : NULL;
    }
    return 0;
}

int cmd_onnx_test(int argc, char **argv) {
    const char *device = "ref", *only = NULL, *skip = NULL;
    int verbose = 0;
    const opt_spec opts[] = {
        {"device", 'd', OPT_STRING, &device, "DEV", "ref (default), kir, cpu, vulkan, vulkan:N, auto"},
        {"only", 0, OPT_STRING, &only, "GLOBS", "run only tests whose folder name matches one of these (comma-separated)"},
        {"skip", 0, OPT_STRING, &skip, "GLOBS", "leave out tests whose folder name matches one of these"},
        {"verbose", 'v', OPT_FLAG, &verbose, NULL, "also list passing and unsupported tests (with the reason)"},
        {0},
    };
    const command_spec spec = {
        "onnx-test", "DIR [--device DEV] [-v]",
        "Run ONNX backend node tests and compare kiln's outputs with the expected ones.",
        "DIR is one test folder (model.onnx and test_data_set_*/input_*.pb, output_*.pb) or a folder of them.\n"
        "Failures are always listed with the worst element; -v lists passes and unsupported tests too.\n"
        "The last line is the summary. Exits 1 when any test fails (unsupported ops are not failures).\n"
        "Tolerance: |got - expected| <= atol + rtol |expected| with rtol 1e-3, atol 1e-5 (float32/64),\n"
        "5e-3/1e-3 (float16), 3e-2/1e-2 (bfloat16); integers and bools exactly; NaN equals NaN.\n\n"
        "examples:\n  kiln onnx-test ../shared/conformance/onnx-node -v\n"
        "  kiln onnx-test ../shared/conformance/onnx-node --device vulkan --only 'test_softmax*,test_gemm*' --skip '*_expanded'",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    kiln_session_options so = {{KILN_DEVICE_REF, -1}, 0, 0, 0, NULL};
    kiln_status s = kiln_device_parse(device, &so.device);
    if (s) return fail_status(s);
    const char *dir = pos[0];
    if (!is_dir(dir)) return fail("%s: not a directory", dir);
    tally t = {0, 0, 0};
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (file_exists(path)) {
        const char *base = strrchr(dir, '/');
        run_test(dir, base && base[1] ? base + 1 : dir, &so, verbose, &t);
    } else {
        int n;
        char **names = list_dir(dir, "", &n);
        for (int i = 0; i < n; i++) {
            char sub[4096];
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, names[i]) >= sizeof sub ||
                (size_t)snprintf(path, sizeof path, "%s/model.onnx", sub) >= sizeof path)
                continue;
            if ((only && !matches_any(names[i], only)) || (skip && matches_any(names[i], skip))) continue;
            if (is_dir(sub) && file_exists(path)) run_test(sub, names[i], &so, verbose, &t);
        }
        free_list(names, n);
    }
    int total = t.passed + t.failed + t.unsupported;
    if (total == 0)
        return fail("%s: no ONNX tests found (folders with model.onnx%s)", dir, only || skip ? " matching --only/--skip" : "");
    printf("onnx-test: %d passed, %d failed, %d unsupported (%d tests)\n", t.passed, t.failed, t.unsupported, total);
    return t.failed ? 1 : 0;
}
