/* Parsed content files kept between runs (see ycache.h and content.h,
 * esc_content_cache_use).
 *
 * One cache file per content set (core/blobcache.h, DIR/<key>.ytree, key the SHA-256 of the
 * set's folders, made absolute, in order) holds a tree (esc_yaml_save's bytes) for each YAML file
 * the last load of that set read, each under its own key: the SHA-256 of this format's name,
 * ESC_YAML_TREE_FORMAT (what esc_yaml_parse makes: a change to it changes the pinned digest of
 * tests/unit/test_yaml_tree.c, which says to raise it), libyaml's version, the nesting cap and
 * the file's bytes. So an edited file, another parser or another cap finds no tree and is
 * parsed, and a tree read back is the one parsing would make. One file, not one per YAML file:
 * 1,777 files to open cost as much as the parse they saved on a slow file system
 * (docs/benchmarks.md). When a load parsed a file or left a kept tree unused, the set's file is
 * written anew with the trees it used. A file that does not parse is never kept (its warning
 * comes from parsing it again). Invariants: as for the Hyperscan cache, anything wrong with the
 * file or the folder means parsing, silently; a tree is used only when esc_yaml_load reads it
 * whole. The folder keeps the files of the KEEP_SETS sets written last (a set is its folders'
 * paths: content copied to a new folder each run would add a file each time). */
#include "content/ycache.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "content/content.h"
#include "core/alloc.h"
#include "core/blobcache.h"
#include "core/buf.h"
#include "core/sha256.h"

#define MAGIC "escudo-ytree 1\n"
/* A cache file's payload: a larger one is not read, and a set whose trees would pass it is not
 * kept (escu-full's are 5.7 MB); the trees parsed in one load are held up to this much. */
#define MAX_FILE ((size_t)64 << 20)
#define KEY 64 /* a tree's key: hex digits */
/* The sets whose files are kept: a set is its folders' paths, so content copied to a new
 * folder for every run would otherwise add a file each time. */
#define KEEP_SETS 16

typedef struct entry {
    char key[KEY];
    size_t off, len; /* the tree's bytes in the file read, or in fresh */
    bool fresh, used;
} entry;

struct esc_ycache {
    char key[65]; /* the set's */
    char *file;   /* the payload read */
    entry *e;     /* the file's trees by key (n), then the ones parsed (up to ne) */
    size_t n, ne, cap;
    esc_buf fresh; /* the trees parsed, their bytes */
    bool changed;
    bool over; /* fresh reached MAX_FILE: nothing is written */
};

static char *cache_dir;

void esc_content_cache_use(const char *dir) {
    esc_free(cache_dir);
    cache_dir = dir && dir[0] ? esc_strdup(dir) : NULL;
}

static int cmp_entry(const void *a, const void *b) {
    return memcmp(((const entry *)a)->key, ((const entry *)b)->key, KEY);
}

static entry *push(esc_ycache *c, const char *key, size_t off, size_t len, bool fresh) {
    if (c->ne == c->cap && !ESC_VEC_GROW(c->e, c->cap, c->ne + 1, 256))
        return NULL;
    entry *x = &c->e[c->ne++];
    memcpy(x->key, key, KEY);
    x->off = off;
    x->len = len;
    x->fresh = fresh;
    x->used = fresh;
    return x;
}

/* The entries of the payload (len bytes): each a key and a LEB128 length before its tree. */
static void index_file(esc_ycache *c, size_t len) {
    const unsigned char *p = (const unsigned char *)c->file;
    size_t i = 0;
    uint64_t tl;
    while (len - i >= KEY) {
        size_t k = i;
        i += KEY;
        if (!esc_varint_get(p, len, &i, &tl) || tl > len - i ||
            !push(c, c->file + k, i, (size_t)tl, false))
            break;
        i += (size_t)tl;
    }
    c->changed = i != len; /* a damaged end: write the file anew */
    c->n = c->ne;
    if (c->n) /* (none when the first push ran out of memory: c->e is NULL) */
        qsort(c->e, c->n, sizeof *c->e, cmp_entry);
}

esc_ycache *esc_ycache_open(const char *const *dirs, size_t ndirs) {
    if (!cache_dir)
        return NULL;
    esc_ycache *c = esc_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    esc_buf_init(&c->fresh, MAX_FILE);
    esc_sha256 s;
    esc_sha256_init(&s);
    esc_sha256_update(&s, MAGIC, strlen(MAGIC));
    for (size_t i = 0; i < ndirs; i++) {
        char abs[PATH_MAX];
        const char *d = realpath(dirs[i], abs) ? abs : dirs[i];
        esc_sha256_update(&s, d, strlen(d) + 1);
    }
    esc_sha256_final_hex(&s, c->key);
    size_t len = 0;
    c->file = esc_blob_read(cache_dir, c->key, ".ytree", MAGIC, MAX_FILE, &len);
    if (c->file)
        index_file(c, len);
    return c;
}

bool esc_ycache_get(esc_ycache *c, const char *text, size_t n, size_t max_depth, esc_arena *a,
                    esc_ynode **root, char key[65]) {
    key[0] = '\0';
    if (!c)
        return false;
    esc_sha256 s;
    esc_sha256_init(&s);
    uint64_t head[2] = {ESC_YAML_TREE_FORMAT, max_depth};
    const char *v = yaml_get_version_string();
    esc_sha256_update(&s, MAGIC, strlen(MAGIC));
    esc_sha256_update(&s, head, sizeof head);
    esc_sha256_update(&s, v, strlen(v) + 1);
    esc_sha256_update(&s, text, n);
    esc_sha256_final_hex(&s, key);
    entry q;
    memcpy(q.key, key, KEY);
    entry *x = c->n ? bsearch(&q, c->e, c->n, sizeof *c->e, cmp_entry) : NULL;
    if (!x)
        return false;
    esc_arena_mark m = esc_arena_mark_get(a);
    if (!esc_yaml_load(c->file + x->off, x->len, a, max_depth, root)) {
        esc_arena_rollback(a, m);
        return false;
    }
    x->used = true;
    return true;
}

void esc_ycache_put(esc_ycache *c, const char key[65], const esc_ynode *root) {
    if (!c || !key[0] || c->over)
        return;
    size_t at = c->fresh.len;
    if (esc_yaml_save(root, &c->fresh) != ESC_OK || !push(c, key, at, c->fresh.len - at, true)) {
        c->fresh.len = at;
        c->over = true;
        return;
    }
    c->changed = true;
}

typedef struct set_file {
    struct timespec at; /* modification time */
    char name[KEY + 7];
} set_file;

static int cmp_age(const void *a, const void *b) {
    const struct timespec *x = &((const set_file *)a)->at, *y = &((const set_file *)b)->at;
    return x->tv_sec != y->tv_sec ? (x->tv_sec < y->tv_sec ? -1 : 1)
                                  : (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* The oldest set files removed while more than KEEP_SETS are in the folder (by modification
 * time; a set's file is written anew only when its load changed it, so a set in use ages). */
static void prune_sets(void) {
    DIR *d = opendir(cache_dir);
    set_file *f = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strlen(de->d_name) != KEY + 6 || strcmp(de->d_name + KEY, ".ytree") != 0 ||
            snprintf(path, sizeof path, "%s/%s", cache_dir, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap && !ESC_VEC_GROW(f, cap, n + 1, 32))
            break;
        f[n].at = st.st_mtim;
        memcpy(f[n++].name, de->d_name, KEY + 7);
    }
    if (d)
        closedir(d);
    if (n > KEEP_SETS) {
        qsort(f, n, sizeof *f, cmp_age);
        for (size_t i = 0; i < n - KEEP_SETS; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", cache_dir, f[i].name);
            unlink(path);
        }
    }
    esc_free(f);
}

/* The trees used, each its key, its length (LEB128) and its bytes, filed as the set's file;
 * not when they would pass MAX_FILE. */
static void write_used(esc_ycache *c) {
    size_t total = 0, nused = 0;
    for (size_t i = 0; i < c->ne; i++)
        if (c->e[i].used) {
            nused++;
            total += KEY + c->e[i].len; /* trees of at most 2 x MAX_FILE bytes: no overflow */
        }
    esc_buf lens; /* the lengths, reserved whole so that the parts may point into it */
    esc_buf_init(&lens, 0);
    esc_blob_part *parts = total <= MAX_FILE ? esc_malloc((3 * nused + 1) * sizeof *parts) : NULL;
    if (parts && esc_buf_reserve(&lens, 10 * nused) == ESC_OK) {
        size_t np = 0;
        for (size_t i = 0; i < c->ne; i++) {
            const entry *x = &c->e[i];
            size_t at = lens.len;
            if (!x->used || esc_buf_put_varint(&lens, x->len) != ESC_OK)
                continue; /* (the room is reserved: it does not fail) */
            parts[np++] = (esc_blob_part){x->key, KEY};
            parts[np++] = (esc_blob_part){lens.ptr + at, lens.len - at};
            parts[np++] = (esc_blob_part){(x->fresh ? c->fresh.ptr : c->file) + x->off, x->len};
        }
        if (esc_blob_write(cache_dir, c->key, ".ytree", MAGIC, parts, np))
            prune_sets();
    }
    esc_free(parts);
    esc_buf_fini(&lens);
}

void esc_ycache_close(esc_ycache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        c->changed |= !c->e[i].used;
    if (c->changed && !c->over)
        write_used(c);
    esc_free(c->file);
    esc_free(c->e);
    esc_buf_fini(&c->fresh);
    esc_free(c);
}
