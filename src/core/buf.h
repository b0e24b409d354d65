/* Growable byte buffer with a hard maximum (curl's dynbuf idea).
 *
 * Appending past max fails with ESC_ELIMIT and leaves the buffer as it was. The contents are
 * always NUL-terminated (the NUL is not counted in len), so they can be passed to C APIs. */
#ifndef ESC_CORE_BUF_H
#define ESC_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
esc_status esc_buf_grow(esc_buf *b, size_t extra);
esc_status esc_buf_append_str(esc_buf *b, esc_str s);
esc_status esc_buf_append_c(esc_buf *b, const char *s);
esc_status esc_buf_printf(esc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
esc_status esc_buf_vprintf(esc_buf *b, const char *fmt, va_list ap);
/* Room for extra more bytes and the NUL. The common case (room already there) is inline;
 * esc_buf_grow is the rest. */
static inline esc_status esc_buf_reserve(esc_buf *b, size_t extra) {
    if (b->cap - b->len > extra) /* cap is 0 or len + 1 <= cap; cap <= max + 1 */
        return ESC_OK;
    return esc_buf_grow(b, extra);
}
static inline esc_status esc_buf_append(esc_buf *b, const void *p, size_t n) {
    esc_status st = esc_buf_reserve(b, n);
    if (st)
        return st;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return ESC_OK;
}
static inline esc_status esc_buf_putc(esc_buf *b, char c) {
    esc_status st = esc_buf_reserve(b, 1);
    if (st)
        return st;
    b->ptr[b->len++] = c;
    b->ptr[b->len] = '\0';
    return ESC_OK;
}
/* Writing in place: after esc_buf_reserve(b, n), write up to n bytes at esc_buf_end(b), then
 * esc_buf_commit(b, k) with the k bytes written (it adds the NUL). */
static inline char *esc_buf_end(esc_buf *b) {
    return b->ptr + b->len;
}
static inline void esc_buf_commit(esc_buf *b, size_t k) {
    b->len += k;
    b->ptr[b->len] = '\0';
}
static inline esc_str esc_buf_str(const esc_buf *b) {
    return esc_str_make(b->ptr ? b->ptr : "", b->len);
}
/* Hand the storage to the caller (free with esc_free); the buffer becomes empty. */
char *esc_buf_take(esc_buf *b);

/* Unsigned LEB128 (7 bits a byte, low first; the high bit says more follow), as the run window
 * files and the content cache store their numbers. esc_varint_get reads one at p[*i] (p holds
 * end bytes), advancing *i; false when it runs past end or over 64 bits. */
esc_status esc_buf_put_varint(esc_buf *b, uint64_t v);
bool esc_varint_get(const unsigned char *p, size_t end, size_t *i, uint64_t *v);

/* Little-endian integers of n bytes (1 to 8), as the spill files store theirs (agg/partial.c,
 * agg/evidence.c): one load or store for 4 and 8 bytes, not a byte at a time. */
static inline uint64_t esc_le_get(const void *p, size_t n) {
    const unsigned char *b = p;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        return v;
    }
    if (n == 4) {
        uint32_t v;
        memcpy(&v, b, 4);
        return v;
    }
#endif
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}
static inline void esc_le_put(void *p, uint64_t v, size_t n) {
    unsigned char *b = p;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) {
        memcpy(b, &v, 8);
        return;
    }
    if (n == 4) {
        uint32_t w = (uint32_t)v;
        memcpy(b, &w, 4);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

#endif
