/* llama2.c checkpoints (karpathy/llama2.c "legacy" .bin, export version 0):
 * seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means a separate classifier follows) and
 * then float32 weights. Read as a Hugging Face style Llama config and HF
 * weight names, like the GGUF llama reader. */
#ifndef KILN_LLAMA2C_H
#define KILN_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "status.h"
#include "tensor.h"

typedef struct kiln_llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int tied;                /* vocab_size was positive: lm_head shares the embedding */
    uint64_t expected_bytes; /* file size the header implies */
} kiln_llama2c_header;

/* Checks the header of data[0..size) (values in range, heads dividing
 * dim, file size exactly as implied). `name` names the file in errors. */
kiln_status kiln_llama2c_header_read(const void *data, size_t size, const char *name, kiln_llama2c_header *out);

/* Maps `path`; config and/or weights may be NULL when not wanted.
 * The config has HF LlamaConfig keys plus "rope_interleaved": true
 * (rms_norm_eps 1e-5, rope_theta 10000, bos 1, eos 2 as llama2.c's run.c
 * assumes). Weights are read-only views into the mapping (the map keeps it
 * alive): per-layer slices of llama2.c's stacked arrays, named
 * model.layers.N.self_attn.q_proj.weight etc. (w1 = gate_proj,
 * w3 = up_proj, w2 = down_proj), lm_head.weight only when untied. */
kiln_status kiln_llama2c_load(const char *path, kiln_json **config, kiln_tensor_map **weights);
/* Same over bytes in memory (not copied: they must outlive the map). */
kiln_status kiln_llama2c_load_memory(const void *data, size_t size, const char *name, kiln_json **config,
                                     kiln_tensor_map **weights);

#endif
