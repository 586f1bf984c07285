/* `kiln run` on a .kmod module (tools/cmd_run_kmod.c). */
#ifndef KILN_TOOLS_KMOD_RUN_H
#define KILN_TOOLS_KMOD_RUN_H

/* Whether path is a .kmod module (by its name or its first bytes). */
int kmod_is_module(const char *path);
/* Loads the module and runs it once, like cmd_run; returns the exit code. */
int kmod_run(const char *path, const char *inputs_path, const char *out_path, const char *device, int threads,
             int profile, const char *weights_path, int nsets);

#endif
