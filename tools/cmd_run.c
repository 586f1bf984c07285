/* kiln run: one forward pass of a model on inputs from a safetensors file. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "kiln/safetensors.h"
#include "kmod_run.h"
#include "kiln/session.h"
#include "model_args.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Without --out: shape and the first few values of each output. */
static void print_outputs(const kiln_tensor_map *outs) {
    for (int i = 0; i < kiln_tensor_map_count(outs); i++) {
        const kiln_tensor *t = kiln_tensor_map_at(outs, i);
        char shape[256];
        printf("%s: %s [", kiln_tensor_map_name(outs, i), kiln_tensor_shape_str(t, shape, sizeof shape));
        int64_t n = kiln_tensor_numel(t);
        for (int64_t k = 0; k < n && k < 6; k++) {
            if (kiln_dtype_is_float(t->dtype)) printf("%s%.6g", k ? ", " : "", kiln_load_f64(t->data, t->dtype, (size_t)k));
            else printf("%s%lld", k ? ", " : "", (long long)kiln_load_i64(t->data, t->dtype, (size_t)k));
        }
        printf("%s]\n", n > 6 ? ", ..." : "");
    }
}

int cmd_run(int argc, char **argv) {
    model_args ma = {0};
    const char *inputs_path = NULL, *out_path = NULL, *device = "auto", *trace = NULL, *precision = NULL;
    long threads = 0;
    int profile = 0, no_cache = 0;
    const opt_spec opts[] = {
        {"inputs", 'i', OPT_STRING, &inputs_path, "FILE", "input tensors by name (safetensors)"},
        {"out", 'o', OPT_STRING, &out_path, "FILE", "write the outputs here (safetensors); else print a summary"},
        {"device", 'd', OPT_STRING, &device, "DEV", "auto (default), ref, cpu, vulkan, vulkan:N"},
        {"threads", 't', OPT_INT, &threads, "N", "CPU worker threads (default: all cores)"},
        {"profile", 0, OPT_FLAG, &profile, NULL, "print a per-kernel time profile"},
        {"trace", 0, OPT_STRING, &trace, "FILE", "write a Chrome trace (chrome://tracing, Perfetto) of the kernels (vulkan)"},
        {"precision", 0, OPT_STRING, &precision, "P", "fp32 (default) or fp16: f16 weights and activations, f32 sums (vulkan)"},
        {"no-cache", 0, OPT_FLAG, &no_cache, NULL, "neither read nor write the shader and pipeline caches"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "run", "MODEL [--inputs IN.safetensors] [--out OUT.safetensors] [options]",
        "Run one forward pass of MODEL on the named input tensors and write every output by name.",
        "MODEL is a Hugging Face folder (config.json + model.safetensors), a .kiln description, or a\n"
        ".kmod module from 'kiln compile' (weights embedded or from --weights FILE).\n"
        "Inputs are looked up by name (input_ids, attention_mask, token_type_ids, decoder_input_ids, ...);\n"
        "integer inputs may be i32 or i64. Optional inputs (an attention mask) take their defaults.\n"
        "Outputs: logits (GPT-2, Llama, T5), last_hidden_state and pooler_output (BERT),\n"
        "encoder_last_hidden_state (T5).\n\n"
        "example:\n  kiln run ../shared/fixtures/hf/gpt2-tiny --inputs in.safetensors --out out.safetensors",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (kmod_is_module(pos[0]))
        return kmod_run(pos[0], inputs_path, out_path, device, (int)threads, profile, ma.weights, ma.sets.count);

    kiln_session_options so = {{KILN_DEVICE_REF, -1}, (int)threads, profile, no_cache, precision};
    kiln_status s = kiln_device_parse(device, &so.device);
    if (s) return fail_status(s);
    if (precision && strcmp(precision, "fp32") != 0 &&
        (strcmp(precision, "fp16") != 0 || so.device.kind != KILN_DEVICE_VULKAN))
        return fail_status(kiln_error(KILN_ERR_UNSUPPORTED, "--precision %s: only fp32, and fp16 on --device vulkan", precision));

    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    kiln_tensor_map *inputs = NULL, *outputs = NULL;
    kiln_session *sess = NULL;
    int rc = 1;
    if (inputs_path) {
        s = kiln_safetensors_load(inputs_path, &inputs);
        if (s) goto done;
    } else {
        inputs = kiln_tensor_map_new();
        if (!inputs) {
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    double t0 = now_seconds();
    s = kiln_session_create(m->graph, m->weights, &so, &sess);
    if (s) goto done;
    if (trace) {
        s = kiln_session_set_trace(sess, trace);
        if (s) goto done;
    }
    double t1 = now_seconds();
    s = kiln_session_run(sess, inputs, &outputs);
    if (s) goto done;
    double t2 = now_seconds();
    if (out_path) {
        s = kiln_safetensors_save(out_path, outputs);
        if (s) goto done;
        fprintf(stderr, "kiln: %s on %s: compiled in %.3f s, ran in %.3f s; wrote %d output(s) to %s\n", m->name,
                kiln_device_name(kiln_session_device(sess)), t1 - t0, t2 - t1, kiln_tensor_map_count(outputs), out_path);
    } else {
        print_outputs(outputs);
    }
    if (profile) kiln_session_print_profile(sess, stderr);
    rc = 0;
done:
    if (s) fail_status(s);
    kiln_session_free(sess);
    kiln_tensor_map_free(outputs);
    kiln_tensor_map_free(inputs);
    kiln_model_free(m);
    return rc;
}
