/* Hyperscan databases kept on disk between runs (see hscache.h).
 *
 * Compiling the literal filter's 121 databases is half of a hunt's start-up over all of ESCU
 * (0.22 s of 0.45 s); reading them back with hs_deserialize_database takes 0.3 ms. Suricata
 * keeps its Hyperscan databases the same way (suricata.yaml, detect.sgh-mpm-caching).
 *
 * A database is filed as DIR/<key>.hsdb, key the SHA-256 of everything that makes it: this
 * format's name, hs_version(), the host's platform (hs_populate_platform: a database compiled
 * for another CPU is never read), the kind of compile, and each pattern's flags, id, length and
 * bytes. A file (core/blobcache.h) holds a header naming the format and the CRC-32 of its
 * payload, then the payload, hs_serialize_database's bytes (the CRC-32 finds a damaged file;
 * SHA-256 over the 1.6 MB of all of ESCU's databases took 85 M instructions, 6% of the cached
 * start-up, CRC-32 takes 0.3 M).
 *
 * Invariants: the cache only saves time, never changes what is compiled: anything wrong with
 * it (no folder, a folder another user owns or may write to, a missing, short, corrupt or
 * foreign file, a failed write) means compiling, silently. A file is read only when its payload
 * has the CRC-32 its header gives, so a truncated or damaged file is never deserialized; files
 * are written and read as core/blobcache.h says (renamed into place, no symbolic link
 * followed). Deliberately not done: removing old files (a content change leaves the databases it
 * no longer needs: docs/limits.md, "Hyperscan cache"); the folder is the user's own, so its
 * files are trusted as far as that. */
#include "core/hscache.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blobcache.h"
#include "core/sha256.h"

#define MAGIC "escudo-hsdb 2\n"
#define MAGIC_LEN (sizeof MAGIC - 1)

static char *cache_dir;
static atomic_uint_least64_t n_hits, n_compiled, n_stored;

void esc_hs_cache_use(const char *dir) {
    esc_free(cache_dir);
    cache_dir = dir && dir[0] ? esc_strdup(dir) : NULL;
}

esc_hs_cache_stats esc_hs_cache_stats_get(void) {
    return (esc_hs_cache_stats){atomic_load(&n_hits), atomic_load(&n_compiled),
                                atomic_load(&n_stored)};
}

static void feed_u64(esc_sha256 *s, uint64_t v) {
    esc_sha256_update(s, &v, sizeof v);
}

/* The hex key of a compile (see above) into out[65]. */
static void key_of(const char *const *pats, const unsigned *flags, const unsigned *ids,
                   const size_t *lens, size_t n, char out[65]) {
    esc_sha256 s;
    esc_sha256_init(&s);
    const char *v = hs_version();
    esc_sha256_update(&s, MAGIC, MAGIC_LEN);
    esc_sha256_update(&s, v, strlen(v) + 1);
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    hs_populate_platform(&plat);
    feed_u64(&s, plat.tune);
    feed_u64(&s, plat.cpu_features);
    feed_u64(&s, lens ? 'L' : 'R');
    feed_u64(&s, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(pats[i]);
        feed_u64(&s, flags[i]);
        feed_u64(&s, ids[i]);
        feed_u64(&s, len);
        esc_sha256_update(&s, pats[i], len);
    }
    esc_sha256_final_hex(&s, out);
}

/* The database filed under key, or NULL. */
static hs_database_t *load(const char *dir, const char *key) {
    size_t len = 0;
    char *b = esc_blob_read(dir, key, ".hsdb", MAGIC, ESC_HS_CACHE_MAX_FILE, &len);
    hs_database_t *db = NULL;
    if (b && hs_deserialize_database(b, len, &db) != HS_SUCCESS)
        db = NULL;
    esc_free(b);
    return db;
}

/* db filed under key. */
static void store(const char *dir, const char *key, const hs_database_t *db) {
    char *bytes = NULL;
    size_t len = 0;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return;
    esc_blob_part part = {bytes, len};
    if (esc_blob_write(dir, key, ".hsdb", MAGIC, &part, 1))
        atomic_fetch_add(&n_stored, 1);
    esc_free(bytes); /* hs_serialize_database's, made by the allocator hs_set_allocator gave */
}

hs_error_t esc_hs_compile(const char *const *pats, const unsigned *flags, const unsigned *ids,
                          const size_t *lens, size_t n, hs_database_t **db,
                          hs_compile_error_t **cerr) {
    char key[65];
    const char *dir = cache_dir;
    if (dir) {
        key_of(pats, flags, ids, lens, n, key);
        if ((*db = load(dir, key)) != NULL) {
            atomic_fetch_add(&n_hits, 1);
            return HS_SUCCESS;
        }
    }
    hs_error_t rc =
        lens ? hs_compile_lit_multi(pats, flags, ids, lens, (unsigned)n, HS_MODE_BLOCK, NULL, db,
                                    cerr)
             : hs_compile_multi(pats, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, db, cerr);
    if (rc != HS_SUCCESS)
        return rc;
    atomic_fetch_add(&n_compiled, 1);
    if (dir)
        store(dir, key, *db);
    return rc;
}
