/* Ahead-of-time objects: a module compiled to an in-memory object file, tagged
 * with the triple, CPU and features it was generated for so that a loader can
 * refuse a machine that lacks them instead of dying on an illegal instruction. */
#include <stdlib.h>
#include <string.h>

#include "llvm_internal.h"

void kiln_llvm_object_release(kiln_llvm_object *o) {
    if (!o) return;
    free(o->data);
    free(o->triple);
    free(o->cpu);
    free(o->features);
    memset(o, 0, sizeof *o);
}

kiln_status kiln_llvm_object_from_bytes(const void *data, size_t size, const char *triple, const char *cpu,
                                        const char *features, kiln_llvm_object *out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_object_from_bytes: NULL output");
    memset(out, 0, sizeof *out);
    if (!data || !size) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_object_from_bytes: empty object");
    out->data = malloc(size);
    if (!out->data) return kiln_error(KILN_ERR_NOMEM, "out of memory copying a %zu-byte object", size);
    memcpy(out->data, data, size);
    out->size = size;
    kiln_status s = kiln_llvm_strdup(triple, &out->triple);
    if (!s) s = kiln_llvm_strdup(cpu, &out->cpu);
    if (!s) s = kiln_llvm_strdup(features, &out->features);
    if (s) kiln_llvm_object_release(out);
    return s;
}

kiln_status kiln_llvm_object_emit(const kiln_llvm_target *t, kiln_llvm_module *m, kiln_llvm_object *out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_object_emit: NULL output");
    memset(out, 0, sizeof *out);
    if (!t || !m || !m->mod) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_object_emit: no target or module");
    char *err = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(t->tm, m->mod, LLVMObjectFile, &err, &buf)) {
        kiln_status s = kiln_error(KILN_ERR_INTERNAL, "emitting module '%s' as an object: %s", m->name,
                                   err ? err : "unknown error");
        LLVMDisposeMessage(err);
        return s;
    }
    kiln_status s = kiln_llvm_object_from_bytes(LLVMGetBufferStart(buf), LLVMGetBufferSize(buf), t->triple, t->cpu,
                                                t->features, out);
    LLVMDisposeMemoryBuffer(buf);
    return kiln_error_wrap(s, "module '%s'", m->name);
}

/* Whether the list enables `feature` (given without its '+'). */
static int list_enables(const char *list, const char *feature, size_t n) {
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n + 1 && p[0] == '+' && strncmp(p + 1, feature, n) == 0) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

kiln_status kiln_llvm_object_check_cpu(const kiln_llvm_object *o, const kiln_llvm_target *host) {
    if (!o) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_object_check_cpu: no object");
    kiln_llvm_target *own = NULL;
    if (!host) {
        KILN_TRY(kiln_llvm_target_host(&own));
        host = own;
    }
    kiln_status s = KILN_OK;
    if (o->triple && *o->triple && strcmp(o->triple, host->triple) != 0) {
        s = kiln_error(KILN_ERR_UNSUPPORTED, "object built for %s cannot run on %s", o->triple, host->triple);
    } else {
        /* Collect every feature the object relies on that this CPU lacks. */
        char missing[512] = "";
        size_t used = 0;
        int n_missing = 0;
        for (const char *p = o->features; p && *p;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > 1 && p[0] == '+' && !list_enables(host->features, p + 1, len - 1)) {
                n_missing++;
                if (used + len + 2 < sizeof missing) {
                    if (used) missing[used++] = ' ';
                    memcpy(missing + used, p + 1, len - 1);
                    used += len - 1;
                    missing[used] = 0;
                }
            }
            p = end ? end + 1 : NULL;
        }
        if (n_missing)
            s = kiln_error(KILN_ERR_UNSUPPORTED, "object built for CPU %s needs %d feature%s this CPU (%s) lacks: %s",
                           o->cpu, n_missing, n_missing == 1 ? "" : "s", host->cpu, missing);
    }
    kiln_llvm_target_free(own);
    return s;
}
