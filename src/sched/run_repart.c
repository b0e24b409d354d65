/* Two stages over Kafka (docs/scale.md "Two stages"): a detection that groups across hosts runs
 * its first stage per partition and its partial aggregates travel, through a repartition topic,
 * to the one worker that merges every partition's partial of a window and fires it.
 *
 * Producing: a partition window of a two-stage detection does not fire notables; its partial
 * (esc_exec_partial) is stashed, and when the partition's fire horizon moves past runs (every
 * run of the partition up to it has fired, run_kafka.c), one message per two-stage detection
 * and run goes to the repartition topic: "ESR1" u32 n, the detection id, i64 run time, i32 input
 * partition, u32 input partitions, then the partial (nothing: no record). Each (detection, run)
 * has one merging partition, FNV-1a of the id and run time modulo the topic's partitions, so a
 * window's rows are computed by one worker over every group (the rest of a search may be a
 * second stats, a sort, ...). A partition's messages go out in run order.
 * Merging: a second consumer, in group GROUP-repartition, reads the repartition topic. Per
 * (detection, run) it merges each input partition's message once (a repeated one, published
 * again after a crash or a rebalance, is dropped) and fires the window (esc_run_fire_merged)
 * once it holds one from every input partition.
 * Invariants:
 * - Published messages are delivered (flushed) before the checkpoint that records their
 *   partition's fire horizon, so a horizon committed anywhere was published; a crash before it
 *   publishes the runs again.
 * - Per merging partition and detection, windows complete in run order: every input partition
 *   sends its runs in order, so when run T is complete there, every earlier run's messages came
 *   before. The merger keeps per (partition, detection) the last run fired ("done"); a message of
 *   a run at or before it is a repeat and dropped; an open merge of an earlier run when a later
 *   one completes cannot complete any more (a remnant of one fired before a replay, or a run some
 *   partition never sent) and is dropped with a message.
 * - The merger's state is rebuilt by replay: it commits, after each checkpoint (the fired
 *   windows' notables are in the sinks by then), the lowest offset of a message of an open merge
 *   (or its position) with "escrep1 HASH:DONE ..." metadata. A crash between firing and that
 *   commit fires the window again from the same messages: the same notables, the same ids.
 * Not done here: transactions (the messages are idempotent produce, outside --kafka-output's
 * transaction), splitting one window's groups over several workers, evidence (merged rows carry
 * none: spl/exec.c). */
#include "sched/run_internal.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/timeutil.h"

#define MAGIC "ESR1"
#define META_TAG "escrep1"
#define META_MAX 3800         /* bytes of commit metadata (brokers keep 4096 by default) */
#define SYNC_MS 10000         /* metadata, committed offsets, flushes */
#define COMMITTED_TRIES 6     /* committed-offset fetches before giving up */
#define PASS_MESSAGES 5000    /* messages per pass */
#define WAIT_MS 20            /* a pass's first poll when merges wait */
#define DONE_WAIT_US 30000000 /* --once-until: how long open merges are waited for, idle */

typedef struct stash {
    size_t det, slot;
    int64_t sched;
    esc_buf part;
} stash;

typedef struct mpart {
    int32_t q;
    bool owned, eof, dirty;
    int64_t pos;   /* next offset to read, -1 unknown */
    int64_t *done; /* per detection: the last run merged and fired here, INT64_MIN none */
} mpart;

typedef struct merge {
    size_t det;
    int64_t sched, first; /* first: offset of its first message */
    int32_t q;
    uint32_t nsrc, seen;
    unsigned char *bits; /* input partitions merged */
    esc_exec *x;
    esc_window w;
} merge;

struct run_repart {
    rd_kafka_t *prod, *cons;
    char *topic;
    uint32_t nin, nq; /* partitions of the input and of the repartition topic */
    stash *st;
    size_t nst;
    mpart *p;
    size_t np;
    merge **m;
    size_t nm;
    bool settled;
    bool linger;     /* the run waits only for merges: the next pass's first poll waits */
    int64_t last_us; /* monotonic time of the merger's last progress */
    esc_buf msg;
    rd_kafka_resp_err_t dr_err; /* a delivery failed since the last flush */
    esc_status failed;
    char why[ESC_ERROR_MSG_MAX];
    uint64_t repeats, remnants;
};

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t fnv(const char *s, int64_t t) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    for (int i = 0; i < 8; i++)
        h = (h ^ (unsigned char)((uint64_t)t >> (8 * i))) * 1099511628211u;
    return h;
}

static uint32_t det_hash(const char *id) {
    return (uint32_t)fnv(id, 0);
}

typedef struct iso_time {
    char s[32];
} iso_time;

static iso_time iso(int64_t t) {
    iso_time o = {{0}};
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(o.s, sizeof o.s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return o;
}

/* ---- producing --------------------------------------------------------------------------- */

esc_status esc_run_repart_stash(esc_runner *r, const win_state *w, esc_error *err) {
    run_repart *k = r->repart;
    if (!k || !w->kslot1 || !w->x)
        return ESC_OK; /* the run's own window: no record reaches it in Kafka mode */
    stash *n = esc_realloc(k->st, (k->nst + 1) * sizeof *n);
    if (!n)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    k->st = n;
    stash *s = &k->st[k->nst];
    *s = (stash){w->det, w->kslot1 - 1, w->sched, {0}};
    size_t cap = r->o.kafka->repart_max ? r->o.kafka->repart_max : ESC_RUN_REPART_MAX_MESSAGE;
    esc_buf_init(&s->part, cap);
    esc_status st = esc_exec_partial(w->x, &s->part, err);
    char key[ESC_CKPT_MAX_KEY];
    esc_run_kafka_win_key(r, w, key, sizeof key); /* "ID@kafka:TOPIC/P" */
    if (st == ESC_ELIMIT || (!st && s->part.len + 64 + strlen(r->det[w->det].d->id) > cap))
        st = esc_error_set(err, ESC_ELIMIT,
                           "two stages: %s: the partial aggregates of the window at %s are more "
                           "than %zu bytes (--repartition-max-message)",
                           key, iso(w->sched).s, cap);
    if (st) {
        esc_buf_fini(&s->part);
        return st;
    }
    k->nst++;
    return ESC_OK;
}

static const esc_buf *stashed(run_repart *k, size_t det, int64_t sched, size_t slot) {
    for (size_t i = 0; i < k->nst; i++)
        if (k->st[i].det == det && k->st[i].sched == sched && k->st[i].slot == slot)
            return &k->st[i].part;
    return NULL;
}

static void put_u32(esc_buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    esc_buf_append(b, x, 4);
}

static void put_i64(esc_buf *b, int64_t v) {
    put_u32(b, (uint32_t)(uint64_t)v);
    put_u32(b, (uint32_t)((uint64_t)v >> 32));
}

static esc_status produce(esc_runner *r, const char *id, int64_t sched, int32_t part,
                          const esc_buf *partial, esc_error *err) {
    run_repart *k = r->repart;
    esc_buf *b = &k->msg;
    esc_buf_clear(b);
    esc_buf_append(b, MAGIC, 4);
    put_u32(b, (uint32_t)strlen(id));
    esc_buf_append(b, id, strlen(id));
    put_i64(b, sched);
    put_u32(b, (uint32_t)part);
    put_u32(b, k->nin);
    if (partial && partial->len)
        esc_buf_append(b, partial->ptr, partial->len);
    if (b->len < 24 + strlen(id) + (partial ? partial->len : 0))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    char key[ESC_CKPT_MAX_KEY + 32];
    int kl = snprintf(key, sizeof key, "%s@%lld", id, (long long)sched);
    int32_t q = (int32_t)(fnv(id, sched) % k->nq);
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(k->prod, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_PARTITION(q),
                              RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(b->ptr, b->len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(k->prod, 50);
            continue;
        }
        if (e)
            return esc_error_set(err, ESC_EIO, "two stages: producing to %s: %s", k->topic,
                                 rd_kafka_err2str(e));
        return ESC_OK;
    }
}

esc_status esc_run_repart_publish(esc_runner *r, size_t slot, int32_t part, int64_t from,
                                  int64_t to, esc_error *err) {
    run_repart *k = r->repart;
    if (part < 0 || (uint32_t)part >= k->nin)
        return esc_error_set(err, ESC_EIO,
                             "two stages: partition %" PRId32 " of %s: the topic "
                             "had %u partitions at the start (restart the workers)",
                             part, r->o.kafka->topic, k->nin);
    esc_status st = ESC_OK;
    for (size_t j = 0; !st && j < r->ndet; j++) {
        det_state *d = &r->det[j];
        if (!d->two_stage)
            continue;
        int64_t t = esc_schedule_next(&d->sched, from > d->enabled_at ? from : d->enabled_at);
        for (; !st && t != ESC_CRON_NEVER && t <= to; t = esc_schedule_next(&d->sched, t))
            st = produce(r, d->d->id, t, part, stashed(k, j, t, slot), err);
    }
    rd_kafka_poll(k->prod, 0);
    return st;
}

static void stash_clear(run_repart *k) {
    for (size_t i = 0; i < k->nst; i++)
        esc_buf_fini(&k->st[i].part);
    k->nst = 0;
}

esc_status esc_run_repart_flush(esc_runner *r, esc_error *err) {
    run_repart *k = r->repart;
    stash_clear(k); /* published by now; a window of a partition revoked meanwhile is replayed
                       by its next owner */
    if (!k->prod)
        return ESC_OK;
    rd_kafka_resp_err_t e = rd_kafka_flush(k->prod, SYNC_MS * 3);
    if (!e && k->dr_err)
        e = k->dr_err;
    k->dr_err = 0;
    if (e)
        return esc_error_set(err, ESC_EIO,
                             "two stages: delivering partial aggregates to %s: %s (the run "
                             "stops; a restart publishes them again)",
                             k->topic, rd_kafka_err2str(e));
    return ESC_OK;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    esc_runner *r = opaque;
    if (m->err && r->repart && !r->repart->dr_err)
        r->repart->dr_err = m->err;
}

/* ---- merging ----------------------------------------------------------------------------- */

static mpart *mslot(esc_runner *r, int32_t q, bool add) {
    run_repart *k = r->repart;
    for (size_t i = 0; i < k->np; i++)
        if (k->p[i].q == q)
            return &k->p[i];
    if (!add || k->np >= ESC_RUN_KAFKA_MAX_PARTITIONS)
        return NULL;
    mpart *n = esc_realloc(k->p, (k->np + 1) * sizeof *n);
    if (!n)
        return NULL;
    k->p = n;
    int64_t *done = esc_malloc((r->ndet ? r->ndet : 1) * sizeof *done);
    if (!done)
        return NULL;
    for (size_t j = 0; j < r->ndet; j++)
        done[j] = INT64_MIN;
    k->p[k->np] = (mpart){q, false, false, false, -1, done};
    return &k->p[k->np++];
}

static void merge_free(merge *m) {
    if (!m)
        return;
    esc_exec_free(m->x);
    esc_free(m->bits);
    esc_free(m);
}

static void merge_drop(run_repart *k, size_t i) {
    merge_free(k->m[i]);
    k->m[i] = k->m[--k->nm];
}

/* The merges of a partition (all of them: q < 0) dropped: replaying rebuilds them. */
static void merges_drop(run_repart *k, int32_t q) {
    for (size_t i = k->nm; i-- > 0;)
        if (q < 0 || k->m[i]->q == q)
            merge_drop(k, i);
}

static merge *merge_get(esc_runner *r, size_t det, int64_t sched, int32_t q, int64_t off,
                        uint32_t nsrc, esc_error *err) {
    run_repart *k = r->repart;
    for (size_t i = 0; i < k->nm; i++)
        if (k->m[i]->det == det && k->m[i]->sched == sched && k->m[i]->q == q)
            return k->m[i];
    if (k->nm >= ESC_RUN_REPART_MAX_MERGES) {
        esc_error_set(err, ESC_ELIMIT, "two stages: more than %d windows merging at once",
                      ESC_RUN_REPART_MAX_MERGES);
        return NULL;
    }
    merge **nv = esc_realloc(k->m, (k->nm + 1) * sizeof *nv);
    merge *m = esc_calloc(1, sizeof *m);
    if (nv)
        k->m = nv;
    if (!nv || !m || !(m->bits = esc_calloc((nsrc + 7) / 8 + 1, 1))) {
        merge_free(m);
        esc_error_set(err, ESC_ENOMEM, "out of memory");
        return NULL;
    }
    *m = (merge){det, sched, off, q, nsrc, 0, m->bits, NULL, {0, 0}};
    const det_state *d = &r->det[det];
    if (esc_schedule_window(&d->sched, sched, &m->w, err) ||
        !(m->x = esc_exec_new(d->plan, m->w.earliest * ESC_US_PER_SEC, m->w.latest * ESC_US_PER_SEC,
                              err))) {
        merge_free(m);
        if (!err->code)
            esc_error_set(err, ESC_ENOMEM, "out of memory");
        return NULL;
    }
    k->m[k->nm++] = m;
    return m;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A complete merge fired; earlier open merges of its detection there can no longer complete. */
static esc_status complete(esc_runner *r, mpart *s, merge *m, esc_error *err) {
    run_repart *k = r->repart;
    size_t det = m->det;
    int64_t sched = m->sched;
    esc_window w = m->w;
    esc_exec *x = m->x;
    m->x = NULL;
    for (size_t i = 0; i < k->nm; i++)
        if (k->m[i] == m) {
            merge_drop(k, i);
            break;
        }
    esc_status st = esc_run_fire_merged(r, det, sched, &w, x, err);
    if (st)
        return st;
    s->done[det] = sched;
    s->dirty = true;
    for (size_t i = k->nm; i-- > 0;) {
        merge *o = k->m[i];
        if (o->det != det || o->q != s->q || o->sched > sched)
            continue;
        esc_run_msg(r,
                    "two stages: %s: the window at %s, merged from %u of %u partitions when a "
                    "later one was complete, is dropped (a repeat, or partitions that did not "
                    "run it)",
                    r->det[det].d->id, iso(o->sched).s, o->seen, o->nsrc);
        k->remnants++;
        merge_drop(k, i);
    }
    return ESC_OK;
}

static esc_status on_partial(esc_runner *r, mpart *s, int64_t off, const unsigned char *p, size_t n,
                             esc_error *err) {
    run_repart *k = r->repart;
    uint32_t idl = n >= 8 ? get_u32(p + 4) : 0;
    if (n < 8 || memcmp(p, MAGIC, 4) || idl > n - 8 || n - 8 - idl < 16 ||
        idl >= ESC_CKPT_MAX_KEY) {
        esc_run_msg(r, "%s/%" PRId32 " offset %" PRId64 ": not a partial aggregate: skipped",
                    k->topic, s->q, off);
        return ESC_OK;
    }
    char id[ESC_CKPT_MAX_KEY];
    memcpy(id, p + 8, idl);
    id[idl] = 0;
    const unsigned char *h = p + 8 + idl;
    int64_t sched = (int64_t)((uint64_t)get_u32(h) | (uint64_t)get_u32(h + 4) << 32);
    uint32_t src = get_u32(h + 8), nsrc = get_u32(h + 12);
    size_t det = r->ndet;
    for (size_t j = 0; j < r->ndet && det == r->ndet; j++)
        if (r->det[j].two_stage && !strcmp(r->det[j].d->id, id))
            det = j;
    if (det == r->ndet || nsrc == 0 || nsrc > ESC_RUN_KAFKA_MAX_PARTITIONS || src >= nsrc) {
        esc_run_msg(r, "%s/%" PRId32 " offset %" PRId64 ": a partial of %s%s: skipped", k->topic,
                    s->q, off, id,
                    det == r->ndet ? ", not run in two stages here" : " with a bad partition");
        return ESC_OK;
    }
    if (sched <= s->done[det]) {
        k->repeats++;
        return ESC_OK;
    }
    merge *m = merge_get(r, det, sched, s->q, off, nsrc, err);
    if (!m)
        return err->code ? err->code : ESC_ENOMEM;
    if (m->nsrc != nsrc || (m->bits[src / 8] & (1u << (src % 8)))) {
        k->repeats++;
        return ESC_OK;
    }
    m->bits[src / 8] |= (unsigned char)(1u << (src % 8));
    m->seen++;
    size_t plen = n - 24 - idl;
    esc_error e = {0};
    if (plen && esc_exec_merge(m->x, h + 16, plen, &e))
        esc_run_msg(r,
                    "%s/%" PRId32 " offset %" PRId64 ": %s: %s (the window's rows may lack "
                    "this partition's)",
                    k->topic, s->q, off, id, e.msg);
    return m->seen == m->nsrc ? complete(r, s, m, err) : ESC_OK;
}

/* "escrep1 HASH:DONE ..." into s->done (hashes of detection ids). */
static void parse_meta(esc_runner *r, mpart *s, const rd_kafka_topic_partition_t *t) {
    char buf[META_MAX + 64];
    if (!t->metadata || t->metadata_size == 0 || t->metadata_size >= sizeof buf)
        return;
    memcpy(buf, t->metadata, t->metadata_size);
    buf[t->metadata_size] = 0;
    if (strncmp(buf, META_TAG " ", sizeof META_TAG))
        return;
    for (char *p = buf + sizeof META_TAG; *p;) {
        char *end;
        unsigned long hv = strtoul(p, &end, 16);
        if (*end != ':')
            break;
        long long done = strtoll(end + 1, &end, 10);
        for (size_t j = 0; j < r->ndet; j++)
            if (r->det[j].two_stage && det_hash(r->det[j].d->id) == (uint32_t)hv)
                s->done[j] = done;
        while (*end == ' ')
            end++;
        p = end;
    }
}

static int64_t low_watermark(const run_repart *k, const mpart *s) {
    int64_t low = s->pos;
    for (size_t i = 0; i < k->nm; i++)
        if (k->m[i]->q == s->q && k->m[i]->first < low)
            low = k->m[i]->first;
    return low;
}

static void commit(esc_runner *r, bool sync) {
    run_repart *k = r->repart;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->np + 1);
    for (size_t i = 0; i < k->np; i++) {
        mpart *s = &k->p[i];
        if (!s->owned || s->pos < 0 || (!s->dirty && !sync))
            continue;
        rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_add(l, k->topic, s->q);
        t->offset = low_watermark(k, s);
        char meta[META_MAX + 64];
        int n = snprintf(meta, sizeof meta, META_TAG);
        for (size_t j = 0; j < r->ndet && n < META_MAX; j++)
            if (r->det[j].two_stage && s->done[j] != INT64_MIN)
                n += snprintf(meta + n, sizeof meta - (size_t)n, " %08x:%lld",
                              det_hash(r->det[j].d->id), (long long)s->done[j]);
        t->metadata = esc_malloc((size_t)n);
        if (t->metadata) {
            memcpy(t->metadata, meta, (size_t)n);
            t->metadata_size = (size_t)n;
        }
        s->dirty = false;
    }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(k->cons, l, sync ? 0 : 1);
        if (e && sync)
            esc_run_msg(r, "two stages: committing %s offsets: %s", k->topic, rd_kafka_err2str(e));
    }
    for (int i = 0; i < l->cnt; i++) {
        esc_free(l->elems[i].metadata);
        l->elems[i].metadata = NULL;
        l->elems[i].metadata_size = 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void esc_run_repart_after_commit(esc_runner *r) {
    if (r->repart->cons)
        commit(r, false);
}

static void on_assign(esc_runner *r, rd_kafka_topic_partition_list_t *parts) {
    run_repart *k = r->repart;
    rd_kafka_resp_err_t ke = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int tries = 0; ke && tries < COMMITTED_TRIES; tries++)
        ke = rd_kafka_committed(k->cons, parts, SYNC_MS);
    if (ke) { /* where to read from is unknown: stop rather than guess (a restart retries) */
        k->failed = ESC_EIO;
        snprintf(k->why, sizeof k->why, "two stages: fetching %s's committed offsets: %s", k->topic,
                 rd_kafka_err2str(ke));
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *t = &parts->elems[i];
        mpart *s = mslot(r, t->partition, true);
        if (!s) {
            k->failed = ESC_ENOMEM;
            snprintf(k->why, sizeof k->why, "two stages: out of memory");
            return;
        }
        merges_drop(k, s->q);
        for (size_t j = 0; j < r->ndet; j++)
            s->done[j] = INT64_MIN;
        if (!t->err)
            parse_meta(r, s, t);
        s->owned = true;
        s->eof = false;
        s->dirty = false;
        s->pos = !t->err && t->offset >= 0 ? t->offset : -1;
        if (t->err || t->offset < 0)
            t->offset = RD_KAFKA_OFFSET_INVALID; /* auto.offset.reset: earliest */
        t->err = 0;
    }
    rd_kafka_assign(k->cons, parts);
    k->settled = true;
    k->last_us = mono_us();
}

static void on_revoke(esc_runner *r) {
    run_repart *k = r->repart;
    esc_error e = {0};
    /* the windows fired so far into the sinks and the store, then their offsets */
    if (esc_run_session_close(r, &e) || esc_run_commit(r, &e))
        esc_run_msg(r, "two stages: checkpoint on revocation: %s", e.msg);
    else
        commit(r, true);
    for (size_t i = 0; i < k->np; i++)
        k->p[i].owned = false;
    merges_drop(k, -1);
    rd_kafka_assign(k->cons, NULL);
    k->settled = false;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
                      void *opaque) {
    (void)rk;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(opaque, parts);
    else
        on_revoke(opaque);
}

esc_status esc_run_repart_pass(esc_runner *r, esc_error *err) {
    run_repart *k = r->repart;
    esc_status st = ESC_OK;
    int wait = k->linger ? WAIT_MS : 0; /* else the clock's waits are the run's */
    k->linger = false;
    for (int n = 0; n < PASS_MESSAGES && !st && !k->failed; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->cons, n == 0 ? wait : 0);
        if (!m)
            break;
        mpart *s = mslot(r, m->partition, false);
        if (!s || !s->owned) {
            /* revoked meanwhile */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (s->pos < 0 || s->pos >= m->offset) {
                s->pos = m->offset;
                s->eof = true;
            }
        } else if (m->err) {
            esc_run_msg(r, "two stages: %s", rd_kafka_message_errstr(m));
        } else {
            st = on_partial(r, s, m->offset, m->payload, m->len, err);
            s->pos = m->offset + 1;
            s->eof = false;
            s->dirty = true;
            k->last_us = mono_us();
        }
        rd_kafka_message_destroy(m);
    }
    if (!st && k->failed)
        return esc_error_set(err, k->failed, "%s", k->why);
    return st;
}

bool esc_run_repart_done(esc_runner *r) {
    run_repart *k = r->repart;
    if (mono_us() - k->last_us > DONE_WAIT_US)
        return true;
    bool done = k->settled;
    for (size_t i = 0; done && i < k->np; i++)
        done = !k->p[i].owned || k->p[i].eof;
    for (size_t i = 0; done && i < k->nm; i++)
        done = k->m[i]->sched > r->o.once_until;
    k->linger = !done;
    return done;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* The user's settings (those of a consumer only, for the producer, left out). */
static esc_status user_settings(esc_runner *r, rd_kafka_conf_t *c, bool producer, esc_error *err) {
    const esc_run_kafka *o = r->o.kafka;
    esc_status st =
        o->brokers ? esc_run_kafka_set(c, "bootstrap.servers", o->brokers, err) : ESC_OK;
    if (!st)
        st = esc_run_kafka_set(c, "client.id", "escudo", err);
    for (size_t i = 0; !st && i < o->nconfig; i++) {
        const char *kv = o->config[i], *eq = strchr(kv, '=');
        char key[256];
        if (!eq || (size_t)(eq - kv) >= sizeof key || (producer && esc_run_kafka_consumer_only(kv)))
            continue; /* run_kafka.c refused a malformed one */
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        st = esc_run_kafka_set(c, key, eq + 1, err);
    }
    return st;
}

/* The partitions of a topic (0 when it does not exist). */
static uint32_t partitions(rd_kafka_t *rk, const char *topic, esc_error *err) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    uint32_t n = 0;
    for (int tries = 0; t && !n && tries < 5; tries++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, SYNC_MS);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err)
            n = (uint32_t)md->topics[0].partition_cnt;
        if (md)
            rd_kafka_metadata_destroy(md);
    }
    if (t)
        rd_kafka_topic_destroy(t);
    if (!n)
        esc_error_set(err, ESC_EIO, "two stages: topic %s: not found (create it first)", topic);
    return n;
}

static esc_status open_producer(esc_runner *r, esc_error *err) {
    run_repart *k = r->repart;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char mm[32];
    size_t cap = r->o.kafka->repart_max ? r->o.kafka->repart_max : ESC_RUN_REPART_MAX_MESSAGE;
    snprintf(mm, sizeof mm, "%zu", cap + 8192);
    esc_status st = esc_run_kafka_set(c, "message.max.bytes", mm, err);
    if (!st)
        st = user_settings(r, c, true, err);
    if (!st)
        st = esc_run_kafka_set(c, "enable.idempotence", "true",
                               err); /* in order, once per produce */
    char why[512];
    if (!st) {
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
        rd_kafka_conf_set_opaque(c, r);
        if (!(k->prod = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why)))
            st = esc_error_set(err, ESC_EUSAGE, "two stages: %s", why);
    }
    if (st && !k->prod)
        rd_kafka_conf_destroy(c);
    if (!st && (!(k->nin = partitions(k->prod, r->o.kafka->topic, err)) ||
                !(k->nq = partitions(k->prod, k->topic, err))))
        st = ESC_EIO;
    return st;
}

static esc_status open_consumer(esc_runner *r, esc_error *err) {
    run_repart *k = r->repart;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char group[512];
    snprintf(group, sizeof group, "%s-repartition",
             r->o.kafka->group ? r->o.kafka->group : "escudo");
    esc_status st = esc_run_kafka_set(c, "group.id", group, err);
    if (!st)
        st = esc_run_kafka_set(c, "auto.offset.reset", "earliest", err);
    if (!st)
        st = user_settings(r, c, false, err);
    if (!st && !(st = esc_run_kafka_set(c, "enable.auto.commit", "false", err)) &&
        !(st = esc_run_kafka_set(c, "enable.auto.offset.store", "false", err)))
        st = esc_run_kafka_set(c, "enable.partition.eof", "true", err);
    char why[512];
    if (!st) {
        rd_kafka_conf_set_rebalance_cb(c, rebalance);
        rd_kafka_conf_set_opaque(c, r);
        if (!(k->cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof why)))
            st = esc_error_set(err, ESC_EUSAGE, "two stages: %s", why);
    }
    if (st) {
        if (!k->cons)
            rd_kafka_conf_destroy(c);
        return st;
    }
    rd_kafka_poll_set_consumer(k->cons);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return esc_error_set(err, ESC_EIO, "two stages: subscribing to %s: %s", k->topic,
                             rd_kafka_err2str(e));
    return ESC_OK;
}

esc_status esc_run_repart_open(esc_runner *r, esc_error *err) {
    const esc_run_kafka *o = r->o.kafka;
    if (!(r->repart = esc_calloc(1, sizeof *r->repart)) ||
        !(r->repart->topic = esc_strdup(o->repartition)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_buf_init(&r->repart->msg, ESC_RUN_KAFKA_MAX_MESSAGE + ESC_CKPT_MAX_KEY + 64);
    r->repart->last_us = mono_us();
    for (size_t j = 0; j < r->ndet; j++)
        for (size_t i = 0; i < o->ntwo_stage; i++)
            if (r->det[j].d == o->two_stage[i])
                r->det[j].two_stage = true;
    esc_status st = open_producer(r, err);
    return st ? st : open_consumer(r, err);
}

void esc_run_repart_close(esc_runner *r) {
    run_repart *k = r ? r->repart : NULL;
    if (!k)
        return;
    if (k->cons) {
        rd_kafka_consumer_close(k->cons); /* revokes: checkpoint and commit first */
        rd_kafka_destroy(k->cons);
    }
    if (k->prod) {
        rd_kafka_flush(k->prod, SYNC_MS);
        rd_kafka_destroy(k->prod);
    }
    if (k->repeats || k->remnants)
        esc_run_msg(r,
                    "two stages: %llu partials received again dropped, %llu incomplete "
                    "windows dropped",
                    (unsigned long long)k->repeats, (unsigned long long)k->remnants);
    merges_drop(k, -1);
    esc_free(k->m);
    stash_clear(k);
    esc_free(k->st);
    for (size_t i = 0; i < k->np; i++)
        esc_free(k->p[i].done);
    esc_free(k->p);
    esc_buf_fini(&k->msg);
    esc_free(k->topic);
    esc_free(k);
    r->repart = NULL;
}
