/* Element types of tensors. */
#ifndef KILN_DTYPE_H
#define KILN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum kiln_dtype {
    KILN_F32 = 0,
    KILN_F16,
    KILN_BF16,
    KILN_F64,
    KILN_I8,
    KILN_I16,
    KILN_I32,
    KILN_I64,
    KILN_U8,
    KILN_U16,
    KILN_U32,
    KILN_U64,
    KILN_BOOL,
    KILN_DTYPE_COUNT
} kiln_dtype;

typedef struct kiln_dtype_info {
    const char *name; /* as printed in IR text and .kiln: "f32", "i64", ... */
    size_t size;      /* bytes per element */
    int is_float;
    int is_signed;    /* meaningful for integers */
} kiln_dtype_info;

const kiln_dtype_info *kiln_dtype_get(kiln_dtype t);
const char *kiln_dtype_name(kiln_dtype t);
size_t kiln_dtype_size(kiln_dtype t);
int kiln_dtype_is_float(kiln_dtype t);
int kiln_dtype_is_int(kiln_dtype t); /* integer, not bool */
/* Parse "f32", "float32", "i64", "int64", "bool" ... */
kiln_status kiln_dtype_parse(const char *name, kiln_dtype *out);

/* Scalar conversions used by every backend's host side. */
float kiln_f16_to_f32(uint16_t h);
uint16_t kiln_f32_to_f16(float f);   /* round to nearest even */
float kiln_bf16_to_f32(uint16_t h);
uint16_t kiln_f32_to_bf16(float f);  /* round to nearest even */

/* Read/write element i of a buffer of type t as double or int64. */
double kiln_load_f64(const void *data, kiln_dtype t, size_t i);
int64_t kiln_load_i64(const void *data, kiln_dtype t, size_t i);
void kiln_store_f64(void *data, kiln_dtype t, size_t i, double v);
void kiln_store_i64(void *data, kiln_dtype t, size_t i, int64_t v);

#endif
