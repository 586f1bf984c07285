/* safetensors files: read by mmap with full header validation, and write. */
#ifndef KILN_SAFETENSORS_H
#define KILN_SAFETENSORS_H

#include "tensor.h"

/* Maps `path` read-only and adds a view of every tensor to a new map, in
 * the order of their data in the file (the mapping lives as long as the
 * map; do not write through the views). Validates the header length, JSON,
 * dtypes, shapes, that offsets are in bounds and consistent with
 * shape x dtype size, and that tensors do not overlap. Gaps between
 * tensors are tolerated. A tensor whose data is not aligned for its dtype
 * gets an owned, aligned copy instead of a view. "__metadata__" must be an
 * object of strings and is otherwise ignored. Errors name the file and the
 * tensor. */
kiln_status kiln_safetensors_load(const char *path, kiln_tensor_map **out);

/* The same over bytes already in memory; `what` names them in errors and
 * becomes the map's origin. Views point into `data`, which must outlive
 * the map. */
kiln_status kiln_safetensors_load_memory(const void *data, size_t size, const char *what, kiln_tensor_map **out);

/* Writes every tensor of `m` (in map order, data back to back as the
 * format requires) to `path`, with __metadata__ {"format":"pt"} and the
 * header padded with spaces to a multiple of 8 bytes. Writes a temporary
 * file and renames it, so saving over a file that a map still has mapped
 * is safe. */
kiln_status kiln_safetensors_save(const char *path, const kiln_tensor_map *m);

#endif
