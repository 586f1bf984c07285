/* kiln quantize: the GGUF llama metadata and tokenizer a quantized file
 * carries (tools/quantize_meta.c), shared with the command itself
 * (tools/cmd_quantize.c). */
#ifndef KILN_TOOLS_QUANTIZE_H
#define KILN_TOOLS_QUANTIZE_H

#include <stdint.h>

#include "kiln/gguf.h"
#include "kiln/model.h"

/* The numbers of a Llama model, as the loaded description used them. */
typedef struct llama_hparams {
    int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim, ctx;
    double eps, theta;
    double rope_linear; /* linear RoPE scaling factor; 0: none */
    int interleaved;    /* q/k rows already in GGUF's interleaved-pair RoPE order */
    int tied;           /* the LM head is the token embedding */
    int64_t bos, eos;   /* -1 when absent */
} llama_hparams;

/* Reads and checks the hyperparameters of a Llama model loaded from GGUF,
 * a llama2.c checkpoint or a Hugging Face folder. */
kiln_status quant_read_hparams(const kiln_model *m, llama_hparams *hp);

/* general.* and llama.* keys, then the tokenizer: copied from a GGUF
 * source, converted from a llama2.c tokenizer .bin (tok_path, or the one
 * beside a .bin checkpoint), or none (*tokenizer_note says why). */
kiln_status quant_write_metadata(kiln_gguf_writer *w, const kiln_model *m, const llama_hparams *hp, uint32_t file_type,
                                 int quantized, const char *tok_path, const char **tokenizer_note);

#endif
