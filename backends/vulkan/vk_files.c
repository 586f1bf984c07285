/* The cache directory and whole-file reads and atomic writes for the
 * SPIR-V and pipeline caches. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk_internal.h"

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

kiln_status kvk_cache_dir(const char *dir, char *buf, size_t cap) {
    int n;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) n = snprintf(buf, cap, "%s", dir);
    else if (xdg && *xdg) n = snprintf(buf, cap, "%s/kiln", xdg);
    else if (home && *home) n = snprintf(buf, cap, "%s/.cache/kiln", home);
    else return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: no cache directory (neither XDG_CACHE_HOME nor HOME is set)");
    if (n < 0 || (size_t)n >= cap) return kiln_error(KILN_ERR_LIMIT, "vulkan: cache directory path is too long");
    if (mkdir_p(buf) != 0)
        return kiln_error(KILN_ERR_IO, "vulkan: cannot create cache directory %s: %s", buf, strerror(errno));
    return KILN_OK;
}

kiln_status kiln_vk_cache_dir(const kiln_vk_options *opts, char *buf, size_t cap) {
    if (!buf || cap == 0) return kiln_error(KILN_ERR_INVALID, "kiln_vk_cache_dir: no buffer");
    return kvk_cache_dir(opts ? opts->cache_dir : NULL, buf, cap);
}

kiln_status kvk_read_file(const char *path, void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return kiln_error(KILN_ERR_NOT_FOUND, "%s: not found", path);
        return kiln_error(KILN_ERR_IO, "%s: %s", path, strerror(errno));
    }
    kiln_status s = KILN_OK;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) s = kiln_error(KILN_ERR_IO, "%s: cannot seek", path);
    void *buf = NULL;
    if (!s) {
        buf = malloc(len ? (size_t)len : 1);
        if (!buf) s = kiln_error(KILN_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, len);
    }
    if (!s && fread(buf, 1, (size_t)len, f) != (size_t)len) s = kiln_error(KILN_ERR_IO, "%s: short read", path);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    *data = buf;
    *size = (size_t)len;
    return KILN_OK;
}

kiln_status kvk_write_file_atomic(const char *path, const void *data, size_t size) {
    static atomic_uint counter;
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    if (n < 0 || (size_t)n >= sizeof tmp) return kiln_error(KILN_ERR_LIMIT, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: %s", tmp, strerror(errno));
    int ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return kiln_error(KILN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return KILN_OK;
}
