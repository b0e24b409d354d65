/* Partial aggregates: a group-by table's per-group states encoded as bytes, and merged into
 * another table, for two-stage aggregation (docs/scale.md): each worker aggregates the records
 * of its partitions, the owner of a group merges every worker's partial of it, and the result is
 * the table one process fed every record would hold (Splunk's `prestats` results that indexers
 * send the search head: Search Reference "tstats", prestats).
 *
 * Encoding (little-endian, so that workers of any byte order agree):
 *   "EAP1" u32 nkeys u32 naggs u8 fn[naggs] u32 ngroups, then per group: nkeys strings, u64
 *   count, and per aggregate its state: count_field u64 n; values and dc u32 n + n strings (the
 *   distinct set); min and max u8 flags (1 number, 2 string) [f64 num, string text] [string];
 *   sum and avg u8 has_num f64 sum u64 n; earliest and latest u8 has i64 time string.
 *   A string is u32 length + bytes.
 * Invariants: merging applies the rule esc_agg_add applies to one value to a whole state, so the
 * merged result does not depend on how records were split among partials or on merge order,
 * except two documented cases: sums of non-integers may differ in the last bits (floating-point
 * addition is not associative), and min/max of equal numbers written differently ("1", "1.0")
 * may keep either text. Decoding checks every length against the bytes left: a broken partial
 * is ESC_EMALFORMED, never a read out of bounds.
 * The same encoding holds the groups a hunt spills to a temporary file past its memory budget
 * (spl/spill.c); esc_agg_merge_each merges them back, a group at a time, skipping the ones the
 * caller does not want, and esc_agg_split deals a partial's groups, their bytes unchanged, into
 * several partials by key.
 * Not done here: where partials travel (sched/), list (order-dependent) and stats' local
 * functions (stdev, var, range, first, last: spl/cmd_stats.c), which callers refuse. */
#include <inttypes.h>
#include <string.h>

#include "agg/agg_int.h"
#include "core/alloc.h"
#include "core/buf.h"

#define MAGIC "EAP1"

bool esc_agg_mergeable(esc_agg_fn fn) {
    return fn != ESC_AGG_LIST;
}

bool esc_agg_table_mergeable(const esc_agg *a) {
    for (size_t i = 0; i < a->naggs; i++)
        if (!esc_agg_mergeable(a->fns[i]))
            return false;
    return true;
}

/* ---- encoding ---- */

static esc_status put_u64(esc_buf *b, uint64_t v, size_t n) {
    unsigned char x[8];
    esc_le_put(x, v, n);
    return esc_buf_append(b, x, n);
}

/* A group is measured (group_size) and then written in place (wr_*): one reserve per group,
 * not a bounds check and a call per field. */
static unsigned char *wr_u(unsigned char *p, uint64_t v, size_t n) {
    esc_le_put(p, v, n);
    return p + n;
}

static unsigned char *wr_str(unsigned char *p, esc_str s) {
    p = wr_u(p, s.len, 4);
    if (s.len)
        memcpy(p, s.ptr, s.len);
    return p + s.len;
}

static unsigned char *wr_f64(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return wr_u(p, v, 8);
}

/* The dc sets: the distinct-set entries of (g, i) in order idx[start[g*naggs+i] ..). */
typedef struct dcindex {
    size_t *start;  /* ngroups * naggs + 1 */
    uint32_t *pick; /* dtab positions */
} dcindex;

static esc_status dc_index(const esc_agg *a, dcindex *x, esc_error *err) {
    size_t ns = a->ngroups * a->naggs + 1;
    x->start = esc_calloc(ns + 1, sizeof *x->start);
    x->pick = esc_calloc(a->dtab_n ? a->dtab_n : 1, sizeof *x->pick);
    if (!x->start || !x->pick)
        return esc_error_set(err, ESC_ENOMEM, "out of memory encoding a partial aggregate");
    for (size_t j = 0; j < a->dtab_cap; j++)
        if (a->dtab[j].v.ptr)
            x->start[(size_t)a->dtab[j].g * a->naggs + a->dtab[j].i + 1]++;
    for (size_t k = 1; k <= ns; k++)
        x->start[k] += x->start[k - 1];
    size_t *fill = esc_calloc(ns, sizeof *fill);
    if (!fill)
        return esc_error_set(err, ESC_ENOMEM, "out of memory encoding a partial aggregate");
    for (size_t j = 0; j < a->dtab_cap; j++)
        if (a->dtab[j].v.ptr) {
            size_t k = (size_t)a->dtab[j].g * a->naggs + a->dtab[j].i;
            x->pick[x->start[k] + fill[k]++] = (uint32_t)j;
        }
    esc_free(fill);
    return ESC_OK;
}

/* The bytes slot i of group g takes (wr_slot writes them). */
static size_t slot_size(const esc_agg *a, size_t g, size_t i, const dcindex *x) {
    const slot *s = &a->groups[g].slots[i];
    switch (a->fns[i]) {
    case ESC_AGG_COUNT:
    case ESC_AGG_LIST:
        return 0;
    case ESC_AGG_COUNT_FIELD:
        return 8;
    case ESC_AGG_VALUES:
    case ESC_AGG_DC: {
        size_t k = g * a->naggs + i, n = 4;
        for (size_t j = x->start[k]; j < x->start[k + 1]; j++)
            n += 4 + a->dtab[x->pick[j]].v.len;
        return n;
    }
    case ESC_AGG_MIN:
    case ESC_AGG_MAX:
        return 1 + (s->has_num ? 12 + s->text.len : 0) + (s->has_str ? 4 + s->str_best.len : 0);
    case ESC_AGG_SUM:
    case ESC_AGG_AVG:
        return 17;
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST:
        return 13 + s->str_best.len;
    }
    return 0;
}

static unsigned char *wr_slot(unsigned char *p, const esc_agg *a, size_t g, size_t i,
                              const dcindex *x) {
    const slot *s = &a->groups[g].slots[i];
    switch (a->fns[i]) {
    case ESC_AGG_COUNT:
    case ESC_AGG_LIST:
        break;
    case ESC_AGG_COUNT_FIELD:
        p = wr_u(p, s->n, 8);
        break;
    case ESC_AGG_VALUES:
    case ESC_AGG_DC: {
        size_t k = g * a->naggs + i;
        p = wr_u(p, x->start[k + 1] - x->start[k], 4);
        for (size_t j = x->start[k]; j < x->start[k + 1]; j++)
            p = wr_str(p, a->dtab[x->pick[j]].v);
        break;
    }
    case ESC_AGG_MIN:
    case ESC_AGG_MAX:
        p = wr_u(p, (uint64_t)s->has_num | (uint64_t)s->has_str << 1, 1);
        if (s->has_num)
            p = wr_str(wr_f64(p, s->num), s->text);
        if (s->has_str)
            p = wr_str(p, s->str_best);
        break;
    case ESC_AGG_SUM:
    case ESC_AGG_AVG:
        p = wr_u(wr_f64(wr_u(p, s->has_num, 1), s->num), s->n, 8);
        break;
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST:
        p = wr_str(wr_u(wr_u(p, s->has_str, 1), (uint64_t)s->t, 8), s->str_best);
        break;
    }
    return p;
}

/* Group g (its keys, count and slots) appended to out. */
static esc_status put_group(esc_buf *out, const esc_agg *a, size_t g, const dcindex *x) {
    size_t n = 8;
    for (size_t k = 0; k < a->nkeys; k++)
        n += 4 + esc_agg_key(a, g, k).len;
    for (size_t i = 0; i < a->naggs; i++)
        n += slot_size(a, g, i, x);
    esc_status st = esc_buf_reserve(out, n);
    if (st)
        return st;
    unsigned char *p = (unsigned char *)esc_buf_end(out), *start = p;
    for (size_t k = 0; k < a->nkeys; k++)
        p = wr_str(p, esc_agg_key(a, g, k));
    p = wr_u(p, a->groups[g].count, 8);
    for (size_t i = 0; i < a->naggs; i++)
        p = wr_slot(p, a, g, i, x);
    if ((size_t)(p - start) != n)
        return ESC_EINTERNAL; /* slot_size and wr_slot disagree */
    esc_buf_commit(out, n);
    return ESC_OK;
}

esc_status esc_agg_encode(const esc_agg *a, const size_t *groups, size_t n, esc_buf *out,
                          esc_error *err) {
    for (size_t i = 0; i < a->naggs; i++)
        if (!esc_agg_mergeable(a->fns[i]))
            return esc_error_set(err, ESC_EINTERNAL, "aggregate %zu does not merge", i + 1);
    if (!groups)
        n = a->ngroups;
    dcindex x = {0};
    esc_status st = dc_index(a, &x, err);
    if (st)
        goto out;
    st = esc_buf_append(out, MAGIC, 4);
    if (!st && !(st = put_u64(out, a->nkeys, 4)) && !(st = put_u64(out, a->naggs, 4)))
        for (size_t i = 0; i < a->naggs && !st; i++)
            st = put_u64(out, (uint64_t)a->fns[i], 1);
    if (!st)
        st = put_u64(out, n, 4);
    for (size_t r = 0; r < n && !st; r++)
        st = put_group(out, a, groups ? groups[r] : r, &x);
    if (st)
        st = esc_error_set(err, st,
                           st == ESC_EINTERNAL ? "partial aggregate: a group's size misjudged"
                                               : "partial aggregate too large");
out:
    esc_free(x.start);
    esc_free(x.pick);
    return st;
}

/* ---- decoding and merging ---- */

typedef struct rd {
    const unsigned char *p;
    size_t len, at;
    bool bad;
} rd;

static uint64_t get_u64(rd *r, size_t n) {
    uint64_t v = 0;
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        return 0;
    }
    v = esc_le_get(r->p + r->at, n);
    r->at += n;
    return v;
}

static double get_f64(rd *r) {
    uint64_t v = get_u64(r, 8);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static esc_str get_str(rd *r) {
    uint64_t n = get_u64(r, 4);
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        return ESC_STR("");
    }
    esc_str s = esc_str_make((const char *)r->p + r->at, (size_t)n);
    r->at += (size_t)n;
    return s;
}

static esc_status broken(const rd *r, esc_error *err) {
    return esc_error_set(err, ESC_EMALFORMED, "partial aggregate: truncated or broken at byte %zu",
                         r->at);
}

/* min/max: the partial's winner against the group's, by esc_agg_add's rule. */
static esc_status merge_extreme(esc_agg *a, slot *s, bool is_min, rd *r, esc_error *err) {
    unsigned flags = (unsigned)get_u64(r, 1);
    bool ok = true;
    if (flags & 1) {
        double num = get_f64(r);
        esc_str text = get_str(r);
        if (!r->bad && (!s->has_num || (is_min ? num < s->num : num > s->num))) {
            s->text = agg_keep(a, text, &ok);
            s->num = num;
            s->has_num = true;
        }
    }
    if (flags & 2) {
        esc_str best = get_str(r);
        int c = s->has_str ? esc_str_cmp(best, s->str_best) : 0;
        if (!r->bad && (!s->has_str || (is_min ? c < 0 : c > 0))) {
            s->str_best = agg_keep(a, best, &ok);
            s->has_str = true;
        }
    }
    return ok ? ESC_OK : agg_full(a, err);
}

static esc_status merge_values(esc_agg *a, size_t g, size_t i, rd *r, esc_error *err) {
    slot *s = &a->groups[g].slots[i];
    uint64_t n = get_u64(r, 4);
    esc_status st = ESC_OK;
    for (uint64_t j = 0; j < n && !st && !r->bad; j++) {
        esc_str v = get_str(r), kept;
        bool added;
        if (r->bad)
            break;
        if ((st = agg_distinct(a, g, i, v, &added, &kept, err)) || !added)
            continue;
        if (a->fns[i] == ESC_AGG_VALUES)
            st = agg_push(a, s, kept, err);
        else
            s->n++;
    }
    return st;
}

static esc_status merge_slot(esc_agg *a, size_t g, size_t i, rd *r, esc_error *err) {
    slot *s = &a->groups[g].slots[i];
    esc_agg_fn fn = a->fns[i];
    bool ok = true;
    switch (fn) {
    case ESC_AGG_COUNT:
    case ESC_AGG_LIST:
        return ESC_OK;
    case ESC_AGG_COUNT_FIELD:
        s->n += get_u64(r, 8);
        return ESC_OK;
    case ESC_AGG_VALUES:
    case ESC_AGG_DC:
        return merge_values(a, g, i, r, err);
    case ESC_AGG_MIN:
    case ESC_AGG_MAX:
        return merge_extreme(a, s, fn == ESC_AGG_MIN, r, err);
    case ESC_AGG_SUM:
    case ESC_AGG_AVG: {
        bool has = get_u64(r, 1) != 0;
        double num = get_f64(r);
        uint64_t n = get_u64(r, 8);
        if (has && !r->bad) {
            s->num += num;
            s->n += n;
            s->has_num = true;
        }
        return ESC_OK;
    }
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST: {
        bool has = get_u64(r, 1) != 0;
        int64_t t = (int64_t)get_u64(r, 8);
        esc_str v = get_str(r);
        if (!has || r->bad)
            return ESC_OK;
        if (!s->has_str || (fn == ESC_AGG_EARLIEST ? t < s->t : t > s->t) ||
            (t == s->t && esc_str_cmp(v, s->str_best) < 0)) {
            s->str_best = agg_keep(a, v, &ok);
            s->has_str = true;
            s->t = t;
        }
        return ok ? ESC_OK : agg_full(a, err);
    }
    }
    return ESC_OK;
}

/* The header: the partial's shape must be the table's. */
static bool same_shape(const esc_agg *a, rd *r) {
    if (r->len < 4 || memcmp(r->p, MAGIC, 4) != 0)
        return false;
    r->at = 4;
    if (get_u64(r, 4) != a->nkeys || get_u64(r, 4) != a->naggs)
        return false;
    for (size_t i = 0; i < a->naggs; i++)
        if (get_u64(r, 1) != (uint64_t)a->fns[i])
            return false;
    return !r->bad;
}

/* Read past one aggregate's state (a group the caller does not want). */
static void skip_slot(esc_agg_fn fn, rd *r) {
    switch (fn) {
    case ESC_AGG_COUNT:
    case ESC_AGG_LIST:
        return;
    case ESC_AGG_COUNT_FIELD:
        (void)get_u64(r, 8);
        return;
    case ESC_AGG_VALUES:
    case ESC_AGG_DC: {
        uint64_t n = get_u64(r, 4);
        for (uint64_t j = 0; j < n && !r->bad; j++)
            (void)get_str(r);
        return;
    }
    case ESC_AGG_MIN:
    case ESC_AGG_MAX: {
        unsigned flags = (unsigned)get_u64(r, 1);
        if (flags & 1) {
            (void)get_f64(r);
            (void)get_str(r);
        }
        if (flags & 2)
            (void)get_str(r);
        return;
    }
    case ESC_AGG_SUM:
    case ESC_AGG_AVG:
        (void)get_u64(r, 1);
        (void)get_u64(r, 8);
        (void)get_u64(r, 8);
        return;
    case ESC_AGG_EARLIEST:
    case ESC_AGG_LATEST:
        (void)get_u64(r, 1);
        (void)get_u64(r, 8);
        (void)get_str(r);
        return;
    }
}

/* Read past slots [i, a->naggs) of a group. */
static void skip_slots(const esc_agg *a, size_t i, rd *r) {
    for (; i < a->naggs && !r->bad; i++)
        skip_slot(a->fns[i], r);
}

/* A group's keys (into kp) and its record count; 0, r marked bad, when broken (a group holds
 * at least one record). */
static uint64_t group_head(const esc_agg *a, esc_str *kp, rd *r) {
    for (size_t k = 0; k < a->nkeys; k++)
        kp[k] = get_str(r);
    uint64_t count = get_u64(r, 8);
    if (r->bad || count == 0) {
        r->bad = true;
        return 0;
    }
    return count;
}

/* One group of the partial (its keys read into kp) merged into a, or skipped. */
static esc_status merge_group(esc_agg *a, const esc_agg_merge_cb *cb, esc_str *kp, rd *r,
                              esc_error *err) {
    uint64_t count = group_head(a, kp, r);
    if (!count)
        return ESC_OK;
    if (cb && cb->keep && !cb->keep(cb->ctx, kp)) {
        skip_slots(a, 0, r);
        if (cb->each)
            cb->each(cb->ctx, SIZE_MAX);
        return ESC_OK;
    }
    size_t g = SIZE_MAX, i = 0;
    esc_status st = esc_agg_group(a, kp, &g, err);
    if (!st) {
        a->groups[g].count += count - 1; /* esc_agg_group counted one */
        for (; i < a->naggs && !r->bad; i++) {
            size_t at = r->at;
            if ((st = merge_slot(a, g, i, r, err)) != ESC_OK) {
                r->at = at; /* the failed slot is read past whole below */
                break;
            }
        }
    }
    if (st == ESC_ELIMIT && cb && cb->drop && !a->arena.failed) {
        /* a cap, as for a record that no longer fits: the group's records are dropped (a new
         * group is not made; one made before keeps what fitted) and counted */
        bool grouped = g != SIZE_MAX;
        skip_slots(a, grouped ? i : 0, r);
        a->dropped[grouped || a->ngroups < a->max_groups] += count;
        st = ESC_OK;
        if (err)
            esc_error_clear(err);
        if (!grouped) {
            if (cb->each)
                cb->each(cb->ctx, SIZE_MAX);
            return ESC_OK;
        }
    }
    if (!st && cb && cb->each)
        cb->each(cb->ctx, g);
    return st;
}

void esc_agg_dropped(const esc_agg *a, uint64_t *groups, uint64_t *bytes) {
    *groups = a->dropped[0];
    *bytes = a->dropped[1];
}

esc_status esc_agg_merge_each(esc_agg *a, const void *data, size_t len, const esc_agg_merge_cb *cb,
                              esc_error *err) {
    rd r = {data, len, 0, false};
    if (!same_shape(a, &r))
        return esc_error_set(err, ESC_EMALFORMED,
                             "partial aggregate: not one of this search's (header)");
    uint64_t ng = get_u64(&r, 4);
    esc_str keys[64];
    esc_str *kp = a->nkeys <= 64 ? keys : esc_malloc(a->nkeys * sizeof *kp);
    if (!kp)
        return esc_error_set(err, ESC_ENOMEM, "out of memory merging a partial aggregate");
    esc_status st = ESC_OK;
    for (uint64_t j = 0; j < ng && !st && !r.bad; j++)
        st = merge_group(a, cb, kp, &r, err);
    if (kp != keys)
        esc_free(kp);
    if (!st && (r.bad || r.at != r.len))
        st = broken(&r, err);
    return st;
}

/* ---- splitting ---- */

/* The group at r read past: its keys into kp; false when broken. */
static bool skip_group(const esc_agg *a, esc_str *kp, rd *r) {
    if (group_head(a, kp, r))
        skip_slots(a, 0, r);
    return !r->bad;
}

/* Bytes [from, to) of r as one more group of out, which gets the partial's header (hdr bytes:
 * up to its group count) first. */
static esc_status append_group(esc_buf *out, const rd *r, size_t hdr, size_t from, size_t to) {
    esc_status st = ESC_OK;
    if (!out->len && ((st = esc_buf_append(out, r->p, hdr)) || (st = put_u64(out, 0, 4))))
        return st;
    esc_le_put(out->ptr + hdr, esc_le_get(out->ptr + hdr, 4) + 1, 4);
    return esc_buf_append(out, r->p + from, to - from);
}

esc_status esc_agg_split(const esc_agg *a, const void *data, size_t len,
                         size_t (*part)(void *ctx, const esc_str *keys), void *ctx, esc_buf *outs,
                         size_t nparts, size_t *of, size_t cap, size_t *ngroups, esc_error *err) {
    rd r = {data, len, 0, false};
    if (!same_shape(a, &r))
        return esc_error_set(err, ESC_EMALFORMED,
                             "partial aggregate: not one of this search's (header)");
    size_t hdr = r.at;
    uint64_t ng = get_u64(&r, 4);
    if (ng > cap)
        return broken(&r, err);
    for (size_t p = 0; p < nparts; p++)
        esc_buf_clear(&outs[p]);
    esc_str keys[64];
    esc_str *kp = a->nkeys <= 64 ? keys : esc_malloc(a->nkeys * sizeof *kp);
    if (!kp)
        return esc_error_set(err, ESC_ENOMEM, "out of memory splitting a partial aggregate");
    esc_status st = ESC_OK;
    for (uint64_t j = 0; j < ng && !st; j++) {
        size_t from = r.at;
        if (!skip_group(a, kp, &r))
            break;
        size_t p = part(ctx, kp);
        of[j] = p;
        if (p < nparts)
            st = append_group(&outs[p], &r, hdr, from, r.at);
    }
    if (kp != keys)
        esc_free(kp);
    if (st)
        return esc_error_set(err, st, "out of memory splitting a partial aggregate");
    if (r.bad || r.at != r.len)
        return broken(&r, err);
    *ngroups = (size_t)ng;
    return ESC_OK;
}

esc_status esc_agg_merge(esc_agg *a, const void *data, size_t len, esc_error *err) {
    return esc_agg_merge_each(a, data, len, NULL, err);
}
