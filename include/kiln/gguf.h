/* GGUF files (llama.cpp's model format, versions 2 and 3, little-endian):
 * a validating read-only reader over an mmap of the file, and a small
 * writer.
 *
 * Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the
 * key/values, the tensor infos, padding to the alignment (general.alignment,
 * default 32), then the data section. Tensor infos give dims innermost
 * first (ggml's ne[]); kiln shapes are the reverse (outermost first). */
#ifndef KILN_GGUF_H
#define KILN_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "quant.h"
#include "status.h"
#include "tensor.h"

/* Metadata value types as stored in the file. */
typedef enum kiln_gguf_type {
    KILN_GGUF_UINT8 = 0,
    KILN_GGUF_INT8 = 1,
    KILN_GGUF_UINT16 = 2,
    KILN_GGUF_INT16 = 3,
    KILN_GGUF_UINT32 = 4,
    KILN_GGUF_INT32 = 5,
    KILN_GGUF_FLOAT32 = 6,
    KILN_GGUF_BOOL = 7,
    KILN_GGUF_STRING = 8,
    KILN_GGUF_ARRAY = 9,
    KILN_GGUF_UINT64 = 10,
    KILN_GGUF_INT64 = 11,
    KILN_GGUF_FLOAT64 = 12,
    KILN_GGUF_TYPE_COUNT
} kiln_gguf_type;

#define KILN_GGUF_DEFAULT_ALIGNMENT 32
#define KILN_GGUF_MAX_DIMS 4        /* ggml's GGML_MAX_DIMS */
#define KILN_GGUF_MAX_ARRAY_DEPTH 8 /* nesting of arrays of arrays */

/* "uint32", "string", "array", ... or "unknown". */
const char *kiln_gguf_type_name(uint32_t type);

/* A string from the file: NUL-terminated copy owned by the reader; len is
 * the stored length (the text may itself contain NUL bytes). */
typedef struct kiln_gguf_string {
    const char *str;
    uint64_t len;
} kiln_gguf_string;

/* A metadata value. Scalars are decoded into u/i/f (integers: u for
 * unsigned types, i for signed and bool; f for floats). Arrays of scalars
 * point at the file bytes (little-endian, possibly unaligned: read with
 * memcpy or the typed getters); arrays of strings and arrays of arrays
 * are decoded. */
typedef struct kiln_gguf_value kiln_gguf_value;
struct kiln_gguf_value {
    kiln_gguf_type type;
    kiln_gguf_type elem_type; /* ARRAY: type of the elements */
    uint64_t count;           /* ARRAY: number of elements */
    uint64_t offset;          /* byte offset of the value in the file */
    union {
        uint64_t u;
        int64_t i;
        double f;
        kiln_gguf_string s;
        const void *raw;               /* ARRAY of scalars */
        const kiln_gguf_string *strs;  /* ARRAY of STRING */
        const kiln_gguf_value *items;  /* ARRAY of ARRAY */
    } v;
};

typedef struct kiln_gguf_tensor {
    const char *name;
    uint32_t ggml_type;              /* kiln_ggml_type */
    int n_dims;
    int64_t ne[KILN_GGUF_MAX_DIMS];  /* as stored: innermost first */
    int64_t shape[KILN_GGUF_MAX_DIMS]; /* kiln order: shape[i] = ne[n_dims-1-i] */
    int64_t numel;
    uint64_t offset;                 /* from the start of the data section */
    uint64_t file_offset;            /* from the start of the file (a multiple of the alignment) */
    uint64_t info_offset;            /* where its tensor info starts in the file */
    const void *data;                /* into the mapping */
    size_t nbytes;
} kiln_gguf_tensor;

typedef struct kiln_gguf kiln_gguf;

/* Maps `path` read-only and validates everything: header, every key/value
 * (lengths and counts against the file size, known types, nesting depth,
 * no duplicate keys, general.alignment a power-of-two u32), every tensor
 * info (unique names, 1..4 dims, non-negative dims whose product does not
 * overflow, known ggml type, rows a whole number of blocks, offset aligned,
 * data inside the file, no two tensors overlapping). Errors name the file,
 * the byte offset and the key or tensor. */
kiln_status kiln_gguf_open(const char *path, kiln_gguf **out);
/* Same over bytes in memory (not copied: data must outlive the reader).
 * `name` stands for the file in error messages. */
kiln_status kiln_gguf_open_memory(const void *data, size_t size, const char *name, kiln_gguf **out);
/* Readers are reference counted so that tensor maps can keep the mapping
 * alive: retain adds a reference, close drops one and frees at zero. The
 * count is not atomic: share a reader between threads only read-only. */
kiln_gguf *kiln_gguf_retain(kiln_gguf *g);
void kiln_gguf_close(kiln_gguf *g);

const char *kiln_gguf_name(const kiln_gguf *g);
uint32_t kiln_gguf_version(const kiln_gguf *g);
uint32_t kiln_gguf_alignment(const kiln_gguf *g);
uint64_t kiln_gguf_data_offset(const kiln_gguf *g);
uint64_t kiln_gguf_file_size(const kiln_gguf *g);

/* Metadata in file order. */
int kiln_gguf_kv_count(const kiln_gguf *g);
const char *kiln_gguf_kv_key(const kiln_gguf *g, int i);
const kiln_gguf_value *kiln_gguf_kv_value(const kiln_gguf *g, int i);
/* The value of `key`, or NULL. */
const kiln_gguf_value *kiln_gguf_find(const kiln_gguf *g, const char *key);

/* Typed getters. They fail with KILN_ERR_NOT_FOUND when the key is absent
 * and KILN_ERR_TYPE when the stored type does not fit, naming the file and
 * key. Integers of every width convert to int64 (a uint64 above INT64_MAX
 * is an error); get_float takes f32, f64 or any integer; get_bool takes
 * bool only. */
kiln_status kiln_gguf_get_string(const kiln_gguf *g, const char *key, kiln_gguf_string *out);
kiln_status kiln_gguf_get_int(const kiln_gguf *g, const char *key, int64_t *out);
kiln_status kiln_gguf_get_float(const kiln_gguf *g, const char *key, double *out);
kiln_status kiln_gguf_get_bool(const kiln_gguf *g, const char *key, int *out);
/* Array of strings: items owned by the reader. */
kiln_status kiln_gguf_get_strings(const kiln_gguf *g, const char *key, const kiln_gguf_string **items,
                                  uint64_t *count);
/* Arrays of numbers converted into new malloc'd arrays (caller frees).
 * get_floats takes float or integer elements; get_ints integer or bool
 * elements (uint64 above INT64_MAX is an error). */
kiln_status kiln_gguf_get_floats(const kiln_gguf *g, const char *key, float **out, uint64_t *count);
kiln_status kiln_gguf_get_ints(const kiln_gguf *g, const char *key, int64_t **out, uint64_t *count);

/* Tensors in file order. */
int kiln_gguf_tensor_count(const kiln_gguf *g);
const kiln_gguf_tensor *kiln_gguf_tensor_at(const kiln_gguf *g, int i);
const kiln_gguf_tensor *kiln_gguf_tensor_find(const kiln_gguf *g, const char *name);

/* Tokenizer metadata (tokenizer.ggml.*) gathered in one place. Arrays that
 * are absent are NULL with no error; ids that are absent are -1. */
typedef struct kiln_gguf_tokenizer {
    const char *model;               /* "llama", "gpt2", ... */
    const char *pre;                 /* tokenizer.ggml.pre or NULL */
    const kiln_gguf_string *tokens;  /* owned by the reader */
    uint64_t n_tokens;
    float *scores;                   /* n_tokens, owned by this struct */
    int32_t *token_type;             /* n_tokens, owned by this struct */
    const kiln_gguf_string *merges;  /* "a b" pairs, owned by the reader */
    uint64_t n_merges;
    int64_t bos_id, eos_id, unk_id, pad_id;
    int add_bos, add_eos;            /* -1 when absent */
} kiln_gguf_tokenizer;

kiln_status kiln_gguf_tokenizer_get(const kiln_gguf *g, kiln_gguf_tokenizer *out);
void kiln_gguf_tokenizer_release(kiln_gguf_tokenizer *t);

/* ---- Llama models (general.architecture "llama") ---- */

/* A Hugging Face LlamaConfig-style object: vocab_size, hidden_size,
 * intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, head_dim, rms_norm_eps, rope_theta,
 * max_position_embeddings, tie_word_embeddings, bos_token_id,
 * eos_token_id, hidden_act, model_type, architectures, and
 * "rope_interleaved": true because GGUF llama files store q/k rows in
 * Meta's interleaved-pair RoPE order. */
kiln_status kiln_gguf_llama_config(const kiln_gguf *g, kiln_json **out);
/* The weights under Hugging Face names (model.embed_tokens.weight,
 * model.layers.N.self_attn.q_proj.weight, ..., lm_head.weight unless tied),
 * shapes checked against the metadata. f32/f16/bf16 tensors are views into
 * the mapping (the map keeps the reader alive); block-quantized tensors
 * (q8_0, q4_0, q4_K, q6_K) stay quantized: u8 views of their raw blocks
 * with `quant` set (tensor.h), which param() in a .kiln description turns
 * into a dequantize op. Other quantized types are refused. */
kiln_status kiln_gguf_llama_weights(kiln_gguf *g, kiln_tensor_map **out);

/* ---- Writer ---- */

typedef struct kiln_gguf_writer kiln_gguf_writer;

kiln_status kiln_gguf_writer_new(kiln_gguf_writer **out);
void kiln_gguf_writer_free(kiln_gguf_writer *w);

/* Metadata, written in the order added; duplicate keys are refused.
 * Setting "general.alignment" (a power-of-two uint32) also sets the
 * alignment of the tensor data. */
kiln_status kiln_gguf_writer_set_alignment(kiln_gguf_writer *w, uint32_t alignment);
kiln_status kiln_gguf_writer_add_string(kiln_gguf_writer *w, const char *key, const char *s);
kiln_status kiln_gguf_writer_add_uint32(kiln_gguf_writer *w, const char *key, uint32_t v);
kiln_status kiln_gguf_writer_add_int32(kiln_gguf_writer *w, const char *key, int32_t v);
kiln_status kiln_gguf_writer_add_uint64(kiln_gguf_writer *w, const char *key, uint64_t v);
kiln_status kiln_gguf_writer_add_float32(kiln_gguf_writer *w, const char *key, float v);
kiln_status kiln_gguf_writer_add_bool(kiln_gguf_writer *w, const char *key, int v);
/* An array of `count` scalars of elem_type (host little-endian layout). */
kiln_status kiln_gguf_writer_add_array(kiln_gguf_writer *w, const char *key, kiln_gguf_type elem_type,
                                       const void *data, uint64_t count);
kiln_status kiln_gguf_writer_add_string_array(kiln_gguf_writer *w, const char *key, const char *const *strs,
                                              uint64_t count);
/* Any value, including nested arrays: copies a value read from a file. */
kiln_status kiln_gguf_writer_add_value(kiln_gguf_writer *w, const char *key, const kiln_gguf_value *v);

/* A tensor of ggml `type` with kiln `shape` (outermost first, rank 1..4);
 * data holds exactly the tensor's bytes in that type and is NOT copied: it
 * must stay valid until the file is written. */
kiln_status kiln_gguf_writer_add_tensor(kiln_gguf_writer *w, const char *name, uint32_t type, int rank,
                                        const int64_t *shape, const void *data, size_t nbytes);

/* Writes a version 3 file. */
kiln_status kiln_gguf_writer_write(const kiln_gguf_writer *w, const char *path);
/* Same into a new malloc'd buffer (caller frees). */
kiln_status kiln_gguf_writer_write_memory(const kiln_gguf_writer *w, void **data, size_t *size);

#endif
