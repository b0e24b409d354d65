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
 * Deliberately not done: sorting runs for a streaming k-way merge (a finishing search that
 * needs no group after its first table reads the file a range of keys at a time instead:
 * exec.c table_in_parts). */
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
    uint64_t bytes; /* in the file, whole spills only */
    bool broken;    /* a failed spill could not be cut off the file: reading it fails */
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

static esc_status put_len(spl_spill *s, uint64_t v, esc_error *err) {
    unsigned char x[8];
    esc_le_put(x, v, 8);
    if (fwrite(x, 1, 8, s->f) != 8)
        return io_error(err, "write");
    s->bytes += 8;
    return ESC_OK;
}

static esc_status put_block(spl_spill *s, const esc_buf *b, esc_error *err) {
    esc_status st = put_len(s, b->len, err);
    if (!st && b->len && fwrite(b->ptr, 1, b->len, s->f) != b->len)
        st = io_error(err, "write");
    s->bytes += b->len;
    return st;
}

/* Groups idx[0..n) of a and their evidence as one chunk. */
static esc_status write_chunk(spl_spill *s, const esc_agg *a, const esc_evset *ev,
                              const size_t *idx, size_t n, esc_buf *b, esc_error *err) {
    esc_buf_clear(b);
    esc_status st = esc_agg_encode(a, idx, n, b, err);
    if (!st)
        st = put_block(s, b, err);
    esc_buf_clear(b);
    for (size_t i = 0; i < n && !st; i++)
        if (esc_evset_encode(ev, idx[i], b) != 0)
            st = esc_error_set(err, ESC_ENOMEM, "out of memory spilling evidence");
    return st ? st : put_block(s, b, err);
}

/* Before appending to the spill file (opened on first use): where it ends now, in *end. */
static esc_status append_begin(spl_spill **sp, uint64_t *end, esc_error *err) {
    if (*sp && (*sp)->broken)
        return esc_error_set(err, ESC_EIO, "spill file: broken by an earlier write error");
    esc_status st = *sp ? ESC_OK : spill_open(sp, err);
    if (st)
        return st;
    *end = (*sp)->bytes;
    if (fseek((*sp)->f, (long)*end, SEEK_SET) != 0)
        return io_error(err, "seek");
    return ESC_OK;
}

/* After appending (st: how the writes went): flushed, or on failure the file cut back to end,
 * as before the append (marked broken when it cannot be). */
static esc_status append_end(spl_spill *s, uint64_t end, esc_status st, esc_error *err) {
    if (!st && fflush(s->f) != 0)
        st = io_error(err, "write");
    if (st) {
        (void)fflush(s->f);
        if (ftruncate(fileno(s->f), (off_t)end) != 0 || fseek(s->f, (long)end, SEEK_SET))
            s->broken = true;
        s->bytes = end;
    }
    return st;
}

esc_status spl_spill_write(spl_spill **sp, esc_agg *a, esc_evset *ev, esc_error *err) {
    size_t ng = esc_agg_ngroups(a);
    if (!ng)
        return ESC_OK;
    uint64_t end;
    esc_status st = append_begin(sp, &end, err);
    if (st)
        return st;
    size_t idx[CHUNK_GROUPS];
    esc_buf own, *b = buf_take(BUF_WRITE, &own);
    for (size_t g = 0; g < ng && !st; g += CHUNK_GROUPS) {
        size_t n = ng - g < CHUNK_GROUPS ? ng - g : CHUNK_GROUPS;
        for (size_t i = 0; i < n; i++)
            idx[i] = g + i;
        st = write_chunk(*sp, a, ev, idx, n, b, err);
    }
    buf_give(BUF_WRITE, b, &own);
    if ((st = append_end(*sp, end, st, err)) == ESC_OK) { /* else the groups stay in memory */
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
    bool oom;
} gmap;

static void note_group(void *ctx, size_t g) {
    gmap *m = ctx;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        size_t *ng = esc_realloc(m->g, cap * sizeof *ng);
        if (!ng) {
            m->oom = true;
            return;
        }
        m->g = ng;
        m->cap = cap;
    }
    m->g[m->n++] = g;
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

/* Read a block of the chunk at the file's position into b. */
static esc_status get_block(spl_spill *s, esc_buf *b, esc_error *err) {
    unsigned char x[8];
    if (fread(x, 1, 8, s->f) != 8)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: truncated");
    uint64_t len = esc_le_get(x, 8);
    esc_buf_clear(b);
    if (len > s->bytes || esc_buf_reserve(b, (size_t)len + 1) != ESC_OK)
        return esc_error_set(err, ESC_ENOMEM, "out of memory reading a spill file");
    if (len && fread(b->ptr, 1, (size_t)len, s->f) != len)
        return esc_error_set(err, ESC_EMALFORMED, "spill file: truncated");
    b->len = (size_t)len;
    return ESC_OK;
}

/* One chunk merged into a and ev. */
static esc_status read_chunk(spl_spill *s, esc_agg *a, esc_evset *ev, keep_ctx *k, esc_buf *b,
                             esc_error *err) {
    k->m->n = 0;
    esc_agg_merge_cb cb = {k->keep ? keep_group : NULL, each_group, k, true};
    esc_status st = get_block(s, b, err);
    if (!st)
        st = esc_agg_merge_each(a, b->ptr, b->len, &cb, err);
    if (!st && k->m->oom)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory reading a spill file");
    if (!st)
        st = get_block(s, b, err);
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
    if (sp->broken)
        return esc_error_set(err, ESC_EIO, "spill file: broken by an earlier write error");
    esc_buf own, *b = buf_take(BUF_READ, &own);
    esc_status st =
        !sp->f || fflush(sp->f) || fseek(sp->f, 0, SEEK_SET) ? io_error(err, "seek") : ESC_OK;
    while (!st) {
        int c = getc(sp->f);
        if (c == EOF)
            break;
        ungetc(c, sp->f);
        st = read_chunk(sp, a, ev, &k, b, err);
    }
    if (!st && ferror(sp->f))
        st = io_error(err, "read");
    esc_free(m.g);
    buf_give(BUF_READ, b, &own);
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

esc_status spl_spill_rows(spl_spill **sp, esc_table *t, esc_error *err) {
    if (!t->nrows)
        return ESC_OK;
    uint64_t end;
    esc_status st = append_begin(sp, &end, err);
    if (st)
        return st;
    esc_buf own, *b = buf_take(BUF_WRITE, &own);
    for (size_t r = 0; r < t->nrows && !st; r += CHUNK_ROWS) {
        size_t n = t->nrows - r < CHUNK_ROWS ? t->nrows - r : CHUNK_ROWS;
        esc_buf_clear(b);
        bool ok = put_u(b, t->lineage != NULL, 1) && put_u(b, n, 4);
        for (size_t i = 0; i < n && ok; i++)
            ok = put_row(t, r + i, b);
        st = ok ? put_block(*sp, b, err)
                : esc_error_set(err, ESC_ENOMEM, "out of memory spilling rows");
    }
    buf_give(BUF_WRITE, b, &own);
    if ((st = append_end(*sp, end, st, err)) != ESC_OK)
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
                           esc_evset **lin, esc_error *err) {
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
    for (uint64_t r = 0; r < nr; r++, (*n)++) {
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
        int rc = has_lin ? esc_evset_decode(*lin, *n, b->ptr, b->len, &at) : 0;
        if (rc)
            return rc == -1 ? spl_exec_oom(err)
                            : esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
    }
    return at == b->len ? ESC_OK : esc_error_set(err, ESC_EMALFORMED, "spill file: broken rows");
}

esc_status spl_spill_rows_read(spl_spill *sp, esc_table *t, esc_error *err) {
    esc_cell *cells = NULL;
    esc_evset *lin = NULL;
    size_t cap = 0, n = 0;
    esc_buf own, *b = buf_take(BUF_READ, &own);
    esc_status st = sp->broken ? esc_error_set(err, ESC_EIO,
                                               "spill file: broken by an earlier "
                                               "write error")
                    : !sp->f || fflush(sp->f) || fseek(sp->f, 0, SEEK_SET) ? io_error(err, "seek")
                                                                           : ESC_OK;
    while (!st) {
        int c = getc(sp->f);
        if (c == EOF)
            break;
        ungetc(c, sp->f);
        if (!(st = get_block(sp, b, err)))
            st = get_rows(b, t->ncols, &cells, &cap, &n, &lin, err);
    }
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

void spl_spill_free(spl_spill *sp) {
    if (!sp)
        return;
    if (sp->f)
        fclose(sp->f);
    esc_free(sp);
}
