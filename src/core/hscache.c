/* Hyperscan databases kept on disk between runs (see hscache.h).
 *
 * Compiling the literal filter's 121 databases is half of a hunt's start-up over all of ESCU
 * (0.22 s of 0.45 s); reading them back with hs_deserialize_database takes 0.3 ms. Suricata
 * keeps its Hyperscan databases the same way (suricata.yaml, detect.sgh-mpm-caching).
 *
 * A database is filed as DIR/<key>.hsdb, key the SHA-256 of everything that makes it: this
 * format's name, hs_version(), the host's platform (hs_populate_platform: a database compiled
 * for another CPU is never read), the kind of compile, and each pattern's flags, id, length and
 * bytes. A file holds a header naming the format and the CRC-32 of its payload, then the
 * payload, hs_serialize_database's bytes (the CRC-32 finds a damaged file; SHA-256 over the
 * 1.6 MB of all of ESCU's databases took 85 M instructions, 6% of the cached start-up, CRC-32
 * takes 0.3 M).
 *
 * Invariants: the cache only saves time, never changes what is compiled: anything wrong with
 * it (no folder, a folder another user owns or may write to, a missing, short, corrupt or
 * foreign file, a failed write) means compiling, silently. A file is read only when its payload
 * has the CRC-32 its header gives, so a truncated or damaged file is never deserialized; files
 * are written under a temporary name (mode 0600) and renamed into place, so two processes
 * filing the same database, or a reader, never see half of one; symbolic links are not
 * followed. Deliberately not done: removing old files (a content change leaves the databases it
 * no longer needs: docs/limits.md, "Hyperscan cache"); the folder is the user's own, so its
 * files are trusted as far as that. */
#include "core/hscache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/crc32.h"
#include "core/sha256.h"

#define MAGIC "escudo-hsdb 1\n"
#define MAGIC_LEN (sizeof MAGIC - 1)
#define HEADER (MAGIC_LEN + 8 + 1) /* the magic, the payload's hex CRC-32, a newline */

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

/* The folder, when it is a folder of this user's that no one else may write to. */
static bool dir_ok(const char *dir) {
    struct stat st;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/* The folder made when missing (and its parent, as ~/.cache may be), then checked. */
static bool make_dir(const char *dir) {
    if (mkdir(dir, 0700) != 0 && errno == ENOENT) {
        char parent[PATH_MAX];
        const char *slash = strrchr(dir, '/');
        size_t n = slash ? (size_t)(slash - dir) : 0;
        if (n && n < sizeof parent) {
            memcpy(parent, dir, n);
            parent[n] = '\0';
            (void)mkdir(parent, 0700);
            (void)mkdir(dir, 0700);
        }
    }
    return dir_ok(dir);
}

/* The CRC-32 of p as 8 lower-case hex digits into out[9]. */
static void crc_hex(const void *p, size_t n, char out[9]) {
    snprintf(out, 9, "%08x", (unsigned)esc_crc32(0, p, n));
}

/* The database filed at path, or NULL. */
static hs_database_t *load(const char *path) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct stat st;
    char *b = NULL, hex[9];
    hs_database_t *db = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)HEADER &&
        (size_t)st.st_size - HEADER <= ESC_HS_CACHE_MAX_FILE &&
        (b = esc_malloc((size_t)st.st_size)) != NULL &&
        fread(b, 1, (size_t)st.st_size, f) == (size_t)st.st_size &&
        memcmp(b, MAGIC, MAGIC_LEN) == 0 && b[HEADER - 1] == '\n') {
        size_t len = (size_t)st.st_size - HEADER;
        crc_hex(b + HEADER, len, hex);
        if (memcmp(hex, b + MAGIC_LEN, 8) == 0 &&
            hs_deserialize_database(b + HEADER, len, &db) != HS_SUCCESS)
            db = NULL;
    }
    esc_free(b);
    fclose(f);
    return db;
}

/* db filed at path, in dir. */
static void store(const char *dir, const char *path, const hs_database_t *db) {
    char *bytes = NULL, head[HEADER + 1], tmp[PATH_MAX];
    size_t len = 0;
    if (!make_dir(dir) || hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return;
    int n = snprintf(tmp, sizeof tmp, "%s/.hsdb-XXXXXX", dir);
    int fd = n > 0 && (size_t)n < sizeof tmp ? mkstemp(tmp) : -1;
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "wb") : NULL;
    if (f) {
        memcpy(head, MAGIC, MAGIC_LEN);
        crc_hex(bytes, len, head + MAGIC_LEN);
        head[HEADER - 1] = '\n';
        bool ok = fwrite(head, 1, HEADER, f) == HEADER && fwrite(bytes, 1, len, f) == len;
        ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
        if (ok)
            atomic_fetch_add(&n_stored, 1);
        else
            unlink(tmp);
    } else if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    esc_free(bytes); /* hs_serialize_database's, made by the allocator hs_set_allocator gave */
}

hs_error_t esc_hs_compile(const char *const *pats, const unsigned *flags, const unsigned *ids,
                          const size_t *lens, size_t n, hs_database_t **db,
                          hs_compile_error_t **cerr) {
    char path[PATH_MAX], key[65];
    const char *dir = cache_dir;
    bool cached = false;
    if (dir) {
        key_of(pats, flags, ids, lens, n, key);
        int k = snprintf(path, sizeof path, "%s/%s.hsdb", dir, key);
        cached = k > 0 && (size_t)k < sizeof path;
        if (cached && dir_ok(dir) && (*db = load(path)) != NULL) {
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
    if (cached)
        store(dir, path, *db);
    return rc;
}
