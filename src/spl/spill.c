/* Spilling a tstats execution's groups (or kept rows) to a temporary file (docs/limits.md "group
 * memory"), so that a hunt's memory stays flat however many groups its searches keep until they
 * finish.
 *
 * The file is created in $TMPDIR (else /tmp) as escudo-spill-XXXXXX and unlinked at once: it
 * has no name while it is written and read, and the system takes it back when it is closed or
 * the process ends, however it ends. It holds chunks of at most CHUNK_GROUPS groups, each
 *   u64 length, the groups' partial aggregate (agg/partial.c), u64 length, then per group in
 *   the same order its evidence (esc_evset_encode),
 * written in the order the groups were spilled. Reading merges the chunks back in that order,
 * group by group (esc_agg_merge_each, esc_evset_decode), so the merged table holds what one
 * table fed every record would hold: each aggregate's merge applies esc_agg_add's rule to a
 * whole state (the exceptions are partial.c's: sums of non-integers may differ in the last
 * bits), and evidence keeps the earliest and latest references of the union.
 * A raw-event search's kept rows are spilled to a file of their own, in chunks of CHUNK_ROWS
 * rows: u64 length, then a flag (the rows carry events), the row count, and per row each
 * cell's value count, is_num, the number's bits and values, then the row's events
 * (esc_evset_encode); they come back exactly, in order, before the rows kept since.
 * Invariants: only tables whose aggregates all merge are spilled (list() is not; the caller
 * checks); a chunk read back is checked like any partial (a broken one is ESC_EMALFORMED).
 * A file is split by ranges of keys (spl_spill_split) by copying each group's bytes and its
 * evidence's, as they are, to the chunk of its range's file: nothing is merged.
 * Deliberately not done: sorting runs for a streaming k-way merge (a finishing search that
 * needs no group after its first table reads the file a range of keys at a time instead, each
 * range from a file of its own: exec.c table_in_parts). */
#include "spl/spill.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/cmd.h"

#define CHUNK_GROUPS 4096
#define CHUNK_ROWS 256

struct spl_spill {
    FILE *f;
    uint64_t bytes;   /* whole spills only: in the file, queued and held */
    uint64_t written; /* in the file */
    uint64_t groups;  /* groups spilled (a group spilled twice counts twice) */
    bool broken;      /* a failed spill could not be cut off the file: reading it fails */
    size_t pending;   /* chunks queued for the writing thread (under aw.mu) */
    bool holding;     /* a write failed: this chunk and the later ones stay in held */
    esc_buf *held;    /* chunks not written, in order, read back after the file's */
    size_t nheld, held_cap;
};

/* ---- the buffers chunks are made and read in ---- */

/* A chunk of 4,096 groups is often over a MiB, a block glibc maps on its own: made in a new
 * buffer at every spill and read back into a new one at every read, its pages were faulted in
 * again each time (over 500 MB of EVTX, a quarter of the hunt's 34,000 page faults, which cost
 * tens of microseconds each on a virtual machine). So one buffer for making chunks and one for
 * reading them are kept for the process, up to KEEP_BUF bytes each; a thread that finds one in
 * use takes a new one of its own. */
#define KEEP_BUF ((size_t)4 << 20)

enum { BUF_WRITE, BUF_READ };
static pthread_mutex_t bufs_mu = PTHREAD_MUTEX_INITIALIZER;
static esc_buf bufs[2];
static bool bufs_busy[2];

/* The kept buffer which, emptied, or own (initialised) when another thread has it. */
static esc_buf *buf_take(int which, esc_buf *own) {
    pthread_mutex_lock(&bufs_mu);
    bool mine = !bufs_busy[which];
    bufs_busy[which] = true;
    pthread_mutex_unlock(&bufs_mu);
    if (!mine) {
        esc_buf_init(own, 0);
        return own;
    }
    esc_buf_clear(&bufs[which]);
    return &bufs[which];
}

static void buf_give(int which, esc_buf *b, esc_buf *own) {
    if (b == own) {
        esc_buf_fini(own);
        return;
    }
    if (b->cap > KEEP_BUF)
        esc_buf_fini(b);
    pthread_mutex_lock(&bufs_mu);
    bufs_busy[which] = false;
    pthread_mutex_unlock(&bufs_mu);
}

static esc_status io_error(esc_error *err, const char *what) {
    return esc_error_set(err, ESC_EIO, "spill file: %s: %s", what, strerror(errno));
}

static esc_status broken_file(esc_error *err) {
    return esc_error_set(err, ESC_EIO, "spill file: broken by an earlier write error");
}

static esc_status spill_open(spl_spill **sp, esc_error *err) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/escudo-spill-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return esc_error_set(err, ESC_EIO, "spill file: TMPDIR too long");
    int fd = mkstemp(path);
    if (fd < 0)
        return esc_error_set(err, ESC_EIO, "spill file in %s: %s", dir, strerror(errno));
    unlink(path);
    spl_spill *s = esc_calloc(1, sizeof *s);
    if (!s || !(s->f = fdopen(fd, "w+b"))) {
        close(fd);
        esc_free(s);
        return esc_error_set(err, ESC_ENOMEM, "out of memory opening a spill file");
    }
    *sp = s;
    return ESC_OK;
}

/* ---- writing ----
 * A chunk is made in a buffer (one block for rows, two for groups: each its u64 length, then
 * its bytes) and put at the file's end, by the spilling thread or, when the writing thread is on
 * (spl_spill_async_begin), by that thread, queued. A write that fails is cut off the file
 * (marked broken when it cannot be), and from then on the file holds: its chunks stay in memory
 * (held), read back after the file's, in order, so that nothing spilled is lost. A failed
 * synchronous spill is cut back whole and returned (its groups stay in memory and the hunt
 * spills no more: only the finishing ones come, held); the writing thread's first failure is
 * reported once, by spl_spill_async_failed.
 * With the thread on, a spill encodes its chunks and queues them (at most ASYNC_BYTES waiting:
 * a full queue makes the spill wait); reading a file back first waits for its chunks. A hunt's
 * spills were a sixth of its calling thread's time over 1 GiB of XML, the write calls' copying
 * into the page cache a good part of it (docs/benchmarks.md). */
#define ASYNC_BYTES ((size_t)8 << 20)

/* A block begun in b: room for its length, which block_end fills in. */
static bool block_begin(esc_buf *b, size_t *at) {
    *at = b->len;
    return esc_buf_append(b, "\0\0\0\0\0\0\0\0", 8) == ESC_OK;
}

static void block_end(esc_buf *b, size_t at) {
    esc_le_put(b->ptr + at, b->len - at - 8, 8);
}

/* Appended to b: the chunk of groups idx[0..n) of a and their evidence. */
static esc_status make_chunk(esc_buf *b, const esc_agg *a, const esc_evset *ev, const size_t *idx,
                             size_t n, esc_error *err) {
    size_t at;
    if (!block_begin(b, &at))
        return esc_error_set(err, ESC_ENOMEM, "out of memory spilling groups");
    esc_status st = esc_agg_encode(a, idx, n, b, err);
    if (st)
        return st;
    block_end(b, at);
    if (!block_begin(b, &at))
        return esc_error_set(err, ESC_ENOMEM, "out of memory spilling groups");
    for (size_t i = 0; i < n; i++)
        if (esc_evset_encode(ev, idx[i], b) != 0)
            return esc_error_set(err, ESC_ENOMEM, "out of memory spilling evidence");
    block_end(b, at);
    return ESC_OK;
}

/* b's chunk at s's end, or held when s holds (b is then taken: left empty). False (errno set)
 * when the write failed: it is cut off, s holds from now, b is not taken. Only one thread puts
 * chunks of a file at a time (the writing thread, while any is queued). */
static bool put_chunk(spl_spill *s, esc_buf *b) {
    if (!s->holding) {
        if (fseek(s->f, (long)s->written, SEEK_SET) == 0 &&
            fwrite(b->ptr, 1, b->len, s->f) == b->len && fflush(s->f) == 0) {
            s->written += b->len;
            return true;
        }
        int e = errno;
        (void)fflush(s->f);
        clearerr(s->f);
        if (ftruncate(fileno(s->f), (off_t)s->written) != 0)
            s->broken = true;
        s->holding = true;
        errno = e;
        return false;
    }
    if (s->nheld == s->held_cap) {
        size_t cap = s->held_cap ? 2 * s->held_cap : 8;
        esc_buf *h = esc_realloc(s->held, cap * sizeof *h);
        if (!h) { /* no room to hold it: reading fails, as after a failed cut */
            s->broken = true;
            return true;
        }
        s->held = h;
        s->held_cap = cap;
    }
    s->held[s->nheld++] = *b;
    esc_buf_init(b, 0);
    return true;
}

typedef struct job {
    struct job *next;
    spl_spill *s;
    esc_buf b; /* the chunk */
} job;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a chunk queued or written, or the thread to stop */
    pthread_t thread;
    size_t users; /* spl_spill_async_begin calls not yet ended */
    bool stop;
    job *head, *tail, *spare;   /* queued; written, for reuse */
    size_t queued, spare_bytes; /* bytes queued; bytes the spare jobs' buffers hold */
    bool failed, told;          /* a write failed; spl_spill_async_failed reported it */
    char why[256];
} aw = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* The writing thread: puts the queued chunks in order, without the lock. */
static void *writer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&aw.mu);
    for (;;) {
        while (!aw.head && !aw.stop)
            pthread_cond_wait(&aw.cv, &aw.mu);
        job *j = aw.head;
        if (!j)
            break;
        size_t len = j->b.len;
        pthread_mutex_unlock(&aw.mu);
        bool put = put_chunk(j->s, &j->b);
        int e = errno;
        if (!put)
            (void)put_chunk(j->s, &j->b); /* held now */
        pthread_mutex_lock(&aw.mu);
        if (!put && !aw.failed) {
            snprintf(aw.why, sizeof aw.why, "spill file: write: %s", strerror(e));
            aw.failed = true;
        }
        if (!(aw.head = j->next))
            aw.tail = NULL;
        aw.queued -= len;
        j->s->pending--;
        if (aw.spare_bytes + j->b.cap <= KEEP_BUF) { /* as much as one kept buffer holds */
            j->next = aw.spare;
            aw.spare = j;
            aw.spare_bytes += j->b.cap;
        } else {
            esc_buf_fini(&j->b);
            esc_free(j);
        }
        pthread_cond_broadcast(&aw.cv);
    }
    pthread_mutex_unlock(&aw.mu);
    return NULL;
}

bool spl_spill_async_begin(void) {
    pthread_mutex_lock(&aw.mu);
    bool ok = aw.users || pthread_create(&aw.thread, NULL, writer_main, NULL) == 0;
    aw.users += ok;
    pthread_mutex_unlock(&aw.mu);
    return ok;
}

void spl_spill_async_end(void) {
    pthread_mutex_lock(&aw.mu);
    bool last = aw.users && !--aw.users;
    aw.stop = last;
    pthread_cond_broadcast(&aw.cv);
    pthread_mutex_unlock(&aw.mu);
    if (!last)
        return;
    pthread_join(aw.thread, NULL); /* after the queue emptied */
    aw.stop = aw.failed = aw.told = false;
    while (aw.spare) {
        job *j = aw.spare;
        aw.spare = j->next;
        esc_buf_fini(&j->b);
        esc_free(j);
    }
    aw.spare_bytes = 0;
}

void spl_spill_async_wait(void) {
    pthread_mutex_lock(&aw.mu);
    while (aw.head)
        pthread_cond_wait(&aw.cv, &aw.mu);
    pthread_mutex_unlock(&aw.mu);
}

bool spl_spill_async_failed(esc_error *err) {
    pthread_mutex_lock(&aw.mu);
    bool tell = aw.failed && !aw.told;
    aw.told = aw.told || tell;
    if (tell)
        esc_error_set(err, ESC_EIO, "%s", aw.why);
    pthread_mutex_unlock(&aw.mu);
    return tell;
}

static bool async_on(void) {
    pthread_mutex_lock(&aw.mu);
    bool on = aw.users > 0;
    pthread_mutex_unlock(&aw.mu);
    return on;
}

/* Until s's queued chunks are put. */
static void wait_written(spl_spill *s) {
    pthread_mutex_lock(&aw.mu);
    while (s->pending)
        pthread_cond_wait(&aw.cv, &aw.mu);
    pthread_mutex_unlock(&aw.mu);
}

/* Groups idx[0..n) of a and their evidence queued as a chunk of s, once there is room. */
static esc_status queue_chunk(spl_spill *s, const esc_agg *a, const esc_evset *ev,
                              const size_t *idx, size_t n, esc_error *err) {
    pthread_mutex_lock(&aw.mu);
    job *j = aw.spare;
    if (j) {
        aw.spare = j->next;
        aw.spare_bytes -= j->b.cap;
    }
    pthread_mutex_unlock(&aw.mu);
    if (!j && (j = esc_malloc(sizeof *j)) != NULL)
        esc_buf_init(&j->b, 0);
    if (!j)
        return esc_error_set(err, ESC_ENOMEM, "out of memory spilling groups");
    j->next = NULL;
    j->s = s;
    esc_buf_clear(&j->b);
    /* room for about what the groups hold in memory: the buffer is not grown (and copied) as
     * the chunk is made */
    size_t ng = esc_agg_ngroups(a), mem = esc_agg_mem(a) + (ev ? esc_evset_mem(ev) : 0);
    (void)esc_buf_reserve(&j->b, mem / ng * n);
    esc_status st = make_chunk(&j->b, a, ev, idx, n, err);
    if (st) {
        esc_buf_fini(&j->b);
        esc_free(j);
        return st;
    }
    s->bytes += j->b.len;
    pthread_mutex_lock(&aw.mu);
    while (aw.queued && aw.queued + j->b.len > ASYNC_BYTES)
        pthread_cond_wait(&aw.cv, &aw.mu);
    if (aw.tail)
        aw.tail->next = j;
    else
        aw.head = j;
    aw.tail = j;
    aw.queued += j->b.len;
    s->pending++;
    pthread_cond_broadcast(&aw.cv);
    pthread_mutex_unlock(&aw.mu);
    return ESC_OK;
}

/* A spill's chunks made by make(ctx, k, b, err) for k < n, put by this thread in order (each in
 * the kept buffer); on failure the file as it was (and holding: what comes later is held). */
static esc_status put_sync(spl_spill *s, size_t n,
                           esc_status (*make)(void *ctx, size_t k, esc_buf *b, esc_error *err),
                           void *ctx, esc_error *err) {
    uint64_t end = s->written;
    size_t nheld = s->nheld;
    esc_buf own, *b = buf_take(BUF_WRITE, &own);
    esc_status st = s->broken ? broken_file(err) : ESC_OK;
    for (size_t k = 0; k < n && !st; k++) {
        esc_buf_clear(b);
        if ((st = make(ctx, k, b, err)) != ESC_OK)
            break;
        size_t len = b->len;
        if (!put_chunk(s, b))
            st = io_error(err, "write");
        else
            s->bytes += len;
    }
    buf_give(BUF_WRITE, b, &own);
    if (st && !s->broken) { /* this spill's chunks taken back */
        if (s->written != end && ftruncate(fileno(s->f), (off_t)end) != 0)
            s->broken = true;
        s->written = end;
        while (s->nheld > nheld)
            esc_buf_fini(&s->held[--s->nheld]);
        s->bytes = s->written;
        for (size_t i = 0; i < s->nheld; i++)
            s->bytes += s->held[i].len;
    }
    return st;
}

typedef struct group_chunks {
    const esc_agg *a;
    const esc_evset *ev;
} group_chunks;

/* Chunk k of a's groups. */
static esc_status make_group_chunk(void *ctx, size_t k, esc_buf *b, esc_error *err) {
    const group_chunks *c = ctx;
    size_t idx[CHUNK_GROUPS], from = k * CHUNK_GROUPS, ng = esc_agg_ngroups(c->a);
    size_t n = ng - from < CHUNK_GROUPS ? ng - from : CHUNK_GROUPS;
    for (size_t i = 0; i < n; i++)
        idx[i] = from + i;
    return make_chunk(b, c->a, c->ev, idx, n, err);
}

esc_status spl_spill_write(spl_spill **sp, esc_agg *a, esc_evset *ev, esc_error *err) {
    size_t ng = esc_agg_ngroups(a), nchunks = (ng + CHUNK_GROUPS - 1) / CHUNK_GROUPS;
    if (!ng)
        return ESC_OK;
    esc_status st = *sp ? ESC_OK : spill_open(sp, err);
    if (st)
        return st;
    if (async_on()) { /* on from before the file's first spill to after its last */
        size_t idx[CHUNK_GROUPS];
        for (size_t g = 0; g < ng && !st; g += CHUNK_GROUPS) {
            size_t n = ng - g < CHUNK_GROUPS ? ng - g : CHUNK_GROUPS;
            for (size_t i = 0; i < n; i++)
                idx[i] = g + i;
            st = queue_chunk(*sp, a, ev, idx, n, err);
        }
        /* (a failed queue_chunk is out of memory, which ends the hunt: the chunks queued
         * before it are not taken back) */
    } else {
        group_chunks c = {a, ev};
        st = put_sync(*sp, nchunks, make_group_chunk, &c, err);
    }
    if (!st) { /* else the groups stay in memory */
        (*sp)->groups += ng;
        esc_agg_reset(a);
        if (ev)
            esc_evset_reset(ev);
    }
    return st;
}

/* ---- reading back ---- */

typedef struct gmap {
    size_t *g; /* per group of the chunk: its group in the table, or SIZE_MAX */
    size_t n, cap;
    size_t kept; /* of them, groups in the table */
    bool oom;
} gmap;

static void note_group(void *ctx, size_t g) {
    gmap *m = ctx;
    if (m->n == m->cap && !ESC_VEC_GROW(m->g, m->cap, m->n + 1, 256)) {
        m->oom = true;
        return;
    }
    m->g[m->n++] = g;
    m->kept += g != SIZE_MAX;
}

typedef struct keep_ctx {
    gmap *m;
    bool (*keep)(void *ctx, const esc_str *keys);
    void *ctx;
} keep_ctx;

static bool keep_group(void *ctx, const esc_str *keys) {
    keep_ctx *k = ctx;
    return k->keep(k->ctx, keys);
}

static void each_group(void *ctx, size_t g) {
    note_group(((keep_ctx *)ctx)->m, g);
}

/* Where chunks are read from: the file, then the chunks held in memory (put_chunk). */
typedef struct source {
    spl_spill *s;
    size_t h, at; /* in held: the buffer, the position in it; h == SIZE_MAX: the file */
} source;

/* Whether the source has another chunk. */
static bool more(source *r) {
    if (r->h == SIZE_MAX) {
        int c = getc(r->s->f);
        if (c != EOF) {
            ungetc(c, r->s->f);
            return true;
        }
        r->h = r->at = 0;
    }
    while (r->h < r->s->nheld && r->at == r->s->held[r->h].len)
        r->h++, r->at = 0;
    return r->h < r->s->nheld;
}

/* The length of the chunk's next block, read; else an error. */
static esc_status block_len(source *r, const esc_buf *m, uint64_t *len, esc_error *err) {
    unsigned char x[8];
    if (m ? m->len - r->at < 8 : fread(x, 1, 8, r->s->f) != 8)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: truncated");
    *len = esc_le_get(m ? m->ptr + r->at : (const char *)x, 8);
    r->at += m ? 8 : 0;
    return ESC_OK;
}

/* Past the chunk's next block, unread. */
static esc_status skip_block(source *r, esc_error *err) {
    const esc_buf *m = r->h == SIZE_MAX ? NULL : &r->s->held[r->h];
    uint64_t len;
    esc_status st = block_len(r, m, &len, err);
    if (st)
        return st;
    if (m ? m->len - r->at < len : len > r->s->bytes || fseeko(r->s->f, (off_t)len, SEEK_CUR))
        return esc_error_set(err, ESC_EMALFORMED, "spill file: truncated");
    r->at += m ? (size_t)len : 0;
    return ESC_OK;
}

/* Read the next block of the chunk into b. */
static esc_status get_block(source *r, esc_buf *b, esc_error *err) {
    const esc_buf *m = r->h == SIZE_MAX ? NULL : &r->s->held[r->h];
    uint64_t len;
    esc_status st = block_len(r, m, &len, err);
    if (st)
        return st;
    esc_buf_clear(b);
    if (len > r->s->bytes || esc_buf_reserve(b, (size_t)len + 1) != ESC_OK)
        return esc_error_set(err, ESC_ENOMEM, "out of memory reading a spill file");
    if (m ? m->len - r->at < len : len && fread(b->ptr, 1, (size_t)len, r->s->f) != len)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: truncated");
    if (m && len)
        memcpy(b->ptr, m->ptr + r->at, (size_t)len);
    r->at += m ? (size_t)len : 0;
    b->len = (size_t)len;
    return ESC_OK;
}

/* s's chunks written, its file at its start: a source to read them all; else an error. */
static esc_status open_source(spl_spill *s, source *r, esc_error *err) {
    wait_written(s);
    *r = (source){s, SIZE_MAX, 0};
    if (s->broken)
        return broken_file(err);
    return !s->f || fflush(s->f) || fseek(s->f, 0, SEEK_SET) ? io_error(err, "seek") : ESC_OK;
}

/* One chunk merged into a and ev. */
static esc_status read_chunk(source *r, esc_agg *a, esc_evset *ev, keep_ctx *k, esc_buf *b,
                             esc_error *err) {
    k->m->n = k->m->kept = 0;
    esc_agg_merge_cb cb = {k->keep ? keep_group : NULL, each_group, k, true};
    esc_status st = get_block(r, b, err);
    if (!st)
        st = esc_agg_merge_each(a, b->ptr, b->len, &cb, err);
    if (!st && k->m->oom)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory reading a spill file");
    if (!st && !k->m->kept) /* the filter kept none of the chunk's groups: no evidence read */
        return skip_block(r, err);
    if (!st)
        st = get_block(r, b, err);
    size_t at = 0;
    for (size_t i = 0; i < k->m->n && !st; i++) {
        int rc = esc_evset_decode(ev, k->m->g[i], b->ptr, b->len, &at);
        if (rc == -1)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory reading a spill file");
        else if (rc)
            st = esc_error_set(err, ESC_EMALFORMED, "spill file: broken evidence");
    }
    if (!st && at != b->len)
        st = esc_error_set(err, ESC_EMALFORMED, "spill file: broken evidence");
    return st;
}

esc_status spl_spill_read(spl_spill *sp, esc_agg *a, esc_evset *ev,
                          bool (*keep)(void *ctx, const esc_str *keys), void *ctx, esc_error *err) {
    gmap m = {0};
    keep_ctx k = {&m, keep, ctx};
    source src;
    esc_status st = open_source(sp, &src, err);
    if (st)
        return st;
    esc_buf own, *b = buf_take(BUF_READ, &own);
    while (!st && more(&src))
        st = read_chunk(&src, a, ev, &k, b, err);
    if (!st && ferror(sp->f))
        st = io_error(err, "read");
    esc_free(m.g);
    buf_give(BUF_READ, b, &own);
    return st;
}

/* ---- splitting by key ---- */

/* The chunk's evidence block b (one encoding per group, in the groups' order; of[j]: group j's
 * part) appended, group by group, to the parts' evidence blocks ev[]. */
static esc_status split_evidence(const esc_buf *b, const size_t *of, size_t ng, esc_buf *ev,
                                 size_t nparts, esc_error *err) {
    size_t at = 0;
    for (size_t j = 0; j < ng; j++) {
        size_t from = at;
        if (esc_evset_decode(NULL, SIZE_MAX, b->ptr, b->len, &at) != 0)
            return esc_error_set(err, ESC_EMALFORMED, "spill file: broken evidence");
        if (of[j] < nparts && esc_buf_append(&ev[of[j]], b->ptr + from, at - from))
            return esc_error_set(err, ESC_ENOMEM, "out of memory splitting a spill file");
    }
    if (at != b->len)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: broken evidence");
    return ESC_OK;
}

/* A split's buffers: the block read, the chunk written, and per part the groups and evidence
 * of the chunk being split (nparts each; zeroed, as esc_buf_init(b, 0) leaves a buffer). */
typedef struct split_bufs {
    esc_buf block, chunk;
    esc_buf *groups, *evidence;
    size_t nparts;
} split_bufs;

/* data as one more block of b; false when out of memory. */
static bool append_block(esc_buf *b, const esc_buf *data) {
    size_t at;
    if (!block_begin(b, &at) || esc_buf_append(b, data->ptr, data->len) != ESC_OK)
        return false;
    block_end(b, at);
    return true;
}

/* Each part's share of the chunk, if it has one, put at the end of its file. */
static esc_status put_parts(split_bufs *b, spl_spill **parts, esc_error *err) {
    esc_status st = ESC_OK;
    esc_buf *w = &b->chunk;
    for (size_t r = 0; r < b->nparts && !st; r++) {
        if (!b->groups[r].len)
            continue;
        if (!parts[r] && (st = spill_open(&parts[r], err)))
            break;
        esc_buf_clear(w);
        if (!append_block(w, &b->groups[r]) || !append_block(w, &b->evidence[r]))
            return esc_error_set(err, ESC_ENOMEM, "out of memory splitting a spill file");
        size_t len = w->len;
        if (!put_chunk(parts[r], w))
            st = io_error(err, "write");
        else
            parts[r]->bytes += len;
    }
    return st;
}

/* One chunk of src split into the parts' files. */
static esc_status split_chunk(source *src, const esc_agg *shape,
                              size_t (*part)(void *ctx, const esc_str *keys), void *ctx,
                              spl_spill **parts, split_bufs *b, esc_error *err) {
    size_t of[CHUNK_GROUPS], ng = 0;
    esc_status st = get_block(src, &b->block, err);
    if (!st)
        st = esc_agg_split(shape, b->block.ptr, b->block.len, part, ctx, b->groups, b->nparts, of,
                           CHUNK_GROUPS, &ng, err);
    for (size_t r = 0; r < b->nparts; r++)
        esc_buf_clear(&b->evidence[r]);
    if (!st)
        st = get_block(src, &b->block, err);
    if (!st)
        st = split_evidence(&b->block, of, ng, b->evidence, b->nparts, err);
    return st ? st : put_parts(b, parts, err);
}

esc_status spl_spill_split(spl_spill *sp, const esc_agg *shape,
                           size_t (*part)(void *ctx, const esc_str *keys), void *ctx,
                           spl_spill **parts, size_t nparts, esc_error *err) {
    split_bufs b = {.groups = esc_calloc(nparts ? nparts : 1, sizeof *b.groups),
                    .evidence = esc_calloc(nparts ? nparts : 1, sizeof *b.evidence),
                    .nparts = nparts};
    source src;
    esc_status st = b.groups && b.evidence
                        ? open_source(sp, &src, err)
                        : esc_error_set(err, ESC_ENOMEM, "out of memory splitting a spill file");
    while (!st && more(&src))
        st = split_chunk(&src, shape, part, ctx, parts, &b, err);
    if (!st && ferror(sp->f))
        st = io_error(err, "read");
    for (size_t r = 0; r < nparts && b.groups && b.evidence; r++) {
        esc_buf_fini(&b.groups[r]);
        esc_buf_fini(&b.evidence[r]);
    }
    esc_free(b.groups);
    esc_free(b.evidence);
    esc_buf_fini(&b.block);
    esc_buf_fini(&b.chunk);
    return st;
}

/* ---- kept rows ---- */

static bool put_u(esc_buf *b, uint64_t v, size_t n) {
    unsigned char x[8];
    esc_le_put(x, v, n);
    return esc_buf_append(b, x, n) == ESC_OK;
}

static bool get_u(const esc_buf *b, size_t *at, size_t n, uint64_t *v) {
    if (b->len - *at < n)
        return false;
    *v = esc_le_get(b->ptr + *at, n);
    *at += n;
    return true;
}

/* Row r of t: per cell its value count, then (values) is_num, num's bits and each value. */
static bool put_row(const esc_table *t, size_t r, esc_buf *b) {
    bool ok = true;
    for (size_t c = 0; c < t->ncols && ok; c++) {
        const esc_cell *cell = esc_table_cell(t, r, c);
        uint64_t bits;
        memcpy(&bits, &cell->num, sizeof bits);
        ok = put_u(b, cell->n, 4) && (!cell->n || (put_u(b, cell->is_num, 1) && put_u(b, bits, 8)));
        for (size_t i = 0; i < cell->n && ok; i++) {
            size_t len = strlen(cell->v[i]);
            ok = put_u(b, len, 4) && esc_buf_append(b, cell->v[i], len) == ESC_OK;
        }
    }
    return ok && (!t->lineage || esc_evset_encode(t->lineage, t->row_id[r], b) == 0);
}

/* Chunk k of t's rows: a flag (the rows carry events), the row count, the rows. */
static esc_status make_rows_chunk(void *ctx, size_t k, esc_buf *b, esc_error *err) {
    const esc_table *t = ctx;
    size_t r = k * CHUNK_ROWS, n = t->nrows - r < CHUNK_ROWS ? t->nrows - r : CHUNK_ROWS, at;
    bool ok = block_begin(b, &at) && put_u(b, t->lineage != NULL, 1) && put_u(b, n, 4);
    for (size_t i = 0; i < n && ok; i++)
        ok = put_row(t, r + i, b);
    if (!ok)
        return esc_error_set(err, ESC_ENOMEM, "out of memory spilling rows");
    block_end(b, at);
    return ESC_OK;
}

esc_status spl_spill_rows(spl_spill **sp, esc_table *t, esc_error *err) {
    if (!t->nrows)
        return ESC_OK;
    esc_status st = *sp ? ESC_OK : spill_open(sp, err);
    if (st || (st = put_sync(*sp, (t->nrows + CHUNK_ROWS - 1) / CHUNK_ROWS, make_rows_chunk, t,
                             err)) != ESC_OK)
        return st; /* the rows stay in memory */
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        spl_cell_clear(&t->cells[i]);
    t->nrows = 0;
    esc_free(t->cells);
    esc_free(t->row_id);
    t->cells = NULL;
    t->row_id = NULL;
    if (t->lineage)
        esc_evset_reset(t->lineage);
    return ESC_OK;
}

/* The rows of one chunk (in b) appended to cells (room for *cap rows, *n of them used), their
 * events to lin (created when the chunk has some) as groups *n... (cells past *n zeroed). */
static esc_status get_rows(const esc_buf *b, size_t ncols, esc_cell **cells, size_t *cap, size_t *n,
                           esc_evset **lin, spl_row_keep keep, void *ctx, esc_error *err) {
    size_t at = 0;
    uint64_t has_lin, nr;
    if (!get_u(b, &at, 1, &has_lin) || !get_u(b, &at, 4, &nr) || nr > CHUNK_ROWS)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
    if (*n + nr > *cap) {
        size_t nc = *cap ? *cap : 64;
        while (nc < *n + nr)
            nc *= 2;
        esc_cell *c = esc_realloc(*cells, nc * ncols * sizeof *c);
        if (!c)
            return spl_exec_oom(err);
        memset(c + *cap * ncols, 0, (nc - *cap) * ncols * sizeof *c);
        *cells = c;
        *cap = nc;
    }
    if (has_lin && !*lin && !(*lin = esc_evset_new()))
        return spl_exec_oom(err);
    for (uint64_t r = 0; r < nr; r++) {
        for (size_t c = 0; c < ncols; c++) {
            esc_cell *cell = &(*cells)[*n * ncols + c];
            uint64_t nv, is_num = 0, bits = 0;
            if (!get_u(b, &at, 4, &nv) || nv > ESC_SPL_MAX_MV ||
                (nv && (!get_u(b, &at, 1, &is_num) || !get_u(b, &at, 8, &bits))))
                return esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
            if (nv && !(cell->v = esc_calloc(nv, sizeof *cell->v)))
                return spl_exec_oom(err);
            for (uint64_t i = 0; i < nv; i++, cell->n++) {
                uint64_t len;
                if (!get_u(b, &at, 4, &len) || b->len - at < len)
                    return esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
                if (!(cell->v[i] = esc_strndup(b->ptr + at, (size_t)len)))
                    return spl_exec_oom(err);
                at += (size_t)len;
            }
            cell->is_num = is_num != 0;
            memcpy(&cell->num, &bits, sizeof bits);
        }
        esc_cell *row = &(*cells)[*n * ncols];
        bool kept = !keep || keep(ctx, row);
        for (size_t c = 0; !kept && c < ncols; c++) /* its cells go, its events are read past */
            spl_cell_clear(&row[c]);
        int rc = has_lin ? esc_evset_decode(*lin, kept ? *n : SIZE_MAX, b->ptr, b->len, &at) : 0;
        if (rc)
            return rc == -1 ? spl_exec_oom(err)
                            : esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
        *n += kept;
    }
    return at == b->len ? ESC_OK : esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
}

esc_status spl_spill_rows_read(spl_spill *sp, esc_table *t, spl_row_keep keep, void *ctx,
                               esc_error *err) {
    esc_cell *cells = NULL;
    esc_evset *lin = NULL;
    size_t cap = 0, n = 0;
    source src;
    esc_status st = open_source(sp, &src, err);
    if (st)
        return st;
    esc_buf own, *b = buf_take(BUF_READ, &own);
    while (!st && more(&src))
        if (!(st = get_block(&src, b, err)))
            st = get_rows(b, t->ncols, &cells, &cap, &n, &lin, keep, ctx, err);
    if (!st && ferror(sp->f))
        st = io_error(err, "read");
    buf_give(BUF_READ, b, &own);
    size_t total = n + t->nrows, used = n < cap ? n + 1 : cap; /* rows holding values */
    size_t *id = st ? NULL : esc_malloc((total ? total : 1) * sizeof *id);
    esc_cell *all = st ? NULL : esc_realloc(cells, (total ? total : 1) * t->ncols * sizeof *all);
    if (!st && (!id || !all))
        st = spl_exec_oom(err);
    if (all) {
        cells = all;
        used = n;
    }
    if (!st && t->lineage && !lin && !(lin = esc_evset_new()))
        st = spl_exec_oom(err);
    for (size_t r = 0; !st && r < t->nrows; r++) /* the rows in memory come after, renumbered */
        if (t->lineage && esc_evset_merge(lin, n + r, t->lineage, t->row_id[r]) != 0)
            st = spl_exec_oom(err);
    if (st) {
        for (size_t i = 0; cells && i < used * t->ncols; i++)
            spl_cell_clear(&cells[i]);
        esc_free(cells);
        esc_free(id);
        esc_evset_free(lin);
        return st;
    }
    if (t->nrows)
        memcpy(&cells[n * t->ncols], t->cells, t->nrows * t->ncols * sizeof *cells);
    for (size_t r = 0; r < total; r++)
        id[r] = r;
    esc_free(t->cells);
    esc_free(t->row_id);
    esc_evset_free(t->lineage);
    t->cells = cells;
    t->row_id = id;
    t->lineage = lin;
    t->nrows = total;
    return ESC_OK;
}

uint64_t spl_spill_bytes(const spl_spill *sp) {
    return sp ? sp->bytes : 0;
}

uint64_t spl_spill_groups(const spl_spill *sp) {
    return sp ? sp->groups : 0;
}

void spl_spill_free(spl_spill *sp) {
    if (!sp)
        return;
    wait_written(sp);
    for (size_t i = 0; i < sp->nheld; i++)
        esc_buf_fini(&sp->held[i]);
    esc_free(sp->held);
    if (sp->f)
        fclose(sp->f);
    esc_free(sp);
}
