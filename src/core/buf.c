/* Growable byte buffer. Grows by doubling, never past max; keeps its first len bytes. */
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void esc_buf_init(esc_buf *b, size_t max) {
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void esc_buf_fini(esc_buf *b) {
    esc_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void esc_buf_clear(esc_buf *b) {
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

esc_status esc_buf_grow(esc_buf *b, size_t extra) {
    if (b->max && (extra > b->max || b->len > b->max - extra))
        return ESC_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return ESC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    char *p;
    if (b->len == 0) { /* nothing to keep: no copy of the old bytes (a reused buffer) */
        esc_free(b->ptr);
        b->ptr = NULL;
        b->cap = 0;
        if ((p = esc_malloc(cap)) != NULL)
            p[0] = '\0';
    } else {
        p = esc_realloc(b->ptr, cap);
    }
    if (!p)
        return ESC_ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return ESC_OK;
}

esc_status esc_buf_append_str(esc_buf *b, esc_str s) {
    return esc_buf_append(b, s.ptr, s.len);
}

esc_status esc_buf_append_c(esc_buf *b, const char *s) {
    return esc_buf_append(b, s, strlen(s));
}

esc_status esc_buf_vprintf(esc_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return ESC_EINTERNAL;
    esc_status st = esc_buf_reserve(b, (size_t)n);
    if (st)
        return st;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ESC_OK;
}

esc_status esc_buf_printf(esc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    esc_status st = esc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *esc_buf_take(esc_buf *b) {
    char *p = b->ptr;
    if (!p)
        p = esc_strdup("");
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

esc_status esc_buf_put_varint(esc_buf *b, uint64_t v) {
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    return esc_buf_append(b, t, n);
}

bool esc_varint_get(const unsigned char *p, size_t end, size_t *i, uint64_t *v) {
    *v = 0;
    for (unsigned s = 0; s < 64 && *i < end; s += 7) {
        unsigned char c = p[(*i)++];
        *v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80))
            return true;
    }
    return false;
}
