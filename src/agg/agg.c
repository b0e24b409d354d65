/* Group-by table: open-addressing hash of key tuples -> groups, one state per aggregate, and a
 * shared hash set of (group, aggregate, value) triples for values() and dc().
 *
 * Invariants: keys and values are copied into the table's capped arena on first sight, so the
 * caller's views may die after each call; a group's keys are one arena block (nkeys + 1 offsets,
 * then the NUL-terminated bytes) and its aggregate states another: creating a group calls no
 * malloc of its own; group and distinct-value hash tables stay at most half full; the group
 * count never exceeds max_groups; esc_agg_compact rebuilds the arena with the kept groups only.
 * Deliberately not done: time windows (the caller runs one table per window) and approximate
 * counting (dc is exact). */
#include "agg/agg.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "agg/agg_int.h"

#define FIRST_BLOCK 2048 /* bytes of a table's first arena block */

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The group hash: each key's esc_str_hash (BY values are often long command lines, hashed
 * eight bytes at a time; a record's are hashed once for every search grouping by them),
 * combined. Only the group table's lookup sees it: groups keep their insertion order, so
 * nothing a search gives depends on it. */
static uint64_t hash_end(uint64_t h) {
    h ^= h >> 33; /* murmur3's finaliser: every bit reaches the low ones the table uses */
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

uint64_t esc_agg_hash_of(const uint64_t *kh, size_t n, uint64_t mask) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        if (i >= 64 || (mask >> i & 1))
            h = esc_hash_mix(h, kh[i]);
    return hash_end(h);
}

uint64_t esc_agg_hash(const esc_str *keys, size_t n, uint64_t mask) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        if (i >= 64 || (mask >> i & 1))
            h = esc_hash_mix(h, esc_str_hash(keys[i]));
    return hash_end(h);
}

esc_agg *esc_agg_new(size_t nkeys, const esc_agg_fn *fns, size_t naggs, size_t max_groups,
                     size_t max_bytes) {
    esc_agg *a = esc_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->nkeys = nkeys;
    a->naggs = naggs;
    a->max_groups = max_groups ? max_groups : (size_t)UINT32_MAX - 1;
    /* most tables of a hunt keep a few groups: blocks start small */
    esc_arena_init_growing(&a->arena, FIRST_BLOCK, max_bytes && max_bytes < 65536 ? max_bytes : 0,
                           max_bytes);
    if (naggs) {
        a->fns = esc_malloc(naggs * sizeof *fns);
        if (!a->fns) {
            esc_agg_free(a);
            return NULL;
        }
        memcpy(a->fns, fns, naggs * sizeof *fns);
    }
    return a;
}

void esc_agg_free(esc_agg *a) {
    if (!a)
        return;
    esc_free(a->groups);
    esc_free(a->gtab);
    esc_free(a->dtab);
    esc_free(a->fns);
    esc_free(a->scratch);
    esc_arena_fini(&a->arena);
    esc_free(a);
}

void esc_agg_reset(esc_agg *a) {
    esc_free(a->groups);
    esc_free(a->gtab);
    esc_free(a->dtab);
    esc_free(a->scratch);
    size_t cap = a->arena.cap, block = a->arena.block_size;
    esc_arena_fini(&a->arena);
    esc_arena_init_growing(&a->arena, FIRST_BLOCK, block, cap);
    a->groups = NULL;
    a->gtab = NULL;
    a->dtab = NULL;
    a->scratch = NULL;
    a->ngroups = a->gcap = a->gtab_cap = a->dtab_n = a->dtab_cap = a->scratch_cap = 0;
    a->dropped[0] = a->dropped[1] = 0;
    a->last = 0;
}

size_t esc_agg_mem(const esc_agg *a) {
    if (!a)
        return 0;
    return a->arena.used + a->gcap * sizeof *a->groups + a->gtab_cap * sizeof *a->gtab +
           a->dtab_cap * sizeof *a->dtab + a->scratch_cap * sizeof *a->scratch;
}

static size_t round16(size_t n) {
    return n ? (n + 15) & ~(size_t)15 : 16; /* esc_arena_alloc's rounding */
}

size_t esc_agg_group_bound(const esc_agg *a, size_t key_bytes) {
    size_t keys = (a->nkeys + 1) * sizeof(uint32_t) + key_bytes + a->nkeys; /* make_group */
    return round16(keys) + (a->naggs ? round16(a->naggs * sizeof(slot)) : 0);
}

size_t esc_agg_value_bound(const esc_agg *a, size_t i, size_t len) {
    switch (a->fns[i]) {
    case ESC_AGG_VALUES: /* a copy (agg_keep) and its list node (agg_push) */
    case ESC_AGG_LIST:
        return round16(len + 1) + round16(sizeof(vnode));
    case ESC_AGG_DC:
    case ESC_AGG_MIN:
    case ESC_AGG_MAX:
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST:
        return round16(len + 1);
    default:
        return 0;
    }
}

bool esc_agg_fits(const esc_agg *a, size_t bytes) {
    size_t block = a->arena.block_size;
    if (!a->arena.cap)
        return true;
    return bytes <= (SIZE_MAX - block) / 3 && 3 * bytes + block <= a->arena.cap;
}

/* The arena said no: its cap (a limit of the input) or memory running out (fatal). */
esc_status agg_full(const esc_agg *a, esc_error *err) {
    if (a->arena.failed)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    return esc_error_set(err, ESC_ELIMIT, "aggregation memory limit reached");
}

esc_str agg_keep(esc_agg *a, esc_str s, bool *ok) {
    esc_str d = esc_arena_dup(&a->arena, s.ptr ? s : ESC_STR(""));
    *ok = d.ptr != NULL;
    return d;
}

static esc_status grow_gtab(esc_agg *a, esc_error *err) {
    size_t cap = a->gtab_cap ? a->gtab_cap * 2 : 64;
    while ((a->ngroups + 1) * 2 > cap)
        cap *= 2;
    uint32_t *t = esc_calloc(cap, sizeof *t);
    if (!t)
        return esc_error_set(err, ESC_ENOMEM, "out of memory growing a group table");
    for (size_t g = 0; g < a->ngroups; g++) {
        size_t j = a->groups[g].hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)(g + 1);
    }
    esc_free(a->gtab);
    a->gtab = t;
    a->gtab_cap = cap;
    return ESC_OK;
}

static esc_str key_of(const group *g, size_t k) {
    const char *b = (const char *)g->keys;
    return esc_str_make(b + g->keys[k], g->keys[k + 1] - g->keys[k] - 1);
}

/* g's key block and zeroed aggregate states from arena ar (keys are views, copied).
 * ESC_ELIMIT when the arena says no. */
static esc_status make_group(esc_arena *ar, size_t nkeys, size_t naggs, const esc_str *keys,
                             group *g) {
    size_t head = (nkeys + 1) * sizeof(uint32_t), n = head;
    for (size_t k = 0; k < nkeys; k++)
        n += keys[k].len + 1;
    if (n > UINT32_MAX)
        return ESC_ELIMIT;
    char *b = esc_arena_alloc(ar, n);
    if (!b)
        return ESC_ELIMIT;
    uint32_t *off = (uint32_t *)(void *)b;
    size_t at = head;
    for (size_t k = 0; k < nkeys; k++) {
        off[k] = (uint32_t)at;
        if (keys[k].len)
            memcpy(b + at, keys[k].ptr, keys[k].len);
        at += keys[k].len;
        b[at++] = 0;
    }
    off[nkeys] = (uint32_t)at;
    g->keys = off;
    g->slots = NULL;
    if (naggs) {
        g->slots = esc_arena_alloc(ar, naggs * sizeof *g->slots);
        if (!g->slots)
            return ESC_ELIMIT;
        memset(g->slots, 0, naggs * sizeof *g->slots);
    }
    return ESC_OK;
}

esc_status esc_agg_group(esc_agg *a, const esc_str *keys, size_t *out, esc_error *err) {
    return esc_agg_group_hashed(a, keys, esc_agg_hash(keys, a->nkeys, UINT64_MAX), out, err);
}

esc_status esc_agg_group_hashed(esc_agg *a, const esc_str *keys, uint64_t h, size_t *out,
                                esc_error *err) {
    if (a->gtab_cap) {
        size_t j = h & (a->gtab_cap - 1);
        while (a->gtab[j]) {
            group *g = &a->groups[a->gtab[j] - 1];
            if (g->hash == h) {
                size_t k = 0;
                while (k < a->nkeys && esc_str_eq(key_of(g, k), keys[k]))
                    k++;
                if (k == a->nkeys) {
                    g->count++;
                    *out = a->last = a->gtab[j] - 1;
                    a->calls++;
                    return ESC_OK;
                }
            }
            j = (j + 1) & (a->gtab_cap - 1);
        }
    }
    if (a->ngroups >= a->max_groups)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu groups", a->max_groups);
    esc_status st;
    if ((a->ngroups + 1) * 2 > a->gtab_cap && (st = grow_gtab(a, err)) != ESC_OK)
        return st;
    if (a->ngroups == a->gcap && !ESC_VEC_GROW(a->groups, a->gcap, a->ngroups + 1, 16))
        return esc_error_set(err, ESC_ENOMEM, "out of memory growing a group table");
    group g = {0};
    g.hash = h;
    g.count = 1;
    if ((st = make_group(&a->arena, a->nkeys, a->naggs, keys, &g)) != ESC_OK)
        return agg_full(a, err);
    size_t j = h & (a->gtab_cap - 1);
    while (a->gtab[j])
        j = (j + 1) & (a->gtab_cap - 1);
    a->gtab[j] = (uint32_t)(a->ngroups + 1);
    a->groups[a->ngroups] = g;
    *out = a->last = a->ngroups++;
    a->calls++;
    return ESC_OK;
}

/* Insert (g, i, v) into the distinct set; *added says whether it was new; *kept is the copy. */
esc_status agg_distinct(esc_agg *a, size_t g, size_t i, esc_str v, bool *added, esc_str *kept,
                        esc_error *err) {
    uint64_t h = mix(0xcbf29ce484222325ULL, v.ptr ? v.ptr : "", v.len);
    h = mix(h, &g, sizeof g);
    h = mix(h, &i, sizeof i);
    if ((a->dtab_n + 1) * 2 > a->dtab_cap) {
        /* a table of one group (a stats taking its rows one at a time, emptied for each)
         * starts small: zeroing 256 entries for each row cost more than its aggregates */
        size_t cap = a->dtab_cap ? a->dtab_cap * 2 : a->max_groups == 1 ? 16 : 256;
        dentry *t = esc_calloc(cap, sizeof *t);
        if (!t)
            return esc_error_set(err, ESC_ENOMEM, "out of memory growing a value set");
        for (size_t k = 0; k < a->dtab_cap; k++) {
            if (!a->dtab[k].v.ptr)
                continue;
            size_t j = a->dtab[k].hash & (cap - 1);
            while (t[j].v.ptr)
                j = (j + 1) & (cap - 1);
            t[j] = a->dtab[k];
        }
        esc_free(a->dtab);
        a->dtab = t;
        a->dtab_cap = cap;
    }
    size_t j = h & (a->dtab_cap - 1);
    while (a->dtab[j].v.ptr) {
        dentry *d = &a->dtab[j];
        if (d->hash == h && d->g == g && d->i == i && esc_str_eq(d->v, v)) {
            *added = false;
            *kept = d->v;
            return ESC_OK;
        }
        j = (j + 1) & (a->dtab_cap - 1);
    }
    bool ok;
    esc_str c = agg_keep(a, v, &ok);
    if (!ok)
        return agg_full(a, err);
    a->dtab[j] = (dentry){h, (uint32_t)g, (uint32_t)i, c};
    a->dtab_n++;
    *added = true;
    *kept = c;
    return ESC_OK;
}

esc_status agg_push(esc_agg *a, slot *s, esc_str v, esc_error *err) {
    vnode *n = esc_arena_alloc(&a->arena, sizeof *n);
    if (!n)
        return agg_full(a, err);
    n->v = v;
    n->next = NULL;
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
    s->n++;
    return ESC_OK;
}

esc_status esc_agg_add(esc_agg *a, size_t g, size_t i, const esc_agg_in *vals, size_t nvals,
                       int64_t time_us, esc_error *err) {
    slot *s = &a->groups[g].slots[i];
    esc_agg_fn fn = a->fns[i];
    esc_status st;
    bool ok;
    for (size_t k = 0; k < nvals; k++) {
        const esc_agg_in *v = &vals[k];
        if (!v->s.ptr)
            continue;
        switch (fn) {
        case ESC_AGG_COUNT:
            return ESC_OK;
        case ESC_AGG_COUNT_FIELD:
            s->n++;
            break;
        case ESC_AGG_VALUES:
        case ESC_AGG_DC: {
            bool added;
            esc_str kept = ESC_STR_NULL;
            if ((st = agg_distinct(a, g, i, v->s, &added, &kept, err)) != ESC_OK)
                return st;
            if (added && fn == ESC_AGG_VALUES && (st = agg_push(a, s, kept, err)) != ESC_OK)
                return st;
            if (added && fn == ESC_AGG_DC)
                s->n++;
            break;
        }
        case ESC_AGG_LIST:
            if (s->n < ESC_AGG_LIST_MAX) {
                esc_str kept = agg_keep(a, v->s, &ok);
                if (!ok)
                    return agg_full(a, err);
                if ((st = agg_push(a, s, kept, err)) != ESC_OK)
                    return st;
            }
            break;
        case ESC_AGG_MIN:
        case ESC_AGG_MAX: {
            bool better;
            if (v->is_num) {
                better = !s->has_num || (fn == ESC_AGG_MIN ? v->num < s->num : v->num > s->num);
                if (better) {
                    s->text = agg_keep(a, v->s, &ok);
                    if (!ok)
                        return agg_full(a, err);
                    s->num = v->num;
                    s->has_num = true;
                }
            } else if (!s->has_num) {
                int c = s->has_str ? esc_str_cmp(v->s, s->str_best) : 0;
                better = !s->has_str || (fn == ESC_AGG_MIN ? c < 0 : c > 0);
                if (better) {
                    s->str_best = agg_keep(a, v->s, &ok);
                    if (!ok)
                        return agg_full(a, err);
                    s->has_str = true;
                }
            }
            break;
        }
        case ESC_AGG_SUM:
        case ESC_AGG_AVG:
            if (v->is_num) {
                s->num += v->num;
                s->n++;
                s->has_num = true;
            }
            break;
        case ESC_AGG_EARLIEST:
        case ESC_AGG_LATEST: {
            bool better = !s->has_str ||
                          (fn == ESC_AGG_EARLIEST ? time_us < s->t : time_us > s->t) ||
                          (time_us == s->t && esc_str_cmp(v->s, s->str_best) < 0);
            if (better) {
                s->str_best = agg_keep(a, v->s, &ok);
                if (!ok)
                    return agg_full(a, err);
                s->has_str = true;
                s->t = time_us;
            }
            break;
        }
        }
    }
    return ESC_OK;
}

size_t esc_agg_last(const esc_agg *a, uint64_t *calls) {
    if (calls)
        *calls = a->calls;
    return a->last;
}

size_t esc_agg_ngroups(const esc_agg *a) {
    return a ? a->ngroups : 0;
}

esc_str esc_agg_key(const esc_agg *a, size_t g, size_t k) {
    return key_of(&a->groups[g], k);
}

static int cmp_groups(const void *x, const void *y, void *ctx) {
    const esc_agg *a = ctx;
    const group *g1 = &a->groups[*(const size_t *)x], *g2 = &a->groups[*(const size_t *)y];
    for (size_t k = 0; k < a->nkeys; k++) {
        int c = esc_str_cmp(key_of(g1, k), key_of(g2, k));
        if (c)
            return c;
    }
    return 0;
}

esc_status esc_agg_sorted(const esc_agg *a, size_t **order, esc_error *err) {
    *order = esc_malloc((a->ngroups ? a->ngroups : 1) * sizeof **order);
    if (!*order)
        return esc_error_set(err, ESC_ENOMEM, "out of memory sorting groups");
    for (size_t g = 0; g < a->ngroups; g++)
        (*order)[g] = g;
    qsort_r(*order, a->ngroups, sizeof **order, cmp_groups, (void *)a);
    return ESC_OK;
}

static int cmp_str(const void *x, const void *y) {
    return esc_str_cmp(*(const esc_str *)x, *(const esc_str *)y);
}

esc_status esc_agg_result(esc_agg *a, size_t g, size_t i, esc_agg_out *out, esc_error *err) {
    group *gr = &a->groups[g];
    slot *s = &gr->slots[i];
    memset(out, 0, sizeof *out);
    switch (a->fns[i]) {
    case ESC_AGG_COUNT:
        out->is_num = true;
        out->num = (double)gr->count;
        return ESC_OK;
    case ESC_AGG_COUNT_FIELD:
    case ESC_AGG_DC:
        out->is_num = true;
        out->num = (double)s->n;
        return ESC_OK;
    case ESC_AGG_VALUES:
    case ESC_AGG_LIST: {
        if (s->n > a->scratch_cap) {
            esc_str *ns = esc_realloc(a->scratch, s->n * sizeof *ns);
            if (!ns)
                return esc_error_set(err, ESC_ENOMEM, "out of memory reading values");
            a->scratch = ns;
            a->scratch_cap = s->n;
        }
        size_t k = 0;
        for (vnode *n = s->head; n; n = n->next)
            a->scratch[k++] = n->v;
        if (a->fns[i] == ESC_AGG_VALUES && k > 1)
            qsort(a->scratch, k, sizeof *a->scratch, cmp_str);
        out->n = k;
        out->v = a->scratch;
        return ESC_OK;
    }
    case ESC_AGG_MIN:
    case ESC_AGG_MAX:
        if (s->has_num) {
            out->is_num = true;
            out->num = s->num;
            out->n = 1;
            out->v = &s->text;
        } else if (s->has_str) {
            out->n = 1;
            out->v = &s->str_best;
        }
        return ESC_OK;
    case ESC_AGG_SUM:
    case ESC_AGG_AVG:
        if (s->has_num) {
            out->is_num = true;
            out->num = a->fns[i] == ESC_AGG_SUM ? s->num : s->num / (double)s->n;
        }
        return ESC_OK;
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST:
        if (s->has_str) {
            out->n = 1;
            out->v = &s->str_best;
        }
        return ESC_OK;
    }
    return ESC_OK;
}

/* ---- compaction ---- */

/* A copy of s in arena ar (NULL view stays NULL). */
static bool recopy(esc_arena *ar, esc_str *s) {
    if (!s->ptr)
        return true;
    esc_str d = esc_arena_dup(ar, *s);
    *s = d;
    return d.ptr != NULL;
}

/* Group o (of a) as a fresh group of arena ar, its values copied: *n. */
static bool copy_group(esc_agg *a, const group *o, esc_arena *ar, group *n) {
    if (a->nkeys > a->scratch_cap) {
        esc_str *ns = esc_realloc(a->scratch, a->nkeys * sizeof *ns);
        if (!ns)
            return false;
        a->scratch = ns;
        a->scratch_cap = a->nkeys;
    }
    for (size_t k = 0; k < a->nkeys; k++)
        a->scratch[k] = key_of(o, k);
    *n = *o;
    bool ok = make_group(ar, a->nkeys, a->naggs, a->scratch, n) == ESC_OK;
    for (size_t i = 0; ok && i < a->naggs; i++) {
        slot *s = &n->slots[i];
        *s = o->slots[i];
        s->head = s->tail = NULL;
        ok = recopy(ar, &s->text) && recopy(ar, &s->str_best);
        for (vnode *v = o->slots[i].head; ok && v; v = v->next) {
            vnode *c = esc_arena_alloc(ar, sizeof *c);
            if (!(ok = c != NULL))
                break;
            c->v = v->v;
            c->next = NULL;
            ok = recopy(ar, &c->v);
            if (s->tail)
                s->tail->next = c;
            else
                s->head = c;
            s->tail = c;
        }
    }
    return ok;
}

/* Put (g, i, v) into the distinct set t (room assured, v already in the new arena). */
static void dput(dentry *t, size_t cap, uint64_t h, uint32_t g, uint32_t i, esc_str v) {
    size_t j = h & (cap - 1);
    while (t[j].v.ptr)
        j = (j + 1) & (cap - 1);
    t[j] = (dentry){h, g, i, v};
}

static uint64_t dhash(esc_str v, size_t g, size_t i) {
    uint64_t h = mix(0xcbf29ce484222325ULL, v.ptr ? v.ptr : "", v.len);
    h = mix(h, &g, sizeof g);
    return mix(h, &i, sizeof i);
}

/* The distinct set of the kept groups, renumbered: values() entries point at the new list's
 * copies, dc() entries get their own copy. */
static bool rebuild_distinct(esc_agg *a, const size_t *remap, group *ng, esc_arena *ar,
                             dentry **out, size_t *outn, size_t *outcap) {
    size_t n = 0;
    for (size_t k = 0; k < a->dtab_cap; k++)
        n += a->dtab[k].v.ptr && remap[a->dtab[k].g] != SIZE_MAX;
    size_t cap = 256;
    while ((n + 1) * 2 > cap)
        cap *= 2;
    dentry *t = esc_calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (size_t k = 0; k < a->dtab_cap; k++) {
        const dentry *d = &a->dtab[k];
        if (!d->v.ptr || remap[d->g] == SIZE_MAX || a->fns[d->i] != ESC_AGG_DC)
            continue;
        esc_str v = d->v;
        if (!recopy(ar, &v)) {
            esc_free(t);
            return false;
        }
        size_t g = remap[d->g];
        dput(t, cap, dhash(v, g, d->i), (uint32_t)g, d->i, v);
    }
    for (size_t g = 0; a->dtab_cap && g < a->ngroups; g++) {
        if (remap[g] == SIZE_MAX)
            continue;
        for (size_t i = 0; i < a->naggs; i++)
            if (a->fns[i] == ESC_AGG_VALUES)
                for (vnode *v = ng[remap[g]].slots[i].head; v; v = v->next)
                    dput(t, cap, dhash(v->v, remap[g], i), (uint32_t)remap[g], (uint32_t)i, v->v);
    }
    *out = t;
    *outn = n;
    *outcap = cap;
    return true;
}

esc_status esc_agg_compact(esc_agg *a, const bool *keep, size_t *remap, esc_error *err) {
    esc_arena ar;
    esc_arena_init_growing(&ar, FIRST_BLOCK, a->arena.block_size, a->arena.cap);
    size_t n = 0;
    for (size_t g = 0; g < a->ngroups; g++)
        remap[g] = keep[g] ? n++ : SIZE_MAX;
    group *ng = esc_malloc((n ? n : 1) * sizeof *ng);
    dentry *dt = NULL;
    size_t dn = 0, dcap = 0;
    bool ok = ng != NULL;
    for (size_t g = 0; ok && g < a->ngroups; g++)
        if (keep[g])
            ok = copy_group(a, &a->groups[g], &ar, &ng[remap[g]]);
    if (ok && a->dtab)
        ok = rebuild_distinct(a, remap, ng, &ar, &dt, &dn, &dcap);
    if (!ok) {
        bool capped = !ar.failed;
        esc_free(ng);
        esc_arena_fini(&ar);
        /* a copy never needs more than the original: only memory running out stops it */
        return capped ? esc_error_set(err, ESC_ELIMIT, "aggregation memory limit reached")
                      : esc_error_set(err, ESC_ENOMEM, "out of memory compacting groups");
    }
    esc_arena_fini(&a->arena);
    a->arena = ar;
    esc_free(a->groups);
    a->groups = ng;
    a->ngroups = a->gcap = n;
    esc_free(a->dtab);
    a->dtab = dt;
    a->dtab_n = dn;
    a->dtab_cap = dcap;
    esc_free(a->gtab);
    a->gtab = NULL;
    a->gtab_cap = 0;
    a->last = 0;
    return a->ngroups ? grow_gtab(a, err) : ESC_OK;
}
