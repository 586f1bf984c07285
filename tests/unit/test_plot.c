/* kiln_plot_svg: the test reads the SVG back the way a reader would. It
 * recovers the data-to-pixel mapping from the tick labels alone (each label
 * sits on its tick), then checks that every finite data point appears in its
 * series' polyline at that mapped position, that skipped points are absent,
 * and that ticks are a 1-2-5 ladder covering the data. Nothing here reuses
 * the plotter's own layout code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/plot.h"

static char tmpdir[] = "/tmp/kiln_test_plot_XXXXXX";

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* Value of attribute `name` in the tag starting at `tag` (up to its '>'). */
static int attr(const char *tag, const char *name, char *out, size_t cap) {
    const char *end = strchr(tag, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    if (!p || (end && p > end)) return 0;
    p += strlen(key);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap) return 0;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return 1;
}

static double attr_num(const char *tag, const char *name) {
    char buf[64];
    return attr(tag, name, buf, sizeof buf) ? strtod(buf, NULL) : NAN;
}

/* Tick labels of one axis: position (the x or y attribute) and value. */
typedef struct ticks {
    int n;
    double pos[64], val[64];
} ticks;

static void read_ticks(const char *svg, const char *cls, const char *coord, ticks *t) {
    char key[64];
    snprintf(key, sizeof key, "<text class=\"%s\"", cls);
    t->n = 0;
    for (const char *p = strstr(svg, key); p && t->n < 64; p = strstr(p + 1, key)) {
        const char *gt = strchr(p, '>');
        if (!gt) break;
        t->pos[t->n] = attr_num(p, coord);
        t->val[t->n] = strtod(gt + 1, NULL);
        t->n++;
    }
}

/* Checks the ticks form an evenly spaced 1-2-5 ladder placed linearly, and
 * returns that placement (pixel = a + b * value). */
static void tick_mapping(const ticks *t, double *a, double *b) {
    CHECK(t->n >= 3 && t->n <= 15);
    if (t->n < 2) {
        *a = *b = NAN;
        return;
    }
    double step = t->val[1] - t->val[0];
    CHECK(step > 0);
    double mant = step / pow(10, floor(log10(step)));
    /* mantissa of the step within rounding of the printed labels */
    CHECK(fabs(mant - 1) < 1e-6 || fabs(mant - 2) < 1e-6 || fabs(mant - 5) < 1e-6 || fabs(mant - 10) < 1e-6);
    *b = (t->pos[t->n - 1] - t->pos[0]) / (t->val[t->n - 1] - t->val[0]);
    *a = t->pos[0] - *b * t->val[0];
    for (int i = 0; i < t->n; i++) {
        CHECK(fabs(t->val[i] - (t->val[0] + i * step)) < step * 1e-6);
        CHECK(fabs(t->pos[i] - (*a + *b * t->val[i])) < 0.02); /* positions printed to 0.01 */
    }
}

typedef struct polyline {
    char label[128], stroke[16];
    int n;
    double px[256], py[256];
} polyline;

static int read_polylines(const char *svg, polyline *out, int cap) {
    int n = 0;
    const char *key = "<polyline class=\"series\"";
    for (const char *p = strstr(svg, key); p && n < cap; p = strstr(p + 1, key), n++) {
        polyline *l = &out[n];
        memset(l, 0, sizeof *l);
        attr(p, "data-label", l->label, sizeof l->label);
        attr(p, "stroke", l->stroke, sizeof l->stroke);
        static char pts[16384];
        if (!attr(p, "points", pts, sizeof pts)) continue;
        char *s = pts;
        while (*s && l->n < 256) {
            char *e;
            l->px[l->n] = strtod(s, &e);
            if (e == s || *e != ',') break;
            s = e + 1;
            l->py[l->n] = strtod(s, &e);
            if (e == s) break;
            l->n++;
            s = e;
            while (*s == ' ') s++;
        }
    }
    return n;
}

static int count(const char *svg, const char *needle) {
    int n = 0;
    for (const char *p = strstr(svg, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void path_in_tmp(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

/* Two loss-like curves, one with a NaN and an infinity that must be skipped. */
static void test_two_series(void) {
    double x1[20], y1[20], x2[15], y2[15];
    for (int i = 0; i < 20; i++) {
        x1[i] = i * 10;
        y1[i] = 5.5 * exp(-i / 7.0) + 1.2;
    }
    for (int i = 0; i < 15; i++) {
        x2[i] = 5 + i * 12;
        y2[i] = 4.0 - 0.15 * i;
    }
    y2[3] = NAN;
    x2[7] = INFINITY;
    kiln_plot_series s[2] = {{"gelu", x1, y1, 20}, {"relu <val>", x2, y2, 15}};
    char path[256];
    path_in_tmp(path, sizeof path, "two.svg");
    CHECK_OK(kiln_plot_svg(path, "loss & steps", "step", "loss", s, 2));
    char *svg = read_all(path);
    CHECK(svg != NULL);
    if (!svg) return;
    CHECK(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>") != NULL);
    CHECK(strstr(svg, "loss &amp; steps") != NULL);
    CHECK(strstr(svg, "relu &lt;val&gt;") != NULL);
    CHECK(strstr(svg, "relu <val>") == NULL);
    CHECK(strstr(svg, ">step</text>") && strstr(svg, ">loss</text>"));

    const char *area = strstr(svg, "<rect class=\"plot-area\"");
    CHECK(area != NULL);
    if (!area) {
        free(svg);
        return;
    }
    double ax = attr_num(area, "x"), ay = attr_num(area, "y"), aw = attr_num(area, "width"),
           ah = attr_num(area, "height");

    ticks tx, ty;
    read_ticks(svg, "xtick", "x", &tx);
    read_ticks(svg, "ytick", "y", &ty);
    double xa, xb, ya, yb;
    tick_mapping(&tx, &xa, &xb);
    tick_mapping(&ty, &ya, &yb);
    CHECK(xb > 0); /* x grows rightwards */
    CHECK(yb < 0); /* y grows upwards, SVG's y downwards */
    /* ticks cover the finite data: x 0..185, y min..max of both curves */
    double ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < 20; i++) ymin = fmin(ymin, y1[i]), ymax = fmax(ymax, y1[i]);
    for (int i = 0; i < 15; i++)
        if (isfinite(y2[i]) && isfinite(x2[i])) ymin = fmin(ymin, y2[i]), ymax = fmax(ymax, y2[i]);
    CHECK(tx.val[0] <= 0 && tx.val[tx.n - 1] >= 5 + 14 * 12);
    CHECK(ty.val[0] <= ymin && ty.val[ty.n - 1] >= ymax);

    polyline *pl = calloc(3, sizeof *pl);
    int npl = read_polylines(svg, pl, 3);
    CHECK(npl == 2);
    CHECK(strcmp(pl[0].label, "gelu") == 0);
    CHECK(strcmp(pl[1].label, "relu &lt;val&gt;") == 0);
    CHECK(strcmp(pl[0].stroke, pl[1].stroke) != 0);
    CHECK(pl[0].n == 20);
    CHECK(pl[1].n == 13); /* 15 points less the NaN and the infinity */
    const kiln_plot_series *src[2] = {&s[0], &s[1]};
    for (int k = 0; k < npl && k < 2; k++) {
        int j = 0;
        for (int i = 0; i < src[k]->n && j < pl[k].n; i++) {
            double dx = src[k]->x[i], dy = src[k]->y[i];
            if (!isfinite(dx) || !isfinite(dy)) continue;
            /* pixel coordinates printed with 2 decimals: 0.005 px rounding,
             * plus the mapping's own rounding from tick positions */
            CHECK(fabs(pl[k].px[j] - (xa + xb * dx)) < 0.03);
            CHECK(fabs(pl[k].py[j] - (ya + yb * dy)) < 0.03);
            CHECK(pl[k].px[j] >= ax - 0.01 && pl[k].px[j] <= ax + aw + 0.01);
            CHECK(pl[k].py[j] >= ay - 0.01 && pl[k].py[j] <= ay + ah + 0.01);
            j++;
        }
        CHECK(j == pl[k].n);
    }
    /* one legend entry per series, each in its series' colour */
    CHECK(count(svg, "<g class=\"legend\">") == 2);
    char needle[64];
    snprintf(needle, sizeof needle, "stroke=\"%s\" stroke-width=\"3\"", pl[1].stroke);
    CHECK(strstr(svg, needle) != NULL);
    free(pl);
    free(svg);
}

/* No series, an empty series, a lone point and a flat line all draw. */
static void test_degenerate(void) {
    char path[256];
    path_in_tmp(path, sizeof path, "empty.svg");
    CHECK_OK(kiln_plot_svg(path, NULL, NULL, NULL, NULL, 0));
    char *svg = read_all(path);
    CHECK(svg && strstr(svg, "class=\"plot-area\"") && count(svg, "<polyline") == 0);
    free(svg);

    double one_x = 3, one_y = 2.5, nan = NAN;
    double flat_x[4] = {0, 1, 2, 3}, flat_y[4] = {7, 7, 7, 7};
    kiln_plot_series s[4] = {
        {"none", NULL, NULL, 0}, {"only nan", &one_x, &nan, 1}, {"one", &one_x, &one_y, 1}, {"flat", flat_x, flat_y, 4}};
    path_in_tmp(path, sizeof path, "degenerate.svg");
    CHECK_OK(kiln_plot_svg(path, "t", "x", "y", s, 4));
    svg = read_all(path);
    CHECK(svg != NULL);
    if (!svg) return;
    polyline *pl = calloc(4, sizeof *pl);
    CHECK(read_polylines(svg, pl, 4) == 4);
    CHECK(pl[0].n == 0 && pl[1].n == 0 && pl[2].n == 1 && pl[3].n == 4);
    CHECK(count(svg, "<circle class=\"marker\"") == 1); /* the lone point is visible */
    CHECK(count(svg, "<g class=\"legend\">") == 4);
    ticks ty;
    read_ticks(svg, "ytick", "y", &ty);
    double ya, yb;
    tick_mapping(&ty, &ya, &yb);
    for (int i = 0; i < pl[3].n; i++) CHECK(fabs(pl[3].py[i] - (ya + yb * 7)) < 0.03);
    CHECK(ty.val[0] <= 2.5 && ty.val[ty.n - 1] >= 7);
    free(pl);
    free(svg);
}

/* Twelve series: the palette runs out after ten, colours must stay distinct. */
static void test_many_colours(void) {
    double x[2] = {0, 1}, y[12][2];
    kiln_plot_series s[12];
    char labels[12][16];
    for (int i = 0; i < 12; i++) {
        y[i][0] = i;
        y[i][1] = i + 1;
        snprintf(labels[i], sizeof labels[i], "v%d", i);
        s[i] = (kiln_plot_series){labels[i], x, y[i], 2};
    }
    char path[256];
    path_in_tmp(path, sizeof path, "many.svg");
    CHECK_OK(kiln_plot_svg(path, "many", "x", "y", s, 12));
    char *svg = read_all(path);
    polyline *pl = calloc(12, sizeof *pl);
    int n = svg ? read_polylines(svg, pl, 12) : 0;
    CHECK(n == 12);
    for (int i = 0; i < n; i++) {
        CHECK(pl[i].stroke[0] == '#' && strlen(pl[i].stroke) == 7);
        for (int j = 0; j < i; j++) CHECK(strcmp(pl[i].stroke, pl[j].stroke) != 0);
    }
    free(pl);
    free(svg);
}

/* Styles: a pair sharing one colour, a dashed series with a marker per
 * finite point at the polyline's own coordinates. */
static void test_styles(void) {
    double x[5] = {1, 2, 3, 4, 5}, ya[5] = {5, 4, 3.5, 3.2, 3}, yb[5] = {5.2, 4.4, NAN, 3.6, 3.5}, yc[5] = {1, 2, 3, 4, 5};
    kiln_plot_series s[3] = {{"a train", x, ya, 5}, {"a val", x, yb, 5}, {"b", x, yc, 5}};
    kiln_plot_style st[3] = {{1, 0}, {1, 1}, {0, 0}};
    char path[256];
    path_in_tmp(path, sizeof path, "styled.svg");
    CHECK_OK(kiln_plot_svg_styled(path, "styled", "x", "y", s, st, 3));
    char *svg = read_all(path);
    polyline *pl = calloc(3, sizeof *pl);
    CHECK(svg && read_polylines(svg, pl, 3) == 3);
    if (svg) {
        CHECK(strcmp(pl[0].stroke, pl[1].stroke) == 0); /* colour 1 = the palette's first */
        CHECK(strcmp(pl[2].stroke, pl[0].stroke) != 0); /* series 2's own colour, the palette's third */
        const char *p0 = strstr(svg, "data-label=\"a train\""), *p1 = strstr(svg, "data-label=\"a val\"");
        char dash[32];
        CHECK(p0 && !attr(p0, "stroke-dasharray", dash, sizeof dash));
        CHECK(p1 && attr(p1, "stroke-dasharray", dash, sizeof dash));
        /* the dashed series: 4 finite points, 4 markers on them */
        CHECK(pl[1].n == 4);
        CHECK(count(svg, "<circle class=\"marker\"") == 4);
        int j = 0;
        for (const char *c = strstr(svg, "<circle class=\"marker\""); c && j < 4;
             c = strstr(c + 1, "<circle class=\"marker\""), j++) {
            CHECK(fabs(attr_num(c, "cx") - pl[1].px[j]) < 0.011);
            CHECK(fabs(attr_num(c, "cy") - pl[1].py[j]) < 0.011);
        }
    }
    kiln_plot_style bad[3] = {{0, 0}, {-2, 0}, {0, 0}};
    CHECK_ERR(kiln_plot_svg_styled(path, "t", "x", "y", s, bad, 3), "a val");
    /* NULL styles: the same document kiln_plot_svg writes */
    char path2[256];
    path_in_tmp(path2, sizeof path2, "styled2.svg");
    CHECK_OK(kiln_plot_svg_styled(path, "t", "x", "y", s, NULL, 3));
    CHECK_OK(kiln_plot_svg(path2, "t", "x", "y", s, 3));
    char *a = read_all(path), *b = read_all(path2);
    CHECK(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
    remove(path2);
    free(pl);
    free(svg);
}

static void test_errors(void) {
    double x[2] = {0, 1}, y[2] = {1, 2};
    kiln_plot_series ok = {"a", x, y, 2};
    CHECK_ERR(kiln_plot_svg("/nonexistent-dir-kiln/plot.svg", "t", "x", "y", &ok, 1), "/nonexistent-dir-kiln/plot.svg");
    kiln_status s = kiln_plot_svg("/nonexistent-dir-kiln/plot.svg", "t", "x", "y", &ok, 1);
    CHECK(kiln_status_code(s) == KILN_ERR_IO);
    kiln_status_free(s);
    /* a directory is not a writable file */
    CHECK_ERR(kiln_plot_svg(tmpdir, "t", "x", "y", &ok, 1), tmpdir);
    CHECK_ERR(kiln_plot_svg(NULL, "t", "x", "y", &ok, 1), "path");
    CHECK_ERR(kiln_plot_svg("", "t", "x", "y", &ok, 1), "path");

    char path[256];
    path_in_tmp(path, sizeof path, "bad.svg");
    CHECK_ERR(kiln_plot_svg(path, "t", "x", "y", NULL, 1), "series");
    CHECK_ERR(kiln_plot_svg(path, "t", "x", "y", &ok, -1), "-1");
    kiln_plot_series neg = {"neg", x, y, -3};
    CHECK_ERR(kiln_plot_svg(path, "t", "x", "y", &neg, 1), "neg");
    kiln_plot_series noy = {"noy", x, NULL, 2};
    CHECK_ERR(kiln_plot_svg(path, "t", "x", "y", &noy, 1), "noy");
    /* a range whose width overflows a double cannot be scaled */
    double wide_x[2] = {-1e308, 1e308};
    kiln_plot_series wide = {"wide", wide_x, y, 2};
    CHECK_ERR(kiln_plot_svg(path, "t", "x", "y", &wide, 1), "cannot be drawn");
    CHECK(access(path, F_OK) != 0); /* no file left behind by a rejected plot */
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    test_two_series();
    test_degenerate();
    test_many_colours();
    test_styles();
    test_errors();
    const char *names[] = {"two.svg", "empty.svg", "degenerate.svg", "many.svg", "styled.svg"};
    for (int i = 0; i < 5; i++) {
        char p[256];
        path_in_tmp(p, sizeof p, names[i]);
        remove(p);
    }
    rmdir(tmpdir);
    return test_finish("test_plot");
}
