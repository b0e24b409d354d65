/* A Kafka topic as the run's input: one member of a consumer group (librdkafka), each message one
 * input of its own in any format escudo reads, detected per message (docs/scale.md).
 *
 * Each partition owned is a run input "kafka:TOPIC/P" whose row in the state store holds the next
 * offset to read and its low watermark: the lowest offset of a record of that partition kept in a
 * window that has not fired (the read position when there is none). Replaying the partition from
 * its low watermark rebuilds every open window's records of it; every record before it is in a
 * window that fired, or matched nothing.
 * Invariants:
 * - Offsets are never auto-committed. After each checkpoint of the state store (run.c), the low
 *   watermark of each owned partition is committed to the group, with metadata naming this state
 *   directory, its read position and its fire horizon (every run scheduled at or before it has
 *   fired). So the group's committed offset never passes a record whose window has not fired
 *   and been checkpointed.
 * - On every assignment (the first after a start included) the windows that have not fired are
 *   emptied and each partition is read again from the group's committed offset (or this state
 *   directory's own row when it was the last committer, or nothing was committed): records below
 *   the last committer's read position whose window that committer had fired are skipped
 *   (run_window.c), the others rebuild the open windows. A partition moving to another worker
 *   thus takes its open windows' records with it, and a killed worker rebuilds what its last
 *   checkpoint held: every window fires once, with all of its records.
 * - On a revocation the state is checkpointed and the offsets committed synchronously first.
 * - Events are taken from the consumer a batch at a time; those taken before a rebalance (which
 *   runs inside the consumer's poll) are not handled: their partitions are read again from the
 *   committed offsets after it.
 * - The run counts as caught up only once the group assigned partitions and every one owned was
 *   read to its high watermark (a partition-EOF event after its last message): a worker with
 *   no partition does not let its clock jump.
 * - A partition at its end before any message was read (its log starts past 0: retention
 *   deleted the rest) is positioned there and counts as read to its end.
 * - With an output topic (--kafka-output) the step's notables and risk events wait in an outbox
 *   stored in the step's checkpoint; after it, one transaction produces them and sends the
 *   offsets (in place of the consumer's commit); the outbox leaves the store once the
 *   transaction committed. Its nonce, in the committed metadata, tells a restart whether the
 *   outbox it restored was committed already. An error aborts and stops the run.
 * Not done here: formats (each message goes through esc_run_read_text), windows, firing, the
 * transport of cross-host detections' partial aggregates (run_repart.c, called when a
 * partition's fire horizon moves). */
#include "sched/run_internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fmt.h"

#define STEP_MESSAGES 20000 /* messages per pass */
#define POLL_MS 100         /* the first poll of a pass waits this long */
#define SYNC_MS 10000       /* committed-offset fetches and commits on revocation */
#define COMMITTED_TRIES 6   /* committed-offset fetches before giving up */
#define META_TAG "escudo1"

typedef struct kpart {
    int32_t part;
    size_t in; /* its run input */
    bool owned, eof;
    bool known;         /* the read position is known (a message was read, or it was sought) */
    int64_t replay_end; /* offsets below it were read by the partition's last committer */
    int64_t fired_to;   /* the partition's windows up to this run time have fired */
    int64_t sent_low, sent_pos; /* last committed to the group */
    int64_t high;               /* high watermark as last fetched, -1 unknown */
    int64_t low;                /* low watermark (low_watermarks) */
} kpart;

struct run_kafka {
    rd_kafka_t *rk;
    char *topic;
    /* --kafka-output: the transactional producer, the consumer's group metadata, and the
     * outbox: notables and risk events of steps whose transaction has not committed, as
     * [u32 key length][key][u32 length][value] records (also in the store, "@kafka-out") */
    rd_kafka_t *tx;
    rd_kafka_consumer_group_metadata_t *cgmd;
    char *out_topic;
    esc_buf out;
    kpart *p;
    size_t np;
    /* slot + 1 of partitions below ESC_RUN_KAFKA_MAX_PARTITIONS (0: none); a scan of p finds
     * the others (a topic's partitions are numbered from 0) */
    uint16_t pslot[ESC_RUN_KAFKA_MAX_PARTITIONS];
    bool settled; /* partitions assigned (and not revoked since) */
    uint64_t gen; /* rebalances so far (the events taken before one are not handled) */
    /* the reading's span, for the stop message: from the first message consumed to the end of
     * the last pass that consumed one (wall: CLOCK_MONOTONIC; CPU: the process's, all threads).
     * Every message consumed counts, a partition read again after a rebalance included; on a
     * live topic the span holds the waits between messages too (a rate over the run) */
    uint64_t nread;
    double wall0, cpu0, wall1, cpu1;
    esc_status failed;
    char why[ESC_ERROR_MSG_MAX];
};

/* ---- partitions ---------------------------------------------------------------------------- */

static kpart *slot_find(run_kafka *k, int32_t part) {
    if (part >= 0 && part < ESC_RUN_KAFKA_MAX_PARTITIONS)
        return k->pslot[part] ? &k->p[k->pslot[part] - 1] : NULL;
    for (size_t i = 0; i < k->np; i++)
        if (k->p[i].part == part)
            return &k->p[i];
    return NULL;
}

/* The slot of a partition, its run input added (with what the state store holds of it). */
static kpart *slot_get(esc_runner *r, int32_t part, esc_error *err) {
    run_kafka *k = r->kafka;
    kpart *s = slot_find(k, part);
    if (s)
        return s;
    if (k->np >= ESC_RUN_KAFKA_MAX_PARTITIONS) {
        esc_error_set(err, ESC_ELIMIT, "kafka: more than %d partitions",
                      ESC_RUN_KAFKA_MAX_PARTITIONS);
        return NULL;
    }
    kpart *np = esc_realloc(k->p, (k->np + 1) * sizeof *np);
    if (!np) {
        esc_error_set(err, ESC_ENOMEM, "out of memory");
        return NULL;
    }
    k->p = np;
    char path[ESC_CKPT_MAX_KEY];
    snprintf(path, sizeof path, "kafka:%s/%" PRId32, k->topic, part);
    if (esc_run_add_input(r, path, err))
        return NULL;
    s = &k->p[k->np++];
    memset(s, 0, sizeof *s);
    if (part >= 0 && part < ESC_RUN_KAFKA_MAX_PARTITIONS)
        k->pslot[part] = (uint16_t)k->np;
    s->part = part;
    s->in = r->nin - 1;
    s->sent_low = s->sent_pos = -1;
    s->high = -1;
    r->in[s->in].is_kafka = true;
    r->in[s->in].pending = false;
    return s;
}

/* Each partition's low watermark into its slot's low: the lowest offset of the partition kept in
 * a window that has not fired, else its position. One pass over the windows (a checkpoint
 * follows every step, and a worker holds partitions x runs of windows). */
static void low_watermarks(const esc_runner *r) {
    run_kafka *k = r->kafka;
    for (size_t i = 0; i < k->np; i++)
        k->p[i].low = (int64_t)r->in[k->p[i].in].offset;
    for (size_t i = 0; i < r->nwin; i++) {
        const win_state *w = r->win[i];
        if (w->fired || w->deleted || !w->kslot1 || !w->kfirst1 || w->kslot1 > k->np)
            continue;
        kpart *s = &k->p[w->kslot1 - 1];
        if ((int64_t)w->kfirst1 - 1 < s->low)
            s->low = (int64_t)w->kfirst1 - 1;
    }
}

void esc_run_kafka_win_key(const esc_runner *r, const win_state *w, char *buf, size_t n) {
    const kpart *s = &r->kafka->p[w->kslot1 - 1];
    snprintf(buf, n, "%s@%s", r->det[w->det].d->id, r->in[s->in].path);
}

/* The open windows of a run (every partition's, and the run's own without one) into *out. */
static esc_status run_windows(esc_runner *r, const esc_run *run, win_state ***out, size_t *n,
                              esc_error *err) {
    win_state *w0 = esc_run_win_find_slot(r, run->job, run->scheduled, 0);
    esc_status st;
    if (!w0 && (st = esc_run_win_new(r, run->job, run->scheduled, &w0, err)))
        return st;
    if (!(*out = esc_calloc(r->nwin, sizeof **out)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    *n = 0;
    for (size_t i = 0; i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (w->det == run->job && w->sched == run->scheduled && !w->fired && !w->deleted)
            (*out)[(*n)++] = w;
    }
    return ESC_OK;
}

esc_status esc_run_kafka_fire(esc_runner *r, const esc_run *run, esc_error *err) {
    win_state **ws = NULL;
    size_t n = 0;
    esc_status st = run_windows(r, run, &ws, &n, err);
    if (!st && n)
        st = esc_run_fire_wins(r, run, ws, n, err);
    esc_free(ws);
    return st;
}

esc_status esc_run_kafka_fired(esc_runner *r, esc_error *err) {
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (!w->kslot1 || !w->x || w->deleted || w->sched > r->det[w->det].last_fired)
            continue;
        esc_run run = {w->det, r->det[w->det].d->id, w->sched, w->w};
        st = esc_run_fire_win(r, &run, w, err);
    }
    for (size_t i = 0; !st && i < r->kafka->np; i++) {
        kpart *s = &r->kafka->p[i];
        if (s->owned && r->horizon > s->fired_to) {
            if (r->repart &&
                (st = esc_run_repart_publish(r, i, s->part, s->fired_to, r->horizon, err)))
                break;
            s->fired_to = r->horizon;
            r->in[s->in].head_hash = (uint64_t)s->fired_to;
            r->in[s->in].dirty = true;
        }
    }
    return st;
}

/* Windows that have not fired are emptied (deleted from the store at the next checkpoint): the
 * partitions assigned now rebuild them. */
static void drop_open_windows(esc_runner *r) {
    for (size_t i = 0; i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (w->fired || w->deleted)
            continue;
        esc_exec_free(w->x);
        w->x = NULL;
        w->deleted = true;
        w->dirty = true;
    }
}

/* ---- committing offsets -------------------------------------------------------------------- */

void esc_run_kafka_before_commit(esc_runner *r) {
    run_kafka *k = r->kafka;
    low_watermarks(r);
    for (size_t i = 0; i < k->np; i++) {
        kpart *s = &k->p[i];
        run_in *in = &r->in[s->in];
        if (!s->owned || !s->known)
            continue;
        uint64_t low = (uint64_t)s->low;
        if (in->inode != low) {
            in->inode = low;
            in->dirty = true;
        }
    }
}

static void random8(esc_runner *r, unsigned char b[8]);
static void out_nonce(const run_kafka *k, char hex[17]);

/* The owned partitions' low watermarks with their metadata: those changed since last sent, or
 * all of them. Each metadata is esc_malloc'd: free_offsets frees it (librdkafka would free()). */
static rd_kafka_topic_partition_list_t *offsets(esc_runner *r, bool all) {
    run_kafka *k = r->kafka;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->np + 1);
    char meta[128], nonce[17];
    out_nonce(k, nonce);
    for (size_t i = 0; i < k->np; i++) {
        kpart *s = &k->p[i];
        run_in *in = &r->in[s->in];
        int64_t low = (int64_t)in->inode, pos = (int64_t)in->offset;
        if (!s->owned || !s->known || (!all && low == s->sent_low && pos == s->sent_pos))
            continue;
        rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_add(l, k->topic, s->part);
        t->offset = low;
        int n = snprintf(meta, sizeof meta, META_TAG " %s %" PRId64 " %lld %s", r->state_id, pos,
                         (long long)s->fired_to, nonce);
        t->metadata = esc_malloc((size_t)n);
        if (t->metadata) {
            memcpy(t->metadata, meta, (size_t)n);
            t->metadata_size = (size_t)n;
        }
    }
    return l;
}

static void sent(run_kafka *k, const rd_kafka_topic_partition_list_t *l) {
    for (int i = 0; i < l->cnt; i++) {
        kpart *s = slot_find(k, l->elems[i].partition);
        if (s && s->known)
            s->sent_low = l->elems[i].offset;
    }
}

static void free_offsets(rd_kafka_topic_partition_list_t *l) {
    for (int i = 0; i < l->cnt; i++) {
        esc_free(l->elems[i].metadata);
        l->elems[i].metadata = NULL;
        l->elems[i].metadata_size = 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commit each owned partition's low watermark with its metadata; sync on revocation. */
static void commit_offsets(esc_runner *r, bool sync) {
    run_kafka *k = r->kafka;
    rd_kafka_topic_partition_list_t *l = offsets(r, false);
    for (size_t i = 0; i < k->np; i++) /* what offsets() took */
        if (k->p[i].owned && k->p[i].known) {
            k->p[i].sent_low = (int64_t)r->in[k->p[i].in].inode;
            k->p[i].sent_pos = (int64_t)r->in[k->p[i].in].offset;
        }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, l, sync ? 0 : 1);
        if (e && sync)
            esc_run_msg(r, "kafka: committing offsets: %s", rd_kafka_err2str(e));
    }
    free_offsets(l);
}

/* ---- the output topic ------------------------------------------------------------------------ */

static void random8(esc_runner *r, unsigned char b[8]) {
    static uint64_t n;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, 8) != 8) {
        uint64_t x = (uint64_t)getpid() ^ (uint64_t)esc_clock_now_us(r->o.clock) ^ (++n << 40);
        memcpy(b, &x, 8);
    }
    if (fd >= 0)
        close(fd);
}

/* The outbox's nonce (its first 8 bytes) as 16 hex digits, "-" when it is empty. */
static void out_nonce(const run_kafka *k, char hex[17]) {
    if (!k->tx || k->out.len < 8) {
        snprintf(hex, 17, "-");
        return;
    }
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)k->out.ptr[i]);
}

#define OUTBOX_KEY "@kafka-out"

esc_status esc_run_kafka_output(esc_runner *r, const esc_sink_event *ev, esc_error *err) {
    run_kafka *k = r->kafka;
    if (!k || !k->tx)
        return ESC_OK;
    uint32_t kl = (uint32_t)strlen(ev->event_id), vl = (uint32_t)ev->json_len;
    if (k->out.len + (k->out.len ? 8 : 16) + (size_t)kl + vl > ESC_RUN_KAFKA_MAX_OUTBOX)
        return esc_error_set(err, ESC_ELIMIT,
                             "kafka output: more than %u bytes of notables and risk events wait "
                             "for one transaction",
                             ESC_RUN_KAFKA_MAX_OUTBOX);
    unsigned char nonce[8];
    if (!k->out.len) /* a new outbox: its nonce goes in the metadata of its transaction */
        random8(r, nonce);
    esc_status st = k->out.len ? ESC_OK : esc_buf_append(&k->out, nonce, 8);
    if (!st)
        st = esc_buf_append(&k->out, &kl, 4);
    if (!st)
        st = esc_buf_append(&k->out, ev->event_id, kl);
    if (!st)
        st = esc_buf_append(&k->out, &vl, 4);
    if (!st)
        st = esc_buf_append(&k->out, ev->json, vl);
    if (st)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->meta_dirty = true; /* the outbox goes into the step's checkpoint */
    return ESC_OK;
}

esc_status esc_run_kafka_put_outbox(esc_runner *r, esc_error *err) {
    run_kafka *k = r->kafka;
    if (!k || !k->tx)
        return ESC_OK;
    esc_ckpt_partial p = {OUTBOX_KEY, 0, 0, k->out.len ? k->out.ptr : NULL, k->out.len};
    return esc_ckpt_put_partial(r->ck, &p, err);
}

/* A restored outbox holds whole records (its nonce, then key and value lengths in range). */
static bool outbox_ok(const esc_buf *b) {
    if (b->len == 0)
        return true;
    size_t at = 8;
    while (b->len >= 8 && at + 8 <= b->len) {
        uint32_t kl, vl;
        memcpy(&kl, b->ptr + at, 4);
        if (kl > b->len - at - 8)
            return false;
        memcpy(&vl, b->ptr + at + 4 + kl, 4);
        if (vl > b->len - at - 8 - kl)
            return false;
        at += 8 + (size_t)kl + vl;
    }
    return at == b->len;
}

static esc_status produce_outbox(run_kafka *k, const char **why) {
    for (size_t at = 8; at + 8 <= k->out.len;) { /* after the nonce */
        uint32_t kl, vl;
        memcpy(&kl, k->out.ptr + at, 4);
        if (kl > k->out.len - at - 8) { /* a damaged outbox from the store: not past its end */
            *why = "the stored outbox is damaged";
            return ESC_EIO;
        }
        const char *key = k->out.ptr + at + 4;
        memcpy(&vl, key + kl, 4);
        if (vl > k->out.len - at - 8 - kl) {
            *why = "the stored outbox is damaged";
            return ESC_EIO;
        }
        const char *val = key + kl + 4;
        rd_kafka_resp_err_t e =
            rd_kafka_producev(k->tx, RD_KAFKA_V_TOPIC(k->out_topic), RD_KAFKA_V_KEY(key, kl),
                              RD_KAFKA_V_VALUE((void *)val, vl),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(k->tx, 50);
            continue;
        }
        if (e) {
            *why = rd_kafka_err2str(e);
            return ESC_EIO;
        }
        at += 8 + kl + vl;
    }
    return ESC_OK;
}

/* One transaction: the outbox's messages, then the offsets (low watermarks and metadata) sent
 * to the group's coordinator, committed together. On failure the transaction is aborted and
 * the run stops: the outbox is in the store, and the restart sends it again. */
static void transact(esc_runner *r) {
    run_kafka *k = r->kafka;
    rd_kafka_topic_partition_list_t *l = offsets(r, k->out.len > 0);
    if (!l->cnt && !k->out.len) {
        free_offsets(l);
        return;
    }
    rd_kafka_error_t *e = rd_kafka_begin_transaction(k->tx);
    const char *what = "beginning a transaction", *why = NULL;
    if (!e) {
        what = "producing";
        if (produce_outbox(k, &why) == ESC_OK) {
            what = "sending the offsets";
            e = l->cnt ? rd_kafka_send_offsets_to_transaction(k->tx, l, k->cgmd, SYNC_MS) : NULL;
            if (!e) {
                what = "committing the transaction";
                e = rd_kafka_commit_transaction(k->tx, SYNC_MS);
            }
        }
        if (e || why) {
            rd_kafka_error_t *a = rd_kafka_abort_transaction(k->tx, SYNC_MS);
            if (a)
                rd_kafka_error_destroy(a);
        }
    }
    if (e || why) {
        k->failed = ESC_EIO;
        snprintf(k->why, sizeof k->why,
                 "kafka output %s: %s: %s (the run stops; a restart sends the step's notables "
                 "again)",
                 k->out_topic, what, e ? rd_kafka_error_string(e) : why);
        if (e)
            rd_kafka_error_destroy(e);
        free_offsets(l);
        return;
    }
    sent(k, l);
    for (int i = 0; i < l->cnt; i++) {
        kpart *s = slot_find(k, l->elems[i].partition);
        if (s)
            s->sent_pos = (int64_t)r->in[s->in].offset;
    }
    free_offsets(l);
    if (k->out.len) { /* delivered: out of the store now, not at the next step */
        k->out.len = 0;
        esc_error ce = {0};
        if (esc_ckpt_begin(r->ck, &ce) || esc_run_kafka_put_outbox(r, &ce) ||
            esc_ckpt_commit(r->ck, &ce)) {
            esc_ckpt_rollback(r->ck, NULL);
            r->meta_dirty = true; /* the next checkpoint empties it */
        }
    }
}

/* After a checkpoint (or on revocation): the offsets, in a transaction with the outbox when
 * there is an output topic (once the group assigned partitions: a restored outbox waits). */
static void after_checkpoint(esc_runner *r, bool sync) {
    run_kafka *k = r->kafka;
    if (!k->tx)
        commit_offsets(r, sync);
    else if (k->settled && !k->failed)
        transact(r);
}

esc_status esc_run_kafka_meta(esc_runner *r, esc_buf *b) {
    run_kafka *k = r->kafka;
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < k->np; i++) {
        kpart *s = &k->p[i];
        int64_t lo, hi;
        if (s->owned && k->rk &&
            rd_kafka_get_watermark_offsets(k->rk, k->topic, s->part, &lo, &hi) == 0 && hi >= 0)
            s->high = hi; /* cached from the last fetch: no request */
        st = esc_buf_printf(b, "kpart %lld %d %s\n", (long long)s->high, s->owned ? 1 : 0,
                            r->in[s->in].path);
    }
    return st;
}

void esc_run_kafka_after_commit(esc_runner *r) {
    after_checkpoint(r, false);
}

/* ---- rebalances ---------------------------------------------------------------------------- */

/* "escudo1 <state id> <position> <horizon>" of a committed offset; false when not ours. */
static bool parse_meta(const rd_kafka_topic_partition_t *t, char id[17], int64_t *pos,
                       int64_t *horizon, char nonce[17]) {
    char buf[128];
    if (!t->metadata || t->metadata_size == 0 || t->metadata_size >= sizeof buf)
        return false;
    memcpy(buf, t->metadata, t->metadata_size);
    buf[t->metadata_size] = 0;
    long long p, h;
    char tag[16];
    snprintf(nonce, 17, "-"); /* before --kafka-output: four fields */
    int n = sscanf(buf, "%15s %16s %lld %lld %16s", tag, id, &p, &h, nonce);
    if (n < 4 || strcmp(tag, META_TAG))
        return false;
    *pos = p;
    *horizon = h;
    return true;
}

/* Where a partition assigned now is read from, and what of it is a replay. */
static esc_status place(esc_runner *r, rd_kafka_topic_partition_t *t, esc_error *err) {
    kpart *s = slot_get(r, t->partition, err);
    if (!s)
        return err->code ? err->code : ESC_ENOMEM;
    run_in *in = &r->in[s->in];
    int64_t start = t->err ? -1 : t->offset, pos = start, h = INT64_MIN;
    char id[17] = {0}, nonce[17], ours[17];
    bool meta = start >= 0 && parse_meta(t, id, &pos, &h, nonce);
    bool mine = meta && !strcmp(id, r->state_id);
    out_nonce(r->kafka, ours);
    if (mine && strcmp(ours, "-") && !strcmp(nonce, ours)) {
        /* the outbox restored from the store was committed in a transaction whose commit
         * was not followed by its removal from the store (a kill in between): not again */
        r->kafka->out.len = 0;
        r->meta_dirty = true;
    }
    if (in->have && (mine || start < 0)) { /* this state directory read it last */
        start = (int64_t)in->inode;
        pos = pos > (int64_t)in->offset ? pos : (int64_t)in->offset;
        h = h > (int64_t)in->head_hash ? h : (int64_t)in->head_hash;
    }
    s->owned = true;
    s->eof = false;
    s->known = start >= 0;
    s->replay_end = start >= 0 ? pos : -1;
    s->fired_to = h;
    s->sent_low = s->sent_pos = -1;
    in->offset = start >= 0 ? (uint64_t)start : 0;
    in->inode = in->offset;
    in->head_hash = (uint64_t)h;
    in->dirty = s->known;
    t->offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID; /* else auto.offset.reset */
    return ESC_OK;
}

static void on_assign(esc_runner *r, rd_kafka_topic_partition_list_t *parts) {
    run_kafka *k = r->kafka;
    esc_error e = {0};
    rd_kafka_resp_err_t ke = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int tries = 0; ke && tries < COMMITTED_TRIES; tries++)
        ke = rd_kafka_committed(k->rk, parts, SYNC_MS);
    if (ke) { /* where to read from is unknown: stop rather than guess (a restart retries) */
        k->failed = ESC_EIO;
        snprintf(k->why, sizeof k->why, "kafka: fetching the group's committed offsets: %s",
                 rd_kafka_err2str(ke));
        return;
    }
    drop_open_windows(r);
    for (int i = 0; i < parts->cnt && !k->failed; i++)
        if ((k->failed = place(r, &parts->elems[i], &e)))
            snprintf(k->why, sizeof k->why, "%s", e.msg);
    for (int i = 0; i < parts->cnt; i++) { /* metadata was ours to read, not to send */
        parts->elems[i].err = 0;
    }
    rd_kafka_assign(k->rk, parts);
    k->settled = true;
}

static void on_revoke(esc_runner *r) {
    run_kafka *k = r->kafka;
    esc_error e = {0};
    if (esc_run_commit(r, &e)) /* the state first, then the offsets it holds */
        esc_run_msg(r, "kafka: checkpoint on revocation: %s", e.msg);
    else if (!k->tx) /* esc_run_commit ran the transaction */
        commit_offsets(r, true);
    for (size_t i = 0; i < k->np; i++)
        k->p[i].owned = false;
    rd_kafka_assign(k->rk, NULL);
    k->settled = false;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
                      void *opaque) {
    (void)rk;
    ((esc_runner *)opaque)->kafka->gen++;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(opaque, parts);
    else
        on_revoke(opaque);
}

/* ---- reading ------------------------------------------------------------------------------- */

static double seconds(clockid_t c) {
    struct timespec t;
    if (clock_gettime(c, &t))
        return 0;
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* "kafka:TOPIC/P offset O", a message's name, by hand (snprintf's time was a twentieth of a
 * worker's main thread). */
static void message_path(const char *topic, int32_t part, int64_t off, char *buf, size_t n) {
    size_t tl = strlen(topic);
    if (tl + 16 + 2 * ESC_FMT_MAX > n) { /* a topic name this long is not Kafka's (249 bytes) */
        snprintf(buf, n, "kafka:%s/%" PRId32 " offset %" PRId64, topic, part, off);
        return;
    }
    char *p = buf;
    memcpy(p, "kafka:", 6);
    memcpy(p + 6, topic, tl);
    p += 6 + tl;
    *p++ = '/';
    p += esc_fmt_i64(p, part);
    memcpy(p, " offset ", 8);
    p += 8;
    p += esc_fmt_i64(p, off);
    *p = 0;
}

static esc_status on_message(esc_runner *r, const rd_kafka_message_t *m, bool *progress,
                             esc_error *err) {
    run_kafka *k = r->kafka;
    kpart *s = slot_find(k, m->partition);
    if (!s || !s->owned)
        return ESC_OK; /* revoked meanwhile */
    run_in *in = &r->in[s->in];
    char path[ESC_CKPT_MAX_KEY];
    message_path(k->topic, m->partition, m->offset, path, sizeof path);
    esc_status st = ESC_OK;
    size_t cap = r->o.kafka->max_message ? r->o.kafka->max_message : ESC_RUN_KAFKA_MAX_MESSAGE;
    if (m->len > cap) {
        r->stats.malformed++;
        esc_run_msg(r, "%s: a message of %zu bytes (more than %zu): skipped", path, m->len, cap);
    } else if (m->len) {
        r->kcur =
            (run_kcur){true, m->offset < s->replay_end, (size_t)(s - k->p), m->offset, s->fired_to};
        st = esc_run_read_text(r, path, m->payload, m->len, 0, err);
        r->kcur.active = false;
    }
    if (!s->known) { /* the first message read from auto.offset.reset */
        s->known = true;
        in->inode = (uint64_t)m->offset;
    }
    in->offset = (uint64_t)m->offset + 1;
    in->dirty = true;
    s->eof = false;
    *progress = true;
    return st;
}

/* One event of the consumer (a message, a partition's end, an error); *got counts messages. */
static esc_status on_event(esc_runner *r, const rd_kafka_message_t *m, size_t *got, bool *progress,
                           esc_error *err) {
    run_kafka *k = r->kafka;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        kpart *s = slot_find(k, m->partition);
        if (s && s->owned && !s->known) { /* at the end before any message: the log's start
                                             (retention deleted the rest) is the position */
            s->known = true;
            r->in[s->in].offset = r->in[s->in].inode = (uint64_t)m->offset;
            r->in[s->in].dirty = true;
        }
        if (s && s->owned && (int64_t)r->in[s->in].offset >= m->offset)
            s->eof = true;
        return ESC_OK;
    }
    if (m->err) {
        esc_run_msg(r, "kafka: %s", rd_kafka_message_errstr(m));
        return ESC_OK;
    }
    if (!k->nread++) { /* the reading's span starts at the first message consumed */
        k->wall0 = seconds(CLOCK_MONOTONIC);
        k->cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    }
    (*got)++;
    return on_message(r, m, progress, err);
}

/* Events are taken BATCH at a time, then handled, then destroyed: each of the three loops runs
 * the same code over and over (one poll, one message and one destroy in turn made every message
 * go through librdkafka's code and escudo's anew). A rebalance runs inside a poll: the events
 * taken before it belong to the assignment it ended, whose partitions are read again from their
 * committed offsets (on_assign), so they are destroyed unhandled, as if never taken. */
#define BATCH 64

esc_status esc_run_kafka_pass(esc_runner *r, bool *progress, esc_error *err) {
    run_kafka *k = r->kafka;
    esc_status st = ESC_OK;
    bool idle = k->settled; /* caught up: waiting is the clock's job, not the poll's */
    size_t got = 0;         /* messages this pass */
    for (size_t i = 0; idle && i < k->np; i++)
        idle = !k->p[i].owned || k->p[i].eof;
    rd_kafka_message_t *ms[BATCH];
    uint64_t gen[BATCH];
    for (size_t n = 0, nm = BATCH; nm == BATCH && n < STEP_MESSAGES && !st && !k->failed;) {
        for (nm = 0; nm < BATCH && n < STEP_MESSAGES && !k->failed; nm++, n++) {
            ms[nm] = rd_kafka_consumer_poll(k->rk, n == 0 && !idle ? POLL_MS : 0);
            if (!ms[nm])
                break;
            gen[nm] = k->gen;
        }
        for (size_t i = 0; i < nm && !st; i++)
            if (gen[i] == k->gen && !k->failed)
                st = on_event(r, ms[i], &got, progress, err);
        for (size_t i = 0; i < nm; i++)
            rd_kafka_message_destroy(ms[i]);
    }
    if (got) { /* ... and ends after the last pass that consumed one (two clock reads a pass) */
        k->wall1 = seconds(CLOCK_MONOTONIC);
        k->cpu1 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    }
    char fatal[256];
    if (!st && rd_kafka_fatal_error(k->rk, fatal, sizeof fatal))
        return esc_error_set(err, ESC_EIO, "kafka: %s", fatal);
    if (!st && k->failed)
        return esc_error_set(err, k->failed, "%s", k->why);
    if (!k->settled)
        *progress = true;
    for (size_t i = 0; i < k->np; i++)
        if (k->p[i].owned && !k->p[i].eof)
            *progress = true;
    return st;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

esc_status esc_run_kafka_set(rd_kafka_conf_t *c, const char *key, const char *val, esc_error *err) {
    char why[512];
    if (rd_kafka_conf_set(c, key, val, why, sizeof why) != RD_KAFKA_CONF_OK)
        return esc_error_set(err, ESC_EUSAGE, "kafka setting %s: %s", key, why);
    return ESC_OK;
}

/* The client's settings: ours, then the caller's "key=value" (which may override defaults
 * such as auto.offset.reset or fetch.max.bytes, never enable.auto.commit). */
static esc_status configure(esc_runner *r, rd_kafka_conf_t *c, esc_error *err) {
    const esc_run_kafka *o = r->o.kafka;
    esc_status st = ESC_OK;
    if (o->brokers && (st = esc_run_kafka_set(c, "bootstrap.servers", o->brokers, err)))
        return st;
    /* fetch.max.bytes: librdkafka receives a fetch response whole into one buffer of its size
     * and parses it after (CONFIGURATION.md: "Maximum amount of data the broker shall return for
     * a Fetch request", 50 MiB by default). A 50 MiB buffer is fresh memory at every fetch (a
     * page fault a page) and out of the cache by the time it is parsed: the broker thread's CPU
     * for 80,000 messages fell from 0.55 s to 0.25 s at 4 MiB (docs/scale.md). A partition's
     * share of a fetch stays max.partition.fetch.bytes (1 MiB by default). */
    if ((st = esc_run_kafka_set(c, "group.id", o->group ? o->group : "escudo", err)) ||
        (st = esc_run_kafka_set(c, "auto.offset.reset", "earliest", err)) ||
        (st = esc_run_kafka_set(c, "client.id", "escudo", err)) ||
        (st = esc_run_kafka_set(c, "fetch.max.bytes", "4194304", err)))
        return st;
    for (size_t i = 0; i < o->nconfig; i++) {
        const char *kv = o->config[i], *eq = strchr(kv, '=');
        char key[256];
        if (!eq || (size_t)(eq - kv) >= sizeof key)
            return esc_error_set(err, ESC_EUSAGE, "kafka setting %s: not KEY=VALUE", kv);
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        if ((st = esc_run_kafka_set(c, key, eq + 1, err)))
            return st;
    }
    if ((st = esc_run_kafka_set(c, "enable.auto.commit", "false", err)) ||
        (st = esc_run_kafka_set(c, "enable.auto.offset.store", "false", err)) ||
        (st = esc_run_kafka_set(c, "enable.partition.eof", "true", err)))
        return st;
    rd_kafka_conf_set_rebalance_cb(c, rebalance);
    rd_kafka_conf_set_opaque(c, r);
    return ESC_OK;
}

/* Settings of the user's that only a consumer reads: not given to the producer (librdkafka
 * would warn of each). */
bool esc_run_kafka_consumer_only(const char *kv) {
    static const char *const pre[] = {"group.",
                                      "session.timeout.",
                                      "heartbeat.",
                                      "max.poll.",
                                      "auto.",
                                      "enable.auto.",
                                      "fetch.",
                                      "queued.",
                                      "isolation.",
                                      "partition.assignment.",
                                      "enable.partition.",
                                      "check.crcs",
                                      "coordinator.",
                                      "consume."};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (!strncmp(kv, pre[i], strlen(pre[i])))
            return true;
    return false;
}

/* The output topic's producer: the user's settings (TLS, SASL, ...), then a transactional.id
 * that names the group and this state directory, so that a restarted worker fences its previous
 * incarnation (whose open transaction the coordinator then aborts). */
static esc_status open_output(esc_runner *r, esc_error *err) {
    const esc_run_kafka *o = r->o.kafka;
    run_kafka *k = r->kafka;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char tid[256];
    snprintf(tid, sizeof tid, "escudo-%s-%s", o->group ? o->group : "escudo", r->state_id);
    esc_status st =
        o->brokers ? esc_run_kafka_set(c, "bootstrap.servers", o->brokers, err) : ESC_OK;
    if (!st)
        st = esc_run_kafka_set(c, "client.id", "escudo", err);
    for (size_t i = 0; !st && i < o->nconfig; i++) {
        const char *kv = o->config[i], *eq = strchr(kv, '=');
        char key[256];
        if (!eq || (size_t)(eq - kv) >= sizeof key || esc_run_kafka_consumer_only(kv))
            continue; /* configure() already refused a malformed one */
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        st = esc_run_kafka_set(c, key, eq + 1, err);
    }
    if (!st)
        st = esc_run_kafka_set(c, "transactional.id", tid, err);
    char why[512];
    if (!st && !(k->tx = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why)))
        st = esc_error_set(err, ESC_EUSAGE, "kafka output: %s", why);
    if (st) {
        if (!k->tx)
            rd_kafka_conf_destroy(c);
        return st;
    }
    rd_kafka_error_t *e = rd_kafka_init_transactions(k->tx, SYNC_MS * 3);
    if (e) {
        st = esc_error_set(err, ESC_EIO, "kafka output %s: starting transactions: %s", o->output,
                           rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return st;
    }
    if (!(k->out_topic = esc_strdup(o->output)) ||
        !(k->cgmd = rd_kafka_consumer_group_metadata(k->rk)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_buf_init(&k->out, ESC_RUN_KAFKA_MAX_OUTBOX);
    st = esc_ckpt_get_partial(r->ck, OUTBOX_KEY, 0, 0, &k->out, err); /* a restart's outbox */
    if (st == ESC_EOF)
        return ESC_OK;
    if (!st && !outbox_ok(&k->out)) {
        esc_run_msg(r,
                    "state %s: the Kafka output's outbox (%s) is damaged: its %zu bytes of "
                    "notables and risk events are not sent (the other sinks have them)",
                    r->o.state_dir, OUTBOX_KEY, k->out.len);
        k->out.len = 0;
        r->meta_dirty = true;
    }
    return st;
}

static void close_output(run_kafka *k) {
    if (k->tx)
        rd_kafka_destroy(k->tx); /* transactions are committed or aborted by now */
    k->tx = NULL;
    if (k->cgmd)
        rd_kafka_consumer_group_metadata_destroy(k->cgmd);
    k->cgmd = NULL;
    esc_buf_fini(&k->out);
    esc_free(k->out_topic);
    k->out_topic = NULL;
}

/* A random identity for this state directory, named in the commit metadata. */
static void make_id(esc_runner *r) {
    unsigned char b[8];
    random8(r, b);
    for (int i = 0; i < 8; i++)
        snprintf(r->state_id + 2 * i, 3, "%02x", b[i]);
    r->meta_dirty = true;
}

esc_status esc_run_kafka_open(esc_runner *r, esc_error *err) {
    const esc_run_kafka *o = r->o.kafka;
    if (!o->topic || !*o->topic)
        return esc_error_set(err, ESC_EUSAGE, "kafka: no topic");
    if (!(r->kafka = esc_calloc(1, sizeof *r->kafka)) || !(r->kafka->topic = esc_strdup(o->topic)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!r->state_id[0])
        make_id(r);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    esc_status st = configure(r, c, err);
    if (st) {
        rd_kafka_conf_destroy(c);
        return st;
    }
    char why[512];
    r->kafka->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof why);
    if (!r->kafka->rk) {
        rd_kafka_conf_destroy(c);
        return esc_error_set(err, ESC_EUSAGE, "kafka: %s", why);
    }
    rd_kafka_poll_set_consumer(r->kafka->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r->kafka->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return esc_error_set(err, ESC_EIO, "kafka: subscribing to %s: %s", o->topic,
                             rd_kafka_err2str(e));
    return o->output ? open_output(r, err) : ESC_OK;
}

#define STOP_LISTED 32 /* partitions the stop message names */

void esc_run_kafka_stop(esc_runner *r) {
    run_kafka *k = r->kafka;
    if (!k->rk)
        return;
    rd_kafka_consumer_close(k->rk); /* revokes: checkpoint and commit first */
    if (k->failed && k->tx)         /* the last transaction (on revocation) failed */
        esc_run_msg(r, "%s", k->why);
    close_output(k);
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    esc_buf b;
    esc_buf_init(&b, 4000);
    size_t listed = 0, none = 0;
    for (size_t i = 0; i < k->np; i++) {
        const kpart *s = &k->p[i];
        if (s->sent_low < 0) {
            none++;
        } else if (listed++ < STOP_LISTED) {
            esc_buf_printf(&b, "%s%s/%" PRId32 " at %lld (read to %lld)", listed > 1 ? ", " : "",
                           k->topic, s->part, (long long)s->sent_low, (long long)s->sent_pos);
        }
    }
    if (listed > STOP_LISTED)
        esc_buf_printf(&b, ", %zu more", listed - STOP_LISTED);
    esc_run_msg(r, "kafka: left group %s; committed: %s",
                r->o.kafka->group ? r->o.kafka->group : "escudo", listed ? b.ptr : "nothing");
    if (none)
        esc_run_msg(r, "kafka: %zu partitions read before have no commit since their assignment",
                    none);
    if (k->nread) {
        double wall = k->wall1 - k->wall0, cpu = k->cpu1 - k->cpu0;
        esc_run_msg(r,
                    "kafka: read %llu messages in %.3f s (%.0f messages/s; %.3f s CPU, all "
                    "threads), from the first message consumed to the last",
                    (unsigned long long)k->nread, wall, wall > 0 ? (double)k->nread / wall : 0.0,
                    cpu);
    }
    esc_buf_fini(&b);
}

void esc_run_kafka_close(esc_runner *r) {
    run_kafka *k = r ? r->kafka : NULL;
    if (!k)
        return;
    if (k->rk)
        rd_kafka_consumer_close(k->rk); /* revokes: checkpoint and commit first */
    close_output(k);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    esc_free(k->p);
    esc_free(k->topic);
    esc_free(k);
    r->kafka = NULL;
}
