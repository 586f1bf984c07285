/* Status values: every fallible kiln call returns one.
 * NULL means success; anything else carries a code and a human-readable
 * message that names the file, tensor, op or line at fault. */
#ifndef KILN_STATUS_H
#define KILN_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_code {
    KILN_OK_CODE = 0,
    KILN_ERR_INVALID,     /* bad argument or malformed graph */
    KILN_ERR_IO,          /* file could not be opened/read/written */
    KILN_ERR_FORMAT,      /* file contents malformed */
    KILN_ERR_SHAPE,       /* shape mismatch */
    KILN_ERR_TYPE,        /* dtype mismatch */
    KILN_ERR_NOT_FOUND,   /* named thing missing */
    KILN_ERR_UNSUPPORTED, /* valid but not implemented */
    KILN_ERR_NOMEM,       /* allocation failed */
    KILN_ERR_DEVICE,      /* backend/device failure */
    KILN_ERR_LIMIT,       /* a resource limit was hit */
    KILN_ERR_INTERNAL,
} kiln_code;

typedef struct kiln_status_s *kiln_status;
#define KILN_OK ((kiln_status)0)

#if defined(__GNUC__)
#define KILN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KILN_NODISCARD __attribute__((warn_unused_result))
#else
#define KILN_PRINTF(a, b)
#define KILN_NODISCARD
#endif

/* Build an error status with a printf-style message. Never returns NULL:
 * when memory is exhausted a static out-of-memory status is returned. */
kiln_status kiln_error(kiln_code code, const char *fmt, ...) KILN_PRINTF(2, 3);
kiln_status kiln_errorv(kiln_code code, const char *fmt, va_list ap);

/* Prefix context to an error ("loading x.safetensors: <old message>").
 * Returns s unchanged when s is KILN_OK. Takes ownership of s. */
kiln_status kiln_error_wrap(kiln_status s, const char *fmt, ...) KILN_PRINTF(2, 3);

const char *kiln_status_message(kiln_status s); /* "ok" for KILN_OK */
kiln_code kiln_status_code(kiln_status s);
void kiln_status_free(kiln_status s);

/* Propagate a failing status to the caller. */
#define KILN_TRY(expr)                     \
    do {                                   \
        kiln_status kiln_try_s_ = (expr);  \
        if (kiln_try_s_) return kiln_try_s_; \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
