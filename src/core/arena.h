/* Bump allocator with a hard cap.
 *
 * Allocations live until esc_arena_reset() or esc_arena_fini(); there is no per-object free.
 * Used per input batch (one event's decoded values) and for load-time content. An arena never
 * grows past its cap: esc_arena_alloc returns NULL instead, and the caller reports ESC_ELIMIT.
 * Reset keeps the first block so a steady stream of events allocates nothing. A mark taken with
 * esc_arena_mark_get() can be rolled back to: everything allocated after it is released at once
 * (a tentative decode that failed gives its memory back). */
#ifndef ESC_CORE_ARENA_H
#define ESC_CORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

typedef struct esc_arena_block esc_arena_block;

typedef struct esc_arena {
    esc_arena_block *head;
    size_t block_size; /* default size of a new block */
    size_t next_block; /* esc_arena_init_growing: size of the next block (doubles up to
                          block_size); 0: block_size */
    size_t cap;        /* maximum bytes held in all blocks; 0 = no cap */
    size_t used;       /* bytes held in all blocks */
    bool failed;       /* a block allocation failed (out of memory, not the cap) */
    bool capped;       /* an allocation was refused by the cap */
} esc_arena;

/* A position in an arena (esc_arena_mark) to roll back to (esc_arena_rollback). */
typedef struct esc_arena_mark {
    esc_arena_block *head;
    size_t off, used;
    bool capped;
} esc_arena_mark;

/* block_size 0 picks 64 KiB; cap 0 means unbounded (load-time use only). */
void esc_arena_init(esc_arena *a, size_t block_size, size_t cap);
/* Blocks start at `first` bytes and double up to block_size: for the many small arenas that
 * mostly stay small (a search's groups), where a full first block would be wasted. */
void esc_arena_init_growing(esc_arena *a, size_t first, size_t block_size, size_t cap);
void esc_arena_fini(esc_arena *a);
void esc_arena_reset(esc_arena *a);
/* 16-byte aligned; NULL when the cap would be exceeded or malloc fails (then `failed` is set,
 * so callers can tell an input too large from memory running out). */
void *esc_arena_alloc(esc_arena *a, size_t n);
esc_arena_mark esc_arena_mark_get(const esc_arena *a);
/* Release everything allocated since m was taken (m must be from this arena, taken after its
 * last reset, and rollbacks must come in reverse order of their marks). */
void esc_arena_rollback(esc_arena *a, esc_arena_mark m);
/* Copy into the arena, NUL-terminated (the NUL is not counted in len). ptr NULL on failure. */
esc_str esc_arena_dup(esc_arena *a, esc_str s);
char *esc_arena_strdup(esc_arena *a, const char *s);

#endif
