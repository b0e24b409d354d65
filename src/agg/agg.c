/* Group-by table: open-addressing hash of key tuples -> groups, one state per aggregate, and a
 * shared hash set of (group, aggregate, value) triples for values() and dc().
 *
 * Invariants: keys and values are copied into the table's capped arena on first sight, so the
 * caller's views may die after each call; group and distinct-value hash tables stay at most
 * half full; the group count never exceeds max_groups. Deliberately not done: time windows
 * (the caller runs one table per window) and approximate counting (dc is exact). */
#include "agg/agg.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "agg/agg_int.h"

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_keys(const esc_str *keys, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = keys[i].len;
        h = mix(h, &len, sizeof len);
        h = mix(h, keys[i].ptr, keys[i].len);
    }
    return h ^ (h >> 29);
}

esc_agg *esc_agg_new(size_t nkeys, const esc_agg_fn *fns, size_t naggs, size_t max_groups,
                     size_t max_bytes) {
    esc_agg *a = esc_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->nkeys = nkeys;
    a->naggs = naggs;
    a->max_groups = max_groups ? max_groups : (size_t)UINT32_MAX - 1;
    esc_arena_init(&a->arena, max_bytes && max_bytes < 65536 ? max_bytes : 0, max_bytes);
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
    for (size_t g = 0; g < a->ngroups; g++)
        esc_free(a->groups[g].slots);
    esc_free(a->groups);
    esc_free(a->gtab);
    esc_free(a->dtab);
    esc_free(a->fns);
    esc_free(a->scratch);
    esc_arena_fini(&a->arena);
    esc_free(a);
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

esc_status esc_agg_group(esc_agg *a, const esc_str *keys, size_t *out, esc_error *err) {
    uint64_t h = hash_keys(keys, a->nkeys);
    if (a->gtab_cap) {
        size_t j = h & (a->gtab_cap - 1);
        while (a->gtab[j]) {
            group *g = &a->groups[a->gtab[j] - 1];
            if (g->hash == h) {
                size_t k = 0;
                while (k < a->nkeys && esc_str_eq(g->keys[k], keys[k]))
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
    if (a->ngroups == a->gcap) {
        size_t cap = a->gcap ? a->gcap * 2 : 16;
        group *ng = esc_realloc(a->groups, cap * sizeof *ng);
        if (!ng)
            return esc_error_set(err, ESC_ENOMEM, "out of memory growing a group table");
        a->groups = ng;
        a->gcap = cap;
    }
    group g = {0};
    g.hash = h;
    g.count = 1;
    if (a->nkeys) {
        g.keys = esc_arena_alloc(&a->arena, a->nkeys * sizeof *g.keys);
        if (!g.keys)
            return agg_full(a, err);
        for (size_t k = 0; k < a->nkeys; k++) {
            bool ok;
            g.keys[k] = agg_keep(a, keys[k], &ok);
            if (!ok)
                return agg_full(a, err);
        }
    }
    if (a->naggs) {
        g.slots = esc_calloc(a->naggs, sizeof *g.slots);
        if (!g.slots)
            return esc_error_set(err, ESC_ENOMEM, "out of memory creating a group");
    }
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
        size_t cap = a->dtab_cap ? a->dtab_cap * 2 : 256;
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
    return a->groups[g].keys[k];
}

static int cmp_groups(const void *x, const void *y, void *ctx) {
    const esc_agg *a = ctx;
    const group *g1 = &a->groups[*(const size_t *)x], *g2 = &a->groups[*(const size_t *)y];
    for (size_t k = 0; k < a->nkeys; k++) {
        int c = esc_str_cmp(g1->keys[k], g2->keys[k]);
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
