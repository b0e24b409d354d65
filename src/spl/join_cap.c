/* Which of a join subsearch's spilled groups the semi-join (semijoin.c) may keep when the join
 * uses only the subsearch's first ESC_SPL_JOIN_ROWS rows (cmd_join.c, Splunk's 50,000): the
 * groups the main search's join values keep that are among the first cap in key order.
 *
 * When it is exact: the subsearch's rows are its groups in key order (esc_agg_sorted: the key
 * tuples in byte order), one row each (the stages after its tstats keep every row, in order:
 * exec.c keeps_rows), so a group's row is among the first cap when fewer than cap groups have
 * a smaller key tuple. That rank is counted over every spilled group, told apart by a 64-bit
 * hash of its key tuple (two tuples of one hash count once: a rank one short, by odds of about
 * n^2 / 2^65 for n groups), against the few tuples the join values keep; nothing is merged, so
 * the memory is the hashes (16 to 32 bytes a group) and the kept tuples.
 * Also here: key tuples compared and copied (spl_keys_cmp, spl_keys_copy), as the ranged
 * finish (exec.c) compares and copies them.
 * Deliberately not done: a subsearch with a stage that drops or reorders rows (its first rows
 * are known only from all of them: its groups are merged whole). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/semijoin.h"
#include "spl/spill.h"

/* An open-addressing table of 64-bit entries (0: empty), at most half full. */
typedef struct htab {
    uint64_t *slot;
    size_t mask;
} htab;

typedef struct cut_ctx {
    const spl_keyset *keys;
    size_t nby;
    esc_str **kept; /* the tuples keys keeps, each once (pass 1); sorted (pass 2) */
    size_t nkept, kcap;
    htab kidx;     /* pass 1: the kept tuples by hash (index + 1) */
    htab seen;     /* the hash of every tuple seen (each pass afresh) */
    size_t *below; /* pass 2: per kept tuple i, the tuples seen that sort just below it */
    size_t total;  /* the tuples seen */
    bool oom;
} cut_ctx;

static uint64_t tuple_hash(const esc_str *k, size_t n) {
    uint64_t h = n;
    for (size_t i = 0; i < n; i++)
        h = esc_hash_mix(h, esc_str_hash(k[i]));
    return h | 1; /* never 0: 0 marks an empty slot */
}

int spl_keys_cmp(const esc_str *a, const esc_str *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int c = esc_str_cmp(a[i], b[i]);
        if (c)
            return c;
    }
    return 0;
}

static _Thread_local size_t sort_n; /* the comparator's tuple length */
static int cmp_kept(const void *a, const void *b) {
    return spl_keys_cmp(*(esc_str *const *)a, *(esc_str *const *)b, sort_n);
}

esc_str *spl_keys_copy(const esc_str *keys, size_t n) {
    size_t len = n * sizeof *keys;
    for (size_t i = 0; i < n; i++)
        len += keys[i].len;
    esc_str *t = esc_malloc(len ? len : 1);
    char *p = t ? (char *)(t + n) : NULL;
    for (size_t i = 0; t && i < n; i++) {
        if (keys[i].len)
            memcpy(p, keys[i].ptr, keys[i].len);
        t[i] = esc_str_make(p, keys[i].len);
        p += keys[i].len;
    }
    return t;
}

static bool htab_init(htab *t) {
    t->mask = 63;
    return (t->slot = esc_calloc(t->mask + 1, sizeof *t->slot)) != NULL;
}

/* Room for one more entry in t, holding used, rehashing by the entries' hashes: kept's
 * indexes (kidx) by their tuples', the hashes (seen, kept NULL) by themselves. */
static bool htab_grow(htab *t, size_t used, esc_str *const *kept, size_t nby) {
    if (2 * (used + 1) <= t->mask + 1)
        return true;
    size_t cap = (t->mask + 1) * 2;
    uint64_t *s = esc_calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (size_t b = 0; b <= t->mask; b++) {
        if (!t->slot[b])
            continue;
        uint64_t h = kept ? tuple_hash(kept[t->slot[b] - 1], nby) : t->slot[b];
        size_t j = h & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = t->slot[b];
    }
    esc_free(t->slot);
    t->slot = s;
    t->mask = cap - 1;
    return true;
}

/* Whether the tuple of hash h is new to c->seen (then added and counted). */
static bool first_seen(cut_ctx *c, uint64_t h) {
    size_t b = h & c->seen.mask;
    for (; c->seen.slot[b]; b = (b + 1) & c->seen.mask)
        if (c->seen.slot[b] == h)
            return false;
    c->seen.slot[b] = h;
    if (!htab_grow(&c->seen, ++c->total, NULL, 0))
        c->oom = true;
    return true;
}

/* Pass 1: the distinct tuples counted, and each tuple the join values keep, once. Merges
 * nothing. */
static bool collect(void *ctx, const esc_str *keys) {
    cut_ctx *c = ctx;
    if (c->oom)
        return false;
    uint64_t h = tuple_hash(keys, c->nby);
    first_seen(c, h);
    if (!spl_keyset_keep((void *)c->keys, keys))
        return false;
    size_t b = h & c->kidx.mask;
    for (; c->kidx.slot[b]; b = (b + 1) & c->kidx.mask)
        if (!spl_keys_cmp(c->kept[c->kidx.slot[b] - 1], keys, c->nby))
            return false; /* (kept already) */
    if (!ESC_VEC_GROW(c->kept, c->kcap, c->nkept + 1, 64) ||
        !(c->kept[c->nkept] = spl_keys_copy(keys, c->nby))) {
        c->oom = true;
        return false;
    }
    c->kidx.slot[b] = ++c->nkept;
    if (!htab_grow(&c->kidx, c->nkept, c->kept, c->nby))
        c->oom = true;
    return false;
}

/* Pass 2: each distinct tuple counts below every kept tuple that sorts after it. */
static bool rank(void *ctx, const esc_str *keys) {
    cut_ctx *c = ctx;
    if (c->oom || !first_seen(c, tuple_hash(keys, c->nby)))
        return false;
    size_t lo = 0, hi = c->nkept; /* the first kept tuple after keys */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (spl_keys_cmp(c->kept[mid], keys, c->nby) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    c->below[lo]++; /* (below[nkept]: tuples after every kept one) */
    return false;
}

esc_status spl_join_cap_cutoff(spl_spill *sp, esc_agg *shape, const spl_keyset *keys, size_t nby,
                               size_t cap, esc_str **last, bool *none, uint64_t *groups,
                               esc_error *err) {
    cut_ctx c = {.keys = keys, .nby = nby};
    *last = NULL;
    *none = false;
    *groups = 0;
    esc_status rc = ESC_OK;
    if (!htab_init(&c.kidx) || !htab_init(&c.seen))
        c.oom = true;
    else
        rc = spl_spill_read(sp, shape, NULL, collect, &c, err);
    /* the ranks matter only when some kept tuple may lie past the first cap */
    bool ranks = c.nkept && c.total > cap;
    if (rc == ESC_OK && !c.oom && ranks) {
        sort_n = nby;
        qsort(c.kept, c.nkept, sizeof *c.kept, cmp_kept);
        memset(c.seen.slot, 0, (c.seen.mask + 1) * sizeof *c.seen.slot);
        c.total = 0;
        if (!(c.below = esc_calloc(c.nkept + 1, sizeof *c.below)))
            c.oom = true;
    }
    if (rc == ESC_OK && !c.oom && ranks)
        rc = spl_spill_read(sp, shape, NULL, rank, &c, err);
    if (rc == ESC_OK && c.oom)
        rc = esc_error_set(err, ESC_ENOMEM, "out of memory");
    /* kept tuple i's rank: the tuples below it; the last one under cap bounds the kept (all of
     * them without ranks: at most cap tuples in all) */
    size_t under = ranks ? 0 : c.nkept, ranked = 0;
    for (size_t i = 0; rc == ESC_OK && ranks && i < c.nkept; i++) {
        ranked += c.below[i];
        if (ranked < cap)
            under = i + 1;
    }
    if (rc == ESC_OK && c.total > cap && !under) /* more groups than rows the join uses */
        *none = true;
    else if (rc == ESC_OK && c.total > cap && under < c.nkept &&
             !(*last = spl_keys_copy(c.kept[under - 1], nby)))
        rc = esc_error_set(err, ESC_ENOMEM, "out of memory");
    *groups = c.total;
    for (size_t i = 0; i < c.nkept; i++)
        esc_free(c.kept[i]);
    esc_free(c.kept);
    esc_free(c.kidx.slot);
    esc_free(c.seen.slot);
    esc_free(c.below);
    return rc;
}
