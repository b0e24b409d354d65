/* The project's allocator entry points.
 *
 * All heap memory the project owns goes through these, so that the allocation-failure test mode
 * (ESCUDO_FAIL_ALLOC=N in the environment, read once by esc_alloc_init) can fail the Nth call
 * and prove every path ends in a clean error. Outside that mode they are malloc and friends. */
#ifndef ESC_CORE_ALLOC_H
#define ESC_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void esc_alloc_init(void);
void *esc_malloc(size_t n);
void *esc_calloc(size_t n, size_t size);
void *esc_realloc(void *p, size_t n);
void esc_free(void *p);
char *esc_strdup(const char *s);
char *esc_strndup(const char *s, size_t n);
/* Room for need elements of elem bytes in the array whose pointer is at *(T **)arr, with
 * capacity *cap: the capacity doubled (from first when it is 0) until it holds them, and the
 * array reallocated. False when memory or size_t runs out; the array and *cap are unchanged
 * then. Use it through ESC_VEC_GROW. */
bool esc_vec_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first);
#define ESC_VEC_GROW(ptr, cap, need, first)                                                        \
    esc_vec_grow(&(ptr), &(cap), (need), sizeof *(ptr), (first))
/* Hand freed heap pages back to the system (glibc's malloc_trim; elsewhere nothing): after a
 * large release, so that the process's resident size follows what it holds. */
void esc_alloc_trim(void);

#endif
