/* Reports of a profile: a table per kernel name and a Chrome trace. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

void kiln_vk_profile_print(const kiln_vk_profile_entry *e, int n, FILE *f) {
    if (!f || n <= 0 || !e) return;
    /* names in order of first appearance; n is small enough for O(n^2) */
    int *first = malloc((size_t)n * sizeof *first);
    if (!first) return;
    double total = 0;
    for (int i = 0; i < n; i++) total += e[i].dur_us;
    fprintf(f, "%-32s %7s %12s %10s %6s\n", "kernel", "calls", "total us", "mean us", "%");
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = strcmp(e[j].name, e[i].name) == 0;
        first[i] = !seen;
    }
    for (int i = 0; i < n; i++) {
        if (!first[i]) continue;
        int calls = 0;
        double t = 0;
        for (int j = i; j < n; j++)
            if (strcmp(e[j].name, e[i].name) == 0) {
                calls++;
                t += e[j].dur_us;
            }
        fprintf(f, "%-32.32s %7d %12.1f %10.2f %6.1f\n", e[i].name, calls, t, t / calls, total > 0 ? 100 * t / total : 0);
    }
    fprintf(f, "%-32s %7d %12.1f\n", "total", n, total);
    free(first);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

kiln_status kiln_vk_trace_write(const char *path, const kiln_vk_profile_entry *e, int n) {
    if (!path || (n > 0 && !e)) return kiln_error(KILN_ERR_INVALID, "kiln_vk_trace_write: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot write trace: %s", path, strerror(errno));
    fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  {\"name\": ");
        json_string(f, e[i].name ? e[i].name : "");
        fprintf(f, ", \"cat\": \"vulkan\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, \"ts\": %.3f, \"dur\": %.3f}%s\n",
                e[i].start_us, e[i].dur_us, i + 1 < n ? "," : "");
    }
    fprintf(f, "]}\n");
    if (fclose(f) != 0) return kiln_error(KILN_ERR_IO, "%s: error writing trace", path);
    return KILN_OK;
}
