/* Evidence sets: per group, the count of events and the earliest and latest few (evidence.h).
 *
 * Invariants: lo holds the up-to-KEEP smallest references by time (ties: the first counted),
 * hi the up-to-KEEP largest (ties: the last counted), both ascending; a reference may sit in
 * both, esc_evset_get drops the copy. A group's first reference is kept alone (most groups
 * of a search keyed by process id or command line count one event); the second turns it into
 * the full slot. Kept slots come from an arena capped at ESC_EVIDENCE_MAX_BYTES; paths are
 * interned once per set in an arena of their own, so esc_evset_compact can rebuild the first.
 * Deliberately not done: keeping the events themselves (a reference is resolved again from the
 * input by `escudo dump --at`). */
#include "agg/evidence.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"

#define FIRST_BLOCK 2048      /* bytes of a set's first arena block: most sets stay small */
#define SET_BLOCK (64u << 10) /* and of its blocks once grown */
#define NAMES_FIRST_BLOCK 256 /* and of its names' (most sets name one or two inputs) */

typedef struct evslot {
    unsigned char nlo, nhi, one; /* one: only lo[0] exists (a single reference) */
    esc_evref lo[ESC_EVIDENCE_KEEP], hi[ESC_EVIDENCE_KEEP];
} evslot;

/* The allocation of a slot holding one reference: the head and lo[0]. */
#define ONE_SIZE (offsetof(evslot, lo) + sizeof(esc_evref))

struct esc_evset {
    esc_arena arena;
    uint64_t *total;
    evslot **slot;
    size_t cap;
    char **paths;    /* interned input names, in names */
    esc_arena names; /* no cap: a name for each input a kept reference names, as before in
                        one allocation each (escudo run names each Kafka message an input) */
    size_t npaths, paths_cap;
    uint64_t *pidx;  /* open addressing over paths by name: the name's hash << 32 | index + 1,
                        0 empty */
    size_t pidx_cap; /* a power of two, more than twice npaths; 0 before the first */
    bool truncated;
};

esc_evset *esc_evset_new(void) {
    esc_evset *s = esc_calloc(1, sizeof *s);
    if (s) {
        esc_arena_init_growing(&s->arena, FIRST_BLOCK, SET_BLOCK, ESC_EVIDENCE_MAX_BYTES);
        esc_arena_init_growing(&s->names, NAMES_FIRST_BLOCK, 0, 0);
    }
    return s;
}

void esc_evset_free(esc_evset *s) {
    if (!s)
        return;
    esc_free(s->total);
    esc_free(s->slot);
    esc_free(s->paths);
    esc_arena_fini(&s->names);
    esc_free(s->pidx);
    esc_arena_fini(&s->arena);
    esc_free(s);
}

static bool grow(esc_evset *s, size_t g) {
    size_t cap = s->cap ? s->cap : 16;
    while (cap <= g)
        cap *= 2;
    uint64_t *t = esc_realloc(s->total, cap * sizeof *t);
    if (!t)
        return false;
    s->total = t;
    evslot **sl = esc_realloc(s->slot, cap * sizeof *sl);
    if (!sl)
        return false;
    s->slot = sl;
    memset(t + s->cap, 0, (cap - s->cap) * sizeof *t);
    memset(sl + s->cap, 0, (cap - s->cap) * sizeof *sl);
    s->cap = cap;
    return true;
}

static uint32_t path_hash(const char *p) {
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (uint32_t)(h ^ (h >> 32));
}

/* The index slot of path (hash h): its own, or the empty one where it goes. The hash is compared
 * first: a name is read only when it may be the one. */
static uint64_t *path_slot(const esc_evset *s, const char *path, uint32_t h) {
    size_t mask = s->pidx_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask)
        if (!s->pidx[i] || ((uint32_t)(s->pidx[i] >> 32) == h &&
                            strcmp(s->paths[(uint32_t)s->pidx[i] - 1], path) == 0))
            return &s->pidx[i];
}

static bool index_grow(esc_evset *s) {
    size_t cap = s->pidx_cap ? s->pidx_cap * 2 : 16;
    uint64_t *n = esc_calloc(cap, sizeof *n);
    if (!n || s->npaths >= UINT32_MAX) {
        esc_free(n);
        return false;
    }
    for (size_t i = 0; i < s->pidx_cap; i++) { /* the entries move with their hashes */
        if (!s->pidx[i])
            continue;
        size_t j = (uint32_t)(s->pidx[i] >> 32) & (cap - 1);
        while (n[j])
            j = (j + 1) & (cap - 1);
        n[j] = s->pidx[i];
    }
    esc_free(s->pidx);
    s->pidx = n;
    s->pidx_cap = cap;
    return true;
}

/* Compared by content: a reader's path buffer may be reused by the next input's, and escudo
 * run names each Kafka message an input of its own (a hash index, not a scan of every name). */
static const char *intern(esc_evset *s, const char *path) {
    if (!path)
        path = "";
    if (s->npaths && strcmp(path, s->paths[s->npaths - 1]) == 0)
        return s->paths[s->npaths - 1]; /* inputs come one after the other */
    if (2 * (s->npaths + 1) >= s->pidx_cap && !index_grow(s))
        return NULL;
    uint32_t h = path_hash(path);
    uint64_t *slot = path_slot(s, path, h);
    if (*slot)
        return s->paths[(uint32_t)*slot - 1];
    if (s->npaths == s->paths_cap && !ESC_VEC_GROW(s->paths, s->paths_cap, s->npaths + 1, 4))
        return NULL;
    char *c = esc_arena_strdup(&s->names, path);
    if (!c)
        return NULL;
    s->paths[s->npaths++] = c;
    *slot = (uint64_t)h << 32 | (uint32_t)s->npaths;
    return c;
}

/* Insert r at its place in v[0..*n) (ascending time, after equal times); when full, drop the
 * last (lo) or the first (hi). */
static void insert(esc_evref *v, unsigned char *n, const esc_evref *r, bool lo) {
    size_t i = *n;
    while (i > 0 && v[i - 1].time_us > r->time_us)
        i--;
    if (*n < ESC_EVIDENCE_KEEP) {
        memmove(&v[i + 1], &v[i], (*n - i) * sizeof *v);
        v[i] = *r;
        (*n)++;
    } else if (lo) {
        if (i >= ESC_EVIDENCE_KEEP)
            return;
        memmove(&v[i + 1], &v[i], (ESC_EVIDENCE_KEEP - 1 - i) * sizeof *v);
        v[i] = *r;
    } else {
        if (i == 0)
            return;
        memmove(&v[0], &v[1], (i - 1) * sizeof *v);
        v[i - 1] = *r;
    }
}

int esc_evset_add(esc_evset *s, size_t g, const esc_evref *ref) {
    if (g >= s->cap && !grow(s, g))
        return -1;
    s->total[g]++;
    evslot *sl = s->slot[g];
    esc_evref r = *ref;
    if (!sl || sl->one) {
        if (s->truncated)
            return 0;
        if (!(r.path = intern(s, ref->path))) {
            s->truncated = true;
            return 0;
        }
        evslot *n = esc_arena_alloc(&s->arena, sl ? sizeof *sl : ONE_SIZE);
        if (!n) {
            s->truncated = true;
            return 0;
        }
        memset(n, 0, sl ? sizeof *sl : ONE_SIZE);
        if (!sl) {
            n->one = 1;
            n->nlo = n->nhi = 1;
            n->lo[0] = r;
            s->slot[g] = n;
            return 0;
        }
        insert(n->lo, &n->nlo, &sl->lo[0], true);
        insert(n->hi, &n->nhi, &sl->lo[0], false);
        s->slot[g] = sl = n;
    }
    bool want = sl->nlo < ESC_EVIDENCE_KEEP || r.time_us < sl->lo[ESC_EVIDENCE_KEEP - 1].time_us ||
                sl->nhi < ESC_EVIDENCE_KEEP || r.time_us >= sl->hi[0].time_us;
    if (!want)
        return 0;
    if (!(r.path = intern(s, ref->path))) {
        s->truncated = true;
        return 0;
    }
    insert(sl->lo, &sl->nlo, &r, true);
    insert(sl->hi, &sl->nhi, &r, false);
    return 0;
}

int esc_evset_merge(esc_evset *s, size_t g, const esc_evset *src, size_t sg) {
    uint64_t tot = esc_evset_total(src, sg);
    if (!tot)
        return 0;
    esc_evref tmp[2 * ESC_EVIDENCE_KEEP];
    size_t n = esc_evset_get(src, sg, tmp);
    if (g >= s->cap && !grow(s, g))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (esc_evset_add(s, g, &tmp[i]) != 0)
            return -1;
    s->total[g] += tot - n; /* the events src counted and did not keep */
    return 0;
}

size_t esc_evset_groups(const esc_evset *s) {
    return s ? s->cap : 0;
}

uint64_t esc_evset_total(const esc_evset *s, size_t g) {
    return s && g < s->cap ? s->total[g] : 0;
}

bool esc_evref_same(const esc_evref *a, const esc_evref *b) {
    return a->offset == b->offset && a->line == b->line && a->record_id == b->record_id &&
           (a->path == b->path || strcmp(a->path, b->path) == 0);
}

int esc_evref_cmp(const void *x, const void *y) {
    const esc_evref *a = x, *b = y;
    if (a->time_us != b->time_us)
        return a->time_us < b->time_us ? -1 : 1;
    int c = a->path == b->path ? 0 : strcmp(a->path, b->path);
    if (c)
        return c;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

size_t esc_evset_get(const esc_evset *s, size_t g, esc_evref *out) {
    if (!s || g >= s->cap || !s->slot[g])
        return 0;
    const evslot *sl = s->slot[g];
    size_t n = 0;
    for (size_t i = 0; i < sl->nlo; i++)
        out[n++] = sl->lo[i];
    if (sl->one)
        return n;
    for (size_t i = 0; i < sl->nhi; i++) {
        bool dup = false;
        for (size_t k = 0; k < sl->nlo && !dup; k++)
            dup = esc_evref_same(&sl->hi[i], &sl->lo[k]);
        if (!dup)
            out[n++] = sl->hi[i];
    }
    qsort(out, n, sizeof *out, esc_evref_cmp);
    return n;
}

bool esc_evset_truncated(const esc_evset *s) {
    return s && s->truncated;
}

int esc_evset_compact(esc_evset *s, const size_t *remap, size_t n, size_t nnew) {
    esc_arena ar;
    esc_arena_init_growing(&ar, FIRST_BLOCK, SET_BLOCK, ESC_EVIDENCE_MAX_BYTES);
    size_t cap = 16;
    while (cap <= nnew)
        cap *= 2;
    uint64_t *t = esc_calloc(cap, sizeof *t);
    evslot **sl = esc_calloc(cap, sizeof *sl);
    bool ok = t && sl;
    for (size_t g = 0; ok && g < n && g < s->cap; g++) {
        if (remap[g] == SIZE_MAX)
            continue;
        t[remap[g]] = s->total[g];
        const evslot *o = s->slot[g];
        if (!o)
            continue;
        size_t sz = o->one ? ONE_SIZE : sizeof *o;
        evslot *c = esc_arena_alloc(&ar, sz);
        if (!(ok = c != NULL))
            break; /* a copy needs no more than the original: memory ran out */
        memcpy(c, o, sz);
        sl[remap[g]] = c;
    }
    if (!ok) {
        esc_free(t);
        esc_free(sl);
        esc_arena_fini(&ar);
        return -1;
    }
    esc_free(s->total);
    esc_free(s->slot);
    esc_arena_fini(&s->arena);
    s->arena = ar;
    s->total = t;
    s->slot = sl;
    s->cap = cap;
    return 0;
}

void esc_evset_reset(esc_evset *s) {
    esc_free(s->total);
    esc_free(s->slot);
    s->total = NULL;
    s->slot = NULL;
    s->cap = 0;
    esc_arena_fini(&s->arena);
    esc_arena_init_growing(&s->arena, FIRST_BLOCK, SET_BLOCK, ESC_EVIDENCE_MAX_BYTES);
}

/* A merged set allocates the slots the sets it merges allocated (each group's the same, in the
 * same order), at most mem bytes. Its blocks hold them with less than a slot left over at the
 * end of each (SET_BLOCK bytes once grown; the growing ones, from FIRST_BLOCK, are fewer than
 * eight), and its arena refuses a block only when that block would take it past the cap. */
bool esc_evset_fits_merged(size_t mem) {
    const size_t slot = (sizeof(evslot) + 15) & ~(size_t)15; /* as the arena rounds it */
    size_t waste = (mem / (SET_BLOCK - slot) + 8) * slot;
    return mem <= ESC_EVIDENCE_MAX_BYTES && waste + SET_BLOCK <= ESC_EVIDENCE_MAX_BYTES - mem;
}

size_t esc_evset_mem(const esc_evset *s) {
    return s ? s->arena.used + s->cap * (sizeof *s->total + sizeof *s->slot) : 0;
}

/* ---- spill encoding: u64 total, u8 n, n x (u32 path length, path, u64 offset, u64 line,
 * u64 record id, i64 time), little-endian ---- */

int esc_evset_encode(const esc_evset *s, size_t g, esc_buf *out) {
    esc_evref refs[2 * ESC_EVIDENCE_KEEP];
    size_t n = esc_evset_get(s, g, refs), pl[2 * ESC_EVIDENCE_KEEP], size = 9;
    for (size_t i = 0; i < n; i++)
        size += 36 + (pl[i] = strlen(refs[i].path));
    if (esc_buf_reserve(out, size) != ESC_OK) /* then written in place */
        return -1;
    unsigned char *p = (unsigned char *)esc_buf_end(out);
    esc_le_put(p, esc_evset_total(s, g), 8);
    p[8] = (unsigned char)n;
    p += 9;
    for (size_t i = 0; i < n; i++) {
        esc_le_put(p, pl[i], 4);
        memcpy(p + 4, refs[i].path, pl[i]);
        p += 4 + pl[i];
        esc_le_put(p, refs[i].offset, 8);
        esc_le_put(p + 8, refs[i].line, 8);
        esc_le_put(p + 16, refs[i].record_id, 8);
        esc_le_put(p + 24, (uint64_t)refs[i].time_us, 8);
        p += 32;
    }
    esc_buf_commit(out, size);
    return 0;
}

static bool get(const unsigned char *p, size_t len, size_t *at, size_t n, uint64_t *v) {
    if (len - *at < n)
        return false;
    *v = esc_le_get(p + *at, n);
    *at += n;
    return true;
}

int esc_evset_decode(esc_evset *s, size_t g, const void *data, size_t len, size_t *at) {
    const unsigned char *p = data;
    uint64_t total, n, pl, v[4];
    if (*at > len || !get(p, len, at, 8, &total) || !get(p, len, at, 1, &n) ||
        n > 2 * ESC_EVIDENCE_KEEP || n > total)
        return -2;
    char buf[256];
    for (uint64_t i = 0; i < n; i++) {
        if (!get(p, len, at, 4, &pl) || len - *at < pl)
            return -2;
        if (g == SIZE_MAX) { /* a group left out: the path and four u64 skipped */
            if (len - *at - pl < 4 * 8)
                return -2;
            *at += pl + 4 * 8;
            continue;
        }
        char *path = pl < sizeof buf ? buf : esc_malloc(pl + 1); /* NUL-terminated for intern */
        if (!path)
            return -1;
        memcpy(path, p + *at, pl);
        path[pl] = 0;
        *at += pl;
        int rc = 0;
        for (size_t k = 0; k < 4 && !rc; k++)
            rc = get(p, len, at, 8, &v[k]) ? 0 : -2;
        esc_evref r = {path, v[0], v[1], v[2], (int64_t)v[3]};
        if (!rc && esc_evset_add(s, g, &r) != 0)
            rc = -1;
        if (path != buf)
            esc_free(path);
        if (rc)
            return rc;
    }
    if (g == SIZE_MAX || !total)
        return 0;
    if (g >= s->cap && !grow(s, g))
        return -1;
    s->total[g] += total - n; /* the events counted and not kept */
    return 0;
}
