/* Line plots written as SVG: loss curves from `kiln train` and `kiln compare`.
 * No dependency beyond the C library, so a plot can always be drawn. */
#ifndef KILN_PLOT_H
#define KILN_PLOT_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One curve: n points (x[i], y[i]). Points where x or y is NaN or infinite
 * are skipped; a series with no finite point still gets its legend entry. */
typedef struct kiln_plot_series {
    const char *label;
    const double *x, *y;
    int n;
} kiln_plot_series;

/* An SVG line plot (axes with ticks, legend, one colour per series) written
 * to path. title, xlabel and ylabel may be NULL (drawn empty). Each series
 * is one <polyline class="series"> whose data-label is its label; the plot
 * area is <rect class="plot-area">, and tick labels are <text class="xtick">
 * and <text class="ytick"> positioned on their tick, so a reader can map
 * coordinates back to data. Errors name the path (write failures) or the
 * series at fault. */
kiln_status kiln_plot_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const kiln_plot_series *series, int nseries);

/* How a series is drawn by kiln_plot_svg_styled; all zero is the default. */
typedef struct kiln_plot_style {
    int colour; /* 0: the series' own (series i gets palette colour i); k > 0: palette colour k-1,
                 * so related curves (a variant's train and validation loss) can share one */
    int dashed; /* a dashed line with a marker on every point: for sparse series such as validation */
} kiln_plot_style;

/* kiln_plot_svg with a style per series (styles may be NULL: all default).
 * A dashed series' polyline has a stroke-dasharray and its points are
 * <circle class="marker">. */
kiln_status kiln_plot_svg_styled(const char *path, const char *title, const char *xlabel, const char *ylabel,
                                 const kiln_plot_series *series, const kiln_plot_style *styles, int nseries);

#ifdef __cplusplus
}
#endif
#endif
