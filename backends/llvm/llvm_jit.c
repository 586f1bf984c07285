/* ORC LLJIT: modules and ahead-of-time objects in, function addresses out. */
#include <stdlib.h>

#include <llvm-c/LLJIT.h>

#include "llvm_internal.h"

struct kiln_llvm_jit {
    LLVMOrcLLJITRef jit;
    LLVMOrcJITDylibRef main;
};

kiln_status kiln_llvm_jit_create(const kiln_llvm_target *t, kiln_llvm_jit **out) {
    if (!out || !t) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_jit_create: NULL argument");
    *out = NULL;
    KILN_TRY(kiln_llvm_init());
    kiln_llvm_jit *j = calloc(1, sizeof *j);
    if (!j) return kiln_error(KILN_ERR_NOMEM, "out of memory");

    /* The JIT gets its own target machine (the builder consumes it) for the
     * same CPU and features as t; a quick target selects instructions the
     * fast way (about 5x less compile time, slower code). */
    LLVMTargetRef target = LLVMGetTargetMachineTarget(t->tm);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features,
                                                      t->quick ? LLVMCodeGenLevelNone : LLVMCodeGenLevelAggressive,
                                                      LLVMRelocPIC, LLVMCodeModelJITDefault);
    if (!tm) {
        free(j);
        return kiln_error(KILN_ERR_DEVICE, "LLJIT: no target machine for %s cpu %s", t->triple, t->cpu);
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&j->jit, builder); /* consumes builder */
    if (err) {
        free(j);
        return kiln_llvm_error(err, KILN_ERR_DEVICE, "creating the LLJIT");
    }
    j->main = LLVMOrcLLJITGetMainJITDylib(j->jit);

    /* Calls LLVM itself introduces (memset/memcpy from loop idioms) resolve
     * against the running process. */
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
    if (err) {
        kiln_llvm_jit_free(j);
        return kiln_llvm_error(err, KILN_ERR_DEVICE, "LLJIT process symbol generator");
    }
    LLVMOrcJITDylibAddGenerator(j->main, gen);
    *out = j;
    return KILN_OK;
}

void kiln_llvm_jit_free(kiln_llvm_jit *j) {
    if (!j) return;
    if (j->jit) {
        LLVMErrorRef err = LLVMOrcDisposeLLJIT(j->jit);
        if (err) LLVMConsumeError(err);
    }
    free(j);
}

kiln_status kiln_llvm_jit_add_module(kiln_llvm_jit *j, kiln_llvm_module *m) {
    if (!j || !m || !m->mod) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_jit_add_module: no JIT or module");
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m->mod, m->tsc);
    m->mod = NULL;                                                        /* owned by tsm now */
    LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(j->jit, j->main, tsm); /* consumes tsm, even on error */
    if (err) {
        kiln_status s = kiln_llvm_error(err, KILN_ERR_DEVICE, "adding a module to the JIT");
        return kiln_error_wrap(s, "module '%s'", m->name);
    }
    return KILN_OK;
}

kiln_status kiln_llvm_jit_add_object(kiln_llvm_jit *j, const kiln_llvm_object *o) {
    if (!j || !o || !o->data || !o->size) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_jit_add_object: no object");
    KILN_TRY(kiln_llvm_object_check_cpu(o, NULL));
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)o->data, o->size, "kiln-object");
    LLVMErrorRef err = LLVMOrcLLJITAddObjectFile(j->jit, j->main, buf); /* consumes buf */
    return kiln_llvm_error(err, KILN_ERR_FORMAT, "loading an object into the JIT");
}

kiln_status kiln_llvm_jit_lookup(kiln_llvm_jit *j, const char *name, void **addr) {
    if (!j || !name || !addr) return kiln_error(KILN_ERR_INVALID, "kiln_llvm_jit_lookup: NULL argument");
    *addr = NULL;
    LLVMOrcExecutorAddress a = 0;
    LLVMErrorRef err = LLVMOrcLLJITLookup(j->jit, &a, name);
    if (err) {
        kiln_status s = kiln_llvm_error(err, KILN_ERR_NOT_FOUND, "JIT lookup");
        return kiln_error_wrap(s, "symbol '%s'", name);
    }
    if (!a) return kiln_error(KILN_ERR_NOT_FOUND, "symbol '%s': JIT lookup returned a null address", name);
    *addr = (void *)(uintptr_t)a;
    return KILN_OK;
}
