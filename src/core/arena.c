/* Bump allocator. Blocks are singly linked, newest first; reset frees all but the oldest. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

struct esc_arena_block {
    esc_arena_block *next;
    size_t size;
    size_t off;
    _Alignas(16) unsigned char data[];
};

void esc_arena_init(esc_arena *a, size_t block_size, size_t cap) {
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->next_block = 0;
    a->cap = cap;
    a->used = 0;
    a->failed = false;
    a->capped = false;
}

void esc_arena_init_growing(esc_arena *a, size_t first, size_t block_size, size_t cap) {
    esc_arena_init(a, block_size, cap);
    a->next_block = first && first < a->block_size ? first : 0;
}

void esc_arena_fini(esc_arena *a) {
    esc_arena_block *b = a->head;
    while (b) {
        esc_arena_block *n = b->next;
        esc_free(b);
        b = n;
    }
    a->head = NULL;
    a->used = 0;
}

void esc_arena_reset(esc_arena *a) {
    esc_arena_block *b = a->head, *last = NULL;
    while (b) {
        esc_arena_block *n = b->next;
        if (!n) {
            last = b;
            break;
        }
        esc_free(b);
        b = n;
    }
    a->head = last;
    a->used = last ? last->size : 0;
    a->failed = false;
    a->capped = false;
    if (last)
        last->off = 0;
}

void *esc_arena_alloc(esc_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    esc_arena_block *b = a->head;
    if (!b || b->size - b->off < n) {
        size_t want = a->next_block ? a->next_block : a->block_size;
        size_t sz = n > want ? n : want;
        if (a->cap && (sz > a->cap || a->used > a->cap - sz)) {
            a->capped = true;
            return NULL;
        }
        b = esc_malloc(sizeof *b + sz);
        if (!b) {
            a->failed = true;
            return NULL;
        }
        b->size = sz;
        b->off = 0;
        b->next = a->head;
        a->head = b;
        a->used += sz;
        if (a->next_block)
            a->next_block = a->next_block * 2 < a->block_size ? a->next_block * 2 : 0;
    }
    void *p = b->data + b->off;
    b->off += n;
    return p;
}

esc_arena_mark esc_arena_mark_get(const esc_arena *a) {
    esc_arena_mark m = {a->head, a->head ? a->head->off : 0, a->used, a->capped};
    return m;
}

void esc_arena_rollback(esc_arena *a, esc_arena_mark m) {
    /* blocks are newest first: free those added after the mark */
    while (a->head && a->head != m.head) {
        esc_arena_block *n = a->head->next;
        esc_free(a->head);
        a->head = n;
    }
    if (a->head)
        a->head->off = m.off;
    a->used = m.used;
    a->capped = m.capped;
}

esc_str esc_arena_dup(esc_arena *a, esc_str s) {
    char *p = esc_arena_alloc(a, s.len + 1);
    if (!p)
        return ESC_STR_NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return esc_str_make(p, s.len);
}

char *esc_arena_strdup(esc_arena *a, const char *s) {
    return (char *)esc_arena_dup(a, esc_str_c(s)).ptr;
}
