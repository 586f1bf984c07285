/* kiln quantize: a Llama model (GGUF, llama2.c .bin or Hugging Face
 * folder) to a GGUF llama file whose 2-D weights are q8_0 or q4_0 (or f16,
 * or plain f32), with llama.cpp's per-tensor policy (docs/quantization.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kiln/quant.h"
#include "model_args.h"
#include "quantize.h"

/* llama_ftype values for general.file_type */
#define FTYPE_ALL_F32 0
#define FTYPE_MOSTLY_F16 1
#define FTYPE_MOSTLY_Q4_0 2
#define FTYPE_MOSTLY_Q8_0 7

typedef struct out_tensor {
    char name[96];
    int rank;
    int64_t shape[2];
    uint32_t type;
    void *data;
    size_t nbytes;
} out_tensor;

/* GGUF name, Hugging Face name (layer tensors: after "model.layers.N.") */
static const char *const layer_names[][2] = {
    {"attn_norm.weight", "input_layernorm.weight"},   {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},     {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},      {"ffn_down.weight", "mlp.down_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
};
#define N_LAYER_NAMES ((int)(sizeof layer_names / sizeof layer_names[0]))

/* The per-tensor type (llama.cpp's llama_tensor_get_type for the plain
 * types): 1-D tensors stay f32; the output projection (the token
 * embedding when tied) gets more bits than q4_0, q8_0 here where llama.cpp
 * uses q6_K, which kiln cannot write; rows that are not whole blocks stay
 * f32 (llama.cpp refuses q4_0/q8_0 for them). */
static uint32_t choose_type(uint32_t target, const char *name, int rank, int64_t cols, int tied, const char **why) {
    *why = "";
    if (rank < 2 || target == KILN_GGML_F32) {
        if (rank < 2 && target != KILN_GGML_F32) *why = " (1-D: kept f32)";
        return KILN_GGML_F32;
    }
    if (target == KILN_GGML_F16) return target;
    if (cols % KILN_QK8_0) {
        *why = " (rows are not whole 32-blocks: kept f32)";
        return KILN_GGML_F32;
    }
    int is_output = strcmp(name, "output.weight") == 0 || (tied && strcmp(name, "token_embd.weight") == 0);
    if (is_output && target == KILN_GGML_Q4_0) {
        *why = " (output projection: q8_0, where llama.cpp uses q6_K)";
        return KILN_GGML_Q8_0;
    }
    return target;
}

/* Hugging Face's rotate_half q/k rows to GGUF's interleaved pairs, per
 * head: new row 2i + j of a head is old row j * (hd / 2) + i. */
static void interleave_rows(const float *src, float *dst, int64_t heads, int64_t hd, int64_t cols) {
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < hd / 2; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(dst + (h * hd + 2 * i + j) * cols, src + (h * hd + j * (hd / 2) + i) * cols,
                       (size_t)cols * sizeof *dst);
}

static const kiln_tensor *find_weight(const kiln_model *m, const char *hf) {
    const kiln_tensor *t = kiln_tensor_map_get(m->weights, hf);
    if (!t && strncmp(hf, "model.", 6) == 0) t = kiln_tensor_map_get(m->weights, hf + 6); /* LlamaModel checkpoints */
    return t;
}

static void human(double bytes, char *buf, size_t cap) {
    if (bytes >= 1024.0 * 1024.0) snprintf(buf, cap, "%.2f MiB", bytes / (1024.0 * 1024.0));
    else snprintf(buf, cap, "%.1f KiB", bytes / 1024.0);
}

/* Converts one tensor into t (its data malloc'd). */
static kiln_status convert(const kiln_model *m, const llama_hparams *hp, uint32_t target, const char *gguf, const char *hf,
                           int rope_heads, out_tensor *t, int index, int total, double *in_bytes) {
    const kiln_tensor *src = find_weight(m, hf);
    if (!src) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no weight '%s' (for %s)", m->path, hf, gguf);
    kiln_tensor f;
    kiln_status s = kiln_tensor_dequantize(src, &f);
    if (s) return kiln_error_wrap(s, "%s: weight '%s'", m->path, hf);
    if (f.rank < 1 || f.rank > 2) {
        kiln_tensor_release(&f);
        return kiln_error(KILN_ERR_SHAPE, "%s: weight '%s' has rank %d, expected 1 or 2", m->path, hf, f.rank);
    }
    if (rope_heads && !hp->interleaved) {
        kiln_tensor p;
        s = kiln_tensor_alloc(&p, KILN_F32, f.rank, f.shape);
        if (s || f.shape[0] != rope_heads * hp->head_dim) {
            if (!s) kiln_tensor_release(&p);
            kiln_tensor_release(&f);
            return s ? s : kiln_error(KILN_ERR_SHAPE, "%s: '%s' has %lld rows, expected %lld heads of %lld", m->path, hf,
                                      (long long)f.shape[0], (long long)rope_heads, (long long)hp->head_dim);
        }
        interleave_rows(f.data, p.data, rope_heads, hp->head_dim, f.rank == 2 ? f.shape[1] : 1);
        kiln_tensor_release(&f);
        f = p;
    }
    snprintf(t->name, sizeof t->name, "%s", gguf);
    t->rank = f.rank;
    for (int i = 0; i < f.rank; i++) t->shape[i] = f.shape[i];
    int64_t cols = f.shape[f.rank - 1], n = kiln_tensor_numel(&f);
    const char *why;
    t->type = choose_type(target, gguf, f.rank, cols, hp->tied, &why);
    s = kiln_ggml_nbytes(t->type, n, &t->nbytes);
    t->data = s ? NULL : malloc(t->nbytes ? t->nbytes : 1);
    if (!s && !t->data) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) s = kiln_quantize(t->type, f.data, n, t->data, t->nbytes);
    if (!s) {
        char before[32], after[32], shape[48];
        human((double)src->nbytes, before, sizeof before);
        human((double)t->nbytes, after, sizeof after);
        if (f.rank == 2) snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)f.shape[0], (long long)f.shape[1]);
        else snprintf(shape, sizeof shape, "[%lld]", (long long)f.shape[0]);
        fprintf(stderr, "[%*d/%d] %-28s %-14s %5s -> %-5s %10s -> %*s%s\n", total >= 100 ? 3 : 2, index, total, gguf,
                shape, src->quant ? kiln_ggml_type_name(src->quant) : kiln_dtype_name(src->dtype),
                kiln_ggml_type_name(t->type), before, *why ? -10 : 0, after, why);
        *in_bytes += (double)src->nbytes;
    }
    kiln_tensor_release(&f);
    return s ? kiln_error_wrap(s, "quantizing '%s'", gguf) : KILN_OK;
}

static int quantize(const kiln_model *m, uint32_t target, const char *out_path, const char *tok_path) {
    llama_hparams hp;
    kiln_status s = quant_read_hparams(m, &hp);
    if (s) return fail_status(s);
    int total = 2 + (hp.tied ? 0 : 1) + (int)hp.layers * N_LAYER_NAMES;
    out_tensor *ts = calloc((size_t)total, sizeof *ts);
    kiln_gguf_writer *w = NULL;
    if (!ts) return fail("out of memory");
    s = kiln_gguf_writer_new(&w);
    uint32_t ftype = target == KILN_GGML_Q8_0 ? FTYPE_MOSTLY_Q8_0 : target == KILN_GGML_Q4_0 ? FTYPE_MOSTLY_Q4_0
                   : target == KILN_GGML_F16 ? FTYPE_MOSTLY_F16 : FTYPE_ALL_F32;
    const char *note = NULL;
    if (!s) s = quant_write_metadata(w, m, &hp, ftype, target == KILN_GGML_Q8_0 || target == KILN_GGML_Q4_0, tok_path, &note);
    if (note) fprintf(stderr, "kiln: note: %s\n", note);
    int n = 0;
    double in_bytes = 0, out_bytes = 0;
    if (!s) s = convert(m, &hp, target, "token_embd.weight", "model.embed_tokens.weight", 0, &ts[n], n + 1, total, &in_bytes), n++;
    if (!s) s = convert(m, &hp, target, "output_norm.weight", "model.norm.weight", 0, &ts[n], n + 1, total, &in_bytes), n++;
    if (!s && !hp.tied) s = convert(m, &hp, target, "output.weight", "lm_head.weight", 0, &ts[n], n + 1, total, &in_bytes), n++;
    for (int64_t l = 0; l < hp.layers && !s; l++)
        for (int r = 0; r < N_LAYER_NAMES && !s; r++) {
            char gguf[96], hf[128];
            snprintf(gguf, sizeof gguf, "blk.%lld.%s", (long long)l, layer_names[r][0]);
            snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, layer_names[r][1]);
            int heads = r == 1 ? (int)hp.heads : r == 2 ? (int)hp.kv_heads : 0; /* q and k carry RoPE */
            s = convert(m, &hp, target, gguf, hf, heads, &ts[n], n + 1, total, &in_bytes);
            n++;
        }
    for (int i = 0; i < n && !s; i++) {
        s = kiln_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].rank, ts[i].shape, ts[i].data, ts[i].nbytes);
        out_bytes += (double)ts[i].nbytes;
    }
    if (!s) s = kiln_gguf_writer_write(w, out_path);
    if (!s) {
        char a[32], b[32];
        human(in_bytes, a, sizeof a);
        human(out_bytes, b, sizeof b);
        fprintf(stderr, "kiln: wrote %s: %d tensors, %s -> %s of weights (%s)\n", out_path, n, a, b,
                kiln_ggml_type_name(target));
    }
    for (int i = 0; i < total; i++) free(ts[i].data);
    free(ts);
    kiln_gguf_writer_free(w);
    return s ? fail_status(s) : 0;
}

int cmd_quantize(int argc, char **argv) {
    const char *type = NULL, *out = NULL, *tokenizer = NULL;
    model_args ma = {0};
    const opt_spec opts[] = {
        {"type", 0, OPT_STRING, &type, "TYPE", "q8_0 or q4_0 (also f16, or f32 to convert without quantizing)"},
        {"output", 'o', OPT_STRING, &out, "FILE", "the GGUF file to write"},
        {"tokenizer", 0, OPT_STRING, &tokenizer, "FILE",
         "tokenizer to embed (llama2.c .bin or a .gguf); default: the model's own"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "quantize", "MODEL --type q8_0|q4_0 -o OUT.gguf [options]",
        "Write a Llama model as a GGUF llama file with block-quantized weights.",
        "MODEL is a GGUF llama file, a llama2.c checkpoint (.bin) or a Hugging Face Llama folder.\n"
        "2-D weights whose rows are whole 32-blocks become TYPE; norms (1-D) stay f32; with q4_0 the\n"
        "output projection (the token embedding when tied) is q8_0 (llama.cpp gives it q6_K). Hugging\n"
        "Face q/k rows are reordered into GGUF's interleaved RoPE layout. The tokenizer is copied from a\n"
        "GGUF source or converted from the llama2.c tokenizer beside a .bin. Progress goes to stderr.\n"
        "The result loads with kiln (kiln generate OUT.gguf) and with llama.cpp's gguf tools.\n\n"
        "example:\n  kiln quantize examples/stories260K/stories260K.bin --type q8_0 -o stories260K-q8_0.gguf",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (!type || !out) return fail("quantize: --type and -o are required (see 'kiln quantize --help')");
    uint32_t target;
    kiln_status s = kiln_ggml_type_parse(type, &target);
    if (s || (target != KILN_GGML_Q8_0 && target != KILN_GGML_Q4_0 && target != KILN_GGML_F16 && target != KILN_GGML_F32)) {
        kiln_status_free(s);
        return fail("quantize: --type must be q8_0, q4_0, f16 or f32, got '%s'", type);
    }
    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    int rc = quantize(m, target, out, tokenizer);
    kiln_model_free(m);
    return rc;
}
