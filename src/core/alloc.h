/* The project's allocator entry points.
 *
 * All heap memory the project owns goes through these, so that the allocation-failure test mode
 * (ESCUDO_FAIL_ALLOC=N in the environment, read once by esc_alloc_init) can fail the Nth call
 * and prove every path ends in a clean error. Outside that mode they are malloc and friends. */
#ifndef ESC_CORE_ALLOC_H
#define ESC_CORE_ALLOC_H

#include <stddef.h>

void esc_alloc_init(void);
void *esc_malloc(size_t n);
void *esc_calloc(size_t n, size_t size);
void *esc_realloc(void *p, size_t n);
void esc_free(void *p);
char *esc_strdup(const char *s);
char *esc_strndup(const char *s, size_t n);
/* Hand freed heap pages back to the system (glibc's malloc_trim; elsewhere nothing): after a
 * large release, so that the process's resident size follows what it holds. */
void esc_alloc_trim(void);

#endif
