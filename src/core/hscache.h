/* Hyperscan databases compiled once and kept on disk for later runs.
 *
 * esc_hs_compile compiles like hs_compile_lit_multi (lens given) or hs_compile_multi (lens
 * NULL) in block mode for the host, but first looks for the same database in the cache folder
 * set by esc_hs_cache_use, and files what it compiles there. The cache never changes a result:
 * a database is found only under the digest of everything that makes it. */
#ifndef ESC_CORE_HSCACHE_H
#define ESC_CORE_HSCACHE_H

#include <hs/hs.h>
#include <stddef.h>
#include <stdint.h>

/* The cache folder (created, mode 0700, when first written), or NULL: no cache. Call before
 * any thread compiles; the path is copied. */
void esc_hs_cache_use(const char *dir);

hs_error_t esc_hs_compile(const char *const *pats, const unsigned *flags, const unsigned *ids,
                          const size_t *lens, size_t n, hs_database_t **db,
                          hs_compile_error_t **cerr);

/* Databases this process read from the cache, compiled, and filed in it. */
typedef struct esc_hs_cache_stats {
    uint64_t hits, compiled, stored;
} esc_hs_cache_stats;
esc_hs_cache_stats esc_hs_cache_stats_get(void);

#define ESC_HS_CACHE_MAX_FILE ((size_t)64 << 20) /* a larger cache file is not read */

#endif
