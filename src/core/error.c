/* Status strings and error filling. Messages are truncated to ESC_ERROR_MSG_MAX, never grown. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *esc_strerror(esc_status code) {
    switch (code) {
    /* clang-format off */
    case ESC_OK: return "ok";
    case ESC_EOF: return "end of input";
    case ESC_SKIP: return "skipped";
    case ESC_EMALFORMED: return "malformed record";
    case ESC_ELIMIT: return "limit exceeded";
    case ESC_ENOMEM: return "out of memory";
    case ESC_EIO: return "I/O error";
    case ESC_EUSAGE: return "usage error";
    case ESC_ECONTENT: return "content error";
    case ESC_EINTERNAL: return "internal error";
    }
    /* clang-format on */
    return "unknown status";
}

static void vfill(esc_error *err, esc_status code, const char *fmt, va_list ap) {
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

esc_status esc_error_set(esc_error *err, esc_status code, const char *fmt, ...) {
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vfill(err, code, fmt, ap);
    va_end(ap);
    err->path = NULL;
    err->has_offset = 0;
    err->offset = 0;
    err->line = 0;
    return code;
}

esc_status esc_error_at(esc_error *err, esc_status code, const char *path, uint64_t offset,
                        const char *fmt, ...) {
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vfill(err, code, fmt, ap);
    va_end(ap);
    err->path = path;
    err->offset = offset;
    err->has_offset = 1;
    err->line = 0;
    return code;
}

void esc_error_clear(esc_error *err) {
    if (err)
        memset(err, 0, sizeof *err);
}
