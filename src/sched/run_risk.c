/* The risk incident rule's own state, kept by the run (docs/run.md, "The 24-hour risk rule").
 *
 * The rule (act.c, esc_act_finish) reads the risk events of earlier runs through the sinks'
 * history(); run's wrapping sink answers it from here, whichever sinks are configured, so the
 * rule spans scheduled runs with or without --db. Every risk event and every threshold notable
 * passing through the wrapping sink is noted; the state is checkpointed as "@risk".
 * What is kept per risk object: its last threshold notable's time L and its risk events after
 * L and within the last 24 hours of its newest one. history() answers a synthetic point at L
 * scoring 101 (which re-fires at L, inside the rule, without an event: it is no event of this
 * run) and the kept points: the rule's "not again within 24 hours of L" and its 24-hour sums
 * come out as over the whole history (for events arriving in time order; late events older
 * than what was pruned are counted without the pruned ones).
 * Invariants: a point is kept once per (event_id, type, object) after a prune; entries up to
 * nrisk_sorted are sorted by object (lookups bisect them), the step's new ones after them are
 * chained by object hash in the order added (lookups follow the chain); the blob
 * is "ESR1" then entries of u8 kind ('P' point, 'F' last fire), i64 time, i32 score, u32 type,
 * object and id lengths, then those bytes. A damaged blob is reported and the rule restarts empty.
 * Not done here: the rule itself (act.c), other sinks' history. */
#include "sched/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/str.h"

#define RISK_DAY 86400
#define RISK_MAGIC "ESR1"
#define RISK_RULE "Risk - 24 Hour Risk Threshold Exceeded - Rule"
#define RISK_FIRE_ID "0000000000000000000000000000000000000000000000000000000000000000"

static void pt_free(risk_pt *p) {
    esc_free(p->type);
    esc_free(p->object);
    esc_free(p->id);
}

/* The step's entries unchained (they are all sorted now, or gone). */
static void tail_reset(esc_runner *r) {
    if (r->risk_nb) {
        memset(r->risk_head, 0, r->risk_nb * sizeof *r->risk_head);
        memset(r->risk_last, 0, r->risk_nb * sizeof *r->risk_last);
    }
}

void esc_run_risk_free(esc_runner *r) {
    for (size_t i = 0; i < r->nrisk; i++)
        pt_free(&r->risk[i]);
    esc_free(r->risk);
    esc_free(r->risk_head);
    esc_free(r->risk_last);
    esc_free(r->risk_next);
    r->risk = NULL;
    r->risk_head = r->risk_last = r->risk_next = NULL;
    r->nrisk = r->caprisk = r->nrisk_sorted = r->risk_nb = 0;
}

static size_t obj_hash(const char *type, const char *object) {
    return (size_t)esc_hash_mix(esc_str_hash(esc_str_c(type)), esc_str_hash(esc_str_c(object)));
}

/* Entry i (of the step's) at the end of its bucket's chain. */
static void tail_link(esc_runner *r, size_t i) {
    size_t b = obj_hash(r->risk[i].type, r->risk[i].object) & (r->risk_nb - 1);
    r->risk_next[i] = 0;
    if (r->risk_last[b])
        r->risk_next[r->risk_last[b] - 1] = (uint32_t)(i + 1);
    else
        r->risk_head[b] = (uint32_t)(i + 1);
    r->risk_last[b] = (uint32_t)(i + 1);
}

/* Buckets for one more of the step's entries (at least as many as entries); false when out of
 * memory. */
static bool tail_room(esc_runner *r) {
    size_t tail = r->nrisk - r->nrisk_sorted + 1, nb = r->risk_nb ? r->risk_nb : 64;
    while (nb < tail)
        nb *= 2;
    if (nb == r->risk_nb)
        return true;
    uint32_t *head = esc_calloc(nb, sizeof *head), *last = esc_calloc(nb, sizeof *last);
    if (!head || !last) {
        esc_free(head);
        esc_free(last);
        return false;
    }
    esc_free(r->risk_head);
    esc_free(r->risk_last);
    r->risk_head = head;
    r->risk_last = last;
    r->risk_nb = nb;
    for (size_t i = r->nrisk_sorted; i < r->nrisk; i++) /* in the order added */
        tail_link(r, i);
    return true;
}

static bool same_obj(const risk_pt *p, const char *type, const char *object) {
    return !strcmp(p->type, type) && !strcmp(p->object, object);
}

static size_t tail_first(const esc_runner *r, const char *type, const char *object);

/* Where the walk over an object's entries starts: its first in the sorted run [0,
 * nrisk_sorted) (prune, restore), else its first of the step's. */
static size_t first_of(const esc_runner *r, const char *type, const char *object) {
    size_t lo = 0, hi = r->nrisk_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->risk[mid].type, type);
        if (!c)
            c = strcmp(r->risk[mid].object, object);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nrisk_sorted && same_obj(&r->risk[lo], type, object)
               ? lo
               : tail_first(r, type, object);
}

/* The first of the step's entries in the object's chain (r->nrisk: none). */
static size_t tail_first(const esc_runner *r, const char *type, const char *object) {
    if (r->nrisk == r->nrisk_sorted)
        return r->nrisk;
    size_t b = obj_hash(type, object) & (r->risk_nb - 1);
    return r->risk_head[b] ? r->risk_head[b] - 1 : r->nrisk;
}

/* The entry after i in the walk over an object's entries: the sorted run, then its chain. */
static size_t after(const esc_runner *r, const char *type, const char *object, size_t i) {
    if (i + 1 < r->nrisk_sorted)
        return i + 1;
    if (i < r->nrisk_sorted)
        return tail_first(r, type, object);
    return r->risk_next[i] ? r->risk_next[i] - 1 : r->nrisk;
}

/* The object's entry at *i or, walking on, the next one; false when there is none. The walk
 * starts at first_of. */
static bool next_of(const esc_runner *r, const char *type, const char *object, size_t *i) {
    while (*i < r->nrisk) {
        if (same_obj(&r->risk[*i], type, object))
            return true;
        *i = *i < r->nrisk_sorted ? tail_first(r, type, object) : after(r, type, object, *i);
    }
    return false;
}

static esc_status add(esc_runner *r, char kind, const char *type, const char *object,
                      const char *id, int64_t time, int score) {
    if (r->nrisk == r->caprisk) {
        size_t cap = r->caprisk ? r->caprisk * 2 : 256;
        risk_pt *n = esc_realloc(r->risk, cap * sizeof *n);
        if (!n)
            return ESC_ENOMEM;
        r->risk = n;
        uint32_t *next = esc_realloc(r->risk_next, cap * sizeof *next);
        if (!next)
            return ESC_ENOMEM;
        r->risk_next = next;
        r->caprisk = cap;
    }
    if (!tail_room(r))
        return ESC_ENOMEM;
    risk_pt *p = &r->risk[r->nrisk];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->time = time;
    p->score = score;
    if (!(p->type = esc_strdup(type)) || !(p->object = esc_strdup(object)) ||
        !(p->id = esc_strdup(id ? id : ""))) {
        pt_free(p);
        return ESC_ENOMEM;
    }
    tail_link(r, r->nrisk++);
    return ESC_OK;
}

esc_status esc_run_risk_note(esc_runner *r, const esc_sink_event *ev, esc_error *err) {
    if (!ev->risk_object || !ev->risk_object_type)
        return ESC_OK;
    bool fire =
        ev->kind == ESC_SINK_NOTABLE && ev->search_name && !strcmp(ev->search_name, RISK_RULE);
    if (ev->kind != ESC_SINK_RISK && !fire)
        return ESC_OK;
    /* a risk event noted twice (a step redone after a crash) is kept once by prune(); the
     * rule counts one event_id once anyway */
    const char *t = ev->risk_object_type, *o = ev->risk_object;
    for (size_t i = first_of(r, t, o); fire && next_of(r, t, o, &i); i = after(r, t, o, i)) {
        risk_pt *p = &r->risk[i];
        if (p->kind == 'F') {
            if (ev->time > p->time)
                p->time = ev->time;
            r->risk_dirty = true;
            return ESC_OK;
        }
    }
    r->risk_dirty = true;
    if (add(r, fire ? 'F' : 'P', ev->risk_object_type, ev->risk_object, fire ? NULL : ev->event_id,
            ev->time, ev->risk_score))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    return ESC_OK;
}

esc_status esc_run_risk_history(esc_runner *r, const char *type, const char *object,
                                esc_risk_history *out, esc_error *err) {
    memset(out, 0, sizeof *out);
    int64_t last = INT64_MIN;
    size_t n = 0, bytes = 0;
    for (size_t i = first_of(r, type, object); next_of(r, type, object, &i);
         i = after(r, type, object, i))
        if (r->risk[i].kind == 'F')
            last = r->risk[i].time;
    size_t tl = strlen(type) + 1, ol = strlen(object) + 1;
    for (size_t i = first_of(r, type, object); next_of(r, type, object, &i);
         i = after(r, type, object, i)) {
        const risk_pt *p = &r->risk[i];
        if (p->kind == 'P' && p->time > last) {
            n++;
            bytes += strlen(p->id) + 1;
        }
    }
    if (last != INT64_MIN) {
        n++;
        bytes += sizeof RISK_FIRE_ID;
    }
    if (n == 0)
        return ESC_OK;
    out->pts = esc_malloc(n * sizeof *out->pts);
    out->strings = esc_malloc(bytes + tl + ol);
    if (!out->pts || !out->strings) {
        esc_risk_history_fini(out);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    char *s = out->strings;
    memcpy(s, type, tl);
    memcpy(s + tl, object, ol);
    const char *ts = s, *os = s + tl;
    s += tl + ol;
    if (last != INT64_MIN) {
        memcpy(s, RISK_FIRE_ID, sizeof RISK_FIRE_ID);
        out->pts[out->n++] = (esc_risk_point){s, os, ts, last, 101};
        s += sizeof RISK_FIRE_ID;
    }
    for (size_t i = first_of(r, type, object); next_of(r, type, object, &i);
         i = after(r, type, object, i)) {
        const risk_pt *p = &r->risk[i];
        if (p->kind != 'P' || p->time <= last)
            continue;
        size_t il = strlen(p->id) + 1;
        memcpy(s, p->id, il);
        out->pts[out->n++] = (esc_risk_point){s, os, ts, p->time, p->score};
        s += il;
    }
    return ESC_OK;
}

static int cmp_obj(const void *x, const void *y) {
    const risk_pt *a = x, *b = y;
    int c = strcmp(a->type, b->type);
    if (!c)
        c = strcmp(a->object, b->object);
    if (!c && a->kind != b->kind)
        c = a->kind == 'F' ? -1 : 1;
    if (!c && a->time != b->time)
        c = a->time < b->time ? -1 : 1;
    if (!c)
        c = strcmp(a->id, b->id);
    return c;
}

/* Drop what can no longer change the rule: per object, points at or before its last fire L or
 * 24 hours before its newest point; objects whose newest point (and L) are 48 hours older than
 * the newest point of all. */
static void prune(esc_runner *r) {
    r->nrisk_sorted = 0;
    tail_reset(r);
    if (!r->nrisk)
        return;
    qsort(r->risk, r->nrisk, sizeof *r->risk, cmp_obj);
    int64_t maxt = INT64_MIN;
    for (size_t i = 0; i < r->nrisk; i++)
        if (r->risk[i].time > maxt)
            maxt = r->risk[i].time;
    size_t m = 0;
    for (size_t g = 0; g < r->nrisk;) {
        size_t e = g;
        int64_t last = INT64_MIN, newest = INT64_MIN;
        while (e < r->nrisk && same_obj(&r->risk[e], r->risk[g].type, r->risk[g].object)) {
            if (r->risk[e].kind == 'F')
                last = r->risk[e].time;
            else if (r->risk[e].time > newest)
                newest = r->risk[e].time;
            e++;
        }
        size_t g_out = m;
        for (size_t i = g; i < e; i++) {
            risk_pt *p = &r->risk[i];
            bool keep = p->kind == 'F' ? p->time > maxt - 2 * RISK_DAY
                                       : p->time > last && p->time > newest - RISK_DAY &&
                                             newest > maxt - 2 * RISK_DAY;
            if (keep && m > g_out && !cmp_obj(&r->risk[m - 1], p))
                keep = false; /* the same event noted twice */
            if (keep)
                r->risk[m++] = *p;
            else
                pt_free(p);
        }
        g = e;
    }
    r->nrisk = r->nrisk_sorted = m;
    tail_reset(r);
}

static esc_status put_u32(esc_buf *b, size_t v) {
    uint32_t u = (uint32_t)v;
    return esc_buf_append(b, &u, sizeof u);
}

esc_status esc_run_risk_save(esc_runner *r, esc_buf *b) {
    prune(r);
    esc_status st = esc_buf_append(b, RISK_MAGIC, 4);
    for (size_t i = 0; !st && i < r->nrisk; i++) {
        const risk_pt *p = &r->risk[i];
        int32_t score = p->score;
        size_t tl = strlen(p->type), ol = strlen(p->object), il = strlen(p->id);
        if ((st = esc_buf_putc(b, p->kind)) || (st = esc_buf_append(b, &p->time, 8)) ||
            (st = esc_buf_append(b, &score, 4)) || (st = put_u32(b, tl)) || (st = put_u32(b, ol)) ||
            (st = put_u32(b, il)) || (st = esc_buf_append(b, p->type, tl)) ||
            (st = esc_buf_append(b, p->object, ol)))
            break;
        st = esc_buf_append(b, p->id, il);
    }
    return st;
}

static char *take(const unsigned char *p, size_t n) {
    char *s = esc_malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* The "@risk" blob back; false when it is damaged (what was read is dropped). */
bool esc_run_risk_restore(esc_runner *r, const void *blob, size_t len) {
    const unsigned char *p = blob, *end = p + len;
    if (len < 4 || memcmp(p, RISK_MAGIC, 4))
        return false;
    p += 4;
    while (p < end) {
        risk_pt e = {0};
        uint32_t l[3];
        int32_t score;
        if ((size_t)(end - p) < 1 + 8 + 4 + 12)
            goto bad;
        e.kind = (char)*p++;
        memcpy(&e.time, p, 8);
        memcpy(&score, p + 8, 4);
        memcpy(l, p + 12, 12);
        p += 24;
        e.score = score;
        if ((e.kind != 'P' && e.kind != 'F') || (uint64_t)l[0] + l[1] + l[2] > (size_t)(end - p))
            goto bad;
        e.type = take(p, l[0]);
        e.object = take(p + l[0], l[1]);
        e.id = take(p + l[0] + l[1], l[2]);
        p += (size_t)l[0] + l[1] + l[2];
        if (!e.type || !e.object || !e.id ||
            add(r, e.kind, e.type, e.object, e.kind == 'P' ? e.id : NULL, e.time, e.score)) {
            pt_free(&e);
            goto bad;
        }
        pt_free(&e);
    }
    prune(r);
    return true;
bad:
    esc_run_risk_free(r);
    return false;
}
