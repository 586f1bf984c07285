/* MATMUL kernels over block-quantized weights on Vulkan (vk_cg_qmatmul.c):
 * a B view with qtype set (q8_0, q4_0, q4_K, q6_K) whose run-time strides
 * fit one of the two layouts of docs/compiler.md ("Dequantize in kernels")
 * is read straight from its blocks instead of through the view's generic
 * byte-by-byte expression:
 *   KVK_MM_QDIRECT  the ordinary templates (tiled, GEMV) with mm_b = one
 *                   weight decoded from its block (kq_elem, k_qdecode.glsl);
 *   KVK_MM_QGEMV    the NT layout with a few rows: shaders/k_qmatmul.glsl,
 *                   groups of 32 weights decoded once per invocation,
 *                   subgroup sums.
 * The flags live in the variant's p5 (vk_codegen.h), so variants differ. */
#ifndef KILN_VK_CG_QMATMUL_H
#define KILN_VK_CG_QMATMUL_H

#include <stdint.h>

#include "vk_cg_internal.h"

enum { KVK_QMM_NONE = 0, KVK_QMM_NT = 1, KVK_QMM_NN = 2 };

/* The layout kernel k's B view has by its constant strides (KVK_QMM_*). */
int kvk_qmm_layout(const kiln_kernel *k);
/* Whether this run's dims fit that layout: no offset, batch strides 0,
 * rows of `cols` elements, K (NT) a multiple of 32 within a row. */
int kvk_qmm_fits(const kiln_kernel *k, const int64_t *dims);
/* Adds the flags to p5 when this run qualifies and, for the block GEMV,
 * sets its parameters (p0 rows, p1 columns per workgroup, p2 invocations
 * per column; mode 1 for the GEMV grid). p holds the generic choice. */
void kvk_qmm_choose(const kiln_kernel *k, const int64_t *dims, int cpu_device, const kvk_cg_device *dev,
                    uint32_t p[KVK_TPARAMS]);

/* Codegen: the decoders and mm_b for a quantized B (glue_matmul calls it in
 * place of the generic mm_b), and the block GEMV's #defines (returns the
 * workgroup size). */
void kcg_qmatmul_glue(kvk_cg *c, const char *acc_t);
uint32_t kcg_qmatmul_defines(kvk_cg *c, kvk_str *defs);

#endif
