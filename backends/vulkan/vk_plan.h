/* Running executable plans (include/kiln/plan.h) on a Vulkan device: the
 * state behind a `--device vulkan` session.
 *
 * Created once per session: the plan (passes, fusion, lowering), per kernel
 * its facts and a list of compiled variants, the weights and constants in
 * device-local buffers. Per run: inputs bound (symbols), memory planned for
 * those symbols (one arena holds every intermediate), inputs uploaded, one
 * command buffer recorded with a dispatch per kernel (barriers from the
 * recorder's hazard tracking on the tensors each kernel touches), submitted,
 * outputs read back. Buffers for inputs, outputs and the arena grow
 * geometrically and are kept. Each kernel binds exactly the bytes of its
 * tensors, pushed with the dispatch (VK_KHR_push_descriptor) so that
 * nothing is allocated per dispatch even as offsets change every decode
 * step; without the extension, descriptor sets come from the device's
 * cache. */
#ifndef KILN_VK_PLAN_H
#define KILN_VK_PLAN_H

#include "kiln/plan.h"
#include "kiln/session.h"
#include "vk_codegen.h"
#include "vk_recorder.h"

typedef struct kvk_compiled {
    int *key;
    int nkey;
    kiln_vk_kernel *kernel;
} kvk_compiled;

typedef struct kvk_kern {
    kvk_kinfo ki;
    kvk_compiled *vars;
    int nvars;
} kvk_kern;

/* A plan tensor's device memory for one run. */
typedef struct kvk_place {
    kiln_vk_buffer *buf;
    size_t offset, bytes;
} kvk_place;

/* A device-resident carry (generation): output `out` of a run becomes
 * input `in` of the next without leaving the device. */
typedef struct kvk_carry {
    char *in_name, *out_name;
    int in_tensor, out_tensor; /* plan tensors */
    kiln_vk_buffer *buf;       /* the carried data (the last run's output) */
    size_t cap;
    int64_t shape[KILN_MAX_RANK];
    int valid;
} kvk_carry;

typedef struct kvk_session {
    kiln_vk_device *dev;
    int owns_dev;
    kiln_plan *plan;
    const kiln_graph *g; /* the plan's graph */
    kvk_cg_device cg;
    int fp16;            /* --precision fp16: f32 weights and intermediates stored as f16 */
    int profile;
    char *trace_path;
    kvk_kern *kerns;
    int nkerns;
    kiln_dtype *storage; /* per plan tensor: element type on the device */
    kiln_vk_buffer **tbuf; /* per plan tensor: params, consts, inputs, outputs */
    size_t *tcap;
    kiln_vk_buffer *arena;
    size_t arena_cap;
    kiln_vk_buffer *dummy; /* bound where a tensor is empty */
    uint64_t align;        /* binding offsets are multiples of this */
    kiln_vk_profile_entry *prof; /* the last run's per-dispatch times */
    int nprof;
    kvk_carry *carry;
    int ncarry;
    /* kvk_session_step's reduced logits */
    kiln_vk_buffer *pick_buf;
    kiln_vk_kernel *topk_kernel;
    uint64_t runs;
    uint64_t validation_seen; /* validation messages counted before the last run */
} kvk_session;

/* vk_plan_create.c: dev NULL opens the device opt names (the session then
 * owns it); tests pass one device to many sessions, and plan options
 * (no_fusion: one kernel per op). */
kiln_status kvk_session_create(kiln_vk_device *dev, const kiln_graph *g, const kiln_tensor_map *weights,
                               const kiln_session_options *opt, const kiln_plan_options *plan_opts, kvk_session **out);
void kvk_session_destroy(kvk_session *s);
/* A buffer of at least `bytes` in *buf (kept when large enough, else
 * replaced with room to grow); the contents are not kept. */
kiln_status kvk_ensure_buffer(kvk_session *s, kiln_vk_buffer **buf, size_t *cap, size_t bytes, const char *name);

/* vk_plan_variant.c: records kernel i with these dims and placements. */
kiln_status kvk_record_kernel(kvk_session *s, kiln_vk_recorder *r, int i, const int64_t *dims, const kvk_place *place);

/* vk_plan_run.c: a run is begun (inputs bound and uploaded, memory
 * planned, every kernel recorded), may record more (vk_plan_step.c),
 * is submitted, read from, and ended. */
typedef struct kvk_run {
    kiln_bound_inputs bi;
    const kiln_memplan *mp;
    kvk_place *place; /* per plan tensor */
    kiln_vk_recorder *rec;
} kvk_run;
kiln_status kvk_run_begin(kvk_session *s, const kiln_tensor_map *inputs, kvk_run *run);
kiln_status kvk_run_submit(kvk_session *s, kvk_run *run);
void kvk_run_end(kvk_run *run);
kiln_status kvk_run_shape(const kvk_session *s, const kvk_run *run, int t, int64_t *shape, size_t *bytes);
kiln_status kvk_session_run(kvk_session *s, const kiln_tensor_map *inputs, kiln_tensor_map **outputs);
/* The carry whose data is input tensor t this run, or NULL. */
const kvk_carry *kvk_carry_for_input(const kvk_session *s, int t);

/* vk_plan_step.c: kiln_session_step (include/kiln/session.h). */
kiln_status kvk_session_step(kvk_session *s, const kiln_tensor_map *inputs, kiln_step_io *io);
#define KVK_MAX_TOPK 256

/* vk_plan_check.c: what kernels cannot report (the evaluator's run checks). */
kiln_status kvk_check_runtime(const kiln_graph *g, const int64_t *symvals);

#endif
