/* Status codes and the error record every fallible function may fill.
 *
 * A function returns an esc_status (or NULL) and, when given a non-NULL esc_error, fills it with
 * the code, a one-line message, and where in the input the problem is (file and byte offset,
 * or line). Library code never prints: the CLI decides what to show. */
#ifndef ESC_CORE_ERROR_H
#define ESC_CORE_ERROR_H

#include <stdint.h>

typedef enum esc_status {
    ESC_OK = 0,
    ESC_EOF,        /* iterator exhausted; not an error */
    ESC_SKIP,       /* record not relevant (filtered); not an error */
    ESC_EMALFORMED, /* one record is broken; the caller may continue with the next */
    ESC_ELIMIT,     /* an input-controlled size hit its cap */
    ESC_ENOMEM,
    ESC_EIO,
    ESC_EUSAGE,   /* bad flag or argument */
    ESC_ECONTENT, /* bad search, unknown macro, bad YAML content */
    ESC_EINTERNAL,
} esc_status;

#define ESC_ERROR_MSG_MAX 512

typedef struct esc_error {
    esc_status code;
    char msg[ESC_ERROR_MSG_MAX];
    const char *path; /* not owned; NULL when not about a file */
    uint64_t offset;  /* byte offset in the (uncompressed) input; valid when has_offset */
    uint64_t line;    /* 1-based line, 0 when unknown */
    int has_offset;
} esc_error;

const char *esc_strerror(esc_status code);

/* Fill err (may be NULL) and return code. */
esc_status esc_error_set(esc_error *err, esc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with the input position. */
esc_status esc_error_at(esc_error *err, esc_status code, const char *path, uint64_t offset,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void esc_error_clear(esc_error *err);

#endif
