/* GLSL code generation for the kernel IR (include/kiln/kernel.h).
 *
 * One kernel becomes one compute shader made of three parts:
 *   1. declarations generated here: extensions, the push-constant block,
 *      one storage-buffer block per binding and element type, and per
 *      buffer slot a load (and for the output a store) function that hides
 *      the slot's element offset, its storage type (f16/bf16 as 16-bit
 *      words, bool as bytes) and its split over several bindings when the
 *      tensor is larger than one storage-buffer range;
 *   2. the kernel's expressions as GLSL functions: every view becomes a
 *      function of its coordinates, the output expression a function of
 *      the output coordinates and VALUE(0), plus small per-template glue
 *      (kw_setup, mm_a, at_store, ...) with the dims the template needs;
 *   3. the template itself, a hand-written GLSL file in shaders/
 *      (k_pointwise, k_reduce, k_row, k_matmul, k_attention) that only
 *      calls the glue, so fusion never touches the templates.
 *
 * Dims that are constant in the kernel are literals (the compiler folds
 * them); symbolic ones are 32-bit push-constant words. Integer index
 * arithmetic is 32-bit unless the variant is "wide" (a kernel that reads or
 * writes 64-bit integers, or tensors of 2^31 elements and more), where i64
 * expressions are int64_t.
 *
 * A kernel has variants: the same kernel IR compiled for a different
 * binding layout, index width or template parameters (tile sizes, head-dim
 * bound). The host picks one per dispatch (vk_plan_*.c) and compiles each
 * variant once. */
#ifndef KILN_VK_CODEGEN_H
#define KILN_VK_CODEGEN_H

#include <stdint.h>

#include "kiln/kernel.h"
#include "kiln/status.h"

#define KVK_TPARAMS 6

/* Where one buffer slot lives in a variant. */
typedef struct kvk_slot_map {
    kiln_dtype storage; /* element type in device memory */
    int binding;        /* binding of its first chunk; chunk c is at binding + c */
    int nchunks;        /* >= 1; > 1 when the tensor spans several storage-buffer ranges */
    int offset_push;    /* push-constant word with its element offset, or -1 (offset 0) */
} kvk_slot_map;

typedef struct kvk_variant {
    int wide;                   /* 64-bit index arithmetic */
    uint32_t p[KVK_TPARAMS];    /* template parameters (see each template below) */
    int nslots;
    kvk_slot_map *slot;         /* per buffer slot */
    int nbindings;
    int npush;                  /* push-constant words in use */
} kvk_variant;

/* Template parameters:
 *   POINTWISE  p0 workgroup size
 *   REDUCE     p0 workgroup size, p1 1 = one workgroup per output (long
 *              reductions), 0 = one thread per output
 *   ROW        p0 workgroup size (one row per workgroup)
 *   MATMUL     p0 BM, p1 BN, p2 BK, p3 TM, p4 TN (tiled); p5 1 = the GEMV
 *              form for a few rows (p0 rows, p1 columns per workgroup,
 *              p2 threads per column); p5 2 = cooperative matrices
 *              (k_matmul_coopmat.glsl: f16 operands, f32 sums; untested);
 *              KVK_MM_MODE(p5) is that choice, and the flags below say
 *              how a quantized B is read (vk_cg_qmatmul.h)
 *   ATTENTION  p0 workgroup size, p1 query rows per workgroup, p2 keys per
 *              tile, p3 the head-size bound of the shared tiles */

#define KVK_MM_MODE(p5) ((p5) & 15u)
#define KVK_MM_QDIRECT 16u /* B's weights decoded from their blocks (kq_elem) */
#define KVK_MM_QGEMV 32u   /* the block GEMV, k_qmatmul.glsl (mode 1's grid and p0-p2) */

/* What the device offers that the code depends on. */
typedef struct kvk_cg_device {
    uint32_t subgroup_size;
    int subgroup_arithmetic;
    uint32_t max_shared;      /* bytes */
    uint64_t chunk_bytes;     /* bytes per chunk of a split tensor (a storage-buffer range) */
    int float64, int64;       /* shaderFloat64, shaderInt64 */
    int nv_coopmat;           /* the optional tensor-core matmul may be used (KILN_VK_COOPMAT=1) */
} kvk_cg_device;

/* Facts about one kernel, computed once. */
typedef struct kvk_kinfo {
    const kiln_kernel *k;
    int *dim_push;    /* per dim slot: its push-constant word, or -1 when constant */
    int ndim_push;    /* push words used by dims (slot offsets follow) */
    int need_wide;    /* 64-bit integers whatever the sizes */
    int uses_f64;     /* has f64 data or arithmetic */
} kvk_kinfo;

kiln_status kvk_kinfo_init(const kiln_kernel *k, kvk_kinfo *out);
void kvk_kinfo_free(kvk_kinfo *ki);

/* The GLSL of kernel ki for variant v (text owned by the caller) and its
 * workgroup size. */
kiln_status kvk_codegen(const kvk_kinfo *ki, const kvk_variant *v, const kvk_cg_device *dev, char **glsl,
                        uint32_t *workgroup);

#endif
