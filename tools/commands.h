/* Every kiln subcommand: one entry here and in the table in kiln.c, its code
 * in tools/cmd_NAME.c. */
#ifndef KILN_TOOLS_COMMANDS_H
#define KILN_TOOLS_COMMANDS_H

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} command;

int cmd_run(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_onnx_test(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_compare(int argc, char **argv);


#endif
