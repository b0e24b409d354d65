/* tstats, the pipeline's source: `| tstats AGG(FIELD) ... from datamodel=DM [where SEARCH]
 * [by FIELD, ... [span=N]]` over CIM records, DM any data model docs/cim.md lists.
 *
 * Invariants: fields resolve to CIM field ids (or _time) at plan time, and the plan's field
 * mask gets every one read; a record feeds the groups keyed by its BY values (a missing value
 * drops the record unless fillnull_value is given; so does group pruning when it knows each of
 * those groups can give no row, prune.c); BY _time is bucketed to the span in epoch
 * seconds; the groups become the first table in BY order (spl_agg_table). Its window and where
 * checks are exec.c's (esc_exec_feed) and plan.c's (the record predicate). Deliberately not
 * done: prestats/append, summariesonly semantics (every record counts as summarised).
 * Endpoint.Processes records have fixed fields (cim/cim.c); the other data models' records carry
 * a field set (FIELD_NAMED, cim/dm.c); a BY field with several values puts the record in one
 * group per value (as stats does). */
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"
#include "core/timeutil.h"
#include "spl/cmd.h"

static bool parse_tstats(spl_parser *P, stage *st) {
    if (!spl_parse_aggs(P, st, true))
        return false;
    if (!spl_accept_kw(P, "from", true)) {
        spl_fail(P, st->start, "tstats needs 'from datamodel=NAME'");
        return false;
    }
    spl_skip_ws(P);
    size_t at = P->pos;
    size_t wl = spl_bare(P, "=");
    if (!(wl == 9 && strncmp(P->s + at, "datamodel", 9) == 0) || spl_peek(P) != '=') {
        spl_fail(P, at, "expected datamodel=NAME after 'from'");
        return false;
    }
    P->pos++;
    size_t dl, ds;
    const char *dm = spl_word(P, "", &dl, &ds);
    if (!dm) {
        if (!P->failed)
            spl_fail(P, at, "expected datamodel=NAME after 'from'");
        return false;
    }
    int set = esc_dm_lookup(esc_str_c(dm));
    if (set < 0) {
        spl_fail(P, ds, "unsupported data model '%s'", dm);
        return false;
    }
    P->p->ds = set;
    st->ds = set;
    if (spl_accept_kw(P, "where", true)) {
        st->where = spl_parse_search(P, true);
        if (!st->where)
            return false;
    }
    if (spl_accept_kw(P, "by", true) || spl_accept_kw(P, "groupby", true)) {
        if (!spl_parse_by(P, st))
            return false;
    }
    return spl_expect_end(P, "tstats");
}

static void resolve_snode_cim(snode *n, int ds, uint32_t *fields) {
    if (!n)
        return;
    if (n->kind == SN_CMP) {
        n->ref = spl_ds_lookup(ds, n->field, &n->fname);
        if (n->ref >= 0)
            *fields |= 1u << n->ref;
    }
    resolve_snode_cim(n->l, ds, fields);
    resolve_snode_cim(n->r, ds, fields);
}

static esc_status plan_tstats(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    (void)in; /* the source reads records, not rows */
    if (!spl_schema_alloc(p, &st->out, st->nby + st->naggs))
        return spl_plan_oom(err);
    resolve_snode_cim(st->where, p->ds, &p->fields);
    for (size_t i = 0; i < st->nby; i++) {
        byspec *b = &st->by[i];
        b->ref = spl_ds_lookup(p->ds, b->field, &b->fname);
        if (b->ref >= 0)
            p->fields |= 1u << b->ref;
        st->out.name[i] = b->field;
        st->out.mv[i] = false;
        st->out.origin[i] = b->ref >= 0 ? b->ref : b->ref == FIELD_NAMED ? SPL_ORIGIN_BY(i) : -1;
    }
    for (size_t i = 0; i < st->naggs; i++) {
        aggspec *a = &st->aggs[i];
        if (a->field) {
            a->ref = spl_ds_lookup(p->ds, a->field, &a->fname);
            if (a->ref >= 0)
                p->fields |= 1u << a->ref;
        }
        size_t c = st->nby + i;
        st->out.name[c] = a->as;
        st->out.mv[c] = a->fn == AGG_VALUES || a->fn == AGG_LIST;
        st->out.origin[c] = -1;
    }
    for (size_t i = 0; i < st->out.n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->out.name[i], st->out.name[j]) == 0)
                return esc_error_at(err, ESC_ECONTENT, NULL,
                                    i < st->nby ? st->by[i].start : st->aggs[i - st->nby].start,
                                    "column '%s' is produced twice", st->out.name[i]);
    return ESC_OK;
}

/* Seconds as text with the sub-second part kept (trailing zeros dropped). */
size_t spl_time_text(int64_t us, char *buf, size_t cap) {
    bool neg = us < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    uint64_t sec = u / 1000000, frac = u % 1000000;
    int n;
    if (cap >= 30) { /* the printf forms below, without printf (at most 29 bytes and NUL) */
        size_t k = neg ? 1 : 0;
        buf[0] = '-';
        k += esc_fmt_u64(buf + k, sec, 0);
        if (frac) {
            buf[k++] = '.';
            k += esc_fmt_u64(buf + k, frac, 6);
            while (buf[k - 1] == '0')
                k--;
        }
        buf[k] = 0;
        return k;
    }
    if (!frac) {
        n = snprintf(buf, cap, "%s%llu", neg ? "-" : "", (unsigned long long)sec);
    } else {
        n = snprintf(buf, cap, "%s%llu.%06llu", neg ? "-" : "", (unsigned long long)sec,
                     (unsigned long long)frac);
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = 0;
    }
    return (size_t)n;
}

/* The BY values of r: field k's values are pool[at[k] .. at[k]+cnt[k]). A multivalue field gives
 * every value (Search Reference "stats": the BY clause returns one row for each distinct value
 * of the BY fields, and dedup_splitvals, default false, would remove duplicate values of a
 * multivalued BY field: each value is its own group). False when a value is missing and there
 * is no fillnull_value (the record is dropped). */
static bool by_values(const stage *st, const esc_record *r, esc_str *pool, uint64_t *poolh,
                      size_t cap, size_t *at, size_t *cnt, char *bucket, size_t bcap) {
    size_t used = 0;
    for (size_t i = 0; i < st->nby; i++) {
        int ref = st->by[i].ref;
        at[i] = used;
        cnt[i] = 0;
        if (ref == FIELD_NAMED || ref == FIELD_RAW) {
            size_t nv = spl_rec_values(r, ref, st->by[i].fname, pool + used, cap - used, NULL, 0);
            cnt[i] = nv < cap - used ? nv : cap - used;
        } else if (ref == FIELD_TIME) {
            /* time bucket: floor to the span, in epoch seconds */
            int64_t span = st->span_us ? st->span_us : ESC_US_PER_SEC;
            int64_t q = r->time_us / span - (r->time_us % span < 0);
            size_t n = bcap >= 21 ? esc_fmt_i64(bucket, q * (span / ESC_US_PER_SEC)) : 0;
            pool[used] = esc_str_make(bucket, n);
            cnt[i] = 1;
        } else if (ref >= 0 && r->v[ref].ptr) {
            pool[used] = r->v[ref];
            poolh[used] = r->vh ? r->vh[ref] : esc_str_hash(pool[used]);
            used++;
            cnt[i] = 1;
            continue;
        }
        if (!cnt[i]) {
            if (!st->fill)
                return false;
            pool[used] = esc_str_c(st->fillnull);
            cnt[i] = 1;
        }
        for (size_t k = used; k < used + cnt[i]; k++)
            poolh[k] = esc_str_hash(pool[k]);
        used += cnt[i];
    }
    return true;
}

static esc_status tstats_add(const stage *st, esc_agg *agg, const esc_record *r, size_t g,
                             esc_error *err);

/* The keys of BY value combination idx (one value of each BY field), and their hashes when kh
 * is not NULL. */
static void combo_keys(size_t nby, const esc_str *pool, const uint64_t *poolh, const size_t *at,
                       const size_t *idx, esc_str *keys, uint64_t *kh) {
    for (size_t i = 0; i < nby; i++) {
        keys[i] = pool[at[i] + idx[i]];
        if (kh)
            kh[i] = poolh[at[i] + idx[i]];
    }
}

/* Step idx to the next combination of cnt[i] values each; false past the last. */
static bool next_combo(size_t *idx, const size_t *cnt, size_t nby) {
    size_t k = nby;
    while (k > 0 && ++idx[k - 1] == cnt[k - 1])
        idx[--k] = 0;
    return k > 0;
}

/* Whether every group of the BY values (as spl_tstats_feed walks them) is known dead. */
static bool all_dead(const stage *st, spl_prune_memo *m, const esc_str *pool, const size_t *at,
                     const size_t *cnt) {
    esc_str keys[ESC_SPL_MAX_ITEMS];
    size_t idx[ESC_SPL_MAX_ITEMS];
    memset(idx, 0, st->nby * sizeof *idx);
    do {
        combo_keys(st->nby, pool, NULL, at, idx, keys, NULL);
        if (spl_prune_memo_get(m, spl_prune_memo_hash(m, keys), keys) != 1)
            return false;
    } while (next_combo(idx, cnt, st->nby));
    return true;
}

/* Every combination of the BY values (one per multivalue value, ESC_SPL_MAX_SPLITS at most)
 * is a group the record feeds. */
esc_status spl_tstats_feed(const stage *st, esc_agg *agg, const esc_record *r, spl_prune_memo *dead,
                           esc_error *err) {
    esc_str pool[ESC_SPL_MAX_BYVALS], keys[ESC_SPL_MAX_ITEMS];
    uint64_t poolh[ESC_SPL_MAX_BYVALS], kh[ESC_SPL_MAX_ITEMS];
    size_t at[ESC_SPL_MAX_ITEMS], cnt[ESC_SPL_MAX_ITEMS], idx[ESC_SPL_MAX_ITEMS];
    char bucket[32];
    if (!by_values(st, r, pool, poolh, ESC_SPL_MAX_BYVALS, at, cnt, bucket, sizeof bucket))
        return ESC_OK;
    size_t combos = 1;
    for (size_t i = 0; i < st->nby; i++)
        if ((combos *= cnt[i]) > ESC_SPL_MAX_SPLITS)
            return esc_error_set(err, ESC_ELIMIT,
                                 "tstats: the multivalue BY fields of one record make more than "
                                 "%d groups",
                                 ESC_SPL_MAX_SPLITS);
    if (dead && all_dead(st, dead, pool, at, cnt))
        return ESC_OK;
    /* one value of each BY field (the common case): the pool is the keys */
    const esc_str *k = pool;
    const uint64_t *h = poolh;
    if (combos > 1) {
        memset(idx, 0, st->nby * sizeof *idx);
        k = keys;
        h = kh;
    }
    do {
        if (combos > 1)
            combo_keys(st->nby, pool, poolh, at, idx, keys, kh);
        size_t g;
        esc_status rc =
            esc_agg_group_hashed(agg, k, esc_agg_hash_of(h, st->nby, UINT64_MAX), &g, err);
        if (rc == ESC_OK)
            rc = tstats_add(st, agg, r, g, err);
        if (rc != ESC_OK)
            return rc;
    } while (combos > 1 && next_combo(idx, cnt, st->nby));
    return ESC_OK;
}

/* The _time text of a record: made once for every detection the record feeds (its min and max
 * aggregates take it), the last one remembered by each thread. */
static esc_str time_text(int64_t us) {
    static _Thread_local struct {
        bool set;
        int64_t us;
        size_t n;
        char t[48];
    } last;
    if (!last.set || last.us != us) {
        last.n = spl_time_text(us, last.t, sizeof last.t);
        last.us = us;
        last.set = true;
    }
    return esc_str_make(last.t, last.n);
}

static esc_status tstats_add(const stage *st, esc_agg *agg, const esc_record *r, size_t g,
                             esc_error *err) {
    esc_status rc = ESC_OK;
    for (size_t i = 0; i < st->naggs; i++) {
        const aggspec *a = &st->aggs[i];
        if (a->fn == AGG_COUNT)
            continue;
        esc_agg_in in = {ESC_STR_NULL, false, 0};
        if (a->ref == FIELD_TIME) {
            in.s = time_text(r->time_us);
            in.is_num = true;
            in.num = (double)r->time_us / 1e6;
        } else if (a->ref >= 0) {
            in.s = r->v[a->ref];
            if (in.s.ptr)
                in.is_num = spl_parse_num(in.s.ptr, in.s.len, &in.num);
        } else if (a->ref == FIELD_NAMED || a->ref == FIELD_RAW) {
            esc_str vals[16];
            size_t nv = spl_rec_values(r, a->ref, a->fname, vals, 16, NULL, 0);
            for (size_t k = 0; k < nv && k < 16; k++) {
                esc_agg_in mv = {vals[k], false, 0};
                mv.is_num = spl_parse_num(vals[k].ptr, vals[k].len, &mv.num);
                if ((rc = esc_agg_add(agg, g, i, &mv, 1, r->time_us, err)) != ESC_OK)
                    return rc;
            }
            continue;
        }
        if (!in.s.ptr)
            continue;
        if ((rc = esc_agg_add(agg, g, i, &in, 1, r->time_us, err)) != ESC_OK)
            return rc;
    }
    return ESC_OK;
}

static void explain_tstats(const stage *st, esc_buf *out) {
    char dn[64];
    esc_buf_printf(out, " from %s", esc_dm_name(st->ds, dn, sizeof dn));
    if (st->fill)
        esc_buf_printf(out, " fillnull_value=\"%s\"", st->fillnull);
    esc_buf_append_c(out, "\n  where: ");
    spl_explain_snode(st->where, out);
    esc_buf_append_c(out, "\n  aggregates:");
    for (size_t k = 0; k < st->naggs; k++) {
        if (st->aggs[k].field)
            esc_buf_printf(out, " %s(%s)->%s", spl_agg_name(st->aggs[k].fn), st->aggs[k].field,
                           st->aggs[k].as);
        else
            esc_buf_printf(out, " %s->%s", spl_agg_name(st->aggs[k].fn), st->aggs[k].as);
    }
    esc_buf_append_c(out, "\n  by:");
    for (size_t k = 0; k < st->nby; k++)
        esc_buf_printf(out, " %s", st->by[k].field);
}

const spl_cmd spl_cmd_tstats = {
    .name = "tstats",
    .flags = SPL_CMD_SOURCE,
    .parse = parse_tstats,
    .plan = plan_tstats,
    .explain = explain_tstats,
};
