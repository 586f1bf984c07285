/* Modules: one LLVM context per module (so modules can be compiled on any
 * thread and handed to the JIT), verification and optimization. */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "llvm_internal.h"

kiln_status kiln_llvm_module_create(const kiln_llvm_target *t, const char *name, kiln_llvm_module **out) {
    if (!out || !t) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_module_create: NULL argument");
    *out = NULL;
    KILN_TRY(kiln_llvm_init());
    kiln_llvm_module *m = calloc(1, sizeof *m);
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = kiln_llvm_strdup(name ? name : "kiln", &m->name);
    if (s) {
        free(m);
        return s;
    }
    m->tsc = LLVMOrcCreateNewThreadSafeContext();
    m->ctx = LLVMOrcThreadSafeContextGetContext(m->tsc);
    m->mod = LLVMModuleCreateWithNameInContext(m->name, m->ctx);
    m->builder = LLVMCreateBuilderInContext(m->ctx);
    LLVMSetTarget(m->mod, t->triple);
    char *layout = LLVMCopyStringRepOfTargetData(t->data_layout);
    LLVMSetDataLayout(m->mod, layout);
    LLVMDisposeMessage(layout);
    *out = m;
    return KILN_OK;
}

void kiln_llvm_module_free(kiln_llvm_module *m) {
    if (!m) return;
    if (m->builder) LLVMDisposeBuilder(m->builder);
    if (m->mod) LLVMDisposeModule(m->mod);
    /* The context lives as long as any module of it; the JIT holds its own reference. */
    if (m->tsc) LLVMOrcDisposeThreadSafeContext(m->tsc);
    free(m->name);
    free(m);
}

kiln_status kiln_llvm_module_verify(kiln_llvm_module *m) {
    if (!m || !m->mod) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_module_verify: no module");
    char *msg = NULL;
    if (LLVMVerifyModule(m->mod, LLVMReturnStatusAction, &msg)) {
        /* LLVM ends its report with a newline; drop it so messages stay one line. */
        size_t n = msg ? strlen(msg) : 0;
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = 0;
        kiln_status s = kiln_error(KILN_ERR_INTERNAL, "LLVM module '%s' failed verification: %s", m->name,
                                   n ? msg : "(no message)");
        LLVMDisposeMessage(msg);
        return s;
    }
    LLVMDisposeMessage(msg);
    return KILN_OK;
}

kiln_status kiln_llvm_module_optimize(kiln_llvm_module *m, const kiln_llvm_target *t, const char *passes) {
    if (!m || !m->mod || !t) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_module_optimize: no module or target");
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 1);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 1);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, 1);
    LLVMErrorRef err = LLVMRunPasses(m->mod, passes ? passes : t->quick ? "default<O0>" : "default<O3>", t->tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (err) {
        kiln_status s = kiln_llvm_error(err, KILN_ERR_INTERNAL, "LLVM optimization");
        return kiln_error_wrap(s, "module '%s'", m->name);
    }
    return KILN_OK;
}

char *kiln_llvm_module_print(const kiln_llvm_module *m) {
    if (!m || !m->mod) return NULL;
    return LLVMPrintModuleToString(m->mod);
}
