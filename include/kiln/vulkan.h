/* The Vulkan backend's runtime: instance and devices, device memory, GLSL
 * compiled in-process to SPIR-V (cached on disk), compute kernels, and a
 * command recorder that inserts barriers from declared buffer accesses.
 *
 * Built only with KILN_WITH_VULKAN (the macro is then defined for every user
 * of kiln_core). The Vulkan loader is opened at run time, so a kiln binary
 * runs where Vulkan is absent: kiln_vk_instance_create then fails with a
 * message that says so and that `--device cpu` works.
 *
 * Objects belong to one thread at a time. Destroy recorders before closing
 * their device; closing a device frees every buffer and kernel still alive
 * on it, and their handles become invalid. */
#ifndef KILN_VULKAN_H
#define KILN_VULKAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_vk_instance kiln_vk_instance;
typedef struct kiln_vk_device kiln_vk_device;
typedef struct kiln_vk_buffer kiln_vk_buffer;
typedef struct kiln_vk_kernel kiln_vk_kernel;
typedef struct kiln_vk_recorder kiln_vk_recorder;

/* ---- options ------------------------------------------------------------ */

typedef struct kiln_vk_options {
    /* 1: Khronos validation layer (with synchronization validation) and a
     * messenger that prints and counts every message. 0: decided by the
     * environment variable KILN_VK_VALIDATION (set and not "0" enables). */
    int validation;
    /* 1: neither read nor write the SPIR-V and pipeline caches (--no-cache). */
    int no_cache;
    /* Cache directory; NULL: $XDG_CACHE_HOME/kiln, else ~/.cache/kiln. */
    const char *cache_dir;
} kiln_vk_options;

/* ---- instance and device discovery -------------------------------------- */

/* Vulkan's physical device types, same values as VkPhysicalDeviceType. */
typedef enum kiln_vk_device_type {
    KILN_VK_TYPE_OTHER = 0,
    KILN_VK_TYPE_INTEGRATED = 1,
    KILN_VK_TYPE_DISCRETE = 2,
    KILN_VK_TYPE_VIRTUAL = 3,
    KILN_VK_TYPE_CPU = 4,
} kiln_vk_device_type;

/* One shape/type combination of VK_KHR_cooperative_matrix. Types are
 * VkComponentTypeKHR values (kiln_vk_component_name prints them), scope is
 * a VkScopeKHR value (3 = subgroup). */
typedef struct kiln_vk_coopmat_shape {
    uint32_t m, n, k;
    uint32_t a_type, b_type, c_type, result_type;
    uint32_t saturating, scope;
} kiln_vk_coopmat_shape;

#define KILN_VK_MAX_HEAPS 16
#define KILN_VK_MAX_COOPMAT 64

typedef struct kiln_vk_device_info {
    int index; /* position in the instance's list, N in `vulkan:N` */
    char name[256];
    uint32_t vendor_id, device_id;
    const char *vendor;      /* "NVIDIA", "AMD", "Intel", "Mesa", ... or "unknown" */
    kiln_vk_device_type type;
    uint32_t api_version;    /* VK_MAKE_API_VERSION encoding */
    uint32_t driver_version; /* vendor-specific encoding */
    char driver_name[256], driver_info[256];

    int usable;              /* 0: see unusable_reason (API < 1.1, no compute queue) */
    char unusable_reason[128];

    uint32_t subgroup_size, min_subgroup_size, max_subgroup_size;
    int subgroup_arithmetic; /* subgroupAdd/Max... in compute shaders */
    int subgroup_size_control;
    uint32_t max_shared_memory;   /* bytes per workgroup */
    uint32_t max_workgroup_size[3];
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count[3];
    uint32_t max_push_constants;  /* bytes */
    uint64_t max_storage_buffer_range;
    uint64_t min_storage_buffer_offset_alignment;
    uint64_t max_memory_allocation_size;

    int nheaps;
    struct {
        uint64_t size;
        int device_local;
    } heaps[KILN_VK_MAX_HEAPS];

    int fp16_arithmetic, int8_arithmetic; /* shaderFloat16 / shaderInt8 */
    int storage16, storage8;              /* 16/8-bit storage buffer access */
    int cooperative_matrix;               /* VK_KHR_cooperative_matrix usable */
    int ncoopmat;
    kiln_vk_coopmat_shape coopmat[KILN_VK_MAX_COOPMAT];

    int timestamps;                /* compute queue can write timestamps */
    double timestamp_period_ns;    /* nanoseconds per tick */
} kiln_vk_device_info;

/* Loads the Vulkan loader (libvulkan.so.1, or $KILN_VULKAN_LIBRARY),
 * creates an instance (Vulkan 1.1 or newer) and lists its devices. Fails
 * with KILN_ERR_DEVICE and a message naming what is missing (loader, driver,
 * validation layer) when Vulkan cannot be used. */
kiln_status kiln_vk_instance_create(const kiln_vk_options *opts, kiln_vk_instance **out);
void kiln_vk_instance_destroy(kiln_vk_instance *inst);

int kiln_vk_device_count(const kiln_vk_instance *inst);
/* NULL when index is out of range. */
const kiln_vk_device_info *kiln_vk_device_info_at(const kiln_vk_instance *inst, int index);
/* spec: NULL, "", "vulkan" or "gpu" = the best usable device (discrete >
 * integrated > virtual > cpu > other, then the larger device-local heap);
 * "vulkan:N" = device N. Errors list the devices there are. */
kiln_status kiln_vk_select_device(const kiln_vk_instance *inst, const char *spec, int *index);

/* Validation messages printed and counted since the instance was created
 * (warnings and errors from the layer and the loader). Tests require 0. */
uint64_t kiln_vk_validation_messages(const kiln_vk_instance *inst);
int kiln_vk_validation_enabled(const kiln_vk_instance *inst);

/* Human-readable report of one device, as `kiln devices` prints it. */
void kiln_vk_device_info_print(const kiln_vk_device_info *info, FILE *f);
const char *kiln_vk_device_type_name(kiln_vk_device_type t);
const char *kiln_vk_component_name(uint32_t vk_component_type);

/* ---- devices ------------------------------------------------------------ */

/* Opens device `index` of `inst` (which must outlive it). */
kiln_status kiln_vk_device_open(kiln_vk_instance *inst, int index, kiln_vk_device **out);
/* Creates an instance, selects a device by spec (see kiln_vk_select_device)
 * and opens it; the device owns the instance. */
kiln_status kiln_vk_open(const kiln_vk_options *opts, const char *spec, kiln_vk_device **out);
/* Waits for the device, saves the pipeline cache, frees everything. */
void kiln_vk_device_close(kiln_vk_device *dev);
const kiln_vk_device_info *kiln_vk_device_get_info(const kiln_vk_device *dev);
kiln_vk_instance *kiln_vk_device_instance(kiln_vk_device *dev);

typedef struct kiln_vk_device_stats {
    uint64_t shader_compiles;   /* GLSL -> SPIR-V runs of glslang */
    uint64_t shader_cache_hits; /* SPIR-V served from the disk cache */
    uint64_t pipelines;         /* distinct kernels created */
    uint64_t descriptor_sets;   /* descriptor sets allocated (reused afterwards) */
    uint64_t memory_reserved;   /* bytes of device memory held in blocks */
    uint64_t memory_used;       /* bytes in live buffers */
    uint64_t memory_blocks;
} kiln_vk_device_stats;
void kiln_vk_device_get_stats(const kiln_vk_device *dev, kiln_vk_device_stats *out);

/* ---- memory ------------------------------------------------------------- */

/* A device-local buffer carved out of a larger device memory block. Sizes
 * are rounded up to the storage-buffer offset alignment. Running out of
 * device memory is KILN_ERR_NOMEM with a message naming the buffer, the
 * size and the heap. `name` is copied and used in messages. */
kiln_status kiln_vk_buffer_create(kiln_vk_device *dev, size_t size, const char *name, kiln_vk_buffer **out);
void kiln_vk_buffer_destroy(kiln_vk_buffer *buf);
size_t kiln_vk_buffer_size(const kiln_vk_buffer *buf);
const char *kiln_vk_buffer_name(const kiln_vk_buffer *buf);

/* Synchronous host <-> device copies through a staging buffer. They wait
 * for the queue, so no recorder may be mid-submission. */
kiln_status kiln_vk_buffer_write(kiln_vk_buffer *buf, size_t offset, const void *src, size_t n);
kiln_status kiln_vk_buffer_read(kiln_vk_buffer *buf, size_t offset, void *dst, size_t n);

/* ---- shaders ------------------------------------------------------------ */

typedef struct kiln_vk_define {
    const char *name;  /* an identifier */
    const char *value; /* one line; NULL or "" defines it empty */
} kiln_vk_define;

typedef struct kiln_vk_shader_source {
    const char *name;  /* kernel name for messages and profiles */
    const char *glsl;  /* a compute shader; its first line is #version */
    const kiln_vk_define *defines;
    int ndefines;
    /* SPIR-V target: 0 or 11 = Vulkan 1.1 / SPIR-V 1.3; 12 = 1.2 / 1.5;
     * 13 = 1.3 / 1.6 (cooperative matrix wants 13). */
    int vulkan_target;
} kiln_vk_shader_source;

typedef struct kiln_vk_spirv {
    uint32_t *words;
    size_t nwords;
    int from_cache;   /* 1 when read from the disk cache */
    uint64_t key[2];  /* content hash: source, defines, target, compiler version */
} kiln_vk_spirv;

/* GLSL -> SPIR-V with glslang in-process, through the disk cache unless
 * opts->no_cache. Compile errors are KILN_ERR_INVALID with the kernel name,
 * glslang's log and the offending source lines. opts may be NULL. */
kiln_status kiln_vk_compile_glsl(const kiln_vk_options *opts, const kiln_vk_shader_source *src, kiln_vk_spirv *out);
void kiln_vk_spirv_free(kiln_vk_spirv *s);
/* The directory the caches use (created if missing). */
kiln_status kiln_vk_cache_dir(const kiln_vk_options *opts, char *buf, size_t cap);
/* glslang's version as used in cache keys, e.g. "glslang 12.0.0". */
const char *kiln_vk_compiler_version(void);

/* ---- kernels ------------------------------------------------------------ */

#define KILN_VK_MAX_BINDINGS 16
#define KILN_VK_MAX_SPEC 32

/* A compute kernel. Its shader declares storage buffers at set 0, bindings
 * 0..nbuffers-1, a push-constant block of push_size bytes (symbolic dims)
 * and specialization constants constant_id 0..nspec-1 (tile sizes; the
 * workgroup size through local_size_x_id etc.). */
typedef struct kiln_vk_kernel_desc {
    kiln_vk_shader_source source;
    int nbuffers;
    uint32_t push_size;     /* bytes, a multiple of 4 */
    const uint32_t *spec;   /* 32-bit values (floats by their bits) */
    int nspec;
} kiln_vk_kernel_desc;

/* Compiles (or finds in the caches) and creates a compute pipeline. The same
 * description twice (the name aside: identical code shares one pipeline and
 * keeps the first name; label dispatches to tell them apart) returns the
 * same kernel with a reference added; destroy drops one reference. */
kiln_status kiln_vk_kernel_create(kiln_vk_device *dev, const kiln_vk_kernel_desc *desc, kiln_vk_kernel **out);
void kiln_vk_kernel_destroy(kiln_vk_kernel *k);
const char *kiln_vk_kernel_name(const kiln_vk_kernel *k);

/* Workgroup counts for `groups` workgroups in one dimension, folded into
 * x and y when x alone would exceed the device limit; the shader then uses
 * gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x and skips ids
 * past the end. */
kiln_status kiln_vk_grid_1d(const kiln_vk_device *dev, uint64_t groups, uint32_t out[3]);

/* ---- recording and running ---------------------------------------------- */

typedef enum kiln_vk_access {
    KILN_VK_READ = 1,
    KILN_VK_WRITE = 2,
    KILN_VK_READ_WRITE = 3,
} kiln_vk_access;

/* A buffer range bound to one binding; size 0 = to the end of the buffer.
 * offset must be a multiple of the device's storage-buffer alignment. */
typedef struct kiln_vk_binding {
    kiln_vk_buffer *buffer;
    size_t offset, size;
    kiln_vk_access access;
} kiln_vk_binding;

typedef struct kiln_vk_dispatch {
    kiln_vk_kernel *kernel;
    const char *label; /* profile name; NULL = the kernel's name */
    const kiln_vk_binding *bindings;
    int nbindings;     /* the kernel's nbuffers */
    const void *push;
    uint32_t push_size; /* the kernel's push_size */
    uint32_t groups[3];
} kiln_vk_dispatch;

enum {
    KILN_VK_REC_PROFILE = 1,               /* timestamp every dispatch */
    KILN_VK_REC_NO_BARRIERS_UNSAFE = 2,    /* tests only: prove the tracker matters */
};

/* One command buffer for a whole run. Commands are checked and recorded at
 * once; barriers are inserted where a command's declared accesses conflict
 * with earlier ones (read-after-write, write-after-read, write-after-write)
 * since the last barrier. Buffers and kernels must outlive the recorder. */
kiln_status kiln_vk_recorder_create(kiln_vk_device *dev, unsigned flags, kiln_vk_recorder **out);
kiln_status kiln_vk_record_dispatch(kiln_vk_recorder *r, const kiln_vk_dispatch *d);
kiln_status kiln_vk_record_copy(kiln_vk_recorder *r, kiln_vk_buffer *src, size_t src_offset, kiln_vk_buffer *dst,
                                size_t dst_offset, size_t n);
/* Fills n bytes (a multiple of 4) with a 32-bit pattern. */
kiln_status kiln_vk_record_fill(kiln_vk_recorder *r, kiln_vk_buffer *dst, size_t offset, size_t n, uint32_t value);
/* Ends recording (first call), submits and waits. Calling it again replays
 * the same commands. */
kiln_status kiln_vk_recorder_submit(kiln_vk_recorder *r);
void kiln_vk_recorder_destroy(kiln_vk_recorder *r);
int kiln_vk_recorder_dispatch_count(const kiln_vk_recorder *r);
int kiln_vk_recorder_barrier_count(const kiln_vk_recorder *r);

/* ---- profiles ----------------------------------------------------------- */

typedef struct kiln_vk_profile_entry {
    const char *name;       /* the dispatch's label */
    double start_us, dur_us; /* start relative to the first dispatch */
} kiln_vk_profile_entry;

/* Per-dispatch times of the last submission of a KILN_VK_REC_PROFILE
 * recorder (pointers stay valid until the recorder is destroyed). */
kiln_status kiln_vk_recorder_profile(const kiln_vk_recorder *r, const kiln_vk_profile_entry **entries, int *n);
/* Table per name: calls, total and mean microseconds, share of the total. */
void kiln_vk_profile_print(const kiln_vk_profile_entry *e, int n, FILE *f);
/* Chrome trace (chrome://tracing, Perfetto): {"traceEvents": [...]} with one
 * complete ("ph": "X") event per dispatch. */
kiln_status kiln_vk_trace_write(const char *path, const kiln_vk_profile_entry *e, int n);

/* ---- built-in kernels --------------------------------------------------- */

typedef enum kiln_vk_matmul_layout {
    KILN_VK_MATMUL_NN = 0, /* B is [K, N] row-major */
    KILN_VK_MATMUL_NT = 1, /* B is [N, K] row-major (weights as stored by most models) */
} kiln_vk_matmul_layout;

/* Tile shape of the shared-memory matmul: a workgroup computes a bm x bn
 * tile of C in steps of bk; each of its threads a tm x tn register block. */
typedef struct kiln_vk_matmul_config {
    uint32_t bm, bn, bk, tm, tn;
} kiln_vk_matmul_config;

/* Tile sizes for an m x n x k (times batch) problem on this device, from its
 * shared memory, subgroup size and workgroup limits. */
kiln_vk_matmul_config kiln_vk_matmul_pick(const kiln_vk_device_info *info, uint64_t batch, uint32_t m, uint32_t n,
                                          uint32_t k);

/* fp32 C[b] = A[b] @ B[b] for b < batch. A is [M, K], C is [M, N], all
 * row-major and contiguous; batch strides in elements (0 broadcasts). */
typedef struct kiln_vk_matmul_args {
    kiln_vk_binding a, b, c; /* access is set by the call */
    uint32_t batch, m, n, k;
    uint32_t stride_a, stride_b, stride_c;
    kiln_vk_matmul_layout layout;
    const kiln_vk_matmul_config *config; /* NULL = kiln_vk_matmul_pick */
} kiln_vk_matmul_args;
kiln_status kiln_vk_record_matmul(kiln_vk_recorder *r, const kiln_vk_matmul_args *args);

/* fp32 softmax over the last axis: y[row, :] = softmax(x[row, :]) for
 * rows x n contiguous elements. x and y may be the same range. */
kiln_status kiln_vk_record_softmax(kiln_vk_recorder *r, kiln_vk_binding x, kiln_vk_binding y, uint32_t rows,
                                   uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
