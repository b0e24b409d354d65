/* Windows of the run loop and their kept records (see run_internal.h, docs/run.md).
 *
 * A window is one scheduled run of one detection: [earliest, latest) and the records that fall
 * in it. Its blob lists those records (CIM values and time) after a header (magic, scheduled
 * time, length already emitted, fired flag); the execution that makes its rows is fed from the
 * blob when it fires (and again for late records), so memory holds one execution at a time. The
 * blob goes to the store a commit at a time (its row and segments, below); memory keeps its
 * header and the records since the last commit. Each record keeps its origin (input name, byte
 * offset, line, EVTX record id: docs/evidence.md), so the rows carry the evidence of the events
 * read; the input name is written once for a run of records from one input.
 * Record layout: see blob_add (Processes records as CIM values, other datasets' records as their
 * named fields, each optionally followed by its origin). An ESW2 blob (no origins) is an ESW3
 * blob whose records have no origin bit.
 * Invariants: only records that pass a detection's where clause are kept, in every window that
 * covers their time (at most RUN_MAX_COVER); a record of a window scheduled at or before the
 * detection was enabled is counted, not kept; a record of a window that already fired is late:
 * reported, or with late_emit added to the retained window's blob for run_act.c to emit.
 * In Kafka mode (run_kafka.c) a window holds one partition's records, with an execution fed as
 * they come (a restart replays them rather than reading them back), and notes the offset of
 * its first; a record replayed whose partition's window already fired (here or at the
 * partition's last reader) is skipped; one whose window fired and that is not replayed is late.
 * Without late_emit such a window's blob stays its header: its records are only counted against
 * the blob's cap (blob_keep), as nothing reads them (a restart replays the partition).
 * Not done here: reading records (the engine's feeder calls esc_run_consume), firing, the
 * checkpoint transaction (run.c writes the dirty blobs). */
#include "sched/run_internal.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "sched/zone.h"

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
    unsigned char h[RUN_BLOB_HDR] = {0};
    memcpy(h, RUN_BLOB_MAGIC, 4);
    put_u64(h + 4, (uint64_t)sched);
    put_u64(h + 12, RUN_BLOB_HDR);
    esc_buf_init(b, 0); /* blob_add caps the whole blob, stored records included */
    return esc_buf_append(b, h, RUN_BLOB_HDR);
}

bool esc_run_blob_segmented(const void *row) {
    return !memcmp(row, RUN_BLOB_MAGIC_SEG, 4) || !memcmp(row, RUN_BLOB_MAGIC_SEG4, 4);
}

const char *esc_run_blob_check(const void *data, size_t len, size_t *body, bool *old) {
    const unsigned char *p = data;
    *old = false;
    if (len < 4)
        return "truncated";
    if (!memcmp(p, RUN_BLOB_MAGIC_V1, 4)) {
        *old = true;
        *body = len;
    } else if (!memcmp(p, RUN_BLOB_MAGIC, 4) || !memcmp(p, RUN_BLOB_MAGIC_V2, 4) ||
               esc_run_blob_segmented(p)) {
        bool seg = esc_run_blob_segmented(p);
        if (len < RUN_BLOB_HDR + RUN_BLOB_CRC || (seg && len != RUN_SEG_ROW + RUN_BLOB_CRC))
            return "truncated";
        *body = len - RUN_BLOB_CRC;
        uint32_t want;
        memcpy(&want, p + *body, RUN_BLOB_CRC);
        if ((uint32_t)crc32(0L, p, (uInt)*body) != want)
            return "checksum mismatch (truncated or altered)";
    } else {
        return "unknown format (bad magic)";
    }
    if (*body < RUN_BLOB_HDR)
        return "truncated";
    uint64_t emitted = get_u64(p + 12), whole = *body;
    if (esc_run_blob_segmented(p)) {
        uint64_t stored = get_u64(p + RUN_BLOB_HDR + 4);
        if (stored > RUN_BLOB_LIMIT - RUN_BLOB_HDR)
            return "bad header";
        whole = RUN_BLOB_HDR + stored;
    }
    if (emitted < RUN_BLOB_HDR || emitted > whole)
        return "bad header";
    return NULL;
}

void esc_run_blob_head(const esc_buf *b, unsigned char out[RUN_BLOB_HDR + RUN_BLOB_CRC]) {
    memcpy(out, b->ptr, RUN_BLOB_HDR);
    uint32_t c = (uint32_t)crc32(0L, out, RUN_BLOB_HDR);
    memcpy(out + RUN_BLOB_HDR, &c, RUN_BLOB_CRC);
}

int64_t esc_run_blob_sched(const void *blob) {
    return (int64_t)get_u64((const unsigned char *)blob + 4);
}
bool esc_run_blob_fired(const void *blob) {
    return ((const unsigned char *)blob)[20] != 0;
}
uint64_t esc_run_blob_emitted(const esc_buf *b) {
    return get_u64((const unsigned char *)b->ptr + 12);
}
void esc_run_blob_set_emitted(esc_buf *b, uint64_t n) {
    put_u64((unsigned char *)b->ptr + 12, n);
}
void esc_run_blob_set_fired(esc_buf *b) {
    b->ptr[20] = 1;
}

/* A record after the header: u64 time, u32 mask, then
 * - for an Endpoint.Processes record, each CIM field whose bit (below ESC_CIM_NFIELDS) the mask
 *   has, as a u32 length and its bytes;
 * - for a record of another dataset (mask RUN_REC_NAMED | dataset), u32 event kind, the event's
 *   channel, its _raw (RUN_REC_NULL length: none), u32 count and the (name, value) pairs of its
 *   field set, each string a u32 length and its bytes;
 * then, when the mask has RUN_BLOB_ORIGIN, the record's origin (origin_add). */
#define RUN_REC_NAMED (1u << 30)
#define RUN_REC_NULL 0xFFFFFFFFu

static esc_status put_str(esc_buf *b, esc_str s) {
    uint32_t n = s.ptr ? (uint32_t)s.len : RUN_REC_NULL;
    esc_status st = esc_buf_append(b, &n, 4);
    if (!st && s.ptr && s.len)
        st = esc_buf_append(b, s.ptr, s.len);
    return st;
}

/* w->blob_path = path[0..pl), in its allocation when that is large enough (a Kafka window's
 * records each name a message of their own). */
static esc_status blob_path_set(win_state *w, const char *path, size_t pl) {
    if (!w->blob_path || w->blob_path_cap <= pl) {
        size_t cap = pl < 64 ? 64 : pl + 1;
        char *c = esc_malloc(cap);
        if (!c)
            return ESC_ENOMEM;
        esc_free(w->blob_path);
        w->blob_path = c;
        w->blob_path_cap = cap;
    }
    memcpy(w->blob_path, path, pl);
    w->blob_path[pl] = 0;
    return ESC_OK;
}

/* No input name yet: the next record names its input. */
static void blob_path_clear(win_state *w) {
    esc_free(w->blob_path);
    w->blob_path = NULL;
    w->blob_path_cap = 0;
}

/* The record's origin (its event's provenance), the input name only when it changed. */
static esc_status origin_add(win_state *w, const esc_event *ev) {
    esc_buf *b = &w->blob;
    const char *path = ev->path ? ev->path : "";
    size_t pl = strnlen(path, RUN_ORIGIN_PATH_MAX - 1);
    bool same = w->blob_path && strncmp(w->blob_path, path, pl) == 0 && !w->blob_path[pl];
    uint32_t n = same ? UINT32_MAX : (uint32_t)pl + 1;
    esc_status st = esc_buf_append(b, &n, 4);
    if (!st && !same) {
        st = esc_buf_append(b, path, pl);
        if (!st)
            st = esc_buf_putc(b, '\0');
        if (!st && blob_path_set(w, path, pl))
            return ESC_ENOMEM;
    }
    if (!st)
        st = esc_buf_put_varint(b, ev->offset);
    if (!st)
        st = esc_buf_put_varint(b, ev->line);
    if (!st)
        st = esc_buf_put_varint(b, ev->record_id);
    return st;
}

static esc_status blob_add_named(esc_buf *b, const esc_record *rec, const esc_event *ev) {
    const esc_fields *fs = rec->fs;
    uint32_t kind = ev ? (uint32_t)ev->kind : 0, n = (uint32_t)fs->n;
    esc_status st = esc_buf_append(b, &kind, 4);
    if (!st)
        st = put_str(b, ev ? ev->channel : ESC_STR_NULL);
    if (!st)
        st = put_str(b, fs->raw);
    if (!st)
        st = esc_buf_append(b, &n, 4);
    for (size_t i = 0; !st && i < fs->n; i++)
        if (!(st = put_str(b, fs->f[i].name)))
            st = put_str(b, fs->f[i].value);
    return st;
}

static esc_status blob_add(win_state *w, const esc_record *rec) {
    esc_buf *b = &w->blob;
    unsigned char h[12];
    bool named = rec->ds != ESC_DS_PROCESSES && rec->fs;
    const esc_event *ev = named && rec->fs->ev ? rec->fs->ev : rec->ev;
    uint32_t mask = (named ? RUN_REC_NAMED | (uint32_t)rec->ds : 0) | (ev ? RUN_BLOB_ORIGIN : 0);
    for (int i = 0; !named && i < ESC_CIM_NFIELDS; i++)
        if (rec->v[i].ptr)
            mask |= 1u << i;
    put_u64(h, (uint64_t)rec->time_us);
    memcpy(h + 8, &mask, 4);
    size_t undo = b->len;
    esc_status st = esc_buf_append(b, h, sizeof h);
    if (!st && named)
        st = blob_add_named(b, rec, ev);
    for (int i = 0; !st && !named && i < ESC_CIM_NFIELDS; i++) {
        if (!(mask & (1u << i)))
            continue;
        uint32_t n = (uint32_t)rec->v[i].len;
        if ((st = esc_buf_append(b, &n, 4)) == ESC_OK && n)
            st = esc_buf_append(b, rec->v[i].ptr, n);
    }
    if (!st && ev)
        st = origin_add(w, ev);
    if (!st && w->stored + b->len > RUN_BLOB_LIMIT)
        st = ESC_ELIMIT;
    if (st) { /* a record is kept whole or not at all; the next one names its input again */
        b->len = undo;
        blob_path_clear(w);
    }
    return st;
}

/* A blob being read. The current record's event (kind, channel, origin) and, for a named record,
 * its field set live here until the next record; origins point into the blob. */
typedef struct blob_rd {
    const unsigned char *p;
    size_t end, pos;
    const char *path; /* the previous origin's input name */
    esc_event ev;
    esc_fields fs;
    esc_field *f;
    size_t cap;
} blob_rd;

static bool get_str(const unsigned char *p, size_t end, size_t *i, esc_str *out) {
    uint32_t n;
    if (*i + 4 > end)
        return false;
    memcpy(&n, p + *i, 4);
    *i += 4;
    if (n == RUN_REC_NULL) {
        *out = ESC_STR_NULL;
        return true;
    }
    if (n > end - *i)
        return false;
    *out = esc_str_make((const char *)p + *i, n);
    *i += n;
    return true;
}

static bool origin_next(blob_rd *b, size_t *i) {
    uint32_t n;
    if (*i + 4 > b->end)
        return false;
    memcpy(&n, b->p + *i, 4);
    *i += 4;
    if (n != UINT32_MAX) {
        if (!n || n > b->end - *i || b->p[*i + n - 1])
            return false;
        b->path = (const char *)b->p + *i;
        *i += n;
    } else if (!b->path) {
        return false;
    }
    b->ev.path = b->path;
    return esc_varint_get(b->p, b->end, i, &b->ev.offset) &&
           esc_varint_get(b->p, b->end, i, &b->ev.line) &&
           esc_varint_get(b->p, b->end, i, &b->ev.record_id);
}

/* The named fields at *i into b (1), or 0 on a corrupt blob, -1 out of memory. */
static int next_named(blob_rd *b, size_t *i) {
    const unsigned char *p = b->p;
    size_t end = b->end;
    uint32_t kind, n;
    esc_str chan, raw;
    if (*i + 4 > end)
        return 0;
    memcpy(&kind, p + *i, 4);
    *i += 4;
    if (!get_str(p, end, i, &chan) || !get_str(p, end, i, &raw) || *i + 4 > end)
        return 0;
    memcpy(&n, p + *i, 4);
    *i += 4;
    if (n > (end - *i) / 8) /* each pair takes at least two lengths */
        return 0;
    if (n > b->cap) {
        esc_field *f = esc_realloc(b->f, n * sizeof *f);
        if (!f)
            return -1;
        b->f = f;
        b->cap = n;
    }
    for (uint32_t k = 0; k < n; k++)
        if (!get_str(p, end, i, &b->f[k].name) || !get_str(p, end, i, &b->f[k].value))
            return 0;
    b->ev.kind = (esc_event_kind)kind;
    b->ev.channel = chan.ptr ? chan : esc_str_c("");
    b->fs = (esc_fields){.f = b->f, .n = n, .cap = n, .raw = raw, .ev = kind ? &b->ev : NULL};
    return 1;
}

/* Next record: 1, or 0 at the end or on a corrupt blob, -1 out of memory. */
static int blob_next(blob_rd *b, esc_record *rec) {
    const unsigned char *p = b->p;
    size_t i = b->pos, end = b->end;
    if (i + 12 > end)
        return 0;
    memset(rec, 0, sizeof *rec);
    memset(&b->ev, 0, sizeof b->ev);
    rec->time_us = (int64_t)get_u64(p + i);
    uint32_t mask;
    memcpy(&mask, p + i + 8, 4);
    i += 12;
    if (mask & RUN_REC_NAMED) {
        uint32_t ds = mask & ~(RUN_REC_NAMED | RUN_BLOB_ORIGIN);
        if (ds == ESC_DS_PROCESSES || ds >= ESC_DS_N)
            return 0;
        int k = next_named(b, &i);
        if (k != 1)
            return k;
        b->fs.time_us = rec->time_us;
        b->fs.has_time = true;
        rec->ds = (esc_dataset)ds;
        rec->fs = &b->fs;
    }
    for (int f = 0; !(mask & RUN_REC_NAMED) && f < ESC_CIM_NFIELDS; f++) {
        esc_str v;
        if (!(mask & (1u << f)))
            continue;
        if (!get_str(p, end, &i, &v) || !v.ptr)
            return 0;
        rec->v[f] = v;
    }
    if (mask & RUN_BLOB_ORIGIN) {
        if (!origin_next(b, &i))
            return 0;
        b->ev.time_us = rec->time_us;
        rec->ev = &b->ev;
    }
    b->pos = i;
    return 1;
}

static void blob_rd_init(blob_rd *b, const esc_buf *blob, size_t end) {
    memset(b, 0, sizeof *b);
    b->p = (const unsigned char *)blob->ptr;
    b->end = end;
    b->pos = RUN_BLOB_HDR;
}

/* Feed the records of blob[RUN_BLOB_HDR, end) into x. */
static esc_status blob_feed(const esc_buf *b, size_t end, esc_exec *x, esc_error *err) {
    blob_rd rd;
    blob_rd_init(&rd, b, end);
    esc_record rec;
    esc_status st = ESC_OK;
    int k;
    while (!st && (k = blob_next(&rd, &rec)) == 1)
        st = esc_exec_feed(x, &rec, err);
    if (!st && k < 0)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_free(rd.f);
    return st;
}

uint64_t esc_run_blob_count(const esc_buf *b) {
    uint64_t n = 0;
    blob_rd rd;
    blob_rd_init(&rd, b, b->len);
    esc_record rec;
    while (blob_next(&rd, &rec) == 1)
        n++;
    esc_free(rd.f);
    return n;
}

esc_status esc_run_blob_table(const det_state *d, const win_state *ws, const esc_buf *b, size_t end,
                              esc_table **out, esc_error *err) {
    esc_exec *x =
        esc_exec_new(d->plan, ws->w.earliest * ESC_US_PER_SEC, ws->w.latest * ESC_US_PER_SEC, err);
    if (!x)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_status st = blob_feed(b, end, x, err);
    if (!st)
        st = esc_exec_finish(x, out, err);
    esc_exec_free(x);
    return st;
}

/* ---- windows ----------------------------------------------------------------------------- */

static size_t win_hash(size_t det, int64_t sched, size_t kslot1) {
    uint64_t h = ((uint64_t)sched * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)det << 32) ^ kslot1;
    h *= 0xff51afd7ed558ccdULL;
    return (size_t)(h ^ (h >> 29));
}

/* r->win[i] into the index (its slot: the first empty one of its probe sequence). */
static void index_put(esc_runner *r, size_t i) {
    const win_state *w = r->win[i];
    size_t mask = r->widx_cap - 1;
    size_t j = win_hash(w->det, w->sched, w->kslot1) & mask;
    while (r->widx[j])
        j = (j + 1) & mask;
    r->widx[j] = (uint32_t)(i + 1);
}

/* The index of the windows, for at least want of them; false when out of memory (lookups
 * then scan the windows). */
static bool index_build(esc_runner *r, size_t want) {
    size_t cap = 64;
    while (cap < 2 * want + 2)
        cap *= 2;
    if (cap != r->widx_cap) {
        uint32_t *n = esc_realloc(r->widx, cap * sizeof *n);
        if (!n) {
            esc_free(r->widx);
            r->widx = NULL;
            r->widx_cap = 0;
            return false;
        }
        r->widx = n;
        r->widx_cap = cap;
    }
    memset(r->widx, 0, r->widx_cap * sizeof *r->widx);
    for (size_t i = 0; i < r->nwin; i++)
        index_put(r, i);
    return true;
}

/* Whether w is the live window of (det, sched, kslot1). */
static bool win_is(const win_state *w, size_t det, int64_t sched, size_t kslot1) {
    return w->det == det && w->sched == sched && !w->deleted && w->kslot1 == kslot1;
}

/* A window's key never changes once it is in win: a Kafka window is made with its slot. Windows
 * deleted but not yet compacted stay in the index and are passed over. */
win_state *esc_run_win_find_slot(esc_runner *r, size_t det, int64_t sched, size_t kslot1) {
    if (!r->widx) {
        for (size_t i = 0; i < r->nwin; i++)
            if (win_is(r->win[i], det, sched, kslot1))
                return r->win[i];
        return NULL;
    }
    size_t mask = r->widx_cap - 1;
    for (size_t j = win_hash(det, sched, kslot1) & mask; r->widx[j]; j = (j + 1) & mask) {
        win_state *w = r->win[r->widx[j] - 1];
        if (win_is(w, det, sched, kslot1))
            return w;
    }
    return NULL;
}

win_state *esc_run_win_find(esc_runner *r, size_t det, int64_t sched) {
    return esc_run_win_find_slot(r, det, sched, 0);
}

void esc_run_win_free(win_state *w) {
    if (!w)
        return;
    esc_exec_free(w->x);
    esc_buf_fini(&w->blob);
    esc_free(w->blob_path);
    esc_free(w);
}

/* A new window of partition slot kslot1 (0: none), appended to win and indexed. A partition's
 * window gets its execution now, fed as records come (its records are not stored: a restart
 * replays them); another window's is made from its kept records when it fires. */
static esc_status win_new(esc_runner *r, size_t det, int64_t sched, size_t kslot1, win_state **out,
                          esc_error *err) {
    size_t max = r->o.max_windows ? r->o.max_windows : RUN_MAX_WINDOWS;
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
    w->kslot1 = kslot1;
    esc_status st = esc_schedule_window(&r->det[det].sched, sched, &w->w, err);
    if (!st && blob_init(&w->blob, sched))
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!st && kslot1) {
        w->x = esc_exec_new(r->det[det].plan, w->w.earliest * ESC_US_PER_SEC,
                            w->w.latest * ESC_US_PER_SEC, err);
        if (!w->x)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    if (st) {
        esc_run_win_free(w);
        return st;
    }
    r->win[r->nwin++] = w;
    if (r->widx && 2 * r->nwin + 2 <= r->widx_cap)
        index_put(r, r->nwin - 1);
    else
        index_build(r, r->nwin);
    *out = w;
    return ESC_OK;
}

esc_status esc_run_win_new(esc_runner *r, size_t det, int64_t sched, win_state **out,
                           esc_error *err) {
    return win_new(r, det, sched, 0, out, err);
}

bool esc_run_win_find_key(const esc_runner *r, const esc_ckpt_partial *key) {
    for (size_t i = 0; i < r->nwin; i++) {
        const win_state *w = r->win[i];
        if (w->w.earliest != key->earliest || w->w.latest != key->latest)
            continue;
        char k[ESC_CKPT_MAX_KEY];
        if (w->kslot1)
            esc_run_kafka_win_key(r, w, k, sizeof k);
        if (!strcmp(w->kslot1 ? k : r->det[w->det].d->id, key->detection))
            return true;
    }
    return false;
}

/* ---- windows in the store: a row and segments -------------------------------------------- *
 * A window's row (ESW5) is its blob's header, the number of segments and the bytes of records
 * they hold, with a CRC-32 trailer. Segment k holds the records the window gained before a
 * commit: an encoding byte (0: the records as they are; 1: a zstd frame of them, level 1, when
 * that is smaller), then those bytes, with a CRC-32 trailer over k and them (so a segment moved
 * to another place fails). Its whole blob is the header, the segments' records in order, then
 * the records in memory (win_state.blob after its header) that the next commit stores as the
 * next segment. ESW4 rows (one development version) have segments without the encoding byte;
 * such a window is stored anew as ESW5 at its next commit. */

static uint32_t seg_crc(uint32_t seq, const void *p, size_t n) {
    unsigned char k[4];
    memcpy(k, &seq, 4);
    return (uint32_t)crc32(crc32(0L, k, 4), p, (uInt)n);
}

static esc_ckpt_partial win_key(const esc_runner *r, const win_state *w) {
    return (esc_ckpt_partial){r->det[w->det].d->id, w->w.earliest, w->w.latest, NULL, 0};
}

void esc_run_store_free(esc_runner *r) {
    ZSTD_freeCCtx(r->zc);
    ZSTD_freeDCtx(r->zd);
    r->zc = NULL;
    r->zd = NULL;
}

typedef struct seg_read {
    esc_runner *r;
    esc_buf *out;
    bool coded; /* segments start with their encoding byte (ESW5) */
    uint32_t next;
    uint64_t left; /* bytes the row says are still to come */
    const char *why;
} seg_read;

static bool damaged(seg_read *l, const char *why) {
    l->why = why;
    return false;
}

/* The records of a segment's payload p[0, n) appended to l->out; false (l->why) when damaged. */
static bool seg_decode(seg_read *l, const unsigned char *p, size_t n, esc_status *st) {
    unsigned code = 0;
    if (l->coded) {
        if (!n--)
            return damaged(l, "a segment is empty");
        code = *p++;
    }
    size_t size = n;
    if (code == 1) {
        unsigned long long z = ZSTD_getFrameContentSize(p, n);
        if (z == ZSTD_CONTENTSIZE_ERROR || z == ZSTD_CONTENTSIZE_UNKNOWN)
            return damaged(l, "a segment does not decompress");
        size = z > l->left ? SIZE_MAX : (size_t)z;
    } else if (code) {
        return damaged(l, "a segment has an unknown encoding");
    }
    if (size > l->left)
        return damaged(l, "a segment is longer than its row says");
    if ((*st = esc_buf_reserve(l->out, size)))
        return true;
    if (code == 1) {
        if (!l->r->zd && !(l->r->zd = ZSTD_createDCtx())) {
            *st = ESC_ENOMEM;
            return true;
        }
        size_t k = ZSTD_decompressDCtx(l->r->zd, esc_buf_end(l->out), size, p, n);
        if (ZSTD_isError(k) || k != size)
            return damaged(l, "a segment does not decompress");
    } else {
        memcpy(esc_buf_end(l->out), p, size);
    }
    esc_buf_commit(l->out, size);
    l->left -= size;
    return true;
}

static esc_status seg_each(void *ctx, int64_t seq, const void *p, size_t n, esc_error *err) {
    seg_read *l = ctx;
    uint32_t want;
    if (seq != l->next) {
        l->why = "a segment is missing";
        return ESC_EOF;
    }
    if (n < RUN_BLOB_CRC) {
        l->why = "a segment is truncated";
        return ESC_EOF;
    }
    n -= RUN_BLOB_CRC;
    memcpy(&want, (const char *)p + n, RUN_BLOB_CRC);
    if (seg_crc(l->next, p, n) != want) {
        l->why = "segment checksum mismatch (truncated or altered)";
        return ESC_EOF;
    }
    esc_status st = ESC_OK;
    if (!seg_decode(l, p, n, &st))
        return ESC_EOF;
    l->next++;
    return st ? esc_error_set(err, ESC_ENOMEM, "out of memory") : ESC_OK;
}

/* The records of key's nseg segments (stored bytes) appended to out; *why when damaged. */
static esc_status seg_load(esc_runner *r, const esc_ckpt_partial *key, bool coded, uint32_t nseg,
                           uint64_t stored, esc_buf *out, const char **why, esc_error *err) {
    seg_read l = {r, out, coded, 0, stored, NULL};
    esc_status st = esc_ckpt_get_segments(r->ck, key, seg_each, &l, err);
    if (st == ESC_EOF)
        *why = l.why;
    else if (!st && l.next != nseg)
        *why = "a segment is missing";
    else if (!st && l.left)
        *why = "its segments hold fewer records than its row says";
    return st == ESC_EOF ? ESC_OK : st;
}

uint64_t esc_run_win_len(const win_state *w) {
    return w->stored + w->blob.len;
}

esc_status esc_run_win_records(esc_runner *r, const win_state *w, esc_buf *tmp, const esc_buf **out,
                               esc_error *err) {
    *out = &w->blob;
    if (!w->stored)
        return ESC_OK;
    esc_ckpt_partial key = win_key(r, w);
    const char *why = NULL;
    esc_buf_clear(tmp);
    esc_status st = esc_buf_append(tmp, w->blob.ptr, RUN_BLOB_HDR);
    if (!st)
        st = seg_load(r, &key, true, w->nseg, w->stored, tmp, &why, err);
    if (!st && !why)
        st = esc_buf_append(tmp, w->blob.ptr + RUN_BLOB_HDR, w->blob.len - RUN_BLOB_HDR);
    else if (!st)
        st = esc_error_set(err, ESC_EIO, "state %s: the kept records of a window of %s: %s",
                           r->o.state_dir, key.detection, why);
    *out = tmp;
    return st == ESC_ENOMEM ? esc_error_set(err, st, "out of memory") : st;
}

/* b[from, len) as segment seq of key: its encoding byte, the records or their zstd frame, the
 * CRC-32 trailer. */
static esc_status seg_put(esc_runner *r, esc_ckpt_partial key, uint32_t seq, const esc_buf *b,
                          size_t from, esc_error *err) {
    const char *src = b->ptr + from;
    size_t n = b->len - from, bound = ZSTD_compressBound(n), k = 0;
    esc_buf seg;
    esc_buf_init(&seg, 0);
    if (esc_buf_reserve(&seg, 1 + (bound > n ? bound : n) + RUN_BLOB_CRC) ||
        (!r->zc && !(r->zc = ZSTD_createCCtx())))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (n >= RUN_SEG_ZSTD_MIN)
        k = ZSTD_compressCCtx(r->zc, seg.ptr + 1, bound, src, n, 1);
    bool z = n >= RUN_SEG_ZSTD_MIN && !ZSTD_isError(k) && k < n;
    seg.ptr[0] = z ? 1 : 0;
    if (!z)
        memcpy(seg.ptr + 1, src, k = n);
    seg.len = 1 + k;
    uint32_t c = seg_crc(seq, seg.ptr, seg.len);
    memcpy(seg.ptr + seg.len, &c, RUN_BLOB_CRC);
    key.data = seg.ptr;
    key.len = seg.len + RUN_BLOB_CRC;
    esc_status st = esc_ckpt_put_segment(r->ck, &key, seq, err);
    esc_buf_fini(&seg);
    return st;
}

esc_status esc_run_win_store(esc_runner *r, win_state *w, esc_error *err) {
    esc_ckpt_partial key = win_key(r, w);
    size_t gained = w->blob.len - RUN_BLOB_HDR;
    w->pend_nseg = w->nseg;
    w->pend_stored = w->stored;
    esc_status st = ESC_OK;
    uint32_t max = r->o.max_segments ? r->o.max_segments : RUN_MAX_SEGS;
    if (gained && w->nseg >= max) { /* the whole blob as segment 0 */
        esc_buf all;
        const esc_buf *b;
        esc_buf_init(&all, 0);
        st = esc_run_win_records(r, w, &all, &b, err);
        if (!st)
            st = seg_put(r, key, 0, b, RUN_BLOB_HDR, err);
        w->pend_nseg = 1;
        w->pend_stored = st ? 0 : b->len - RUN_BLOB_HDR;
        esc_buf_fini(&all);
    } else if (gained) {
        st = seg_put(r, key, w->nseg, &w->blob, RUN_BLOB_HDR, err);
        w->pend_nseg++;
        w->pend_stored += gained;
    }
    if (!st && gained && w->pend_nseg == 1) /* a first segment: none of an older row may stay */
        st = esc_ckpt_trim_segments(r->ck, &key, 1, err);
    unsigned char row[RUN_SEG_ROW + RUN_BLOB_CRC];
    memcpy(row, w->blob.ptr, RUN_BLOB_HDR);
    memcpy(row, RUN_BLOB_MAGIC_SEG, 4);
    memcpy(row + RUN_BLOB_HDR, &w->pend_nseg, 4);
    put_u64(row + RUN_BLOB_HDR + 4, w->pend_stored);
    uint32_t c = (uint32_t)crc32(0L, row, RUN_SEG_ROW);
    memcpy(row + RUN_SEG_ROW, &c, RUN_BLOB_CRC);
    key.data = row;
    key.len = sizeof row;
    return st ? st : esc_ckpt_put_partial(r->ck, &key, err);
}

void esc_run_win_stored(win_state *w) {
    unsigned char h[RUN_BLOB_HDR];
    w->nseg = w->pend_nseg;
    w->stored = w->pend_stored;
    if (w->blob.len == RUN_BLOB_HDR)
        return;
    memcpy(h, w->blob.ptr, RUN_BLOB_HDR); /* the records' memory goes back, the header stays */
    esc_buf_fini(&w->blob);
    esc_buf_init(&w->blob, 0);
    if (esc_buf_append(&w->blob, h, RUN_BLOB_HDR)) /* cannot fail: what was freed was larger */
        w->blob.len = 0;
}

esc_status esc_run_win_restore(esc_runner *r, size_t det, const esc_ckpt_partial *cp, size_t body,
                               const char **why, esc_error *err) {
    const unsigned char *row = cp->data;
    bool seg = esc_run_blob_segmented(row), cur = !memcmp(row, RUN_BLOB_MAGIC_SEG, 4);
    uint32_t nseg = 0;
    uint64_t stored = 0;
    esc_buf full;
    esc_buf_init(&full, 0);
    esc_status st = esc_buf_append(&full, row, seg ? RUN_BLOB_HDR : body);
    if (seg) {
        memcpy(&nseg, row + RUN_BLOB_HDR, 4);
        stored = get_u64(row + RUN_BLOB_HDR + 4);
        if (!st)
            st = seg_load(r, cp, cur, nseg, stored, &full, why, err);
    }
    if (st || *why)
        goto out;
    bool fired = esc_run_blob_fired(full.ptr);
    win_state *w;
    if ((st = esc_run_win_new(r, det, esc_run_blob_sched(full.ptr), &w, err)))
        goto out;
    esc_buf_fini(&w->blob);
    w->blob = full;
    esc_buf_init(&full, 0);
    memcpy(w->blob.ptr, RUN_BLOB_MAGIC, 4);
    w->dirty = !cur; /* an older format: stored anew as the current */
    w->fired = fired;
    if (esc_run_blob_emitted(&w->blob) < w->blob.len && fired)
        w->late_dirty = true;
    if (cur) {
        w->nseg = w->pend_nseg = nseg;
        w->stored = w->pend_stored = stored;
        esc_run_win_stored(w);
    }
out:
    esc_buf_fini(&full);
    return st == ESC_ENOMEM ? esc_error_set(err, st, "out of memory") : st;
}

void esc_run_win_compact(esc_runner *r) {
    size_t k = 0;
    for (size_t i = 0; i < r->nwin; i++) {
        if (r->win[i]->deleted && !r->win[i]->dirty)
            esc_run_win_free(r->win[i]);
        else
            r->win[k++] = r->win[i];
    }
    r->nwin = k;
    index_build(r, r->nwin);
}

void esc_run_win_prune(esc_runner *r, int64_t now) {
    int64_t keep = r->o.late_retention > 0 ? r->o.late_retention : 86400;
    for (size_t i = 0; i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (w->fired && !w->deleted && w->w.latest < now - keep) {
            w->deleted = true;
            w->dirty = true;
        }
    }
}

/* ---- records ----------------------------------------------------------------------------- */

/* A detection whose windows overlap so much that a record falls in more than RUN_MAX_COVER of
 * them is refused when the run starts (probed hourly over the week ahead), not at its first
 * record, where the run would stop and stop again on every restart. */
esc_status esc_run_check_cover(const det_state *d, int64_t now, esc_error *err) {
    int64_t ts[RUN_MAX_COVER];
    size_t n;
    for (int h = 0; h < 7 * 24; h++)
        if (esc_schedule_runs_covering(&d->sched, now + h * 3600, ts, RUN_MAX_COVER, &n, err))
            return esc_error_set(err, ESC_ECONTENT,
                                 "%s: a record would fall in more than %d windows (its schedule "
                                 "runs more often than its time range is long); not run",
                                 d->d->name, RUN_MAX_COVER);
    return ESC_OK;
}

/* A record of a window that already fired: reported, or kept for late emission. */
static esc_status late(esc_runner *r, const det_state *d, win_state *w, int64_t t,
                       const esc_record *rec, esc_error *err) {
    r->stats.late++;
    r->meta_dirty = true;
    int64_t lag = esc_clock_now_sec(r->o.clock) - t;
    if (!r->o.late_emit || !w) {
        esc_run_msg(r,
                    "late event missed: %s: event time %lld in window [%lld, %lld) that ran at "
                    "%lld (%lld s ago)%s",
                    d->d->name, (long long)esc_time_sec(rec->time_us),
                    (long long)(w ? w->w.earliest : 0), (long long)(w ? w->w.latest : 0),
                    (long long)t, (long long)lag,
                    r->o.late_emit ? " beyond the late retention" : "");
        return ESC_OK;
    }
    esc_status st = blob_add(w, rec);
    if (st)
        return esc_error_set(err, st, "window blob of %s over its limit", d->d->name);
    w->dirty = w->late_dirty = true;
    return ESC_OK;
}

/* d->cov: the runs whose windows cover event time e, from an earlier answer whose span holds e
 * (the answer is the same for every time of its span) or computed and remembered. */
static esc_status runs_covering(det_state *d, int64_t e, esc_error *err) {
    for (size_t i = 0; i < RUN_COVER_SPANS && esc_sched_time_ok(e); i++) {
        if (d->span[i].lo <= e && e < d->span[i].hi) {
            d->cov_lo = d->span[i].lo;
            d->cov_hi = d->span[i].hi;
            d->ncov = d->span[i].n;
            memcpy(d->cov, d->span[i].t, d->ncov * sizeof *d->cov);
            return ESC_OK;
        }
    }
    d->cov_lo = d->cov_hi = 0;
    esc_status st = esc_schedule_runs_covering_span(&d->sched, e, d->cov, RUN_MAX_COVER, &d->ncov,
                                                    &d->cov_lo, &d->cov_hi, err);
    if (st || d->ncov > RUN_COVER_SMALL || d->cov_hi <= d->cov_lo)
        return st;
    size_t i = d->span_next++ % RUN_COVER_SPANS;
    d->span[i].lo = d->cov_lo;
    d->span[i].hi = d->cov_hi;
    d->span[i].n = d->ncov;
    memcpy(d->span[i].t, d->cov, d->ncov * sizeof *d->cov);
    return ESC_OK;
}

static size_t str_bytes(esc_str s) {
    return 4 + (s.ptr ? s.len : 0);
}

static size_t varint_bytes(uint64_t v) {
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* The bytes blob_add would append for rec to w's blob, with *path the input name its origin
 * names (NULL: the same as the last, or no origin). Kept in step with blob_add and origin_add. */
static size_t rec_bytes(const win_state *w, const esc_record *rec, const char **path, size_t *pl) {
    bool named = rec->ds != ESC_DS_PROCESSES && rec->fs;
    const esc_event *ev = named && rec->fs->ev ? rec->fs->ev : rec->ev;
    size_t n = 12;
    if (named) {
        const esc_fields *fs = rec->fs;
        n += 4 + str_bytes(ev ? ev->channel : ESC_STR_NULL) + str_bytes(fs->raw) + 4;
        for (size_t i = 0; i < fs->n; i++)
            n += str_bytes(fs->f[i].name) + str_bytes(fs->f[i].value);
    }
    for (int i = 0; !named && i < ESC_CIM_NFIELDS; i++)
        if (rec->v[i].ptr)
            n += 4 + rec->v[i].len;
    *path = NULL;
    if (!ev)
        return n;
    const char *p = ev->path ? ev->path : "";
    size_t l = strnlen(p, RUN_ORIGIN_PATH_MAX - 1);
    n += 4 + varint_bytes(ev->offset) + varint_bytes(ev->line) + varint_bytes(ev->record_id);
    if (!(w->blob_path && strncmp(w->blob_path, p, l) == 0 && !w->blob_path[l])) {
        n += l + 1;
        *path = p;
        *pl = l;
    }
    return n;
}

/* The record into w's blob; a partition's window without --late=emit only counts the bytes
 * blob_add would append, against the same cap: its records are never read (run.c stores its
 * header alone, a restart replays the partition), and holding them cost a tenth of a worker's
 * CPU (encoding them into a scratch buffer to count them, a fortieth). */
static esc_status blob_keep(esc_runner *r, win_state *w, const esc_record *rec) {
    if (!w->kslot1 || r->o.late_emit)
        return blob_add(w, rec);
    const char *path;
    size_t pl = 0, n = rec_bytes(w, rec, &path, &pl);
    uint64_t used = RUN_BLOB_HDR + w->kbytes;
    if (used >= ESC_CKPT_MAX_BLOB)
        return ESC_ELIMIT;
    if (n > ESC_CKPT_MAX_BLOB - used) {
        blob_path_clear(w); /* as blob_add: the next record names its input again */
        return ESC_ELIMIT;
    }
    if (path && blob_path_set(w, path, pl))
        return ESC_ENOMEM;
    w->kbytes += n;
    return ESC_OK;
}

/* The record into every window of detection j that covers its time. */
static esc_status keep(esc_runner *r, size_t j, const esc_record *rec, esc_error *err) {
    det_state *d = &r->det[j];
    int64_t *ts = d->cov;
    int64_t e = esc_time_sec(rec->time_us);
    esc_status st = ESC_OK;
    if (!(d->cov_lo <= e && e < d->cov_hi) || !esc_sched_time_ok(e))
        st = runs_covering(d, e, err);
    if (st) {
        d->cov_lo = d->cov_hi = 0;
        char why[ESC_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return esc_error_set(err, st, "%s: %s", d->d->name, why);
    }
    size_t n = d->ncov;
    for (size_t k = 0; k < n; k++) {
        int64_t t = ts[k];
        if (t <= d->enabled_at) {
            r->stats.before_start++;
            continue;
        }
        size_t ks = r->kcur.active ? r->kcur.slot + 1 : 0;
        win_state *w = esc_run_win_find_slot(r, j, t, ks);
        if (ks && t <= r->kcur.fired_to && r->kcur.replay)
            continue; /* replayed: the partition's window fired (here or at its last reader) */
        if (ks ? t <= r->kcur.fired_to : t <= d->last_fired) {
            if ((st = late(r, d, w, t, rec, err)))
                return st;
            continue;
        }
        if (!w && (st = win_new(r, j, t, ks, &w, err)))
            return st;
        if (ks && !w->kfirst1)
            w->kfirst1 = (uint64_t)r->kcur.off + 1;
        if (w->x && (st = esc_exec_feed(w->x, rec, err)))
            return st;
        if ((st = blob_keep(r, w, rec)))
            return esc_error_set(err, st, "window blob of %s over its limit", d->d->name);
        w->dirty = true;
        r->stats.kept++;
    }
    return ESC_OK;
}

esc_status esc_run_consume(void *runner, const esc_record *rec, esc_error *err) {
    esc_runner *r = runner;
    if (rec->ds != ESC_DS_PROCESSES) { /* the detections the feeder selected for its event */
        const size_t *cand;
        size_t ncand = esc_feeder_candidates(r->feed, &cand);
        for (size_t k = 0; k < ncand; k++) {
            if (!esc_feeder_may_match(r->feed, cand[k]) ||
                !esc_plan_record_matches(r->det[cand[k]].plan, rec))
                continue;
            esc_status st = keep(r, cand[k], rec, err);
            if (st)
                return st;
        }
        return ESC_OK;
    }
    for (size_t j = 0; j < r->ndet; j++) {
        if (!esc_feeder_may_match(r->feed, j) || !esc_plan_record_matches(r->det[j].plan, rec))
            continue;
        esc_status st = keep(r, j, rec, err);
        if (st)
            return st;
    }
    return ESC_OK;
}
