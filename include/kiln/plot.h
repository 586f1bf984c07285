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

#ifdef __cplusplus
}
#endif
#endif
