/* Shared internals of the Vulkan backend (backends/vulkan/). Every file
 * includes this; nothing outside the directory does. */
#ifndef KILN_VK_INTERNAL_H
#define KILN_VK_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <vulkan/vulkan.h>

#include "kiln/vulkan.h"
#include "vk_fns.h"

/* VK_KHR_cooperative_matrix postdates the Vulkan headers of some distros
 * (Debian 12 ships 1.3.239), so kiln declares the few pieces it queries. */
#define KVK_STYPE_COOPMAT_FEATURES ((VkStructureType)1000506000)
#define KVK_STYPE_COOPMAT_PROPERTIES ((VkStructureType)1000506001)
#define KVK_COOPMAT_EXT "VK_KHR_cooperative_matrix"
typedef struct kvk_coopmat_features {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} kvk_coopmat_features;
typedef struct kvk_coopmat_properties {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    uint32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    uint32_t scope;
} kvk_coopmat_properties;
typedef VkResult(VKAPI_PTR *kvk_pfn_coopmat_props)(VkPhysicalDevice, uint32_t *, kvk_coopmat_properties *);

#define KVK_DECLARE_FN(name) PFN_##name name;

typedef struct kvk_global_fns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    KVK_GLOBAL_FNS(KVK_DECLARE_FN)
} kvk_global_fns;

typedef struct kvk_instance_fns {
    KVK_INSTANCE_FNS(KVK_DECLARE_FN)
    /* optional: NULL when the extension is absent */
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
    kvk_pfn_coopmat_props vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR;
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV vkGetPhysicalDeviceCooperativeMatrixPropertiesNV;
} kvk_instance_fns;

typedef struct kvk_device_fns {
    KVK_DEVICE_FNS(KVK_DECLARE_FN)
} kvk_device_fns;

/* ---- vk_loader.c, vk_result.c, vk_sanitizer.c ---- */
kiln_status kvk_loader_open(kvk_global_fns *out);
void kvk_sanitizer_pin_libraries(void); /* no-op outside ASan builds */
const char *kvk_result_name(VkResult r);
/* KILN_ERR_DEVICE (KILN_ERR_NOMEM for out-of-memory results) naming the call. */
kiln_status kvk_fail(VkResult r, const char *fmt, ...) KILN_PRINTF(2, 3);
#define KVK_CHECK(call, ...)                                  \
    do {                                                      \
        VkResult kvk_r_ = (call);                             \
        if (kvk_r_ != VK_SUCCESS) return kvk_fail(kvk_r_, __VA_ARGS__); \
    } while (0)

/* The sentence every "Vulkan cannot be used here" error ends with. */
#define KVK_CPU_HINT "use --device cpu to run on the CPU instead"

/* ---- vk_instance.c, vk_physical.c ---- */
typedef struct kvk_physical {
    VkPhysicalDevice pd;
    kiln_vk_device_info info;
    uint32_t queue_family;
    VkPhysicalDeviceMemoryProperties mem;
    uint8_t pipeline_cache_uuid[VK_UUID_SIZE];
    uint64_t non_coherent_atom;
    uint32_t timestamp_bits; /* valid bits of the chosen queue's timestamps */
    /* extensions to enable at device creation (absent ones are 0) */
    int ext_f16i8, ext_16bit, ext_8bit, ext_coopmat, ext_subgroup_size_control;
    int shader_float64, shader_int64; /* core features generated kernels may use */
    int ext_push_descriptor;          /* VK_KHR_push_descriptor */
    /* VK_NV_cooperative_matrix with a 16x16x16 f16 x f16 + f32 subgroup
     * shape, and the Vulkan memory model its GLSL needs (the optional
     * tensor-core matmul: KILN_VK_COOPMAT=1, untested) */
    int nv_coopmat16, vulkan_memory_model, ext_vulkan_memory_model;} kvk_physical;

struct kiln_vk_instance {
    kvk_global_fns g;
    kvk_instance_fns fn;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    int validation;
    atomic_uint_fast64_t messages;
    uint32_t api_version;
    int ndevices;
    kvk_physical *devices;
    int no_cache;
    char *cache_dir; /* NULL = default */
};

kiln_status kvk_physical_query(kiln_vk_instance *inst, VkPhysicalDevice pd, int index, kvk_physical *out);

/* ---- vk_hash.c ---- */
typedef struct kvk_hasher {
    uint64_t a, b, len;
} kvk_hasher;
void kvk_hash_init(kvk_hasher *h);
void kvk_hash_bytes(kvk_hasher *h, const void *p, size_t n);
void kvk_hash_str(kvk_hasher *h, const char *s); /* includes the terminator */
void kvk_hash_u64(kvk_hasher *h, uint64_t v);
void kvk_hash_final(const kvk_hasher *h, uint64_t out[2]);

/* ---- vk_files.c ---- */
/* The cache directory (created); NULL dir = default location. */
kiln_status kvk_cache_dir(const char *dir, char *buf, size_t cap);
/* Whole file into a malloc'ed buffer; KILN_ERR_NOT_FOUND when absent. */
kiln_status kvk_read_file(const char *path, void **data, size_t *size);
/* Writes through a temporary file and rename, so readers never see half. */
kiln_status kvk_write_file_atomic(const char *path, const void *data, size_t size);

/* ---- vk_glslang.c ---- */
/* Compiles without any cache; log on failure in the status. */
kiln_status kvk_glslang_compile(const kiln_vk_shader_source *src, uint32_t **words, size_t *nwords);

/* ---- vk_memory.c ---- */
typedef struct kvk_free_range {
    VkDeviceSize offset, size;
} kvk_free_range;

typedef struct kvk_block {
    VkDeviceMemory memory;
    VkBuffer buffer; /* spans the whole block; buffers are ranges of it */
    VkDeviceSize size, used;
    int dedicated;   /* made for one large buffer; freed with it */
    kvk_free_range *free;
    int nfree, capfree;
    struct kvk_block *next;
} kvk_block;

struct kiln_vk_buffer {
    kiln_vk_device *dev;
    kvk_block *block;
    VkDeviceSize offset, size; /* size as asked */
    VkDeviceSize reserved;     /* size rounded to the alignment */
    char *name;
    kiln_vk_buffer *prev, *next;
};

void kvk_memory_release_all(kiln_vk_device *dev);
int kvk_find_memory_type(const kvk_physical *p, uint32_t type_bits, VkMemoryPropertyFlags want,
                         VkMemoryPropertyFlags avoid);

/* ---- vk_transfer.c ---- */
void kvk_staging_release(kiln_vk_device *dev);
/* Records into the device's one-shot command buffer, submits, waits. */
kiln_status kvk_oneshot_begin(kiln_vk_device *dev, VkCommandBuffer *cmd);
kiln_status kvk_oneshot_submit(kiln_vk_device *dev);

/* ---- vk_descriptors.c ---- */
typedef struct kvk_desc_entry {
    uint64_t hash;
    int nbuf; /* 0 = empty slot */
    VkBuffer buf[KILN_VK_MAX_BINDINGS];
    VkDeviceSize offset[KILN_VK_MAX_BINDINGS], range[KILN_VK_MAX_BINDINGS];
    VkDescriptorSet set;
    VkDescriptorPool pool;
} kvk_desc_entry;

typedef struct kvk_desc_cache {
    kvk_desc_entry *slots;
    size_t cap, count;
    VkDescriptorPool *pools;
    int npools;
    uint32_t pool_sets; /* sets per pool */
} kvk_desc_cache;

/* The descriptor set for these ranges, allocated and written on first use
 * and reused afterwards. */
kiln_status kvk_desc_get(kiln_vk_device *dev, int nbuf, const VkBuffer *buf, const VkDeviceSize *offset,
                         const VkDeviceSize *range, VkDescriptorSet *out);
/* Forgets (and frees) every set that refers to `buffer`. */
void kvk_desc_forget_buffer(kiln_vk_device *dev, VkBuffer buffer);
void kvk_desc_release(kiln_vk_device *dev);
/* Frees every cached set (no command buffer using them may be pending). */
void kvk_desc_reset(kiln_vk_device *dev);
size_t kvk_desc_count(const kiln_vk_device *dev);

/* ---- vk_layouts.c ---- */
/* Set layout with nbuf storage buffers, and a pipeline layout adding
 * push_size bytes of push constants; both owned by the device. */
kiln_status kvk_set_layout(kiln_vk_device *dev, int nbuf, VkDescriptorSetLayout *out);
kiln_status kvk_pipeline_layout(kiln_vk_device *dev, int nbuf, uint32_t push_size, VkPipelineLayout *out);
/* The same for kernels whose buffers are pushed with each dispatch
 * (VK_KHR_push_descriptor): nothing is allocated per binding list. */
kiln_status kvk_pipeline_layout_push(kiln_vk_device *dev, int nbuf, uint32_t push_size, VkPipelineLayout *out);
void kvk_layouts_release(kiln_vk_device *dev);

/* ---- vk_pipeline_cache.c ---- */
kiln_status kvk_pipeline_cache_open(kiln_vk_device *dev);
void kvk_pipeline_cache_close(kiln_vk_device *dev); /* saves unless no_cache */

/* ---- vk_kernel.c ---- */
struct kiln_vk_kernel {
    kiln_vk_device *dev;
    char *name;
    uint64_t key[2];
    int refs;
    int nbuffers;
    uint32_t push_size;
    VkPipeline pipeline;
    VkPipelineLayout layout; /* owned by the device */
    int push_descriptors;    /* buffers are pushed per dispatch, not bound as sets */
    kiln_vk_kernel *next;
};
void kvk_kernels_release(kiln_vk_device *dev);
/* kiln_vk_kernel_create for a kernel whose buffers are pushed with each
 * dispatch; KILN_ERR_UNSUPPORTED where the device lacks push descriptors. */
kiln_status kvk_kernel_create_push(kiln_vk_device *dev, const kiln_vk_kernel_desc *desc, kiln_vk_kernel **out);
int kvk_has_push_descriptors(const kiln_vk_device *dev);

/* ---- vk_device.c ---- */
typedef struct kvk_playout {
    int nbuf, push_desc;
    uint32_t push_size;
    VkPipelineLayout layout;
} kvk_playout;

struct kiln_vk_device {
    kiln_vk_instance *inst;
    int owns_instance;
    const kvk_physical *phys;
    kvk_device_fns fn;
    VkDevice device;
    VkQueue queue;
    VkCommandPool cmd_pool;

    VkCommandBuffer oneshot_cmd; /* uploads, downloads */
    VkFence oneshot_fence;

    VkBuffer staging_buf;
    VkDeviceMemory staging_mem;
    void *staging_map;
    VkDeviceSize staging_size;
    int staging_coherent;

    uint32_t device_mem_type, device_heap;
    VkDeviceSize block_size, alignment;
    kvk_block *blocks;
    kiln_vk_buffer *buffers;

    VkDescriptorSetLayout set_layouts[KILN_VK_MAX_BINDINGS + 1];
    VkDescriptorSetLayout push_set_layouts[KILN_VK_MAX_BINDINGS + 1];
    PFN_vkCmdPushDescriptorSetKHR vkCmdPushDescriptorSetKHR; /* NULL without the extension */
    int nv_coopmat; /* the NV cooperative matrix path was enabled (KILN_VK_COOPMAT=1) */
    kvk_playout *playouts;
    int nplayouts;
    kvk_desc_cache desc;

    VkPipelineCache pipeline_cache;
    uint64_t pipeline_cache_loaded_size;
    kiln_vk_kernel *kernels;

    struct kvk_builtin *builtins; /* kernels of vk_matmul.c, vk_softmax.c */
    int nbuiltins;

    kiln_vk_options opts; /* cache_dir points into the instance */
    kiln_vk_device_stats stats;
};

/* ---- vk_hazard.c ---- */
/* Accesses since the last barrier, to decide where the next one goes. */
typedef struct kvk_range {
    VkBuffer buf;
    VkDeviceSize begin, end;
    VkPipelineStageFlags stage;
    VkAccessFlags access;
} kvk_range;

typedef struct kvk_hazards {
    kvk_range *reads, *writes;
    int nreads, nwrites, capreads, capwrites;
} kvk_hazards;

/* One buffer range a new command touches. */
typedef struct kvk_access {
    VkBuffer buf;
    VkDeviceSize begin, end;
    int read, write;
} kvk_access;

/* Whether the accesses conflict (RAW, WAR, WAW) with pending ones. */
int kvk_hazard_conflicts(const kvk_hazards *h, const kvk_access *a, int n);
/* Records one barrier that orders every pending access before later
 * commands of dst_stage/dst_access, and clears the pending lists. */
void kvk_hazard_barrier(kiln_vk_device *dev, VkCommandBuffer cmd, kvk_hazards *h, VkPipelineStageFlags dst_stage,
                        VkAccessFlags dst_access);
kiln_status kvk_hazard_add(kvk_hazards *h, const kvk_access *a, int n, VkPipelineStageFlags stage,
                           VkAccessFlags read_access, VkAccessFlags write_access);
int kvk_hazard_pending(const kvk_hazards *h);
void kvk_hazard_free(kvk_hazards *h);

/* ---- vk_builtin.c ---- */
typedef struct kvk_builtin {
    char key[96];
    kiln_vk_kernel *kernel;
} kvk_builtin;
/* The device's kernel for `key`, created from desc on first use; it lives
 * as long as the device. */
kiln_status kvk_builtin_kernel(kiln_vk_device *dev, const char *key, const kiln_vk_kernel_desc *desc,
                               kiln_vk_kernel **out);
void kvk_builtins_release(kiln_vk_device *dev);
/* Bytes a binding covers (its size, or the rest of its buffer). */
uint64_t kvk_binding_bytes(const kiln_vk_binding *b);

/* Ranks of device types for "best device": larger is better. */
int kvk_type_rank(kiln_vk_device_type t);

#endif
