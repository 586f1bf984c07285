/* kiln_plot_svg: a self-contained SVG line plot (loss curves). The whole
 * document is built in memory and written at once, so a failed write never
 * leaves half a plot behind unnoticed. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/plot.h"

/* Geometry in SVG user units. The plot area is fixed; the legend to its
 * right grows with the longest label. */
enum { PLOT_LEFT = 80, PLOT_TOP = 46, PLOT_W = 620, PLOT_H = 380, PLOT_BOTTOM = 64, LEGEND_PAD = 20 };
#define TARGET_TICKS 6

typedef struct svgbuf {
    char *data;
    size_t len, cap;
    int oom;
} svgbuf;

static void put(svgbuf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
static void put(svgbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->data && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

/* Text content and attribute values: the five XML specials escaped; control
 * characters (not allowed in XML 1.0) dropped. */
static void put_escaped(svgbuf *b, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&apos;"); break;
        default:
            if (c >= 0x20 || c == '\t') put(b, "%c", c);
        }
    }
}

/* An axis: data range expanded to whole ticks of a 1-2-5 step. */
typedef struct axis {
    double lo, hi, step;
    int nticks, decimals;
} axis;

/* Returns 0 when the range cannot be drawn (overflows, or so narrow that
 * its step underflows). */
static int axis_fit(axis *a, double lo, double hi) {
    if (!(lo < hi)) { /* one value (or none): give it room on both sides */
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / TARGET_TICKS;
    int k = (int)floor(log10(raw));
    double mag = pow(10, k), f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    if (nice == 10) {
        nice = 1;
        k++;
        mag *= 10;
    }
    a->step = nice * mag;
    /* tiny tolerance: a value that is a tick up to rounding stays on it */
    a->lo = floor(lo / a->step + 1e-9) * a->step;
    a->hi = ceil(hi / a->step - 1e-9) * a->step;
    a->decimals = k < 0 ? -k : 0;
    double span = (a->hi - a->lo) / a->step;
    if (!(a->step > 0) || !isfinite(a->lo) || !isfinite(a->hi) || !(span < 1000)) return 0;
    a->nticks = (int)llround(span) + 1;
    return 1;
}

static double axis_tick(const axis *a, int i) {
    double v = a->lo + i * a->step;
    return fabs(v) < a->step * 1e-9 ? 0.0 : v; /* no "-0" label */
}

static void put_number(svgbuf *b, const axis *a, double v) {
    if (fabs(v) >= 1e7 || a->decimals > 6)
        put(b, "%.6g", v);
    else
        put(b, "%.*f", a->decimals, v);
}

/* Distinct colours for the first ten series (a common categorical palette);
 * later ones step the hue by the golden angle so neighbours stay apart. */
static void series_colour(int i, char out[8]) {
    static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    if (i < 10) {
        memcpy(out, palette[i], 8);
        return;
    }
    double h = fmod(i * 137.508, 360.0) / 60.0, s = 0.65, l = 0.45;
    double c = (1 - fabs(2 * l - 1)) * s, x = c * (1 - fabs(fmod(h, 2.0) - 1)), m = l - c / 2;
    double rgb[3] = {0, 0, 0};
    int sector = (int)h % 6;
    static const int cx[6][3] = {{0, 1, 2}, {1, 0, 2}, {1, 2, 0}, {2, 1, 0}, {2, 0, 1}, {0, 2, 1}};
    rgb[cx[sector][0]] = c; /* 0: gets c, 1: gets x, 2: gets 0 */
    rgb[cx[sector][1]] = x;
    snprintf(out, 8, "#%02x%02x%02x", (int)lround((rgb[0] + m) * 255), (int)lround((rgb[1] + m) * 255),
             (int)lround((rgb[2] + m) * 255));
}

static double px_of(const axis *ax, double x) { return PLOT_LEFT + (x - ax->lo) / (ax->hi - ax->lo) * PLOT_W; }
static double py_of(const axis *ay, double y) { return PLOT_TOP + PLOT_H - (y - ay->lo) / (ay->hi - ay->lo) * PLOT_H; }

static int finite_point(const kiln_plot_series *s, int i) { return isfinite(s->x[i]) && isfinite(s->y[i]); }

static kiln_status check_series(const kiln_plot_series *series, const kiln_plot_style *styles, int nseries) {
    if (nseries < 0) return kiln_error(KILN_ERR_INVALID, "plot: negative series count %d", nseries);
    if (nseries > 0 && !series) return kiln_error(KILN_ERR_INVALID, "plot: %d series but no series array", nseries);
    for (int s = 0; s < nseries; s++) {
        const kiln_plot_series *p = &series[s];
        const char *name = p->label ? p->label : "(unlabelled)";
        if (p->n < 0) return kiln_error(KILN_ERR_INVALID, "plot: series %d '%s' has %d points", s, name, p->n);
        if (p->n > 0 && (!p->x || !p->y))
            return kiln_error(KILN_ERR_INVALID, "plot: series %d '%s' has %d points but no %s values", s, name, p->n,
                              !p->x ? "x" : "y");
        if (styles && styles[s].colour < 0)
            return kiln_error(KILN_ERR_INVALID, "plot: series %d '%s' has colour %d (0: its own, k > 0: palette k-1)",
                              s, name, styles[s].colour);
    }
    return KILN_OK;
}

static void put_axes(svgbuf *b, const axis *ax, const axis *ay) {
    for (int i = 0; i < ax->nticks; i++) {
        double v = axis_tick(ax, i);
        double px = px_of(ax, v);
        put(b, "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", px, PLOT_TOP,
            px, PLOT_TOP + PLOT_H);
        put(b, "<line class=\"tick\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#444\"/>\n", px,
            PLOT_TOP + PLOT_H, px, PLOT_TOP + PLOT_H + 5);
        put(b, "<text class=\"xtick\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">", px, PLOT_TOP + PLOT_H + 19);
        put_number(b, ax, v);
        put(b, "</text>\n");
    }
    for (int i = 0; i < ay->nticks; i++) {
        double v = axis_tick(ay, i);
        double py = py_of(ay, v);
        put(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e4e4e4\"/>\n", PLOT_LEFT, py,
            PLOT_LEFT + PLOT_W, py);
        put(b, "<line class=\"tick\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#444\"/>\n", PLOT_LEFT - 5,
            py, PLOT_LEFT, py);
        /* y is the tick itself; dy centres the digits on it */
        put(b, "<text class=\"ytick\" x=\"%d\" y=\"%.2f\" dy=\"0.35em\" text-anchor=\"end\">", PLOT_LEFT - 8, py);
        put_number(b, ay, v);
        put(b, "</text>\n");
    }
    put(b, "<rect class=\"plot-area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
        PLOT_LEFT, PLOT_TOP, PLOT_W, PLOT_H);
}

static void put_series(svgbuf *b, const kiln_plot_series *s, const kiln_plot_style *st, const char *colour,
                       const axis *ax, const axis *ay) {
    put(b, "<polyline class=\"series\" data-label=\"");
    put_escaped(b, s->label);
    put(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\"%s points=\"", colour,
        st->dashed ? "2" : "1.6", st->dashed ? " stroke-dasharray=\"6 4\"" : "");
    int nfinite = 0;
    for (int i = 0; i < s->n; i++) {
        if (!finite_point(s, i)) continue;
        put(b, "%s%.2f,%.2f", nfinite ? " " : "", px_of(ax, s->x[i]), py_of(ay, s->y[i]));
        nfinite++;
    }
    put(b, "\"/>\n");
    /* a lone point draws no line: mark it; dashed series mark every point */
    if (nfinite == 1 || st->dashed)
        for (int i = 0; i < s->n; i++)
            if (finite_point(s, i))
                put(b, "<circle class=\"marker\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                    px_of(ax, s->x[i]), py_of(ay, s->y[i]), colour);
}

static kiln_status write_file(const char *path, const svgbuf *b) {
    FILE *f = fopen(path, "wb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot write plot: %s", path, strerror(errno));
    size_t n = fwrite(b->data, 1, b->len, f);
    int err = n != b->len ? errno : 0;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (n != b->len || err) return kiln_error(KILN_ERR_IO, "%s: writing plot failed: %s", path, strerror(err ? err : EIO));
    return KILN_OK;
}

kiln_status kiln_plot_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const kiln_plot_series *series, int nseries) {
    return kiln_plot_svg_styled(path, title, xlabel, ylabel, series, NULL, nseries);
}

kiln_status kiln_plot_svg_styled(const char *path, const char *title, const char *xlabel, const char *ylabel,
                                 const kiln_plot_series *series, const kiln_plot_style *styles, int nseries) {
    if (!path || !*path) return kiln_error(KILN_ERR_INVALID, "plot: no output path");
    KILN_TRY(check_series(series, styles, nseries));

    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < series[s].n; i++) {
            if (!finite_point(&series[s], i)) continue;
            xlo = fmin(xlo, series[s].x[i]);
            xhi = fmax(xhi, series[s].x[i]);
            ylo = fmin(ylo, series[s].y[i]);
            yhi = fmax(yhi, series[s].y[i]);
        }
    if (xlo > xhi) xlo = xhi = 0; /* nothing to draw: an empty 0..1 frame */
    if (ylo > yhi) ylo = yhi = 0;
    if (xlo == xhi && xlo == 0) xhi = 1;
    if (ylo == yhi && ylo == 0) yhi = 1;
    axis ax, ay;
    if (!isfinite(xhi - xlo) || !isfinite(yhi - ylo) || !axis_fit(&ax, xlo, xhi) || !axis_fit(&ay, ylo, yhi))
        return kiln_error(KILN_ERR_INVALID, "plot %s: data range x [%g, %g], y [%g, %g] cannot be drawn", path, xlo,
                          xhi, ylo, yhi);

    size_t longest = 0;
    for (int s = 0; s < nseries; s++)
        if (series[s].label && strlen(series[s].label) > longest) longest = strlen(series[s].label);
    int legend_w = nseries ? 40 + 7 * (int)(longest < 60 ? longest : 60) : 0;
    int width = PLOT_LEFT + PLOT_W + LEGEND_PAD + legend_w + 10;
    int legend_h = PLOT_TOP + 20 * nseries + 10;
    int height = PLOT_TOP + PLOT_H + PLOT_BOTTOM;
    if (legend_h > height) height = legend_h;

    svgbuf b = {0};
    put(&b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
        width, height, width, height);
    put(&b, "<text class=\"title\" x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">", PLOT_LEFT + PLOT_W / 2);
    put_escaped(&b, title);
    put(&b, "</text>\n");
    put_axes(&b, &ax, &ay);
    put(&b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", PLOT_LEFT + PLOT_W / 2,
        PLOT_TOP + PLOT_H + 44);
    put_escaped(&b, xlabel);
    put(&b, "</text>\n");
    int ylx = 22, yly = PLOT_TOP + PLOT_H / 2;
    put(&b, "<text class=\"ylabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">", ylx, yly,
        ylx, yly);
    put_escaped(&b, ylabel);
    put(&b, "</text>\n");

    for (int s = 0; s < nseries; s++) {
        static const kiln_plot_style plain = {0, 0};
        const kiln_plot_style *st = styles ? &styles[s] : &plain;
        char colour[8];
        series_colour(st->colour > 0 ? st->colour - 1 : s, colour);
        put_series(&b, &series[s], st, colour, &ax, &ay);
        int lx = PLOT_LEFT + PLOT_W + LEGEND_PAD, ly = PLOT_TOP + 10 + 20 * s;
        put(&b,
            "<g class=\"legend\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"%s/>"
            "<text x=\"%d\" y=\"%d\" dy=\"0.35em\">",
            lx, ly, lx + 24, ly, colour, st->dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 30, ly);
        put_escaped(&b, series[s].label);
        put(&b, "</text></g>\n");
    }
    put(&b, "</svg>\n");
    if (b.oom) {
        free(b.data);
        return kiln_error(KILN_ERR_NOMEM, "plot %s: out of memory building the SVG", path);
    }
    kiln_status st = write_file(path, &b);
    free(b.data);
    return st;
}
