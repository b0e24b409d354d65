/* Growable byte buffer with a hard maximum (curl's dynbuf idea).
 *
 * Appending past max fails with ESC_ELIMIT and leaves the buffer as it was. The contents are
 * always NUL-terminated (the NUL is not counted in len), so they can be passed to C APIs. */
#ifndef ESC_CORE_BUF_H
#define ESC_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/error.h"
#include "core/str.h"

typedef struct esc_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unbounded */
} esc_buf;

void esc_buf_init(esc_buf *b, size_t max);
void esc_buf_fini(esc_buf *b);
void esc_buf_clear(esc_buf *b);
esc_status esc_buf_reserve(esc_buf *b, size_t extra);
esc_status esc_buf_append(esc_buf *b, const void *p, size_t n);
esc_status esc_buf_append_str(esc_buf *b, esc_str s);
esc_status esc_buf_append_c(esc_buf *b, const char *s);
esc_status esc_buf_putc(esc_buf *b, char c);
esc_status esc_buf_printf(esc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
esc_status esc_buf_vprintf(esc_buf *b, const char *fmt, va_list ap);
static inline esc_str esc_buf_str(const esc_buf *b) {
    return esc_str_make(b->ptr ? b->ptr : "", b->len);
}
/* Hand the storage to the caller (free with esc_free); the buffer becomes empty. */
char *esc_buf_take(esc_buf *b);

#endif
