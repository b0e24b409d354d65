/* The run loop (see run.h, docs/run.md).
 *
 * Invariants:
 * - Everything durable goes through one checkpoint transaction per step: input offsets, the
 *   partial blob of every window that changed, fired windows, and the "@run" bookkeeping blob
 *   (when each detection was enabled and last fired, the committed sizes of JSON-lines sink
 *   files, counters). A crash loses at most the step in progress, which is then redone.
 * - Sinks are written before the commit that marks their windows fired; on restart, JSON-lines
 *   files are cut back to their committed sizes, so redoing a step writes its lines once.
 * - A window's blob is the list of its kept records (CIM values and time), so a restart re-feeds
 *   them into a fresh execution: the result equals the uninterrupted one. Only records that
 *   pass a detection's where clause are kept: memory follows matching records, not input.
 * - Text inputs (UTF-8 XmlWinEventLog, JSON lines) are read in chunks that end at a record
 *   boundary (after the last "</Event>" or newline), so a record still being written is left for
 *   the next poll; other inputs (EVTX, gzip, UTF-16, JSON arrays) are streamed whole, skipping
 *   records before the saved offset.
 * Deliberately not done: printing, signals, threads, reading the system clock, resuming standard
 * input, holding CrowdStrike records until their host appears (they map with the inventory seen
 * so far, which is checkpointed as "@hosts", or --aidmaster). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "act/act.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "ingest/input.h"
#include "sched/agenda.h"
#include "sched/checkpoint.h"
#include "sched/window.h"

#define CHUNK (4u << 20)          /* text bytes read per input per pass */
#define CHUNK_MAX (16u << 20)     /* a record larger than this is skipped as malformed */
#define STEP_EVENTS 20000         /* records per whole-file input per pass */
#define MAX_COVER 64              /* windows one record may fall in */
#define MAX_WINDOWS 100000        /* open + retained windows */
#define BLOB_MAGIC "ESW1"
#define BLOB_HDR 21               /* magic, i64 scheduled, u64 emitted_len, u8 fired */

enum { M_UNKNOWN, M_XML, M_JSONL, M_WHOLE };

typedef struct run_in {
    char *path;
    bool is_stdin;
    int mode;
    bool have;          /* identity known (from the store or a first look) */
    uint64_t inode, offset;
    uint32_t head_len;
    uint64_t head_hash;
    bool dirty;         /* to checkpoint */
    bool pending;       /* more may be readable now */
    uint64_t seen_size; /* size at the last look */
    bool missing;
    bool resync; /* offset is inside a record skipped as too long: skip to its end first */
    /* whole-file streaming */
    esc_input *in;
    esc_reader *rd;
    uint64_t skip_before;
    /* standard input */
    esc_buf pend;
    uint64_t stdin_off;
    bool stdin_eof;
} run_in;

typedef struct win_state {
    size_t det;
    int64_t sched;
    esc_window w;
    esc_exec *x;     /* open window; NULL once fired */
    esc_buf blob;    /* header + records */
    bool fired, dirty, late_dirty, deleted;
} win_state;

typedef struct det_state {
    const esc_detection *d;
    const esc_plan *plan;
    esc_schedule sched;
    int64_t enabled_at, last_fired;
} det_state;

typedef struct run_sink {
    esc_sink base;
    esc_runner *r;
} run_sink;

typedef struct fired_row {
    size_t det;
    int64_t e, l, t;
} fired_row;

struct esc_runner {
    esc_runner_opts o;
    esc_ckpt *ck;
    esc_agenda *agenda;
    det_state *det;
    size_t ndet;
    run_in *in;
    size_t nin;
    char **dirs; /* directory roots, expanded at each pass */
    size_t ndirs;
    win_state **win;
    size_t nwin;
    fired_row *fired;
    size_t nfired, capfired;
    esc_hostmap *hosts;
    esc_buf hosts_text; /* "aid\tname\n" of every inventory record seen, saved as "@hosts" */
    bool hosts_dirty;
    esc_arena arena;
    unsigned char *chunk;
    int memfd;
    char memfd_path[64];
    /* sinks session */
    esc_sinks *real, *wrapset;
    esc_act *act;
    run_sink wrap;
    uint64_t sink_size[2]; /* committed sizes of the notables and risk JSON-lines files */
    bool sink_track[2];
    /* late emission in progress */
    struct {
        bool active, changed;
        uint64_t salt;
        int64_t lag;
    } late;
    /* bookkeeping */
    esc_runner_stats stats;
    uint64_t fired_total;
    int64_t last_commit;
    bool meta_dirty, caught;
    uint64_t puts, commits;
    long crash_sink, crash_commit;
    char *msgs[ESC_RUN_MAX_MESSAGES];
    size_t nmsgs, dropped;
};

/* ---- messages ---------------------------------------------------------------------------- */

static void msg(esc_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(esc_runner *r, const char *fmt, ...) {
    if (r->nmsgs == ESC_RUN_MAX_MESSAGES) {
        r->dropped++;
        return;
    }
    esc_buf b;
    esc_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    esc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = esc_buf_take(&b);
    if (s)
        r->msgs[r->nmsgs++] = s;
    else
        r->dropped++;
}

static void msgs_clear(esc_runner *r) {
    for (size_t i = 0; i < r->nmsgs; i++)
        esc_free(r->msgs[i]);
    r->nmsgs = 0;
    r->dropped = 0;
}

static void msg_err(esc_runner *r, const char *path, uint64_t base, const esc_error *e) {
    if (e->has_offset)
        msg(r, "%s: offset %llu: %s", path, (unsigned long long)(base + e->offset), e->msg);
    else
        msg(r, "%s: %s", path, e->msg);
}

/* ---- blobs: a window's kept records ------------------------------------------------------ */

static void put_u64(unsigned char *p, uint64_t v) {
    memcpy(p, &v, 8);
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static esc_status blob_init(esc_buf *b, int64_t sched) {
    unsigned char h[BLOB_HDR] = {0};
    memcpy(h, BLOB_MAGIC, 4);
    put_u64(h + 4, (uint64_t)sched);
    put_u64(h + 12, BLOB_HDR);
    esc_buf_init(b, ESC_CKPT_MAX_BLOB);
    return esc_buf_append(b, h, BLOB_HDR);
}

static uint64_t blob_emitted(const esc_buf *b) {
    return get_u64((const unsigned char *)b->ptr + 12);
}
static void blob_set_emitted(esc_buf *b, uint64_t n) {
    put_u64((unsigned char *)b->ptr + 12, n);
}
static void blob_set_fired(esc_buf *b) {
    b->ptr[20] = 1;
}

static esc_status blob_add(esc_buf *b, const esc_record *rec) {
    unsigned char h[12];
    uint32_t mask = 0;
    for (int i = 0; i < ESC_CIM_NFIELDS; i++)
        if (rec->v[i].ptr)
            mask |= 1u << i;
    put_u64(h, (uint64_t)rec->time_us);
    memcpy(h + 8, &mask, 4);
    esc_status st = esc_buf_append(b, h, sizeof h);
    for (int i = 0; !st && i < ESC_CIM_NFIELDS; i++) {
        if (!(mask & (1u << i)))
            continue;
        uint32_t n = (uint32_t)rec->v[i].len;
        if ((st = esc_buf_append(b, &n, 4)) == ESC_OK && n)
            st = esc_buf_append(b, rec->v[i].ptr, n);
    }
    return st;
}

/* Next record at *pos in [.., end); false at the end or on a corrupt blob. */
static bool blob_next(const unsigned char *p, size_t end, size_t *pos, esc_record *rec) {
    size_t i = *pos;
    if (i + 12 > end)
        return false;
    memset(rec, 0, sizeof *rec);
    rec->time_us = (int64_t)get_u64(p + i);
    uint32_t mask;
    memcpy(&mask, p + i + 8, 4);
    i += 12;
    for (int f = 0; f < ESC_CIM_NFIELDS; f++) {
        if (!(mask & (1u << f)))
            continue;
        uint32_t n;
        if (i + 4 > end)
            return false;
        memcpy(&n, p + i, 4);
        i += 4;
        if (n > end - i)
            return false;
        rec->v[f] = esc_str_make((const char *)p + i, n);
        i += n;
    }
    *pos = i;
    return true;
}

/* The table of a window's records in blob[BLOB_HDR, end). */
static esc_status blob_table(const det_state *d, const win_state *ws, size_t end, esc_table **out,
                             esc_error *err) {
    esc_exec *x = esc_exec_new(d->plan, ws->w.earliest * ESC_US_PER_SEC,
                               ws->w.latest * ESC_US_PER_SEC, err);
    if (!x)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    size_t pos = BLOB_HDR;
    esc_record rec;
    esc_status st = ESC_OK;
    while (!st && blob_next((const unsigned char *)ws->blob.ptr, end, &pos, &rec))
        st = esc_exec_feed(x, &rec, err);
    if (!st)
        st = esc_exec_finish(x, out, err);
    esc_exec_free(x);
    return st;
}

/* ---- windows ----------------------------------------------------------------------------- */

static win_state *win_find(esc_runner *r, size_t det, int64_t sched) {
    for (size_t i = 0; i < r->nwin; i++)
        if (r->win[i]->det == det && r->win[i]->sched == sched && !r->win[i]->deleted)
            return r->win[i];
    return NULL;
}

static void win_free(win_state *w) {
    if (!w)
        return;
    esc_exec_free(w->x);
    esc_buf_fini(&w->blob);
    esc_free(w);
}

static esc_status win_new(esc_runner *r, size_t det, int64_t sched, bool open, win_state **out,
                          esc_error *err) {
    size_t max = r->o.max_windows ? r->o.max_windows : MAX_WINDOWS;
    if (r->nwin >= max)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu open windows", max);
    if ((r->nwin & (r->nwin + 1)) == 0 || r->nwin == 0) {
        win_state **p = esc_realloc(r->win, (r->nwin * 2 + 2) * sizeof *p);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        r->win = p;
    }
    win_state *w = esc_calloc(1, sizeof *w);
    if (!w)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    w->det = det;
    w->sched = sched;
    esc_status st = esc_schedule_window(&r->det[det].sched, sched, &w->w, err);
    if (!st && blob_init(&w->blob, sched))
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!st && open) {
        w->x = esc_exec_new(r->det[det].plan, w->w.earliest * ESC_US_PER_SEC,
                            w->w.latest * ESC_US_PER_SEC, err);
        if (!w->x)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    if (st) {
        win_free(w);
        return st;
    }
    r->win[r->nwin++] = w;
    *out = w;
    return ESC_OK;
}

/* Drop windows marked deleted once their deletion was committed. */
static void win_compact(esc_runner *r) {
    size_t k = 0;
    for (size_t i = 0; i < r->nwin; i++) {
        if (r->win[i]->deleted && !r->win[i]->dirty)
            win_free(r->win[i]);
        else
            r->win[k++] = r->win[i];
    }
    r->nwin = k;
}

/* ---- records ----------------------------------------------------------------------------- */

/* A detection whose windows overlap so much that a record falls in more than MAX_COVER of
 * them is refused when the run starts (probed hourly over the week ahead), not at its first
 * record, where the run would stop and stop again on every restart. */
static esc_status check_cover(const det_state *d, int64_t now, esc_error *err) {
    int64_t ts[MAX_COVER];
    size_t n;
    for (int h = 0; h < 7 * 24; h++)
        if (esc_schedule_runs_covering(&d->sched, now + h * 3600, ts, MAX_COVER, &n, err))
            return esc_error_set(err, ESC_ECONTENT,
                                 "%s: a record would fall in more than %d windows (its schedule "
                                 "runs more often than its time range is long); not run",
                                 d->d->name, MAX_COVER);
    return ESC_OK;
}

static esc_status keep(esc_runner *r, size_t j, const esc_record *rec, esc_error *err) {
    det_state *d = &r->det[j];
    int64_t ts[MAX_COVER];
    size_t n = 0;
    int64_t e = esc_time_sec(rec->time_us);
    esc_status st = esc_schedule_runs_covering(&d->sched, e, ts, MAX_COVER, &n, err);
    if (st) {
        char why[ESC_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return esc_error_set(err, st, "%s: %s", d->d->name, why);
    }
    for (size_t k = 0; k < n; k++) {
        int64_t t = ts[k];
        if (t <= d->enabled_at) {
            r->stats.before_start++;
            continue;
        }
        win_state *w = win_find(r, j, t);
        if (t <= d->last_fired) {
            r->stats.late++;
            r->meta_dirty = true;
            int64_t lag = esc_clock_now_sec(r->o.clock) - t;
            if (!r->o.late_emit || !w) {
                msg(r, "late event missed: %s: event time %lld in window [%lld, %lld) that ran at "
                       "%lld (%lld s ago)%s",
                    d->d->name, (long long)e, (long long)(w ? w->w.earliest : 0),
                    (long long)(w ? w->w.latest : 0), (long long)t, (long long)lag,
                    r->o.late_emit ? " beyond the late retention" : "");
                continue;
            }
            if ((st = blob_add(&w->blob, rec)))
                return esc_error_set(err, st, "window blob of %s over its limit", d->d->name);
            w->dirty = w->late_dirty = true;
            continue;
        }
        if (!w && (st = win_new(r, j, t, true, &w, err)))
            return st;
        if ((st = esc_exec_feed(w->x, rec, err)))
            return st;
        if ((st = blob_add(&w->blob, rec)))
            return esc_error_set(err, st, "window blob of %s over its limit", d->d->name);
        w->dirty = true;
        r->stats.kept++;
    }
    return ESC_OK;
}

static esc_status handle_event(esc_runner *r, const esc_event *ev, esc_error *err) {
    r->stats.events++;
    if (ev->kind == ESC_EV_AIDMASTER) {
        esc_str aid = esc_event_get(ev, "aid"), name = esc_event_get(ev, "ComputerName");
        if (!aid.len || !name.len || memchr(aid.ptr, '\t', aid.len) ||
            memchr(aid.ptr, '\n', aid.len) || memchr(name.ptr, '\n', name.len))
            return ESC_OK;
        esc_str had = esc_hostmap_get(r->hosts, aid);
        if (had.ptr && esc_str_eq(had, name))
            return ESC_OK;
        if (esc_hostmap_put(r->hosts, aid, name) ||
            esc_buf_printf(&r->hosts_text, "%.*s\t%.*s\n", ESC_STR_FMT(aid), ESC_STR_FMT(name)))
            return esc_error_set(err, ESC_ELIMIT, "host inventory is full");
        r->hosts_dirty = true;
        return ESC_OK;
    }
    if (ev->kind == ESC_EV_OTHER)
        return ESC_OK;
    esc_record rec;
    esc_arena_reset(&r->arena);
    esc_status st = esc_cim_map(ev, r->o.profile, r->hosts, &r->arena, &rec, NULL, err);
    if (st == ESC_SKIP)
        return ESC_OK;
    if (st)
        return st;
    r->stats.process_events++;
    for (size_t j = 0; j < r->ndet; j++) {
        if (!esc_plan_record_matches(r->det[j].plan, &rec))
            continue;
        if ((st = keep(r, j, &rec, err)))
            return st;
    }
    return ESC_OK;
}

/* Every record of an opened reader. base: offset of the reader's stream in the input. */
static esc_status drain(esc_runner *r, esc_reader *rd, const char *path, uint64_t base,
                        uint64_t skip_before, size_t max, uint64_t *next_off, esc_error *err) {
    for (size_t k = 0; k < max; k++) {
        esc_event ev;
        esc_error e = {0};
        esc_status st = esc_reader_next(rd, &ev, &e);
        if (st == ESC_EOF)
            return ESC_EOF;
        if (st == ESC_EMALFORMED) {
            r->stats.malformed++;
            msg_err(r, path, base, &e);
            continue;
        }
        if (st) {
            msg_err(r, path, base, &e);
            return st == ESC_ENOMEM ? esc_error_set(err, st, "out of memory") : ESC_EIO;
        }
        if (ev.offset < skip_before)
            continue;
        if (next_off)
            *next_off = ev.offset + 1;
        st = handle_event(r, &ev, &e);
        if (st == ESC_EMALFORMED) {
            r->stats.malformed++;
            msg_err(r, path, base, &e);
            continue;
        }
        if (st) {
            *err = e;
            return st;
        }
    }
    return ESC_OK;
}

/* ---- inputs ------------------------------------------------------------------------------ */

static size_t boundary(const unsigned char *p, size_t n, int mode) {
    if (mode == M_JSONL) {
        for (size_t i = n; i > 0; i--)
            if (p[i - 1] == '\n')
                return i;
        return 0;
    }
    static const char tag[] = "</Event>";
    const size_t tl = sizeof tag - 1;
    for (size_t i = n; i >= tl; i--) {
        if (p[i - 1] == '>' && memcmp(p + i - tl, tag, tl) == 0) {
            while (i < n && (p[i] == '\r' || p[i] == '\n'))
                i++; /* the line end belongs to the record */
            return i;
        }
    }
    return 0;
}

/* Run the reader over n bytes of text starting at input offset base. */
static esc_status read_text(esc_runner *r, const char *path, const unsigned char *p, size_t n,
                            uint64_t base, esc_error *err) {
    if (ftruncate(r->memfd, 0) != 0)
        return esc_error_set(err, ESC_EIO, "chunk buffer: %s", strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(r->memfd, p + done, n - done, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return esc_error_set(err, ESC_EIO, "chunk buffer: %s", strerror(errno));
        done += (size_t)w;
    }
    esc_input *in = NULL;
    esc_reader *rd = NULL;
    esc_status st = esc_input_open(r->memfd_path, &in, err);
    if (st)
        return st;
    esc_error e = {0};
    st = esc_reader_open(in, esc_engine_interest(r->o.engine), &(esc_reader_opts){0}, &rd, &e);
    if (st == ESC_SKIP) { /* no record in this chunk (blank lines, a closing tag) */
        st = ESC_OK;
        goto done;
    }
    if (st) {
        msg_err(r, path, base, &e);
        goto done;
    }
    st = drain(r, rd, path, base, 0, SIZE_MAX, NULL, err);
    if (st == ESC_EOF)
        st = ESC_OK;
done:
    esc_reader_free(rd);
    esc_input_free(in);
    return st;
}

static void close_whole(run_in *in) {
    esc_reader_free(in->rd);
    esc_input_free(in->in);
    in->rd = NULL;
    in->in = NULL;
}

/* Look at a file: identity, rotation/truncation, format. Returns false when nothing to do. */
static bool look(esc_runner *r, run_in *in, const struct stat *sb) {
    esc_input *x = NULL;
    esc_error e = {0};
    if (esc_input_open(in->path, &x, &e)) {
        msg_err(r, in->path, 0, &e);
        return false;
    }
    const unsigned char *head;
    size_t n = 0;
    if (esc_input_peek(x, ESC_CKPT_HEAD_MAX, &head, &n, &e)) {
        msg_err(r, in->path, 0, &e);
        esc_input_free(x);
        return false;
    }
    bool gz = esc_input_is_gzip(x);
    if (in->have) {
        esc_ckpt_input saved = {in->path, in->inode, in->offset, in->head_len, in->head_hash};
        esc_ckpt_decision d = esc_ckpt_input_decide(
            &saved, (uint64_t)sb->st_ino, gz ? UINT64_MAX : (uint64_t)sb->st_size, head, n);
        if (d != ESC_CKPT_RESUME) {
            msg(r, "%s: %s: reading it from the start", in->path,
                d == ESC_CKPT_ROTATED ? "rotated" : "truncated");
            in->offset = 0;
            in->resync = false;
            in->mode = M_UNKNOWN;
            close_whole(in);
        }
    }
    in->have = true;
    in->inode = (uint64_t)sb->st_ino;
    in->head_len = (uint32_t)n;
    in->head_hash = esc_ckpt_head_hash(head, n);
    in->dirty = true;
    if (in->mode == M_UNKNOWN && n > 0) {
        esc_format f = esc_sniff(head, n);
        size_t i = 0;
        while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
            i++;
        if (!gz && f == ESC_FMT_XML)
            in->mode = M_XML;
        else if (!gz && f == ESC_FMT_JSON && i < n && head[i] == '{')
            in->mode = M_JSONL;
        else if (f != ESC_FMT_UNKNOWN || gz)
            in->mode = M_WHOLE;
    }
    esc_input_free(x);
    return in->mode != M_UNKNOWN;
}

/* Offset just past the first record end at or after from, or 0 when none is written before
 * size. Reads through r->chunk, CHUNK bytes at a time (overlapping by the tag's length). */
static uint64_t record_end(esc_runner *r, int fd, uint64_t from, uint64_t size, int mode) {
    static const char tag[] = "</Event>";
    const size_t tl = sizeof tag - 1;
    while (from < size) {
        size_t want = size - from > CHUNK ? CHUNK : (size_t)(size - from);
        ssize_t k = pread(fd, r->chunk, want, (off_t)from);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0;
        const unsigned char *p = r->chunk, *e;
        size_t n = (size_t)k;
        if (mode == M_JSONL && (e = memchr(p, '\n', n)))
            return from + (uint64_t)(e - p) + 1;
        if (mode != M_JSONL && (e = memmem(p, n, tag, tl))) {
            uint64_t end = from + (uint64_t)(e - p) + tl;
            for (size_t i = (size_t)(e - p) + tl; i < n && (p[i] == '\r' || p[i] == '\n'); i++)
                end++; /* the line end belongs to the record */
            return end;
        }
        if (from + n >= size)
            return 0;
        from += n > tl ? n - tl : n;
    }
    return 0;
}

/* One chunk of a text file. *progress set when bytes were consumed. */
static esc_status poll_text(esc_runner *r, run_in *in, uint64_t size, bool *progress,
                            esc_error *err) {
    if (in->offset >= size) {
        in->pending = false;
        return ESC_OK;
    }
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg(r, "%s: cannot open: %s", in->path, strerror(errno));
        return ESC_OK;
    }
    if (in->resync) { /* the rest of a record already reported as skipped */
        uint64_t end = record_end(r, fd, in->offset, size, in->mode);
        in->resync = !end;
        in->offset = end ? end : size;
        in->dirty = true;
        in->pending = in->offset < size;
        *progress = true;
        close(fd);
        return ESC_OK;
    }
    size_t want = size - in->offset > CHUNK ? CHUNK : (size_t)(size - in->offset), got = 0, b = 0;
    esc_status st = ESC_OK;
    for (;;) {
        ssize_t k = pread(fd, r->chunk + got, want - got, (off_t)(in->offset + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            msg(r, "%s: read failed: %s", in->path, strerror(errno));
            goto out;
        }
        got += (size_t)k;
        if (k > 0 && got < want)
            continue;
        b = boundary(r->chunk, got, in->mode);
        if (b || got < want || want == CHUNK_MAX || size - in->offset <= want)
            break;
        want = size - in->offset > CHUNK_MAX ? CHUNK_MAX : (size_t)(size - in->offset);
    }
    if (!b) {
        if (got == CHUNK_MAX) {
            /* the whole record is skipped, up to its end (or what is written of it): what
             * follows it starts a record, so the next chunk is read as records again */
            r->stats.malformed++;
            msg(r, "%s: offset %llu: no record end within %u bytes: skipped", in->path,
                (unsigned long long)in->offset, CHUNK_MAX);
            uint64_t end = record_end(r, fd, in->offset + got, size, in->mode);
            in->resync = !end;
            in->offset = end ? end : size;
            in->dirty = true;
            in->pending = in->offset < size;
            *progress = true;
        } else {
            in->pending = false; /* a record still being written */
        }
        goto out;
    }
    st = read_text(r, in->path, r->chunk, b, in->offset, err);
    if (st)
        goto out;
    in->offset += b;
    in->dirty = true;
    in->pending = in->offset < size;
    *progress = true;
out:
    close(fd);
    return st;
}

static esc_status poll_whole(esc_runner *r, run_in *in, bool *progress, esc_error *err) {
    esc_error e = {0};
    if (!in->rd) {
        esc_status st = esc_input_open(in->path, &in->in, &e);
        if (!st)
            st = esc_reader_open(in->in, esc_engine_interest(r->o.engine), &(esc_reader_opts){0},
                                 &in->rd, &e);
        if (st) {
            if (st != ESC_SKIP)
                msg_err(r, in->path, 0, &e);
            close_whole(in);
            in->pending = false;
            return ESC_OK;
        }
        in->skip_before = in->offset;
    }
    uint64_t next = in->offset;
    esc_status st = drain(r, in->rd, in->path, 0, in->skip_before, STEP_EVENTS, &next, err);
    if (next > in->offset) {
        in->offset = next;
        in->dirty = true;
        *progress = true;
    }
    if (st == ESC_EOF) {
        uint64_t end = esc_input_offset(in->in);
        if (end > in->offset) {
            in->offset = end;
            in->dirty = true;
        }
        close_whole(in);
        in->pending = false;
        return ESC_OK;
    }
    if (st) {
        close_whole(in);
        in->pending = false;
        return st == ESC_EIO ? ESC_OK : st;
    }
    in->pending = true;
    return ESC_OK;
}

static esc_status poll_stdin(esc_runner *r, run_in *in, bool *progress, esc_error *err) {
    if (in->stdin_eof && in->pend.len == 0)
        return ESC_OK;
    if (!in->stdin_eof && in->pend.len < CHUNK) {
        struct pollfd pf = {0, POLLIN, 0};
        int ready = poll(&pf, 1, r->o.stdin_replay ? 1000 : 0);
        if (ready <= 0 && r->o.stdin_replay)
            *progress = true; /* not caught up before its end */
        if (ready > 0) {
            if (esc_buf_reserve(&in->pend, CHUNK - in->pend.len))
                return esc_error_set(err, ESC_ENOMEM, "out of memory");
            ssize_t k = read(0, in->pend.ptr + in->pend.len, CHUNK - in->pend.len);
            if (k <= 0 && !(k < 0 && errno == EINTR))
                in->stdin_eof = true;
            else if (k > 0)
                in->pend.len += (size_t)k;
        }
    }
    if (in->pend.len == 0)
        return ESC_OK;
    if (in->mode == M_UNKNOWN) {
        esc_format f = esc_sniff((const unsigned char *)in->pend.ptr, in->pend.len);
        in->mode = f == ESC_FMT_XML ? M_XML : f == ESC_FMT_JSON ? M_JSONL : M_UNKNOWN;
        if (in->mode == M_UNKNOWN) {
            if (in->stdin_eof || in->pend.len >= 64) {
                msg(r, "-: standard input is followed only as XmlWinEventLog or JSON lines");
                in->stdin_eof = true;
                in->pend.len = 0;
            }
            return ESC_OK;
        }
    }
    size_t b = boundary((const unsigned char *)in->pend.ptr, in->pend.len, in->mode);
    if (!b && (in->stdin_eof || in->pend.len >= CHUNK))
        b = in->pend.len; /* the last record, or one too large to wait for */
    if (!b)
        return ESC_OK;
    esc_status st = read_text(r, "-", (const unsigned char *)in->pend.ptr, b, in->stdin_off, err);
    memmove(in->pend.ptr, in->pend.ptr + b, in->pend.len - b);
    in->pend.len -= b;
    in->stdin_off += b;
    *progress = true;
    return st;
}

static esc_status add_input(esc_runner *r, const char *path, esc_error *err) {
    for (size_t i = 0; i < r->nin; i++)
        if (strcmp(r->in[i].path, path) == 0)
            return ESC_OK;
    if (r->nin >= ESC_RUN_MAX_INPUTS)
        return esc_error_set(err, ESC_ELIMIT, "more than %d inputs", ESC_RUN_MAX_INPUTS);
    run_in *p = esc_realloc(r->in, (r->nin + 1) * sizeof *p);
    if (!p)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->in = p;
    run_in *in = &r->in[r->nin];
    memset(in, 0, sizeof *in);
    if (!(in->path = esc_strdup(path)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    in->is_stdin = strcmp(path, "-") == 0;
    esc_buf_init(&in->pend, CHUNK);
    in->pending = true;
    r->nin++;
    if (!in->is_stdin) {
        esc_ckpt_input saved;
        esc_status st = esc_ckpt_get_input(r->ck, path, &saved, err);
        if (st == ESC_OK) {
            in->have = true;
            in->inode = saved.inode;
            in->offset = saved.offset;
            in->head_len = saved.head_len;
            in->head_hash = saved.head_hash;
        } else if (st != ESC_EOF) {
            return st;
        }
        r->meta_dirty = true;
    }
    return ESC_OK;
}

static esc_status expand_dirs(esc_runner *r, esc_error *err) {
    for (size_t i = 0; i < r->ndirs; i++) {
        char **f = NULL;
        size_t n = 0, sk = 0;
        esc_error e = {0};
        const char *d = r->dirs[i];
        if (esc_paths_expand(&d, 1, &f, &n, &sk, &e) != ESC_OK)
            continue;
        esc_status st = ESC_OK;
        for (size_t k = 0; k < n && !st; k++)
            st = add_input(r, f[k], err);
        esc_paths_free(f, n);
        if (st)
            return st;
    }
    return ESC_OK;
}

/* One pass: at most one chunk per input. *progress when anything was read. */
static esc_status read_pass(esc_runner *r, bool *progress, esc_error *err) {
    esc_status st = expand_dirs(r, err);
    for (size_t i = 0; !st && i < r->nin; i++) {
        run_in *in = &r->in[i];
        if (in->is_stdin) {
            st = poll_stdin(r, in, progress, err);
            continue;
        }
        struct stat sb;
        if (stat(in->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            if (!in->missing)
                msg(r, "%s: not readable now: %s", in->path, strerror(errno));
            in->missing = true;
            close_whole(in);
            continue;
        }
        in->missing = false;
        bool changed = !in->have || (uint64_t)sb.st_ino != in->inode ||
                       (uint64_t)sb.st_size != in->seen_size;
        if (!changed && !in->pending)
            continue;
        if (changed && !in->rd && !look(r, in, &sb))
            continue;
        in->seen_size = (uint64_t)sb.st_size;
        if (in->mode == M_WHOLE)
            st = poll_whole(r, in, progress, err);
        else if (in->mode != M_UNKNOWN)
            st = poll_text(r, in, (uint64_t)sb.st_size, progress, err);
    }
    return st;
}

/* ---- sinks ------------------------------------------------------------------------------- */

static esc_status rewrite_late(esc_runner *r, const esc_sink_event *ev, esc_error *err) {
    char id[65], orig[65];
    snprintf(orig, sizeof orig, "%s", ev->event_id);
    if (r->late.changed) {
        char tmp[160];
        int n = snprintf(tmp, sizeof tmp, "%s\x1flate\x1f%llu", ev->event_id,
                         (unsigned long long)r->late.salt);
        esc_sha256_hex(tmp, (size_t)n, id);
    } else {
        snprintf(id, sizeof id, "%s", ev->event_id);
    }
    esc_buf b;
    esc_buf_init(&b, 0);
    const char *at = strstr(ev->json, ev->event_id);
    size_t cut = ev->json_len;
    while (cut > 0 && ev->json[cut - 1] != '}')
        cut--;
    esc_status st = ESC_OK;
    if (!at || cut == 0 || (size_t)(at - ev->json) + 64 > cut) {
        st = esc_error_set(err, ESC_EINTERNAL, "late rewrite: event_id not in the event");
        goto out;
    }
    size_t pre = (size_t)(at - ev->json);
    st = esc_buf_append(&b, ev->json, pre);
    if (!st)
        st = esc_buf_append(&b, id, 64);
    if (!st)
        st = esc_buf_append(&b, at + 64, cut - 1 - pre - 64);
    if (!st)
        st = esc_buf_printf(&b, ", \"late\": true, \"lag\": %lld", (long long)r->late.lag);
    if (!st && ev->kind == ESC_SINK_NOTABLE && r->late.changed)
        st = esc_buf_printf(&b, ", \"orig_event_id\": \"%s\"", orig);
    if (!st)
        st = esc_buf_putc(&b, '}');
    if (st) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    esc_sink_event e2 = *ev;
    e2.event_id = id;
    e2.json = b.ptr;
    e2.json_len = b.len;
    st = esc_sinks_put(r->real, &e2, err);
out:
    esc_buf_fini(&b);
    return st;
}

static esc_status rs_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    esc_runner *r = ((run_sink *)s)->r;
    esc_status st;
    if (ev->kind == ESC_SINK_NOTABLE) {
        r->stats.notables++;
        if (r->late.active) {
            r->stats.late_emitted++;
            r->meta_dirty = true;
        }
    } else {
        r->stats.risk_events++;
    }
    st = r->late.active ? rewrite_late(r, ev, err) : esc_sinks_put(r->real, ev, err);
    if (++r->puts == (uint64_t)r->crash_sink)
        raise(SIGKILL);
    return st;
}
static esc_status rs_history(esc_sink *s, const char *type, const char *object,
                             esc_risk_history *out, esc_error *err) {
    return esc_sinks_history(((run_sink *)s)->r->real, type, object, out, err);
}
static const esc_sink_ops run_sink_ops = {"run", rs_put, NULL, NULL, rs_history};

static esc_status session_open(esc_runner *r, esc_error *err) {
    if (r->act)
        return ESC_OK;
    esc_status st = esc_sinks_open(&r->o.sinks, &r->real, err);
    if (!st)
        st = esc_sinks_open(NULL, &r->wrapset, err);
    if (!st) {
        r->wrap.base.ops = &run_sink_ops;
        r->wrap.r = r;
        st = esc_sinks_add(r->wrapset, &r->wrap.base, err);
    }
    if (!st && !(r->act = esc_act_new(r->o.content, r->wrapset, err)))
        st = err && err->code ? err->code : ESC_ENOMEM;
    return st;
}

static uint64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static esc_status session_close(esc_runner *r, esc_error *err) {
    if (!r->act && !r->real)
        return ESC_OK;
    esc_act_free(r->act);
    r->act = NULL;
    esc_sinks_close(r->wrapset, NULL);
    r->wrapset = NULL;
    esc_status st = esc_sinks_close(r->real, err);
    r->real = NULL;
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    for (int i = 0; i < 2; i++)
        if (r->sink_track[i])
            r->sink_size[i] = file_size(p[i]);
    r->meta_dirty = true;
    return st;
}

/* ---- bookkeeping blob -------------------------------------------------------------------- */

static esc_status meta_build(esc_runner *r, esc_buf *b) {
    esc_status st = esc_buf_printf(b, "v 1\nfired %llu\nlate %llu\nlate_emitted %llu\ncommit %lld\n",
                                   (unsigned long long)r->fired_total,
                                   (unsigned long long)r->stats.late,
                                   (unsigned long long)r->stats.late_emitted,
                                   (long long)r->last_commit);
    for (size_t j = 0; !st && j < r->ndet; j++)
        st = esc_buf_printf(b, "det %lld %lld %s\n", (long long)r->det[j].enabled_at,
                            (long long)r->det[j].last_fired, r->det[j].d->id);
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    for (int i = 0; !st && i < 2; i++)
        if (r->sink_track[i])
            st = esc_buf_printf(b, "sink %llu %s\n", (unsigned long long)r->sink_size[i], p[i]);
    for (size_t i = 0; !st && i < r->nin; i++)
        if (!r->in[i].is_stdin && !strchr(r->in[i].path, '\n'))
            st = esc_buf_printf(b, "input %s\n", r->in[i].path);
    return st;
}

/* Parse one "key rest" line set; cb gets each line's key and the rest. */
typedef struct meta_line {
    const char *key, *rest;
} meta_line;

static size_t meta_lines(char *text, meta_line *out, size_t cap) {
    size_t n = 0;
    for (char *p = text; *p && n < cap;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        char *sp = strchr(p, ' ');
        if (sp) {
            *sp = 0;
            out[n].key = p;
            out[n].rest = sp + 1;
            n++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* ---- checkpoint -------------------------------------------------------------------------- */

static esc_status commit(esc_runner *r, esc_error *err) {
    bool any = r->meta_dirty || r->nfired || r->hosts_dirty;
    for (size_t i = 0; !any && i < r->nin; i++)
        any = r->in[i].dirty;
    for (size_t i = 0; !any && i < r->nwin; i++)
        any = r->win[i]->dirty;
    if (!any)
        return ESC_OK;
    r->last_commit = esc_clock_now_sec(r->o.clock);
    esc_buf meta;
    esc_buf_init(&meta, ESC_CKPT_MAX_BLOB);
    esc_status st = meta_build(r, &meta);
    if (st) {
        esc_buf_fini(&meta);
        return esc_error_set(err, st, "run bookkeeping too large");
    }
    if ((st = esc_ckpt_begin(r->ck, err)))
        goto out;
    for (size_t i = 0; !st && i < r->nin; i++) {
        run_in *in = &r->in[i];
        if (!in->dirty || in->is_stdin)
            continue;
        esc_ckpt_input ci = {in->path, in->inode, in->offset, in->head_len, in->head_hash};
        st = esc_ckpt_put_input(r->ck, &ci, err);
    }
    for (size_t i = 0; !st && i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (!w->dirty)
            continue;
        esc_ckpt_partial p = {r->det[w->det].d->id, w->w.earliest, w->w.latest,
                              w->deleted ? NULL : w->blob.ptr, w->blob.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    for (size_t i = 0; !st && i < r->nfired; i++) {
        fired_row *f = &r->fired[i];
        esc_ckpt_fired cf = {r->det[f->det].d->id, f->e, f->l, f->t};
        st = esc_ckpt_put_fired(r->ck, &cf, err);
    }
    int64_t keep = r->o.late_retention > 0 ? r->o.late_retention : 86400;
    if (!st)
        st = esc_ckpt_prune_fired(r->ck, r->last_commit - keep - 86400, err);
    if (!st && r->hosts_dirty) {
        esc_ckpt_partial p = {ESC_RUN_HOSTS, 0, 0, r->hosts_text.ptr ? r->hosts_text.ptr : "",
                              r->hosts_text.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    if (!st) {
        esc_ckpt_partial p = {ESC_RUN_META, 0, 0, meta.ptr, meta.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    if (!st && ++r->commits == (uint64_t)r->crash_commit)
        raise(SIGKILL);
    if (!st)
        st = esc_ckpt_commit(r->ck, err);
    if (st) {
        esc_ckpt_rollback(r->ck, NULL);
        goto out;
    }
    r->stats.commits++;
    for (size_t i = 0; i < r->nin; i++)
        r->in[i].dirty = false;
    for (size_t i = 0; i < r->nwin; i++)
        r->win[i]->dirty = false;
    r->nfired = 0;
    r->meta_dirty = false;
    r->hosts_dirty = false;
    win_compact(r);
out:
    esc_buf_fini(&meta);
    return st;
}

/* ---- firing ------------------------------------------------------------------------------ */

static esc_status add_fired(esc_runner *r, size_t det, const esc_window *w, int64_t t,
                            esc_error *err) {
    if (r->nfired == r->capfired) {
        size_t cap = r->capfired ? r->capfired * 2 : 16;
        fired_row *p = esc_realloc(r->fired, cap * sizeof *p);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        r->fired = p;
        r->capfired = cap;
    }
    r->fired[r->nfired++] = (fired_row){det, w->earliest, w->latest, t};
    return ESC_OK;
}

/* An event over the size cap is a message, not a failed step: retrying would fail the same way
 * forever. */
static void skip_msg(void *r, const esc_error *e) {
    msg(r, "%s", e->msg[0] ? e->msg : "an event over the size cap was not made");
}

static esc_status fire(esc_runner *r, const esc_run *run, esc_error *err) {
    size_t j = run->job;
    det_state *d = &r->det[j];
    win_state *w = win_find(r, j, run->scheduled);
    esc_table *t = NULL;
    esc_status st;
    if (!w && (st = win_new(r, j, run->scheduled, true, &w, err)))
        return st;
    if (!w->x) /* already fired (kept for late events): never twice */
        return ESC_OK;
    if ((st = esc_exec_finish(w->x, &t, err)))
        return st;
    esc_exec_free(w->x);
    w->x = NULL;
    if ((st = session_open(r, err)))
        goto out;
    esc_act_input in = {d->d, t, NULL, 0, {w->w.earliest, w->w.latest, run->scheduled}, NULL};
    if ((st = esc_act_step(r->act, &in, 1, skip_msg, r, err)))
        goto out;
    d->last_fired = run->scheduled;
    r->stats.fired++;
    r->fired_total++;
    r->meta_dirty = true;
    if ((st = add_fired(r, j, &w->w, run->scheduled, err)))
        goto out;
    w->fired = true;
    w->dirty = true;
    if (r->o.late_emit) {
        blob_set_fired(&w->blob);
        blob_set_emitted(&w->blob, w->blob.len);
    } else {
        w->deleted = true;
    }
out:
    esc_table_free(t);
    return st;
}

/* Retained fired windows past the late retention are dropped. */
static void prune_windows(esc_runner *r, int64_t now) {
    int64_t keep = r->o.late_retention > 0 ? r->o.late_retention : 86400;
    for (size_t i = 0; i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (w->fired && !w->deleted && w->w.latest < now - keep) {
            w->deleted = true;
            w->dirty = true;
        }
    }
}

/* ---- late emission ----------------------------------------------------------------------- */

static bool cells_equal(const esc_cell *a, const esc_cell *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

/* Identity columns as act uses them when no BY list is given. */
static size_t id_cols(const esc_table *t, const char **by, size_t cap) {
    size_t n = 0;
    for (size_t c = 0; c < t->ncols && n < cap; c++) {
        if (t->mv_col[c] || !strcmp(t->cols[c], "firstTime") || !strcmp(t->cols[c], "lastTime"))
            continue;
        bool num = false;
        for (size_t i = 0; i < t->nrows && !num; i++)
            num = esc_table_cell(t, i, c)->is_num;
        if (!num)
            by[n++] = t->cols[c];
    }
    return n;
}

static long find_row(const esc_table *t, const esc_table *in, size_t row, const char **by,
                     size_t nby) {
    for (size_t i = 0; i < t->nrows; i++) {
        bool eq = true;
        for (size_t k = 0; k < nby && eq; k++) {
            int a = esc_table_col(t, by[k]), b = esc_table_col(in, by[k]);
            if (a < 0 || b < 0)
                eq = a == b;
            else
                eq = cells_equal(esc_table_cell(t, i, (size_t)a), esc_table_cell(in, row, (size_t)b));
        }
        if (eq)
            return (long)i;
    }
    return -1;
}

static esc_status emit_late(esc_runner *r, win_state *w, int64_t now, esc_error *err) {
    det_state *d = &r->det[w->det];
    esc_table *old = NULL, *cur = NULL;
    const char **by = NULL;
    esc_status st = blob_table(d, w, blob_emitted(&w->blob), &old, err);
    if (!st)
        st = blob_table(d, w, w->blob.len, &cur, err);
    if (st)
        goto out;
    if (!(by = esc_calloc(cur->ncols + 1, sizeof *by))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t nby = id_cols(cur, by, cur->ncols);
    if ((st = session_open(r, err)))
        goto out;
    uint64_t nrec = 0;
    {
        size_t pos = BLOB_HDR;
        esc_record rec;
        while (blob_next((const unsigned char *)w->blob.ptr, w->blob.len, &pos, &rec))
            nrec++;
    }
    for (size_t i = 0; i < cur->nrows && !st; i++) {
        long o = find_row(old, cur, i, by, nby);
        bool changed = false;
        if (o >= 0) {
            bool same = old->ncols == cur->ncols;
            for (size_t c = 0; c < cur->ncols && same; c++)
                same = !strcmp(old->cols[c], cur->cols[c]) &&
                       cells_equal(esc_table_cell(old, (size_t)o, c), esc_table_cell(cur, i, c));
            if (same)
                continue;
            changed = true;
        }
        esc_table one = *cur;
        one.nrows = 1;
        one.cells = cur->cells + i * cur->ncols;
        r->late.active = true;
        r->late.changed = changed;
        r->late.salt = nrec;
        r->late.lag = now - w->sched;
        esc_act_input in = {d->d, &one, by, nby, {w->w.earliest, w->w.latest, now}, NULL};
        if ((st = esc_act_rows(r->act, &in, err)) == ESC_SKIP) {
            skip_msg(r, err);
            st = ESC_OK;
        }
        r->late.active = false;
    }
    if (!st)
        st = esc_act_finish(r->act, err);
    if (!st) {
        blob_set_emitted(&w->blob, w->blob.len);
        w->late_dirty = false;
        w->dirty = true;
    }
out:
    esc_free(by);
    esc_table_free(old);
    esc_table_free(cur);
    return st;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static esc_status restore(esc_runner *r, esc_error *err) {
    esc_buf mb;
    esc_buf_init(&mb, 0);
    esc_status st = esc_ckpt_get_partial(r->ck, ESC_RUN_META, 0, 0, &mb, err);
    bool fresh = st == ESC_EOF;
    if (st && st != ESC_EOF) {
        esc_buf_fini(&mb);
        return st;
    }
    int64_t now = esc_clock_now_sec(r->o.clock);
    for (size_t j = 0; j < r->ndet; j++)
        r->det[j].enabled_at = INT64_MIN;
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    bool have_size[2] = {false, false};
    if (!fresh && esc_buf_putc(&mb, 0) == ESC_OK) {
        size_t cap = 4096 + r->ndet * 2 + ESC_RUN_MAX_INPUTS;
        meta_line *ml = esc_calloc(cap, sizeof *ml);
        if (!ml) {
            esc_buf_fini(&mb);
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        }
        size_t n = meta_lines(mb.ptr, ml, cap);
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(ml[i].key, "fired"))
                r->fired_total = strtoull(ml[i].rest, NULL, 10);
            else if (!strcmp(ml[i].key, "late"))
                r->stats.late = strtoull(ml[i].rest, NULL, 10);
            else if (!strcmp(ml[i].key, "late_emitted"))
                r->stats.late_emitted = strtoull(ml[i].rest, NULL, 10);
            else if (!strcmp(ml[i].key, "det")) {
                long long en, lf;
                int off = 0;
                if (sscanf(ml[i].rest, "%lld %lld %n", &en, &lf, &off) < 2 || !off)
                    continue;
                for (size_t j = 0; j < r->ndet; j++)
                    if (!strcmp(r->det[j].d->id, ml[i].rest + off)) {
                        r->det[j].enabled_at = en;
                        r->det[j].last_fired = lf;
                    }
            } else if (!strcmp(ml[i].key, "sink")) {
                char *end;
                unsigned long long sz = strtoull(ml[i].rest, &end, 10);
                for (int k = 0; k < 2; k++)
                    if (r->sink_track[k] && *end == ' ' && !strcmp(end + 1, p[k])) {
                        r->sink_size[k] = sz;
                        have_size[k] = true;
                    }
            }
        }
        esc_free(ml);
    }
    esc_buf_fini(&mb);
    /* JSON-lines files: cut back what a step wrote but did not commit. */
    for (int k = 0; k < 2; k++) {
        if (!r->sink_track[k])
            continue;
        uint64_t cur = file_size(p[k]);
        if (!have_size[k])
            r->sink_size[k] = cur;
        else if (cur > r->sink_size[k] && truncate(p[k], (off_t)r->sink_size[k]) != 0)
            return esc_error_set(err, ESC_EIO, "%s: cannot cut back to the last checkpoint: %s",
                                 p[k], strerror(errno));
    }
    for (size_t j = 0; j < r->ndet; j++) {
        det_state *d = &r->det[j];
        if (d->enabled_at == INT64_MIN) {
            d->enabled_at = now;
            d->last_fired = INT64_MIN;
            int64_t lf;
            if (esc_ckpt_last_fired(r->ck, d->d->id, &lf, NULL) == ESC_OK)
                d->last_fired = lf;
            r->meta_dirty = true;
        }
        int64_t resume = d->last_fired > d->enabled_at ? d->last_fired : d->enabled_at;
        if ((st = esc_agenda_add(r->agenda, d->d->id, &d->sched, resume, NULL, err)))
            return st;
    }
    /* the CrowdStrike host inventory seen in the inputs so far */
    esc_buf hb;
    esc_buf_init(&hb, 0);
    st = esc_ckpt_get_partial(r->ck, ESC_RUN_HOSTS, 0, 0, &hb, err);
    if (st == ESC_OK) {
        for (size_t i = 0; i < hb.len;) {
            const char *line = hb.ptr + i, *nl = memchr(line, '\n', hb.len - i);
            size_t ln = nl ? (size_t)(nl - line) : hb.len - i;
            const char *tab = memchr(line, '\t', ln);
            if (tab && esc_hostmap_put(r->hosts, esc_str_make(line, (size_t)(tab - line)),
                                       esc_str_make(tab + 1, ln - (size_t)(tab - line) - 1))) {
                st = esc_error_set(err, ESC_ELIMIT, "host inventory is full");
                break;
            }
            i += ln + 1;
        }
        if (!st && esc_buf_append(&r->hosts_text, hb.ptr, hb.len))
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    } else if (st == ESC_EOF) {
        st = ESC_OK;
    }
    esc_buf_fini(&hb);
    if (st)
        return st;
    /* kept records of open windows, and fired windows retained for late events */
    esc_ckpt_iter *it = NULL;
    if ((st = esc_ckpt_partials_iter(r->ck, NULL, &it, err)))
        return st;
    esc_ckpt_partial cp;
    while ((st = esc_ckpt_iter_next(it, &cp, err)) == ESC_OK) {
        if (cp.detection[0] == '@' || cp.len < BLOB_HDR ||
            memcmp(cp.data, BLOB_MAGIC, 4) != 0)
            continue;
        size_t j = 0;
        while (j < r->ndet && strcmp(r->det[j].d->id, cp.detection) != 0)
            j++;
        if (j == r->ndet)
            continue; /* not enabled now: left as it is */
        const unsigned char *b = cp.data;
        int64_t sched = (int64_t)get_u64(b + 4);
        bool fired = b[20] != 0;
        win_state *w;
        if ((st = win_new(r, j, sched, !fired, &w, err)))
            break;
        esc_buf_clear(&w->blob);
        if (esc_buf_append(&w->blob, cp.data, cp.len)) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        w->fired = fired;
        if (blob_emitted(&w->blob) < w->blob.len && fired)
            w->late_dirty = true;
        if (!fired) {
            size_t pos = BLOB_HDR;
            esc_record rec;
            while (!st && blob_next((const unsigned char *)w->blob.ptr, w->blob.len, &pos, &rec))
                st = esc_exec_feed(w->x, &rec, err);
            if (st)
                break;
        }
    }
    esc_ckpt_iter_free(it);
    if (st != ESC_EOF)
        return st;
    return ESC_OK;
}

esc_status esc_runner_new(const esc_runner_opts *o, esc_runner **out, esc_error *err) {
    *out = NULL;
    esc_runner *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->o = *o;
    r->memfd = -1;
    if (!r->o.poll_us)
        r->o.poll_us = 1000000;
    esc_arena_init(&r->arena, 64 * 1024, 64u << 20);
    esc_buf_init(&r->hosts_text, ESC_CKPT_MAX_BLOB);
    esc_status st = ESC_OK;
    char *db = NULL;
    if (o->crash_at) {
        if (!strncmp(o->crash_at, "sink:", 5))
            r->crash_sink = atol(o->crash_at + 5);
        else if (!strncmp(o->crash_at, "commit:", 7))
            r->crash_commit = atol(o->crash_at + 7);
    }
    r->sink_track[0] = o->sinks.notables_path && strcmp(o->sinks.notables_path, "-") != 0;
    r->sink_track[1] = o->sinks.risk_path && strcmp(o->sinks.risk_path, "-") != 0 &&
                       !(r->sink_track[0] && !strcmp(o->sinks.notables_path, o->sinks.risk_path));
    if (!o->state_dir || (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST)) {
        st = esc_error_set(err, ESC_EIO, "state directory %s: %s",
                           o->state_dir ? o->state_dir : "(none)", strerror(errno));
        goto fail;
    }
    size_t dl = strlen(o->state_dir) + sizeof ESC_RUN_STATE_FILE + 2;
    if (!(db = esc_malloc(dl)) || !(r->chunk = esc_malloc(CHUNK_MAX)) ||
        !(r->hosts = esc_hostmap_new()) || !(r->agenda = esc_agenda_new())) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(db, dl, "%s/%s", o->state_dir, ESC_RUN_STATE_FILE);
    if ((st = esc_ckpt_open(db, &r->ck, err)))
        goto fail;
    r->memfd = memfd_create("escudo-chunk", MFD_CLOEXEC);
    if (r->memfd < 0) {
        st = esc_error_set(err, ESC_EIO, "memfd_create: %s", strerror(errno));
        goto fail;
    }
    snprintf(r->memfd_path, sizeof r->memfd_path, "/proc/self/fd/%d", r->memfd);
    r->ndet = esc_engine_count(o->engine);
    if (!(r->det = esc_calloc(r->ndet ? r->ndet : 1, sizeof *r->det))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < r->ndet; j++) {
        det_state *d = &r->det[j];
        d->d = esc_engine_detection(o->engine, j);
        d->plan = esc_engine_plan(o->engine, j);
        const esc_deployment *dep = d->d->deployment;
        if (!dep || !dep->cron_schedule || !dep->earliest_time || !dep->latest_time) {
            st = esc_error_set(err, ESC_ECONTENT, "%s: no deployment schedule", d->d->name);
            goto fail;
        }
        if ((st = esc_schedule_parse(&d->sched, dep->cron_schedule, dep->earliest_time,
                                     dep->latest_time, err)) ||
            (st = check_cover(d, esc_clock_now_sec(r->o.clock), err)))
            goto fail;
    }
    if (o->aidmaster) {
        esc_input *in = NULL;
        esc_reader *rd = NULL;
        esc_interest all = {.everything = true};
        st = esc_input_open(o->aidmaster, &in, err);
        if (!st)
            st = esc_reader_open(in, &all, &(esc_reader_opts){0}, &rd, err);
        esc_event ev;
        while (!st && (st = esc_reader_next(rd, &ev, err)) != ESC_EOF) {
            if (st == ESC_EMALFORMED) {
                st = ESC_OK;
                continue;
            }
            if (!st && ev.kind == ESC_EV_AIDMASTER) {
                esc_str aid = esc_event_get(&ev, "aid"), name = esc_event_get(&ev, "ComputerName");
                if (aid.len && name.len && esc_hostmap_put(r->hosts, aid, name))
                    st = esc_error_set(err, ESC_ELIMIT, "host inventory is full");
            }
        }
        if (st == ESC_EOF)
            st = ESC_OK;
        esc_reader_free(rd);
        esc_input_free(in);
        if (st)
            goto fail;
    }
    if ((st = restore(r, err)))
        goto fail;
    for (size_t i = 0; i < o->ninputs; i++) {
        struct stat sb;
        if (strcmp(o->inputs[i], "-") != 0 && stat(o->inputs[i], &sb) == 0 &&
            S_ISDIR(sb.st_mode)) {
            char **nd = esc_realloc(r->dirs, (r->ndirs + 1) * sizeof *nd);
            if (!nd || !(nd[r->ndirs] = esc_strdup(o->inputs[i]))) {
                if (nd)
                    r->dirs = nd;
                st = esc_error_set(err, ESC_ENOMEM, "out of memory");
                goto fail;
            }
            r->dirs = nd;
            r->ndirs++;
        } else if ((st = add_input(r, o->inputs[i], err))) {
            goto fail;
        }
    }
    r->meta_dirty = true;
    if ((st = commit(r, err)))
        goto fail;
    esc_free(db);
    *out = r;
    return ESC_OK;
fail:
    esc_free(db);
    esc_runner_free(r);
    return st;
}

void esc_runner_free(esc_runner *r) {
    if (!r)
        return;
    if (r->act || r->real) {
        esc_act_free(r->act);
        esc_sinks_close(r->wrapset, NULL);
        esc_sinks_close(r->real, NULL);
    }
    for (size_t i = 0; i < r->nin; i++) {
        close_whole(&r->in[i]);
        esc_buf_fini(&r->in[i].pend);
        esc_free(r->in[i].path);
    }
    esc_free(r->in);
    for (size_t i = 0; i < r->ndirs; i++)
        esc_free(r->dirs[i]);
    esc_free(r->dirs);
    for (size_t i = 0; i < r->nwin; i++)
        win_free(r->win[i]);
    esc_free(r->win);
    esc_free(r->fired);
    esc_free(r->det);
    esc_agenda_free(r->agenda);
    esc_ckpt_free(r->ck);
    esc_hostmap_free(r->hosts);
    esc_buf_fini(&r->hosts_text);
    esc_arena_fini(&r->arena);
    esc_free(r->chunk);
    if (r->memfd >= 0)
        close(r->memfd);
    msgs_clear(r);
    esc_free(r);
}

void esc_runner_set_until(esc_runner *r, int64_t once_until) {
    r->o.once_until = once_until;
}

const esc_runner_stats *esc_runner_stats_get(const esc_runner *r) {
    return &r->stats;
}

size_t esc_runner_messages(const esc_runner *r, const char *const **msgs, size_t *dropped) {
    *msgs = (const char *const *)r->msgs;
    if (dropped)
        *dropped = r->dropped;
    return r->nmsgs;
}

esc_status esc_runner_step(esc_runner *r, esc_error *err) {
    msgs_clear(r);
    int64_t now = esc_clock_now_sec(r->o.clock);
    esc_status st = ESC_OK;
    if (!r->caught) {
        bool progress = false;
        st = read_pass(r, &progress, err);
        for (size_t i = 0; !st && i < r->nwin; i++)
            if (r->win[i]->late_dirty)
                st = emit_late(r, r->win[i], now, err);
        if (!st)
            st = session_close(r, err);
        if (!st)
            st = commit(r, err);
        if (!st && !progress) {
            r->caught = true;
            r->stats.caught_up_to = now;
        }
        return st;
    }
    r->caught = false;
    int64_t limit = r->stats.caught_up_to < r->o.once_until ? r->stats.caught_up_to
                                                            : r->o.once_until;
    bool fired = false;
    for (;;) {
        esc_run run;
        esc_error e = {0};
        st = esc_agenda_pop_due(r->agenda, limit, &run, &e);
        if (st == ESC_EOF)
            break;
        if (st == ESC_ECONTENT) {
            msg(r, "%s", e.msg);
            continue;
        }
        if (st) {
            *err = e;
            return st;
        }
        if ((st = fire(r, &run, err)))
            return st;
        fired = true;
    }
    prune_windows(r, now);
    if ((st = session_close(r, err)) || (st = commit(r, err)))
        return st;
    if (fired)
        return ESC_OK;
    int64_t next = esc_agenda_next_time(r->agenda);
    if (r->o.once_until != ESC_RUN_FOREVER && r->stats.caught_up_to >= r->o.once_until &&
        next > r->o.once_until)
        return ESC_EOF;
    int64_t now_us = esc_clock_now_us(r->o.clock);
    int64_t until = now_us + r->o.poll_us;
    if (next != ESC_CRON_NEVER && next < INT64_MAX / ESC_US_PER_SEC &&
        next * ESC_US_PER_SEC < until)
        until = next * ESC_US_PER_SEC;
    if (r->o.once_until != ESC_RUN_FOREVER && r->o.once_until < INT64_MAX / ESC_US_PER_SEC &&
        r->o.once_until * ESC_US_PER_SEC < until)
        until = r->o.once_until * ESC_US_PER_SEC;
    if (until > now_us)
        esc_clock_wait_until(r->o.clock, until, r->o.poll_us);
    return ESC_OK;
}

/* ---- status ------------------------------------------------------------------------------ */

esc_status esc_run_status_read(const char *state_dir, const char *hec_spool, esc_run_status *out,
                               esc_error *err) {
    memset(out, 0, sizeof *out);
    size_t dl = strlen(state_dir) + sizeof ESC_RUN_STATE_FILE + 2;
    char *db = esc_malloc(dl);
    if (!db)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    snprintf(db, dl, "%s/%s", state_dir, ESC_RUN_STATE_FILE);
    struct stat sb;
    if (stat(db, &sb) != 0) {
        esc_status st = esc_error_set(err, ESC_EIO, "%s: no run state here", state_dir);
        esc_free(db);
        return st;
    }
    esc_ckpt *ck = NULL;
    esc_buf mb;
    esc_buf_init(&mb, 0);
    meta_line *ml = NULL;
    esc_ckpt_iter *it = NULL;
    esc_status st = esc_ckpt_open(db, &ck, err);
    esc_free(db);
    if (st)
        goto out;
    st = esc_ckpt_get_partial(ck, ESC_RUN_META, 0, 0, &mb, err);
    if (st == ESC_EOF) {
        st = ESC_OK;
        goto out;
    }
    if (st || (st = esc_buf_putc(&mb, 0)))
        goto out;
    size_t cap = 8192 + ESC_RUN_MAX_INPUTS;
    if (!(ml = esc_calloc(cap, sizeof *ml)) ||
        !(out->inputs = esc_calloc(cap, sizeof *out->inputs)) ||
        !(out->dets = esc_calloc(cap, sizeof *out->dets))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = meta_lines(mb.ptr, ml, cap);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ml[i].key, "fired"))
            out->fired = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "late"))
            out->late = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "late_emitted"))
            out->late_emitted = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "commit"))
            out->last_commit = strtoll(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "det")) {
            long long en, lf;
            int off = 0;
            if (sscanf(ml[i].rest, "%lld %lld %n", &en, &lf, &off) < 2 || !off)
                continue;
            esc_run_status_det *d = &out->dets[out->ndets];
            if (!(d->id = esc_strdup(ml[i].rest + off)))
                continue;
            d->enabled_at = en;
            d->last_fired = lf == INT64_MIN ? 0 : lf;
            out->ndets++;
        } else if (!strcmp(ml[i].key, "input")) {
            esc_run_status_input *in = &out->inputs[out->ninputs];
            esc_ckpt_input ci;
            if (esc_ckpt_get_input(ck, ml[i].rest, &ci, NULL) != ESC_OK)
                ci.offset = 0;
            if (!(in->path = esc_strdup(ml[i].rest)))
                continue;
            in->offset = ci.offset;
            struct stat fs;
            if (stat(in->path, &fs) == 0)
                in->size = (uint64_t)fs.st_size;
            else
                in->missing = true;
            out->ninputs++;
        }
    }
    if ((st = esc_ckpt_partials_iter(ck, NULL, &it, err)))
        goto out;
    esc_ckpt_partial cp;
    while ((st = esc_ckpt_iter_next(it, &cp, err)) == ESC_OK) {
        if (cp.detection[0] == '@' || cp.len < BLOB_HDR)
            continue;
        if (((const unsigned char *)cp.data)[20] == 0)
            out->open_windows++;
        out->kept_bytes += cp.len;
    }
    if (st == ESC_EOF)
        st = ESC_OK;
    if (!st && hec_spool) {
        DIR *dir = opendir(hec_spool);
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (de->d_name[0] != '.' && !strstr(de->d_name, ".rejected") &&
                !strstr(de->d_name, ".tmp") && strstr(de->d_name, ".json"))
                out->hec_spooled++;
        if (dir)
            closedir(dir);
    }
out:
    esc_ckpt_iter_free(it);
    esc_free(ml);
    esc_buf_fini(&mb);
    esc_ckpt_free(ck);
    return st;
}

void esc_run_status_fini(esc_run_status *s) {
    for (size_t i = 0; i < s->ninputs; i++)
        esc_free(s->inputs[i].path);
    for (size_t i = 0; i < s->ndets; i++)
        esc_free(s->dets[i].id);
    esc_free(s->inputs);
    esc_free(s->dets);
    memset(s, 0, sizeof *s);
}
