/* Splunk HTTP Event Collector sink: at-least-once delivery through a spool on disk.
 *
 * Every event is wrapped in a HEC envelope ({"time","source","sourcetype"[,"index"],"event"})
 * and collected into a batch. A full batch (and, on flush, the partial one) is first written to
 * the spool directory as one file (written to a temporary name, fsync'd, renamed), and only then
 * sent: POST /services/collector/event with the channel header; with indexer acknowledgement
 * the ackId is polled at /services/collector/ack until Splunk says it is indexed; then the file
 * is deleted. 503, timeouts, refused or dropped connections are retried with exponential
 * backoff (100 ms doubling to 5 s) until the flush deadline; what is not acknowledged by then
 * stays in the spool and is sent first by the next run (the channel GUID is kept in the spool
 * too). An ack that never comes means the batch is sent again: duplicates are possible only
 * where a response was lost, and the stable event_id in every event identifies them.
 *
 * Invariants: the token never appears in messages; TLS peer and host verification are on
 * unless the user turned them off; one process holds the spool (flock). Deliberately not done:
 * raw endpoint, gzip bodies, parallel requests, per-event acknowledgement. */
#include <curl/curl.h>
#include <dirent.h>
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
#include "sink/sink.h"

#define HEC_MAX_RESPONSE (64 * 1024)
#define HEC_MAX_BATCH_BYTES (4u << 20)
#define HEC_MAX_FILES 1000000
#define HEC_ACK_TIMEOUT_MS 30000
#define HEC_BACKOFF_MIN_MS 100
#define HEC_BACKOFF_MAX_MS 5000

typedef struct hec_sink {
    esc_sink base;
    CURL *curl;
    struct curl_slist *headers;
    char *event_url, *ack_url;
    char *spool;
    char channel[40];
    int lock_fd;
    bool ack;
    char *index, *source, *sourcetype;
    size_t batch_max;
    size_t max_files; /* batch files listed per flush */
    int timeout_ms, max_wait_ms;
    esc_buf batch; /* envelopes waiting to be spooled */
    size_t batch_n;
    unsigned long long next_seq;
    esc_buf resp;
    long last_http;
    char last_problem[256];
} hec_sink;

/* ---- time --------------------------------------------------------------------------------- */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- spool -------------------------------------------------------------------------------- */

static char *spool_path(const hec_sink *h, const char *name) {
    size_t n = strlen(h->spool) + 1 + strlen(name) + 1;
    char *p = esc_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", h->spool, name);
    return p;
}

static bool is_batch_name(const char *n) {
    size_t l = strlen(n);
    if (l != 16 + 5 || strcmp(n + 16, ".json") != 0)
        return false;
    for (size_t i = 0; i < 16; i++)
        if (n[i] < '0' || n[i] > '9')
            return false;
    return true;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted batch file names in the spool (heap array of heap strings), at most max_files of them
 * (the rest wait for a later flush); *last: the highest batch number of all, listed or not. */
static esc_status list_spool(hec_sink *h, char ***out, size_t *n, unsigned long long *last,
                             esc_error *err) {
    *out = NULL;
    *n = 0;
    *last = 0;
    DIR *d = opendir(h->spool);
    if (!d)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", h->spool, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    esc_status st = ESC_OK;
    while ((e = readdir(d)) != NULL) {
        if (!is_batch_name(e->d_name))
            continue;
        unsigned long long seq = strtoull(e->d_name, NULL, 10);
        if (seq > *last)
            *last = seq;
        if (*n >= h->max_files)
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **p = esc_realloc(*out, nc * sizeof *p);
            if (!p) {
                st = esc_error_set(err, ESC_ENOMEM, "out of memory");
                break;
            }
            *out = p;
            cap = nc;
        }
        if (!((*out)[*n] = esc_strdup(e->d_name))) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_name);
    return st;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        esc_free(names[i]);
    esc_free(names);
}

static esc_status write_durable(const char *path, const char *tmp, const char *data, size_t len,
                                esc_error *err) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            unlink(tmp);
            return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", path, strerror(errno));
    }
    return ESC_OK;
}

static esc_status spool_batch(hec_sink *h, esc_error *err) {
    if (h->batch_n == 0)
        return ESC_OK;
    char name[32], tmpname[40];
    snprintf(name, sizeof name, "%016llu.json", h->next_seq);
    snprintf(tmpname, sizeof tmpname, ".%016llu.tmp", h->next_seq);
    char *p = spool_path(h, name), *t = spool_path(h, tmpname);
    esc_status st;
    if (!p || !t)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    else
        st = write_durable(p, t, h->batch.ptr, h->batch.len, err);
    esc_free(p);
    esc_free(t);
    if (st == ESC_OK) {
        h->next_seq++;
        esc_buf_clear(&h->batch);
        h->batch_n = 0;
    }
    return st;
}

static esc_status read_file(const char *path, esc_buf *out, esc_error *err) {
    esc_buf_clear(out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", path, strerror(errno));
    char tmp[65536];
    size_t n;
    esc_status st = ESC_OK;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && st == ESC_OK)
        st = esc_buf_append(out, tmp, n);
    if (st == ESC_OK && ferror(f))
        st = esc_error_set(err, ESC_EIO, "HEC spool %s: read error", path);
    else if (st != ESC_OK)
        st = esc_error_set(err, st, "HEC spool %s: batch too large", path);
    fclose(f);
    return st;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    hec_sink *h = ud;
    size_t len = size * n;
    if (h->resp.len + len <= HEC_MAX_RESPONSE)
        esc_buf_append(&h->resp, p, len);
    return len;
}

typedef enum post_result {
    POST_OK,        /* 2xx */
    POST_RETRY,     /* transport problem or 5xx/429: try again later */
    POST_REJECTED,  /* 4xx other than 429: this batch will never be accepted */
    POST_AUTH,      /* 401/403: configuration; stop */
} post_result;

static post_result post(hec_sink *h, const char *url, const char *body, size_t len) {
    esc_buf_clear(&h->resp);
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

typedef enum send_result {
    SEND_DONE,
    SEND_LATER,    /* deadline passed; the batch stays spooled */
    SEND_REJECTED, /* Splunk refuses this batch */
    SEND_AUTH,
} send_result;

static send_result send_batch(hec_sink *h, const esc_buf *body, long long deadline) {
    long backoff = HEC_BACKOFF_MIN_MS;
    for (;;) {
        post_result r = post(h, h->event_url, body->ptr ? body->ptr : "", body->len);
        if (r == POST_AUTH)
            return SEND_AUTH;
        if (r == POST_REJECTED)
            return SEND_REJECTED;
        if (r == POST_OK) {
            long long ack_id = json_int(h->resp.ptr, "ackId");
            if (!h->ack || ack_id < 0)
                return SEND_DONE; /* acknowledgement off (or not enabled on the token) */
            /* poll for the acknowledgement */
            char q[64];
            snprintf(q, sizeof q, "{\"acks\":[%lld]}", ack_id);
            long long ack_deadline = now_ms() + HEC_ACK_TIMEOUT_MS;
            long wait = 50;
            for (;;) {
                post_result a = post(h, h->ack_url, q, strlen(q));
                if (a == POST_OK && ack_true(h->resp.ptr, ack_id))
                    return SEND_DONE;
                if (a == POST_AUTH)
                    return SEND_AUTH;
                /* the ack wait is not cut short by the flush deadline: giving up on a batch
                 * Splunk may have indexed would only make a duplicate */
                long long t = now_ms();
                if (t >= ack_deadline || a == POST_REJECTED) {
                    snprintf(h->last_problem, sizeof h->last_problem,
                             "no acknowledgement for ackId %lld", ack_id);
                    break; /* resend the batch */
                }
                sleep_ms(wait);
                if (wait < 1000)
                    wait *= 2;
            }
        }
        long long t = now_ms();
        if (t + backoff > deadline)
            return SEND_LATER;
        sleep_ms(backoff);
        backoff = backoff * 2 > HEC_BACKOFF_MAX_MS ? HEC_BACKOFF_MAX_MS : backoff * 2;
    }
}

/* Send the spooled batches a listing holds (every one up to max_files) in order until they are
 * sent or the deadline passes. */
static esc_status drain(hec_sink *h, long long deadline, esc_error *err) {
    char **names = NULL;
    size_t n = 0;
    unsigned long long last;
    esc_status st = list_spool(h, &names, &n, &last, err);
    esc_buf body;
    esc_buf_init(&body, 2 * (size_t)HEC_MAX_BATCH_BYTES + 65536);
    for (size_t i = 0; i < n && st == ESC_OK; i++) {
        char *path = spool_path(h, names[i]);
        if (!path) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        st = read_file(path, &body, err);
        if (st == ESC_ELIMIT) {
            /* not a batch this sink wrote: set it aside so it cannot block the spool */
            size_t pl = strlen(path) + 10;
            char *rej = esc_malloc(pl);
            if (rej) {
                snprintf(rej, pl, "%s.rejected", path);
                rename(path, rej);
                esc_free(rej);
            }
        }
        if (st == ESC_OK) {
            send_result r = send_batch(h, &body, deadline);
            if (r == SEND_DONE) {
                unlink(path);
            } else if (r == SEND_REJECTED) {
                size_t pl = strlen(path) + 10;
                char *rej = esc_malloc(pl);
                if (rej) {
                    snprintf(rej, pl, "%s.rejected", path);
                    rename(path, rej);
                    esc_free(rej);
                }
                st = esc_error_set(err, ESC_EIO,
                                   "HEC refused a batch (%s); kept as %s.rejected in %s",
                                   h->last_problem, names[i], h->spool);
            } else if (r == SEND_AUTH) {
                st = esc_error_set(err, ESC_EIO,
                                   "HEC refused the token (%s); %zu batch(es) kept in %s",
                                   h->last_problem, n - i, h->spool);
            } else {
                st = esc_error_set(err, ESC_EIO,
                                   "HEC unavailable (%s); %zu batch(es) kept in %s for the next "
                                   "run",
                                   h->last_problem, n - i, h->spool);
            }
        }
        esc_free(path);
    }
    esc_buf_fini(&body);
    free_names(names, n);
    return st;
}

/* ---- the sink ------------------------------------------------------------------------------ */

static esc_status hec_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    hec_sink *h = (hec_sink *)s;
    esc_buf *b = &h->batch;
    size_t before = b->len;
    esc_status st = esc_buf_printf(b, "{\"time\":%lld,\"source\":", (long long)ev->time);
    /* metadata values are plain text chosen by the user: escape quotes and backslashes */
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
            st = esc_buf_putc(b, '"');
        for (const char *p = v; *p && st == ESC_OK; p++) {
            if (*p == '"' || *p == '\\')
                st = esc_buf_putc(b, '\\');
            if (st == ESC_OK)
                st = esc_buf_putc(b, (unsigned char)*p < 0x20 ? ' ' : *p);
        }
        if (st == ESC_OK)
            st = esc_buf_putc(b, '"');
    }
    if (st == ESC_OK)
        st = esc_buf_append_c(b, ",\"event\":");
    if (st == ESC_OK)
        st = esc_buf_append(b, ev->json, ev->json_len);
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "}\n");
    if (st != ESC_OK) {
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
    h->batch_n++;
    if (h->batch_n >= h->batch_max) {
        if ((st = spool_batch(h, err)) != ESC_OK)
            return st;
        /* a quick attempt now keeps the spool small; failures wait for flush */
        esc_error ignored;
        drain(h, now_ms() + h->timeout_ms, &ignored);
    }
    return ESC_OK;
}

static esc_status hec_flush(esc_sink *s, esc_error *err) {
    hec_sink *h = (hec_sink *)s;
    esc_status st = spool_batch(h, err);
    if (st != ESC_OK)
        return st;
    return drain(h, now_ms() + h->max_wait_ms, err);
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

static esc_status load_channel(hec_sink *h, esc_error *err) {
    char *p = spool_path(h, "channel");
    if (!p)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_status st = ESC_OK;
    FILE *f = fopen(p, "rb");
    if (f) {
        size_t n = fread(h->channel, 1, 36, f);
        h->channel[n] = 0;
        fclose(f);
        if (n == 36)
            goto done;
    }
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
        if (fd >= 0)
            close(fd);
        st = esc_error_set(err, ESC_EIO, "cannot read /dev/urandom for the HEC channel");
        goto done;
    }
    close(fd);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(h->channel, sizeof h->channel,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    char *t = spool_path(h, ".channel.tmp");
    if (!t)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    else
        st = write_durable(p, t, h->channel, 36, err);
    esc_free(t);
done:
    esc_free(p);
    return st;
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
    char *lock = spool_path(h, "lock");
    if (!lock) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    h->lock_fd = open(lock, O_RDWR | O_CREAT, 0600);
    esc_free(lock);
    if (h->lock_fd < 0 || flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        st = esc_error_set(err, ESC_EIO, "HEC spool %s is in use by another escudo", h->spool);
        goto fail;
    }
    if ((st = load_channel(h, err)) != ESC_OK)
        goto fail;
    /* continue numbering after what an earlier run left */
    char **names = NULL;
    size_t n = 0;
    unsigned long long last;
    if ((st = list_spool(h, &names, &n, &last, err)) != ESC_OK) {
        free_names(names, n);
        goto fail;
    }
    h->next_seq = last + 1; /* past every batch, listed or not: none is overwritten */
    free_names(names, n);

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
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
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
