/* Helpers shared by the files of the LLVM backend (not public API). */
#ifndef KILN_LLVM_INTERNAL_H
#define KILN_LLVM_INTERNAL_H

#include <llvm-c/Error.h>

#include "kiln/llvm.h"

/* Initializes LLVM's native target, asm printer and parser once per process. */
kiln_status kiln_llvm_init(void);
/* Turns an LLVMErrorRef into a status "<what>: <LLVM's message>" and consumes it. */
kiln_status kiln_llvm_error(LLVMErrorRef err, kiln_code code, const char *what);
/* strdup that reports failure as a status. */
kiln_status kiln_llvm_strdup(const char *s, char **out);

#endif
