/* Spilling a tstats execution's groups to a temporary file (docs/limits.md "group memory"), so
 * that a hunt's memory stays flat however many groups its searches keep until they finish.
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
 * Invariants: only tables whose aggregates all merge are spilled (list() is not; the caller
 * checks); a chunk read back is checked like any partial (a broken one is ESC_EMALFORMED).
 * Deliberately not done: sorting runs for a streaming k-way merge (a finishing search needs
 * its groups in memory anyway: it turns them into its first table). */
#include "spl/spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"

#define CHUNK_GROUPS 4096

struct spl_spill {
    FILE *f;
    uint64_t bytes; /* in the file, whole spills only */
    bool broken;    /* a failed spill could not be cut off the file: reading it fails */
};

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
    for (size_t i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
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

esc_status spl_spill_write(spl_spill **sp, esc_agg *a, esc_evset *ev, esc_error *err) {
    size_t ng = esc_agg_ngroups(a);
    if (!ng)
        return ESC_OK;
    if (*sp && (*sp)->broken)
        return esc_error_set(err, ESC_EIO, "spill file: broken by an earlier write error");
    esc_status st = *sp ? ESC_OK : spill_open(sp, err);
    if (st)
        return st;
    uint64_t end = (*sp)->bytes;
    if (fseek((*sp)->f, (long)end, SEEK_SET) != 0)
        return io_error(err, "seek");
    size_t idx[CHUNK_GROUPS];
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t g = 0; g < ng && !st; g += CHUNK_GROUPS) {
        size_t n = ng - g < CHUNK_GROUPS ? ng - g : CHUNK_GROUPS;
        for (size_t i = 0; i < n; i++)
            idx[i] = g + i;
        st = write_chunk(*sp, a, ev, idx, n, &b, err);
    }
    esc_buf_fini(&b);
    if (!st && fflush((*sp)->f) != 0)
        st = io_error(err, "write");
    if (!st) {
        esc_agg_reset(a);
        if (ev)
            esc_evset_reset(ev);
    } else { /* the groups stay in memory: the file ends where it did */
        (void)fflush((*sp)->f);
        if (ftruncate(fileno((*sp)->f), (off_t)end) != 0 || fseek((*sp)->f, (long)end, SEEK_SET))
            (*sp)->broken = true;
        (*sp)->bytes = end;
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
    uint64_t len = 0;
    for (size_t i = 0; i < 8; i++)
        len |= (uint64_t)x[i] << (8 * i);
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
    esc_agg_merge_cb cb = {k->keep ? keep_group : NULL, each_group, k};
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
    esc_buf b;
    esc_buf_init(&b, 0);
    if (sp->broken) {
        esc_buf_fini(&b);
        return esc_error_set(err, ESC_EIO, "spill file: broken by an earlier write error");
    }
    esc_status st =
        !sp->f || fflush(sp->f) || fseek(sp->f, 0, SEEK_SET) ? io_error(err, "seek") : ESC_OK;
    while (!st) {
        int c = getc(sp->f);
        if (c == EOF)
            break;
        ungetc(c, sp->f);
        st = read_chunk(sp, a, ev, &k, &b, err);
    }
    if (!st && ferror(sp->f))
        st = io_error(err, "read");
    esc_free(m.g);
    esc_buf_fini(&b);
    return st;
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
