/* Unit tests for spilling groups past the memory budget (spl/spill.c, docs/limits.md "group
 * memory"): a table spilled several times while it is fed, then merged back, holds what one
 * table fed every record holds (every aggregate that merges, and each group's evidence: count,
 * earliest and latest, ties kept as one set keeps them); a keep callback leaves groups out
 * (semi-join), and a chunk none of whose groups it keeps is passed over whole; the file goes
 * with the spill; a spill into a folder that does not exist is
 * ESC_EIO and leaves the table as it was; evidence encodings that are cut short are refused; a
 * raw-event search's kept rows spilled twice come back before the rows kept since, in order,
 * cells (multivalue, numbers, empty) and each row's event unchanged; a group or byte cap hit
 * merging back drops the groups past it and counts their records, as reading does, and spilled
 * kept rows read back through a filter are the ones it keeps, in order; a file split
 * by key gives parts that read back as the file read with a filter keeping each part's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "agg/agg.h"
#include "agg/evidence.h"
#include "core/alloc.h"
#include "spl/cmd.h"
#include "spl/spill.h"

static const esc_agg_fn fns[] = {ESC_AGG_COUNT, ESC_AGG_COUNT_FIELD, ESC_AGG_VALUES,
                                 ESC_AGG_DC,    ESC_AGG_MIN,         ESC_AGG_MAX,
                                 ESC_AGG_SUM,   ESC_AGG_EARLIEST,    ESC_AGG_LATEST};
#define NF (sizeof fns / sizeof fns[0])

/* Record r: key k(r % 13), an integer value, time r % 17 (many ties), its event at offset r. */
static void feed(esc_agg *a, esc_evset *ev, unsigned r) {
    char key[16], text[16];
    snprintf(key, sizeof key, "k%u", r % 13);
    snprintf(text, sizeof text, "%u", (r * 2654435761u) % 97);
    esc_str k = esc_str_c(key);
    size_t g;
    esc_error err;
    assert_int_equal(esc_agg_group(a, &k, &g, &err), ESC_OK);
    esc_agg_in v = {esc_str_c(text), true, (double)((r * 2654435761u) % 97)};
    for (size_t i = 0; i < NF; i++)
        assert_int_equal(esc_agg_add(a, g, i, &v, 1, (int64_t)(r % 17), &err), ESC_OK);
    esc_evref ref = {r % 3 ? "a.xml" : "b.xml", r, r, 0, (int64_t)(r % 17)};
    assert_int_equal(esc_evset_add(ev, g, &ref), 0);
}

/* Text of every result and the evidence of each group, groups in key order. */
static void dump(esc_agg *a, const esc_evset *ev, char *out, size_t cap) {
    size_t *order;
    esc_error err;
    assert_int_equal(esc_agg_sorted(a, &order, &err), ESC_OK);
    size_t at = 0;
    for (size_t j = 0; j < esc_agg_ngroups(a); j++) {
        size_t g = order[j];
        esc_str k = esc_agg_key(a, g, 0);
        at += (size_t)snprintf(out + at, cap - at, "%.*s:", (int)k.len, k.ptr);
        for (size_t i = 0; i < NF; i++) {
            esc_agg_out o;
            assert_int_equal(esc_agg_result(a, g, i, &o, &err), ESC_OK);
            at += (size_t)snprintf(out + at, cap - at, " %.17g/%zu", o.num, o.n);
            for (size_t v = 0; v < o.n; v++)
                at += (size_t)snprintf(out + at, cap - at, ",%.*s", (int)o.v[v].len, o.v[v].ptr);
        }
        esc_evref refs[2 * ESC_EVIDENCE_KEEP];
        size_t n = esc_evset_get(ev, g, refs);
        at += (size_t)snprintf(out + at, cap - at, " ev %llu",
                               (unsigned long long)esc_evset_total(ev, g));
        for (size_t i = 0; i < n; i++)
            at += (size_t)snprintf(out + at, cap - at, " %s@%llu", refs[i].path,
                                   (unsigned long long)refs[i].offset);
        at += (size_t)snprintf(out + at, cap - at, "\n");
        assert_true(at < cap);
    }
    esc_free(order);
}

/* a (its evidence ea) and b hold the same results and evidence. */
static void same_dump(esc_agg *a, const esc_evset *ea, esc_agg *b, const esc_evset *eb) {
    static char x[1 << 16], y[1 << 16];
    dump(a, ea, x, sizeof x);
    dump(b, eb, y, sizeof y);
    assert_string_equal(x, y);
}

/* Keeps no group of the first two chunks (13 groups each: every key), every group after. */
static bool after_two_chunks(void *ctx, const esc_str *keys) {
    (void)keys;
    size_t *calls = ctx;
    return (*calls)++ >= 26;
}

static bool odd_keys(void *ctx, const esc_str *keys) {
    (void)ctx;
    return (keys[0].ptr[keys[0].len - 1] - '0') % 2 == 1;
}

/* Five spills while fed, the rest in memory, merged back: as the table fed every record. */
static void merge_exact(void) {
    static char one[1 << 16], merged[1 << 16];
    esc_agg *a = esc_agg_new(1, fns, NF, 0, 0), *b = esc_agg_new(1, fns, NF, 0, 0);
    esc_evset *ea = esc_evset_new(), *eb = esc_evset_new();
    spl_spill *sp = NULL;
    esc_error err;
    for (unsigned r = 1; r <= 700; r++) {
        feed(a, ea, r);
        feed(b, eb, r);
        if (r % 150 == 0) { /* five spills while fed, then the rest in memory */
            assert_int_equal(spl_spill_write(&sp, b, eb, &err), ESC_OK);
            assert_int_equal(esc_agg_ngroups(b), 0);
        }
    }
    assert_true(spl_spill_bytes(sp) > 0);
    assert_int_equal(spl_spill_write(&sp, b, eb, &err), ESC_OK);
    assert_int_equal(spl_spill_read(sp, b, eb, NULL, NULL, &err), ESC_OK);
    dump(a, ea, one, sizeof one);
    dump(b, eb, merged, sizeof merged);
    assert_string_equal(one, merged);
    /* read again, leaving out the even keys: the others as before */
    esc_agg *c = esc_agg_new(1, fns, NF, 0, 0);
    esc_evset *ec = esc_evset_new();
    assert_int_equal(spl_spill_read(sp, c, ec, odd_keys, NULL, &err), ESC_OK);
    for (size_t g = 0; g < esc_agg_ngroups(c); g++) {
        esc_str k = esc_agg_key(c, g, 0);
        assert_true(odd_keys(NULL, &k));
    }
    assert_int_equal(esc_agg_ngroups(c), 6); /* k1 k3 k5 k7 k9 k11 */
    char *line = strstr(merged, "k11:");
    assert_non_null(line);
    dump(c, ec, one, sizeof one);
    assert_non_null(strstr(one, "k11:"));
    assert_memory_equal(strstr(one, "k11:"), line, (size_t)(strchr(line, '\n') - line));
    /* read again keeping nothing of the first two chunks (records 1-300), whose evidence is
     * passed over unread: as a table fed records 301-700 */
    esc_agg *d = esc_agg_new(1, fns, NF, 0, 0), *e = esc_agg_new(1, fns, NF, 0, 0);
    esc_evset *ed = esc_evset_new(), *ee = esc_evset_new();
    size_t calls = 0;
    for (unsigned r = 301; r <= 700; r++)
        feed(e, ee, r);
    assert_int_equal(spl_spill_read(sp, d, ed, after_two_chunks, &calls, &err), ESC_OK);
    assert_int_equal(calls, 5 * 13);
    same_dump(e, ee, d, ed);
    esc_agg_free(d);
    esc_agg_free(e);
    esc_evset_free(ed);
    esc_evset_free(ee);
    spl_spill_free(sp);
    esc_agg_free(a);
    esc_agg_free(b);
    esc_agg_free(c);
    esc_evset_free(ea);
    esc_evset_free(eb);
    esc_evset_free(ec);
}

/* The part of key k<n>: n mod 4, with k12 in none (part 4 of 4). */
static size_t part_of_key(void *ctx, const esc_str *keys) {
    (void)ctx;
    size_t n = (size_t)strtoul(keys[0].ptr + 1, NULL, 10);
    return n == 12 ? 4 : n % 4;
}

static bool keep_part(void *ctx, const esc_str *keys) {
    return part_of_key(NULL, keys) == *(const size_t *)ctx;
}

/* A file of five spills and the rest split by key into four parts: each part read back holds
 * what reading the whole file with a filter keeping its keys holds (results and evidence); k12,
 * of no part, is in none. */
static void test_spill_split(void **state) {
    (void)state;
    esc_agg *b = esc_agg_new(1, fns, NF, 0, 0);
    esc_evset *eb = esc_evset_new();
    spl_spill *sp = NULL, *parts[5] = {NULL};
    esc_error err;
    for (unsigned r = 1; r <= 700; r++) {
        feed(b, eb, r);
        if (r % 150 == 0 || r == 700)
            assert_int_equal(spl_spill_write(&sp, b, eb, &err), ESC_OK);
    }
    assert_int_equal(spl_spill_split(sp, b, part_of_key, NULL, parts, 4, &err), ESC_OK);
    assert_null(parts[4]); /* k12's part is past the four asked for: it goes to none */
    uint64_t bytes = 0;
    for (size_t p = 0; p < 4; p++) {
        esc_agg *x = esc_agg_new(1, fns, NF, 0, 0), *y = esc_agg_new(1, fns, NF, 0, 0);
        esc_evset *ex = esc_evset_new(), *ey = esc_evset_new();
        assert_non_null(parts[p]);
        bytes += spl_spill_bytes(parts[p]);
        assert_int_equal(spl_spill_read(parts[p], x, ex, NULL, NULL, &err), ESC_OK);
        assert_int_equal(spl_spill_read(sp, y, ey, keep_part, &p, &err), ESC_OK);
        assert_int_equal(esc_agg_ngroups(x), 3); /* k0 k4 k8, ..., k3 k7 k11 */
        same_dump(x, ex, y, ey);
        esc_agg_free(x);
        esc_agg_free(y);
        esc_evset_free(ex);
        esc_evset_free(ey);
        spl_spill_free(parts[p]);
    }
    assert_true(bytes < spl_spill_bytes(sp)); /* k12 left out */
    spl_spill_free(sp);
    esc_agg_free(b);
    esc_evset_free(eb);
}

static void test_spill_merge_exact(void **state) {
    (void)state;
    merge_exact();
}

/* The same with the spills written on a thread of their own (spl_spill_async_begin); then with
 * the file allowed 20,000 bytes of its 41,373 (RLIMIT_FSIZE, SIGXFSZ ignored: a write past it fails
 * with EFBIG, as on a full disk): the chunks not written are held in memory and merged back all the
 * same, and the failure is reported once. */
static void test_spill_async(void **state) {
    (void)state;
    esc_error err;
    assert_true(spl_spill_async_begin());
    merge_exact();
    spl_spill_async_wait();
    assert_false(spl_spill_async_failed(&err));
    struct rlimit old, small = {20000, 20000};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    merge_exact();
    spl_spill_async_wait();
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    esc_error_clear(&err);
    assert_true(spl_spill_async_failed(&err));
    assert_non_null(strstr(err.msg, "spill file: write: File too large"));
    assert_false(spl_spill_async_failed(&err));
    spl_spill_async_end();
}

/* feed, where a's caps may refuse the record: ESC_ELIMIT (the record is dropped, as a hunt
 * drops it with a warning) counted in *dropped. */
static void feed_capped(esc_agg *a, esc_evset *ev, unsigned r, uint64_t *dropped) {
    char key[16];
    snprintf(key, sizeof key, "k%u", r % 13);
    esc_str k = esc_str_c(key);
    size_t g;
    esc_error err;
    esc_status st = esc_agg_group(a, &k, &g, &err);
    if (st == ESC_ELIMIT) {
        ++*dropped;
        return;
    }
    assert_int_equal(st, ESC_OK);
    esc_agg_in v = {k, false, 0};
    for (size_t i = 0; i < NF; i++)
        assert_int_equal(esc_agg_add(a, g, i, &v, 1, (int64_t)(r % 17), &err), ESC_OK);
    esc_evref ref = {"a.xml", r, r, 0, (int64_t)(r % 17)};
    assert_int_equal(esc_evset_add(ev, g, &ref), 0);
}

/* A cap hit merging spilled groups back is a cap hit while reading: the group that no longer
 * fits is dropped, its records counted, the merge goes on. At 5 groups, spilled every 4
 * records (the table in memory never reaches the cap), the merge keeps the first 5 groups by
 * arrival, each as the table that was never spilled holds it, and drops the records of the
 * other 8 keys, as many as that table refused. A merge that does not drop (two stages) still
 * fails. At a byte cap the merge drops too, and counts the records. */
static void test_spill_merge_caps(void **state) {
    (void)state;
    esc_agg *a = esc_agg_new(1, fns, NF, 5, 0), *b = esc_agg_new(1, fns, NF, 5, 0);
    esc_evset *ea = esc_evset_new(), *eb = esc_evset_new();
    spl_spill *sp = NULL;
    esc_error err;
    uint64_t refused = 0, none = 0, dg, db;
    for (unsigned r = 1; r <= 100; r++) {
        feed_capped(a, ea, r, &refused);
        feed_capped(b, eb, r, &none);
        if (r % 4 == 0)
            assert_int_equal(spl_spill_write(&sp, b, eb, &err), ESC_OK);
    }
    assert_int_equal(none, 0);
    assert_int_equal(refused, 100 - 5 * 8); /* k1..k5 (8 records each) are kept */
    assert_int_equal(spl_spill_read(sp, b, eb, NULL, NULL, &err), ESC_OK);
    esc_agg_dropped(b, &dg, &db);
    assert_int_equal(dg, refused);
    assert_int_equal(db, 0);
    assert_int_equal(esc_agg_ngroups(b), 5);
    same_dump(a, ea, b, eb);
    /* two stages: the same partial past the cap is an error */
    esc_buf part;
    esc_buf_init(&part, 0);
    esc_agg *c = esc_agg_new(1, fns, NF, 0, 0), *d = esc_agg_new(1, fns, NF, 4, 0);
    esc_evset *ec = esc_evset_new();
    for (unsigned r = 1; r <= 100; r++)
        feed_capped(c, ec, r, &none);
    assert_int_equal(esc_agg_encode(c, NULL, 0, &part, &err), ESC_OK);
    assert_int_equal(esc_agg_merge(d, part.ptr, part.len, &err), ESC_ELIMIT);
    /* a byte cap: some groups kept, the records of the others dropped and counted */
    esc_agg *e = esc_agg_new(1, fns, NF, 0, 1024);
    esc_evset *ee = esc_evset_new();
    assert_int_equal(spl_spill_read(sp, e, ee, NULL, NULL, &err), ESC_OK);
    esc_agg_dropped(e, &dg, &db);
    assert_int_equal(dg, 0);
    assert_true(db > 0 && esc_agg_ngroups(e) > 0 && esc_agg_ngroups(e) < 5);
    uint64_t counted = 0;
    for (size_t g = 0; g < esc_agg_ngroups(e); g++) {
        esc_agg_out o;
        assert_int_equal(esc_agg_result(e, g, 0, &o, &err), ESC_OK); /* count */
        counted += (uint64_t)o.num;
    }
    assert_true(counted + db >= 5 * 8); /* a group cut short is counted in both */
    esc_buf_fini(&part);
    spl_spill_free(sp);
    esc_agg_free(a);
    esc_agg_free(b);
    esc_agg_free(c);
    esc_agg_free(d);
    esc_agg_free(e);
    esc_evset_free(ea);
    esc_evset_free(eb);
    esc_evset_free(ec);
    esc_evset_free(ee);
}

static void test_spill_unwritable(void **state) {
    (void)state;
    const char *old = getenv("TMPDIR");
    char *keep = old ? esc_strdup(old) : NULL;
    setenv("TMPDIR", "/nonexistent-escudo-spill-dir", 1);
    esc_agg *a = esc_agg_new(1, fns, NF, 0, 0);
    esc_evset *ea = esc_evset_new();
    for (unsigned r = 1; r <= 40; r++)
        feed(a, ea, r);
    spl_spill *sp = NULL;
    esc_error err = {0};
    assert_int_equal(spl_spill_write(&sp, a, ea, &err), ESC_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-escudo-spill-dir"));
    assert_null(sp);
    assert_int_equal(esc_agg_ngroups(a), 13); /* the groups stay */
    assert_true(esc_evset_total(ea, 0) > 0);
    if (keep)
        setenv("TMPDIR", keep, 1);
    else
        unsetenv("TMPDIR");
    esc_free(keep);
    esc_agg_free(a);
    esc_evset_free(ea);
}

static void test_evidence_encoding(void **state) {
    (void)state;
    esc_evset *s = esc_evset_new(), *t = esc_evset_new();
    for (int i = 0; i < 12; i++) {
        esc_evref r = {"in.evtx", (uint64_t)i * 100, 0, (uint64_t)i, 50 - i};
        assert_int_equal(esc_evset_add(s, 3, &r), 0);
    }
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_evset_encode(s, 3, &b), 0);
    size_t at = 0;
    assert_int_equal(esc_evset_decode(t, 5, b.ptr, b.len, &at), 0);
    assert_int_equal(at, b.len);
    assert_int_equal(esc_evset_total(t, 5), 12);
    esc_evref x[2 * ESC_EVIDENCE_KEEP], y[2 * ESC_EVIDENCE_KEEP];
    size_t n = esc_evset_get(s, 3, x);
    assert_int_equal(esc_evset_get(t, 5, y), n);
    for (size_t i = 0; i < n; i++)
        assert_true(esc_evref_same(&x[i], &y[i]) && x[i].time_us == y[i].time_us);
    at = 0; /* read past it */
    assert_int_equal(esc_evset_decode(t, SIZE_MAX, b.ptr, b.len, &at), 0);
    assert_int_equal(at, b.len);
    for (size_t cut = 0; cut < b.len; cut++) { /* every truncation is refused */
        at = 0;
        assert_int_equal(esc_evset_decode(t, SIZE_MAX, b.ptr, cut, &at), -2);
    }
    esc_buf_fini(&b);
    esc_evset_free(s);
    esc_evset_free(t);
}

/* Row i of the kept rows: _time i (a number), a text, i % 3 values, nothing in the last column;
 * its event at offset i * 10. */
static void keep_row(esc_table *t, size_t *cap, int i) {
    if (t->nrows == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        t->cells = esc_realloc(t->cells, nc * t->ncols * sizeof *t->cells);
        t->row_id = esc_realloc(t->row_id, nc * sizeof *t->row_id);
        assert_non_null(t->cells);
        assert_non_null(t->row_id);
        memset(t->cells + *cap * t->ncols, 0, (nc - *cap) * t->ncols * sizeof *t->cells);
        *cap = nc;
    }
    size_t r = t->nrows++;
    esc_cell *row = &t->cells[r * t->ncols];
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, "%d", i);
    snprintf(b, sizeof b, "text %d", i);
    snprintf(c, sizeof c, "v%d", i);
    esc_str ta = esc_str_c(a), tb = esc_str_c(b), mv[2] = {esc_str_c(c), esc_str_c(b)};
    assert_true(spl_cell_num(&row[0], i, &ta));
    assert_true(spl_cell_set(&row[1], &tb, 1));
    if (i % 3)
        assert_true(spl_cell_set(&row[2], mv, (size_t)(i % 3)));
    t->row_id[r] = r;
    esc_evref ref = {"in.xml", (uint64_t)i * 10, (uint64_t)i + 1, 0, (int64_t)i * 1000000};
    assert_int_equal(esc_evset_add(t->lineage, r, &ref), 0);
}

/* Every seventh row (by its value in column 0). */
static bool seventh(void *ctx, const esc_cell *row) {
    (void)ctx;
    return (long)row[0].num % 7 == 0;
}

/* 700 rows kept, 600 of them spilled in two spills, read back with keep (may be NULL): the
 * spilled rows keep says yes to, then the 100 in memory, in order, each with its cells and its
 * event. */
static void spill_rows(spl_row_keep keep) {
    esc_table *t = esc_calloc(1, sizeof *t);
    assert_non_null(t);
    t->ncols = 4;
    t->cols = esc_calloc(4, sizeof *t->cols);
    t->mv_col = esc_calloc(4, sizeof *t->mv_col);
    t->lineage = esc_evset_new();
    for (size_t c = 0; c < 4; c++)
        t->cols[c] = esc_strdup(c ? "f" : "_time");
    size_t cap = 0;
    spl_spill *sp = NULL;
    esc_error err = {0};
    for (int i = 0; i < 700; i++) {
        keep_row(t, &cap, i);
        if (i == 299 || i == 599) { /* two spills: 300 rows (two chunks), then 300 */
            assert_int_equal(spl_spill_rows(&sp, t, &err), ESC_OK);
            assert_int_equal(t->nrows, 0);
            cap = 0;
        }
    }
    assert_int_equal(spl_spill_rows_read(sp, t, keep, NULL, &err), ESC_OK);
    size_t step = keep ? 7 : 1, nspilled = (600 + step - 1) / step;
    assert_int_equal(t->nrows, nspilled + 100);
    for (size_t k = 0; k < t->nrows; k++) {
        size_t r = k < nspilled ? k * step : 600 + (k - nspilled); /* the row's value */
        const esc_cell *c0 = esc_table_cell(t, k, 0), *c2 = esc_table_cell(t, k, 2);
        char want[32];
        snprintf(want, sizeof want, "%zu", r);
        assert_true(c0->is_num && c0->num == (double)r);
        assert_string_equal(c0->v[0], want);
        snprintf(want, sizeof want, "text %zu", r);
        assert_string_equal(esc_table_cell(t, k, 1)->v[0], want);
        assert_int_equal(c2->n, r % 3);
        assert_int_equal(esc_table_cell(t, k, 3)->n, 0);
        esc_evref refs[2 * ESC_EVIDENCE_KEEP];
        assert_int_equal(esc_evset_get(t->lineage, t->row_id[k], refs), 1);
        assert_int_equal(refs[0].offset, r * 10);
        assert_int_equal(refs[0].line, r + 1);
        assert_string_equal(refs[0].path, "in.xml");
    }
    spl_spill_free(sp);
    esc_table_free(t);
}

static void test_spill_rows(void **state) {
    (void)state;
    spill_rows(NULL);
    spill_rows(seventh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_merge_exact), cmocka_unit_test(test_spill_async),
        cmocka_unit_test(test_spill_merge_caps),  cmocka_unit_test(test_spill_unwritable),
        cmocka_unit_test(test_evidence_encoding), cmocka_unit_test(test_spill_rows),
        cmocka_unit_test(test_spill_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
