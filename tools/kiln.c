/* kiln: the command-line program. Dispatches to tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"

static int cmd_version(int argc, char **argv);

static const command commands[] = {
    {"run", "run a model on inputs from a safetensors file, write its outputs", cmd_run},
    {"compile", "compile a model ahead of time for the CPU into a .kmod module", cmd_compile},
    {"dump", "print a model's graph in kiln's textual IR", cmd_dump},
    {"onnx-test", "run ONNX backend node tests against kiln", cmd_onnx_test},
    {"generate", "continue a prompt with a language model (text or token ids)", cmd_generate},
    {"quantize", "write a Llama model as a GGUF file with q8_0 / q4_0 weights", cmd_quantize},
    {"perplexity", "perplexity of a model on a text, and its logits' distance from another model", cmd_perplexity},
    {"train", "train a language model (cross-entropy, AdamW) on a text or a token batch", cmd_train},
    {"compare", "train model variants with the same data, seed and budget; table and loss plot", cmd_compare},
    {"bench", "benchmarks: forward pass time, compile time per model", cmd_bench},
    {"devices", "list the CPU and Vulkan devices kiln can run on", cmd_devices},
    {"version", "print kiln's version", cmd_version},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f,
            "kiln " KILN_VERSION " - a compute-graph compiler for transformer models\n\n"
            "usage: kiln COMMAND [ARGS...]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nMODEL is any of: a Hugging Face folder (config.json + model.safetensors;\n"
            "gpt2, bert, t5, llama), a .kiln description (docs/language.md), a GGUF file,\n"
            "a llama2.c checkpoint (.bin), an ONNX model (.onnx), or a compiled .kmod.\n"
            "Devices: --device auto (default: a GPU through Vulkan, else the CPU), cpu,\n"
            "vulkan[:N], ref (the reference interpreter), kir (fused kernels, evaluated).\n"
            "Run 'kiln COMMAND --help' for a command's options.\n");
}

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("kiln %s\n", KILN_VERSION);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (int i = 0; i < NCOMMANDS; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) return commands[i].run(2, help_argv);
            return fail("unknown command '%s' (see 'kiln --help')", argv[2]);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("kiln %s\n", KILN_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].run(argc - 1, argv + 1);
    return fail("unknown command '%s' (see 'kiln --help')", name);
}
