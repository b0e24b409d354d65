/* Allocator wrappers with an optional countdown to a failure (test mode only).
 * The countdown is process-wide and only set once at start-up by esc_alloc_init. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__ /* set by the headers above */
#include <malloc.h>
#endif

static long fail_at; /* 0 = never fail; set once before any thread starts */
static atomic_long n_calls;

/* Blocks from 1 MiB up (tables' cells, group tables, arena blocks of large searches) are
 * mapped on their own and unmapped when freed. glibc's default raises that threshold to the
 * largest block freed so far (up to 32 MiB), after which such blocks come from the heap and
 * leave holes the resident size keeps: a whole-ESCU hunt over 1 GiB peaked 1.4 MB lower with it
 * fixed (docs/benchmarks.md), at no measurable cost. */
#define MMAP_THRESHOLD (1 << 20)

void esc_alloc_init(void) {
    const char *s = getenv("ESCUDO_FAIL_ALLOC");
    fail_at = s ? strtol(s, NULL, 10) : 0;
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

static int should_fail(void) {
    return fail_at > 0 && atomic_fetch_add(&n_calls, 1) + 1 == fail_at;
}

void *esc_malloc(size_t n) {
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *esc_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *esc_realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

bool esc_vec_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first) {
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : first ? first : 1;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return false;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem)
        return false;
    void *old, *p; /* (the pointer moves through memcpy: arr is a T **, not a void **) */
    memcpy(&old, arr, sizeof old);
    if (!(p = esc_realloc(old, nc * elem)))
        return false;
    memcpy(arr, &p, sizeof p);
    *cap = nc;
    return true;
}

void esc_free(void *p) {
    free(p);
}

char *esc_strndup(const char *s, size_t n) {
    char *p = esc_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *esc_strdup(const char *s) {
    return esc_strndup(s, strlen(s));
}

void esc_alloc_trim(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
