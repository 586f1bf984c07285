/* safetensors files: read by mmap with full header validation, and write. */
#ifndef KILN_SAFETENSORS_H
#define KILN_SAFETENSORS_H

#include "tensor.h"

/* Maps `path` and adds a view of every tensor to a new map (the mapping
 * lives as long as the map). Validates the header length, JSON, dtypes,
 * shapes, that offsets are in bounds, ordered and consistent with
 * shape x dtype size, and that tensors do not overlap. Errors name the file
 * and the tensor. */
kiln_status kiln_safetensors_load(const char *path, kiln_tensor_map **out);

/* Writes every tensor of `m` (in map order) to `path`. */
kiln_status kiln_safetensors_save(const char *path, const kiln_tensor_map *m);

#endif
