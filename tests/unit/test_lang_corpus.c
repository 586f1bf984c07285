/* Replays the .kiln fuzz corpus (tests/fuzz/corpus/lang) through the
 * compiler in both modes: no crash, and every rejection is one line that
 * names f.kiln:LINE:COL unless it concerns the program as a whole. The
 * fuzzer (tests/fuzz/fuzz_lang.c) checks the same on generated inputs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kiln/lang.h"

static void replay(const char *text) {
    for (int mode = 0; mode < 2; mode++) {
        kiln_lang_options o;
        memset(&o, 0, sizeof o);
        o.mode = mode ? KILN_LANG_CACHED : KILN_LANG_FORWARD;
        o.max_steps = 200000;
        kiln_graph *g = NULL;
        kiln_status s = kiln_lang_compile(text, "f.kiln", &o, &g, NULL);
        if (s) {
            const char *m = kiln_status_message(s);
            int located = strncmp(m, "f.kiln:", 7) == 0 && m[7] >= '0' && m[7] <= '9';
            int whole = strstr(m, "declares no outputs") != NULL;
            CHECK(!strchr(m, '\n'));
            if (!located && !whole) fprintf(stderr, "unlocated: %s\n", m);
            CHECK(located || whole);
            kiln_status_free(s);
        } else {
            CHECK(g && kiln_graph_output_count(g) > 0);
            kiln_graph_free(g);
        }
    }
}

int main(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/lang", src && *src ? src : "..");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char *buf = malloc(1 << 20);
        size_t len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
        if (!buf) continue;
        buf[len] = 0; /* text stops at an embedded NUL, as for any C string */
        replay(buf);
        free(buf);
        n++;
    }
    if (d) closedir(d);
    CHECK(n >= 10); /* a corpus that went missing must not pass silently */
    fprintf(stderr, "replayed %d .kiln corpus files\n", n);
    return test_finish("test_lang_corpus");
}
