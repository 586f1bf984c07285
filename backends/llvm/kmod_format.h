/* The .kmod file layout (not public API; kiln/cpu.h describes it).
 *
 *   "KILNMOD\0"  u32 format version
 *   records, each: u32 tag, u32 zero, u64 payload length, u64 FNV-1a of the
 *   payload, payload
 *     VERS  the kiln version that wrote it (first record)
 *     TRGT  triple \0 cpu \0 features
 *     OBJ   the object file
 *     PLAN  u32 kernels, u32 distinct codes, per kernel (u32 code, u32
 *           template, u64 fingerprint, str name), then str graph (IR text
 *           of the optimized graph: tensors with dims as expressions over
 *           symbols, weight names and shapes, input and output names)
 *     WGHT  a safetensors image of the graph's parameters (optional)
 *     END   (empty; last)
 *   strings (str) are u32 length + bytes. Little endian throughout. */
#ifndef KILN_KMOD_FORMAT_H
#define KILN_KMOD_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "kiln/status.h"

#define KMOD_MAGIC "KILNMOD"
#define KMOD_FORMAT 1
#define KMOD_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define KMOD_VERS KMOD_TAG('V', 'E', 'R', 'S')
#define KMOD_TRGT KMOD_TAG('T', 'R', 'G', 'T')
#define KMOD_OBJ KMOD_TAG('O', 'B', 'J', ' ')
#define KMOD_PLAN KMOD_TAG('P', 'L', 'A', 'N')
#define KMOD_WGHT KMOD_TAG('W', 'G', 'H', 'T')
#define KMOD_END KMOD_TAG('E', 'N', 'D', ' ')
#define KMOD_RECORD_HEADER 24

static inline uint64_t kmod_hash(const unsigned char *p, size_t n) {
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static inline uint32_t kmod_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t kmod_u64(const unsigned char *p) { return (uint64_t)kmod_u32(p) | (uint64_t)kmod_u32(p + 4) << 32; }
static inline void kmod_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void kmod_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* kmod_write.c: writes program p (compiled into obj) as a module, with the
 * weights when not NULL. */
struct kiln_cpu_program;
struct kiln_llvm_object;
struct kiln_tensor_map;
kiln_status cpu_kmod_store(const char *path, const struct kiln_cpu_program *p, const struct kiln_llvm_object *obj,
                           const struct kiln_tensor_map *weights);

#endif
