/* Splunk HTTP Event Collector sink: at-least-once delivery through a spool on disk.
 *
 * Every event is wrapped in a HEC envelope ({"time","source","sourcetype"[,"index"],"event"})
 * and collected into a batch. A full batch (and, on flush, the partial one) is first written to
 * the spool folder (hec_spool.c: temporary name, fsync, rename, fsync of the folder), and only
 * then sent: POST /services/collector/event with the channel header. Sending goes round the
 * spooled batches: each one not yet sent is posted once, then the ackIds of all batches sent are
 * polled together at /services/collector/ack, and a batch is deleted when Splunk says it is
 * indexed. A batch whose ack has not come within HEC_ACK_TIMEOUT_MS is posted again on a later
 * round; a note beside each posted batch (NNNN.ack) carries that wait over to the next sink
 * on the spool (run's next firing, a restart), so a HEC that never acknowledges gets one copy of
 * a batch per HEC_ACK_TIMEOUT_MS, not one per firing. 503, 429, 408, timeouts, refused or dropped
 * connections end a round and the next one starts after a backoff (100 ms doubling to 5 s). All of
 * it, including each request's own timeout, fits in one budget per sink: --hec-max-wait
 * (hec_max_wait_ms) is the most time the sink spends sending and waiting, across every put and
 * flush. What is not acknowledged then stays spooled and is sent first by the next run; that is not
 * an error of flush: flush returns ESC_OK and esc_sink_hec_pending() says how many batches wait and
 * why (sink.h). A batch Splunk refuses (another 4xx) is set aside as NNNN.json.rejected and counted
 * as pending too.
 *
 * An event whose event_id a spooled batch already holds is not spooled again: a restart that
 * makes the same events (a killed hunt or run run again) adds no copy of what still waits.
 *
 * Invariants: the token never appears in messages; TLS peer and host verification are on
 * unless the user turned them off; one process holds the spool (flock); a batch is deleted only
 * after Splunk acknowledged it (or answered 2xx with acknowledgement off). Deliberately not
 * done: raw endpoint, gzip bodies, parallel requests, per-event acknowledgement, remembering
 * batches that were delivered and deleted (a restart that makes them again sends them again). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "sink/hec_spool.h"
#include "sink/sink.h"

#define HEC_MAX_RESPONSE (64 * 1024)
#define HEC_MAX_BATCH_BYTES (4u << 20)
#define HEC_MAX_FILES 1000000
#define HEC_ACK_TIMEOUT_MS 30000
#define HEC_BACKOFF_MIN_MS 100
#define HEC_BACKOFF_MAX_MS 5000
#define HEC_POLL_MIN_MS 50
#define HEC_POLL_MAX_MS 1000
#define HEC_MIN_REQUEST_MS 20 /* less budget left than this: no new request */
#define HEC_ACKS_PER_QUERY 256
#define HEC_DEDUP_MAX 1000000 /* event_ids remembered for deduplication */

typedef struct inflight {
    unsigned long long seq;
    long long ack_id;
    long long sent_ms;
} inflight;

typedef struct hec_sink {
    esc_sink base;
    CURL *curl;
    struct curl_slist *headers;
    char *event_url, *ack_url;
    char *spool;
    char channel[37];
    int lock_fd;
    bool ack;
    char *index, *source, *sourcetype;
    size_t batch_max;
    size_t max_files; /* batch files listed per drain */
    int timeout_ms, max_wait_ms;
    esc_buf batch; /* envelopes waiting to be spooled */
    size_t batch_n;
    unsigned long long next_seq;
    esc_buf resp;
    long last_http;
    char last_problem[256];
    inflight *fl; /* batches posted and waiting for their ack */
    size_t nfl, capfl;
    long long waited_ms; /* spent of the max_wait_ms budget */
    bool put_drain_off;  /* a put's quick attempt met trouble: leave the rest to flush */
    bool flushed;        /* nothing spooled since the last flush's drain */
    esc_idset ids;       /* event_ids spooled (loaded from the spool on the first put) */
    bool ids_loaded;
    size_t rejected;      /* batches set aside by this sink */
    char rejected_as[64]; /* the last one's name */
    char rejected_why[96];
    size_t pending; /* batches left after the last drain */
    char why[ESC_ERROR_MSG_MAX];
} hec_sink;

/* ---- time --------------------------------------------------------------------------------- */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- spooling ------------------------------------------------------------------------------ */

static esc_status spool_batch(hec_sink *h, esc_error *err) {
    if (h->batch_n == 0)
        return ESC_OK;
    char name[32], tmpname[40];
    snprintf(name, sizeof name, "%016llu.json", h->next_seq);
    snprintf(tmpname, sizeof tmpname, ".%016llu.tmp", h->next_seq);
    char *p = esc_spool_path(h->spool, name), *t = esc_spool_path(h->spool, tmpname);
    esc_status st;
    if (!p || !t)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    else
        st = esc_spool_write(h->spool, p, t, h->batch.ptr, h->batch.len, err);
    esc_free(p);
    esc_free(t);
    if (st == ESC_OK) {
        h->next_seq++;
        esc_buf_clear(&h->batch);
        h->batch_n = 0;
        h->flushed = false;
    }
    return st;
}

/* The event_ids every listed spooled batch holds, once per sink. */
static esc_status load_ids(hec_sink *h, esc_error *err) {
    char **names = NULL;
    size_t n = 0;
    unsigned long long last;
    h->ids_loaded = true;
    esc_status st = esc_spool_list(h->spool, h->max_files, &names, &n, &last, err);
    esc_buf body;
    esc_buf_init(&body, 2 * (size_t)HEC_MAX_BATCH_BYTES + 65536);
    for (size_t i = 0; i < n && st == ESC_OK && !h->ids.full; i++) {
        char *path = esc_spool_path(h->spool, names[i]);
        if (!path) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        esc_error ignored;
        if (esc_spool_read(path, &body, &ignored) == ESC_OK &&
            esc_idset_add_batch(&h->ids, body.ptr ? body.ptr : "", body.len) != ESC_OK)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        esc_free(path);
    }
    esc_buf_fini(&body);
    esc_spool_names_free(names, n);
    return st;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    hec_sink *h = ud;
    size_t len = size * n;
    if (h->resp.len + len > HEC_MAX_RESPONSE)
        return len; /* the head of a response is all this sink reads */
    if (esc_buf_append(&h->resp, p, len) != ESC_OK)
        return 0; /* out of memory: libcurl fails the transfer, which is retried */
    return len;
}

typedef enum post_result {
    POST_OK,       /* 2xx */
    POST_RETRY,    /* transport problem or 5xx/429/408: try again later */
    POST_REJECTED, /* 4xx other than 429/408: this batch will never be accepted */
    POST_AUTH,     /* 401/403: configuration; stop */
} post_result;

/* One request; its timeouts end at the deadline at the latest. */
static post_result post(hec_sink *h, const char *url, const char *body, size_t len,
                        long long deadline) {
    esc_buf_clear(&h->resp);
    long long left = deadline - now_ms();
    long tmo = left < h->timeout_ms ? (long)(left > 1 ? left : 1) : (long)h->timeout_ms;
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, tmo);
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(h->curl);
    h->last_http = 0;
    if (rc != CURLE_OK) {
        snprintf(h->last_problem, sizeof h->last_problem, "%s", curl_easy_strerror(rc));
        return POST_RETRY;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->last_http);
    if (h->last_http >= 200 && h->last_http < 300)
        return POST_OK;
    snprintf(h->last_problem, sizeof h->last_problem, "HTTP %ld", h->last_http);
    if (h->last_http == 401 || h->last_http == 403)
        return POST_AUTH;
    if (h->last_http >= 400 && h->last_http < 500 && h->last_http != 429 && h->last_http != 408)
        return POST_REJECTED;
    return POST_RETRY;
}

/* The integer after "key": in a small JSON response, or -1. */
static long long json_int(const char *body, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    return strtoll(p, NULL, 10);
}

/* True when the ack response says ackId is true: {"acks":{"7":true}}. */
static bool ack_true(const char *body, long long id) {
    char pat[48];
    snprintf(pat, sizeof pat, "\"%lld\"", id);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t')
        p++;
    return strncmp(p, "true", 4) == 0;
}

/* ---- draining the spool -------------------------------------------------------------------- */

static inflight *find_fl(hec_sink *h, unsigned long long seq) {
    for (size_t i = 0; i < h->nfl; i++)
        if (h->fl[i].seq == seq)
            return &h->fl[i];
    return NULL;
}

static void drop_fl(hec_sink *h, unsigned long long seq) {
    inflight *f = find_fl(h, seq);
    if (f)
        *f = h->fl[--h->nfl];
}

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* NNNN.ack beside a posted batch: its ackId and when it was posted (wall clock, ms), so a
 * later sink (the next firing of run, a restart) polls that ack instead of posting the batch
 * again before HEC_ACK_TIMEOUT_MS. Not fsync'd: a lost note only means an earlier repost. */
static char *ack_note(const hec_sink *h, const char *name) {
    char a[32];
    snprintf(a, sizeof a, "%.16s.ack", name); /* not *.json: no tool counts it as a batch */
    return esc_spool_path(h->spool, a);
}

static void write_ack_note(const hec_sink *h, const char *name, long long ack_id) {
    char *p = ack_note(h, name);
    FILE *f = p ? fopen(p, "wb") : NULL;
    if (f) {
        fprintf(f, "%lld %lld\n", ack_id, wall_ms());
        fclose(f);
    }
    esc_free(p);
}

static void drop_ack_note(const hec_sink *h, const char *name) {
    char *p = ack_note(h, name);
    if (p)
        unlink(p);
    esc_free(p);
}

static esc_status set_fl(hec_sink *h, unsigned long long seq, long long ack_id, esc_error *err) {
    inflight *f = find_fl(h, seq);
    if (!f) {
        if (h->nfl == h->capfl && !ESC_VEC_GROW(h->fl, h->capfl, h->nfl + 1, 16))
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        f = &h->fl[h->nfl++];
    }
    *f = (inflight){seq, ack_id, now_ms()};
    return ESC_OK;
}

/* A batch an earlier sink posted: wait for its ack (until HEC_ACK_TIMEOUT_MS after it was
 * posted) rather than post it again. */
static esc_status read_ack_note(hec_sink *h, const char *name, unsigned long long seq,
                                esc_error *err) {
    char *p = ack_note(h, name);
    if (!p)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    FILE *f = fopen(p, "rb");
    esc_free(p);
    if (!f)
        return ESC_OK;
    long long ack_id = -1, at = 0;
    int n = fscanf(f, "%lld %lld", &ack_id, &at);
    fclose(f);
    if (n != 2 || ack_id < 0)
        return ESC_OK;
    long long age = wall_ms() - at;
    if (age < 0 || age >= HEC_ACK_TIMEOUT_MS)
        return ESC_OK;
    esc_status st = set_fl(h, seq, ack_id, err);
    if (st == ESC_OK)
        find_fl(h, seq)->sent_ms = now_ms() - age;
    return st;
}

/* One drain's view of the listed batches. */
typedef struct round {
    char **names;
    unsigned long long *seq;
    bool *done;
    size_t n, left;
    bool trouble, auth, removed;
    long long deadline;
} round;

static esc_status remove_batch(hec_sink *h, round *r, size_t i, esc_error *err) {
    char *path = esc_spool_path(h->spool, r->names[i]);
    if (!path)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_status st = ESC_OK;
    if (unlink(path) != 0 && errno != ENOENT)
        st = esc_error_set(err, ESC_EIO,
                           "HEC spool %s: cannot delete %s after Splunk took it (%s); it would "
                           "be sent again",
                           h->spool, r->names[i], strerror(errno));
    esc_free(path);
    drop_ack_note(h, r->names[i]);
    drop_fl(h, r->seq[i]);
    r->done[i] = true;
    r->left--;
    r->removed = true;
    return st;
}

static esc_status reject_batch(hec_sink *h, round *r, size_t i, const char *why, esc_error *err) {
    char *as = NULL;
    esc_status st = esc_spool_set_aside(h->spool, r->names[i], &as, err);
    if (st != ESC_OK)
        return st;
    snprintf(h->rejected_as, sizeof h->rejected_as, "%s", as);
    snprintf(h->rejected_why, sizeof h->rejected_why, "%s", why);
    esc_free(as);
    drop_ack_note(h, r->names[i]);
    h->rejected++;
    drop_fl(h, r->seq[i]);
    r->done[i] = true;
    r->left--;
    return ESC_OK;
}

/* Post every listed batch that is neither done nor waiting for an ack (a wait past
 * HEC_ACK_TIMEOUT_MS counts as no ack: posted again), in order, until trouble. */
static esc_status send_round(hec_sink *h, round *r, esc_buf *body, esc_error *err) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->done[i])
            continue;
        inflight *f = find_fl(h, r->seq[i]);
        if (f && now_ms() - f->sent_ms < HEC_ACK_TIMEOUT_MS)
            continue;
        if (r->deadline - now_ms() < HEC_MIN_REQUEST_MS)
            return ESC_OK;
        char *path = esc_spool_path(h->spool, r->names[i]);
        if (!path)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        esc_status st = esc_spool_read(path, body, err);
        esc_free(path);
        if (st == ESC_ELIMIT) { /* not a batch this sink wrote: it must not block the spool */
            if ((st = reject_batch(h, r, i, "larger than any batch escudo writes", err)))
                return st;
            continue;
        }
        if (st != ESC_OK)
            return st;
        post_result pr = post(h, h->event_url, body->ptr ? body->ptr : "", body->len, r->deadline);
        if (pr == POST_OK) {
            long long ack_id = json_int(h->resp.ptr, "ackId");
            if (!h->ack || ack_id < 0)
                st = remove_batch(h, r, i, err); /* acknowledgement off (or not on the token) */
            else if ((st = set_fl(h, r->seq[i], ack_id, err)) == ESC_OK)
                write_ack_note(h, r->names[i], ack_id);
        } else if (pr == POST_REJECTED) {
            st = reject_batch(h, r, i, h->last_problem, err);
        } else {
            r->auth = pr == POST_AUTH;
            r->trouble = true;
            return ESC_OK;
        }
        if (st != ESC_OK)
            return st;
    }
    return ESC_OK;
}

/* Ask for the acks of every listed batch that waits for one, HEC_ACKS_PER_QUERY at a time. */
static esc_status ack_round(hec_sink *h, round *r, esc_error *err) {
    size_t i = 0;
    while (i < r->n && !r->trouble) {
        size_t idx[HEC_ACKS_PER_QUERY], k = 0;
        char q[32 + HEC_ACKS_PER_QUERY * 21];
        size_t ql = (size_t)snprintf(q, sizeof q, "{\"acks\":[");
        for (; i < r->n && k < HEC_ACKS_PER_QUERY; i++) {
            inflight *f = r->done[i] ? NULL : find_fl(h, r->seq[i]);
            if (!f)
                continue;
            ql += (size_t)snprintf(q + ql, sizeof q - ql, "%s%lld", k ? "," : "", f->ack_id);
            idx[k++] = i;
        }
        if (k == 0)
            break;
        ql += (size_t)snprintf(q + ql, sizeof q - ql, "]}");
        if (r->deadline - now_ms() < HEC_MIN_REQUEST_MS)
            return ESC_OK;
        post_result pr = post(h, h->ack_url, q, ql, r->deadline);
        if (pr == POST_AUTH || pr == POST_RETRY) {
            r->auth = pr == POST_AUTH;
            r->trouble = true;
            return ESC_OK;
        }
        for (size_t j = 0; j < k; j++) {
            inflight *f = find_fl(h, r->seq[idx[j]]);
            if (pr == POST_REJECTED) {
                f->sent_ms -= HEC_ACK_TIMEOUT_MS; /* no acks to be had: post it again */
                continue;
            }
            if (ack_true(h->resp.ptr, f->ack_id)) {
                esc_status st = remove_batch(h, r, idx[j], err);
                if (st != ESC_OK)
                    return st;
            }
        }
    }
    return ESC_OK;
}

static void describe_pending(hec_sink *h, const round *r) {
    h->pending = r->left + h->rejected;
    h->why[0] = 0;
    size_t acks = 0;
    for (size_t i = 0; i < r->n; i++)
        acks += !r->done[i] && find_fl(h, r->seq[i]) != NULL;
    int w = 0;
    if (h->rejected)
        w = snprintf(h->why, sizeof h->why,
                     "HEC refused %zu batch(es) (%s); set aside as %s in %s, not sent again%s",
                     h->rejected, h->rejected_why, h->rejected_as, h->spool, r->left ? "; " : "");
    if (r->left && w >= 0 && (size_t)w < sizeof h->why) {
        if (r->auth)
            snprintf(h->why + w, sizeof h->why - (size_t)w,
                     "HEC refused the token (%s); %zu batch(es) kept in %s", h->last_problem,
                     r->left, h->spool);
        else if (acks == r->left && !r->trouble)
            snprintf(h->why + w, sizeof h->why - (size_t)w,
                     "HEC sent no acknowledgement for %zu batch(es) within the wait; kept in %s "
                     "for the next run",
                     acks, h->spool);
        else
            snprintf(h->why + w, sizeof h->why - (size_t)w,
                     "HEC unavailable (%s); %zu batch(es) kept in %s for the next run",
                     h->last_problem[0] ? h->last_problem : "the wait ran out", r->left, h->spool);
    }
}

/* Send the listed spooled batches (up to max_files) round by round until all are acknowledged
 * or the budget is spent; blocking: wait between rounds (flush), else one round (put). */
static esc_status drain(hec_sink *h, bool blocking, esc_error *err) {
    long long start = now_ms();
    round r = {0};
    unsigned long long last;
    esc_buf body;
    esc_buf_init(&body, 2 * (size_t)HEC_MAX_BATCH_BYTES + 65536);
    esc_status st = esc_spool_list(h->spool, h->max_files, &r.names, &r.n, &last, err);
    if (st == ESC_OK && r.n) {
        r.seq = esc_calloc(r.n, sizeof *r.seq);
        r.done = esc_calloc(r.n, sizeof *r.done);
        if (!r.seq || !r.done)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; st == ESC_OK && i < r.n; i++) {
        r.seq[i] = strtoull(r.names[i], NULL, 10);
        if (!find_fl(h, r.seq[i]))
            st = read_ack_note(h, r.names[i], r.seq[i], err);
    }
    r.left = r.n;
    r.deadline = start + (h->max_wait_ms - h->waited_ms);
    long long backoff = HEC_BACKOFF_MIN_MS, poll = HEC_POLL_MIN_MS;
    while (st == ESC_OK && r.left) {
        r.trouble = false;
        st = send_round(h, &r, &body, err);
        if (st == ESC_OK && !r.auth)
            st = ack_round(h, &r, err);
        long long t = now_ms();
        if (st != ESC_OK || !r.left || r.auth || !blocking || t >= r.deadline)
            break;
        long long nap = r.trouble ? backoff : poll;
        sleep_ms(nap < r.deadline - t ? nap : r.deadline - t);
        if (r.trouble)
            backoff = backoff * 2 > HEC_BACKOFF_MAX_MS ? HEC_BACKOFF_MAX_MS : backoff * 2;
        else
            poll = poll * 2 > HEC_POLL_MAX_MS ? HEC_POLL_MAX_MS : poll * 2;
    }
    if (r.removed) {
        esc_status s2 = esc_spool_sync_dir(h->spool, st == ESC_OK ? err : NULL);
        st = st ? st : s2;
    }
    if (r.trouble && !blocking)
        h->put_drain_off = true;
    if (r.n == 0 || r.done)
        describe_pending(h, &r);
    h->waited_ms += now_ms() - start;
    esc_buf_fini(&body);
    esc_spool_names_free(r.names, r.n);
    esc_free(r.seq);
    esc_free(r.done);
    return st;
}

/* ---- the sink ------------------------------------------------------------------------------ */

/* {"time":T,"source":S,"sourcetype":ST[,"index":I],"event":EVENT}\n appended to the batch. */
static esc_status envelope(hec_sink *h, const esc_sink_event *ev) {
    esc_buf *b = &h->batch;
    esc_status st = esc_buf_printf(b, "{\"time\":%lld,\"source\":", (long long)ev->time);
    /* metadata values are plain text chosen by the user: JSON strings as every JSON escudo
     * writes them (core/fmt) */
    const char *meta[3] = {h->source, h->sourcetype, h->index};
    const char *keys[3] = {"source", "sourcetype", "index"};
    char st_default[32];
    snprintf(st_default, sizeof st_default, "escudo:%s",
             ev->kind == ESC_SINK_RISK ? "risk" : "notable");
    for (int k = 0; k < 3 && st == ESC_OK; k++) {
        const char *v = meta[k];
        if (k == 0 && !v)
            v = ev->search_name ? ev->search_name : "escudo";
        if (k == 1 && !v)
            v = st_default;
        if (!v)
            continue;
        if (k > 0)
            st = esc_buf_printf(b, ",\"%s\":", keys[k]);
        if (st == ESC_OK)
            st = esc_fmt_json_str(b, v, strlen(v));
    }
    if (st == ESC_OK)
        st = esc_buf_append_c(b, ",\"event\":");
    if (st == ESC_OK)
        st = esc_buf_append(b, ev->json, ev->json_len);
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "}\n");
    return st;
}

static esc_status hec_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    hec_sink *h = (hec_sink *)s;
    esc_status st;
    if (!h->ids_loaded && (st = load_ids(h, err)) != ESC_OK)
        return st;
    size_t idl = ev->event_id ? strlen(ev->event_id) : 0;
    if (idl && esc_idset_has(&h->ids, ev->event_id, idl))
        return ESC_OK; /* a spooled batch holds it already */
    esc_buf *b = &h->batch;
    size_t before = b->len;
    if ((st = envelope(h, ev)) != ESC_OK) {
        b->len = before;
        if (b->ptr)
            b->ptr[before] = 0;
        if (before > 0) {
            /* the batch is full by bytes: spool it, then retry this event alone */
            if ((st = spool_batch(h, err)) != ESC_OK)
                return st;
            return hec_put(s, ev, err);
        }
        return esc_error_set(err, ESC_ELIMIT, "HEC: one event is larger than %u bytes",
                             HEC_MAX_BATCH_BYTES);
    }
    if (idl && esc_idset_add(&h->ids, ev->event_id, idl) != ESC_OK)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    h->batch_n++;
    if (h->batch_n >= h->batch_max) {
        if ((st = spool_batch(h, err)) != ESC_OK)
            return st;
        /* one quick round now keeps the spool small; trouble waits for flush, which meets it
         * again and reports it (the event itself is safely spooled: not this put's failure) */
        esc_error ignored;
        if (!h->put_drain_off && drain(h, false, &ignored) != ESC_OK)
            h->put_drain_off = true;
    }
    return ESC_OK;
}

static esc_status hec_flush(esc_sink *s, esc_error *err) {
    hec_sink *h = (hec_sink *)s;
    esc_status st = spool_batch(h, err);
    if (st != ESC_OK || h->flushed)
        return st; /* nothing new since the last flush had its turn */
    h->flushed = true;
    h->put_drain_off = false;
    return drain(h, true, err);
}

static void hec_close(esc_sink *s) {
    hec_sink *h = (hec_sink *)s;
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    if (h->lock_fd >= 0)
        close(h->lock_fd);
    esc_free(h->event_url);
    esc_free(h->ack_url);
    esc_free(h->spool);
    esc_free(h->index);
    esc_free(h->source);
    esc_free(h->sourcetype);
    esc_free(h->fl);
    esc_idset_fini(&h->ids);
    esc_buf_fini(&h->batch);
    esc_buf_fini(&h->resp);
    esc_free(h);
}

static const esc_sink_ops hec_ops = {
    .name = "hec",
    .put = hec_put,
    .flush = hec_flush,
    .close = hec_close,
    .history = NULL,
};

size_t esc_sink_hec_pending(esc_sink *s, esc_error *why) {
    if (!s || s->ops != &hec_ops)
        return 0;
    hec_sink *h = (hec_sink *)s;
    if (h->pending && why)
        esc_error_set(why, ESC_EIO, "%s", h->why);
    return h->pending;
}

static char *url_join(const char *base, const char *path) {
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    /* a URL that already names the collector endpoint: strip it */
    static const char *const suffixes[] = {"/services/collector/event", "/services/collector"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i]);
        if (bl >= sl && strncmp(base + bl - sl, suffixes[i], sl) == 0) {
            bl -= sl;
            break;
        }
    }
    size_t n = bl + strlen(path) + 1;
    char *u = esc_malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s", (int)bl, base, path);
    return u;
}

static esc_status mkdirs(const char *path, esc_error *err) {
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return esc_error_set(err, ESC_EUSAGE, "HEC spool path is empty or too long");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    return ESC_OK;
}

esc_status esc_sink_hec_open(const esc_sink_opts *o, esc_sink **out, esc_error *err) {
    *out = NULL;
    if (!o->hec_token || !*o->hec_token)
        return esc_error_set(err, ESC_EUSAGE,
                             "--hec needs a token: --hec-token-file FILE or ESCUDO_HEC_TOKEN");
    if (strncmp(o->hec_url, "http://", 7) != 0 && strncmp(o->hec_url, "https://", 8) != 0)
        return esc_error_set(err, ESC_EUSAGE, "--hec %s: not an http:// or https:// URL",
                             o->hec_url);
    hec_sink *h = esc_calloc(1, sizeof *h);
    if (!h)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    h->base.ops = &hec_ops;
    h->lock_fd = -1;
    esc_buf_init(&h->batch, HEC_MAX_BATCH_BYTES);
    esc_buf_init(&h->resp, HEC_MAX_RESPONSE + 1);
    h->ack = o->hec_ack;
    h->batch_max = o->hec_batch ? o->hec_batch : 100;
    h->max_files = o->hec_max_files ? o->hec_max_files : HEC_MAX_FILES;
    h->timeout_ms = o->hec_timeout_ms > 0 ? o->hec_timeout_ms : 10000;
    h->max_wait_ms = o->hec_max_wait_ms > 0 ? o->hec_max_wait_ms : 60000;
    esc_idset_init(&h->ids, HEC_DEDUP_MAX);
    esc_status st = ESC_OK;
    h->spool = esc_strdup(o->hec_spool_dir ? o->hec_spool_dir : ".escudo-spool");
    h->event_url = url_join(o->hec_url, "/services/collector/event");
    h->ack_url = url_join(o->hec_url, "/services/collector/ack");
    h->index = o->hec_index ? esc_strdup(o->hec_index) : NULL;
    h->source = o->hec_source ? esc_strdup(o->hec_source) : NULL;
    h->sourcetype = o->hec_sourcetype ? esc_strdup(o->hec_sourcetype) : NULL;
    if (!h->spool || !h->event_url || !h->ack_url || (o->hec_index && !h->index) ||
        (o->hec_source && !h->source) || (o->hec_sourcetype && !h->sourcetype)) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = mkdirs(h->spool, err)) != ESC_OK)
        goto fail;
    char *lock = esc_spool_path(h->spool, "lock");
    if (!lock) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    h->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    esc_free(lock);
    if (h->lock_fd < 0 || flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        st = esc_error_set(err, ESC_EIO, "HEC spool %s is in use by another escudo", h->spool);
        goto fail;
    }
    if ((st = esc_spool_channel(h->spool, h->channel, err)) != ESC_OK)
        goto fail;
    /* continue numbering after what an earlier run left */
    char **names = NULL;
    size_t n = 0;
    unsigned long long last;
    st = esc_spool_list(h->spool, 0, &names, &n, &last, err);
    esc_spool_names_free(names, n);
    if (st != ESC_OK)
        goto fail;
    h->next_seq = last + 1; /* past every number in the spool: nothing is overwritten */

    h->curl = curl_easy_init();
    if (!h->curl) {
        st = esc_error_set(err, ESC_EINTERNAL, "cannot initialise libcurl");
        goto fail;
    }
    char auth[1200], chan[80];
    if (strlen(o->hec_token) > 1024) {
        st = esc_error_set(err, ESC_EUSAGE, "HEC token too long");
        goto fail;
    }
    snprintf(auth, sizeof auth, "Authorization: Splunk %s", o->hec_token);
    snprintf(chan, sizeof chan, "X-Splunk-Request-Channel: %s", h->channel);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    if (hd)
        h->headers = hd;
    hd = hd ? curl_slist_append(h->headers, chan) : NULL;
    hd = hd ? curl_slist_append(h->headers, "Content-Type: application/json") : NULL;
    hd = hd ? curl_slist_append(h->headers, "Expect:") : NULL;
    memset(auth, 0, sizeof auth);
    if (!hd) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, o->hec_insecure ? 0L : 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, o->hec_insecure ? 0L : 2L);
    if (o->hec_ca_file)
        curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->hec_ca_file);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "escudo/" ESC_VERSION);
    *out = &h->base;
    return ESC_OK;
fail:
    hec_close(&h->base);
    return st;
}
