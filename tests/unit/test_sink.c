/* Sinks: JSON lines files and the SQLite store (real SQLite in a temporary folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/act.h"
#include "content/content.h"
#include "sink/sink.h"
#include "sink/store.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"

static char dir[] = "/tmp/esc_sink_XXXXXX";
static esc_content *content;

static char *COLS[] = {
    "process", "process_name", "parent_process_name", "original_file_name", "dest",
    "count",   "user",         "parent_process",      "firstTime",          "lastTime"};
static bool MV[] = {false, false, false, false, false, false, true, true, false, false};
#define NC 10

static void set1(esc_cell *c, const char *v) {
    c->n = 1;
    c->v = calloc(1, sizeof *c->v);
    c->v[0] = strdup(v);
}

/* n rows for user `user` on host `dest`, lastTime one hour apart from `hour0`. */
static esc_table *rows_for(const char *user, const char *dest, size_t n, int hour0) {
    esc_table *t = calloc(1, sizeof *t);
    t->ncols = NC;
    t->cols = COLS;
    t->mv_col = MV;
    t->nrows = n;
    t->cells = calloc(n * NC, sizeof *t->cells);
    for (size_t r = 0; r < n; r++) {
        esc_cell *c = &t->cells[r * NC];
        char p[64], ts[64];
        snprintf(p, sizeof p, "net share s%d", hour0 + (int)r);
        snprintf(ts, sizeof ts, "2021-03-01T%02d:00:00", hour0 + (int)r);
        set1(&c[0], p);
        set1(&c[1], "net.exe");
        set1(&c[2], "cmd.exe");
        set1(&c[3], "net.exe");
        set1(&c[4], dest);
        set1(&c[5], "1");
        c[5].is_num = true;
        c[5].num = 1;
        set1(&c[6], user);
        set1(&c[7], "cmd.exe /c net share");
        set1(&c[8], ts);
        set1(&c[9], ts);
    }
    return t;
}

static void drop(esc_table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        for (size_t k = 0; k < t->cells[i].n; k++)
            free(t->cells[i].v[k]);
        free(t->cells[i].v);
    }
    free(t->cells);
    free(t);
}

static esc_act_counts hunt(const esc_sink_opts *o, esc_table *t, int64_t now) {
    esc_sinks *s = NULL;
    esc_error err;
    assert_int_equal(esc_sinks_open(o, &s, &err), ESC_OK);
    esc_act *a = esc_act_new(content, s, &err);
    esc_act_input in = {esc_content_find(content, SEED_ID), t,   NULL, 0,
                        {0, ESC_ACT_INFINITY, now},         NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_finish(a, &err), ESC_OK);
    esc_act_counts c = esc_act_get_counts(a);
    esc_act_free(a);
    assert_int_equal(esc_sinks_close(s, &err), ESC_OK);
    return c;
}

typedef struct listed {
    size_t n;
    char ids[64][65];
    char objects[64][64];
} listed;

static esc_status collect(void *ctx, const esc_store_row *r, esc_error *err) {
    (void)err;
    listed *l = ctx;
    if (l->n < 64) {
        snprintf(l->ids[l->n], 65, "%s", r->event_id);
        snprintf(l->objects[l->n], 64, "%s", r->risk_object ? r->risk_object : "");
    }
    l->n++;
    return ESC_OK;
}

static size_t list(const char *db, esc_sink_kind kind, const esc_store_filter *f) {
    listed l;
    memset(&l, 0, sizeof l);
    esc_error err;
    assert_int_equal(esc_store_list(db, kind, f, collect, &l, &err), ESC_OK);
    return l.n;
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SOURCE_DIR "/content"};
    esc_error err;
    return esc_content_load(dirs, 2, &content, &err) == ESC_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    esc_content_free(content);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_sqlite_idempotent(void **state) {
    (void)state;
    char db[256];
    snprintf(db, sizeof db, "%s/store.db", dir);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    esc_table *t = rows_for("alice", "HOST-1", 2, 0);
    esc_act_counts c = hunt(&o, t, 1700000000);
    assert_int_equal(c.notables, 2);
    assert_int_equal(c.risk_events, 4);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, NULL), 2);
    assert_int_equal(list(db, ESC_SINK_RISK, NULL), 4);
    /* the same hunt again (another run time): nothing new */
    hunt(&o, t, 1700003600);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, NULL), 2);
    assert_int_equal(list(db, ESC_SINK_RISK, NULL), 4);
    drop(t);

    /* schema version and journal mode */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), ESC_STORE_SCHEMA_VERSION);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT count(*) FROM risk_events WHERE risk_object = "
                                        "'alice' AND risk_object_type = 'user' AND risk_score = "
                                        "25 AND json_extract(json, '$.risk_object') = 'alice'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 2);
    sqlite3_finalize(s);
    /* a store from a newer escudo is refused */
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    esc_sink *sk = NULL;
    esc_error err;
    assert_int_equal(esc_sink_sqlite_open(db, &sk, &err), ESC_EIO);
    assert_null(sk);
    assert_non_null(strstr(err.msg, "newer"));
}

static void test_sqlite_history_and_filters(void **state) {
    (void)state;
    char db[256];
    snprintf(db, sizeof db, "%s/history.db", dir);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    /* three rows in one run, two more in the next: the threshold crosses in the second */
    esc_table *t1 = rows_for("carol", "unknown", 3, 0);
    esc_act_counts c = hunt(&o, t1, 1700000000);
    assert_int_equal(c.incidents, 0);
    esc_table *t2 = rows_for("carol", "unknown", 2, 3);
    c = hunt(&o, t2, 1700003600);
    assert_int_equal(c.incidents, 1);
    esc_store_filter f;
    memset(&f, 0, sizeof f);
    f.rule = "threshold";
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 1);
    /* again: emitted again, stored once */
    c = hunt(&o, t2, 1700007200);
    assert_int_equal(c.incidents, 1);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 1);
    /* a later run whose events are far away triggers nothing from history */
    esc_table *t3 = rows_for("carol", "unknown", 1, 20);
    c = hunt(&o, t3, 1700010800);
    assert_int_equal(c.incidents, 0);

    /* filters */
    memset(&f, 0, sizeof f);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 7); /* 6 rows + 1 incident */
    assert_int_equal(list(db, ESC_SINK_RISK, &f), 6);
    f.object = "carol";
    assert_int_equal(list(db, ESC_SINK_RISK, &f), 6);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 7); /* user field of each row + incident */
    f.object = "nobody";
    assert_int_equal(list(db, ESC_SINK_RISK, &f), 0);
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 0);
    memset(&f, 0, sizeof f);
    f.has_since = true;
    f.since = 1614556800 + 3 * 3600; /* risk _time is lastTime */
    f.has_until = true;
    f.until = 1614556800 + 5 * 3600;
    assert_int_equal(list(db, ESC_SINK_RISK, &f), 2);
    memset(&f, 0, sizeof f);
    f.status = "new";
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 7);
    f.status = "closed";
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 0);
    memset(&f, 0, sizeof f);
    f.rule = "CREATE OR DELETE";
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 6);
    f.limit = 2;
    assert_int_equal(list(db, ESC_SINK_NOTABLE, &f), 2);
    drop(t1);
    drop(t2);
    drop(t3);

    /* a file that is not a store */
    char other[256];
    snprintf(other, sizeof other, "%s/empty.db", dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(other, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "CREATE TABLE x(y)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    esc_error err;
    assert_int_equal(esc_store_list(other, ESC_SINK_NOTABLE, NULL, collect, NULL, &err), ESC_EIO);
}

/* The stored risk events read for one risk object (HISTORY_MAX, 10^7) through the setter that
 * lowers it: exactly the cap is read, one more is an error naming the object, and the 24-hour
 * rule of a run fails with it (the run's own notables and risk events are already stored). */
static void test_sqlite_history_cap(void **state) {
    (void)state;
    char db[256];
    snprintf(db, sizeof db, "%s/cap.db", dir);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    esc_table *t = rows_for("dave", "HOST-9", 3, 0);
    esc_act_counts c = hunt(&o, t, 1700000000);
    assert_int_equal(c.risk_events, 6); /* 3 for user dave, 3 for system HOST-9 */
    esc_sink *sk = NULL;
    esc_error err;
    assert_int_equal(esc_sink_sqlite_open(db, &sk, &err), ESC_OK);
    esc_risk_history h = {NULL, 0, NULL};
    assert_int_equal(sk->ops->history(sk, "user", "dave", &h, &err), ESC_OK); /* default cap */
    assert_int_equal(h.n, 3);
    esc_risk_history_fini(&h);
    esc_sink_sqlite_set_max_history(sk, 3);
    assert_int_equal(sk->ops->history(sk, "user", "dave", &h, &err), ESC_OK); /* at the cap */
    assert_int_equal(h.n, 3);
    esc_risk_history_fini(&h);
    esc_sink_sqlite_set_max_history(sk, 2);
    assert_int_equal(sk->ops->history(sk, "user", "dave", &h, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "SQLite store: more than 2 risk events for user=dave");
    assert_null(h.pts);
    assert_int_equal(h.n, 0);
    /* through a run: the rule's history read fails with the same message */
    esc_sinks *ss = NULL;
    memset(&o, 0, sizeof o);
    assert_int_equal(esc_sinks_open(&o, &ss, &err), ESC_OK);
    assert_int_equal(esc_sinks_add(ss, sk, &err), ESC_OK);
    esc_act *a = esc_act_new(content, ss, &err);
    esc_table *t2 = rows_for("dave", "HOST-9", 1, 3);
    esc_act_input in = {esc_content_find(content, SEED_ID), t2,  NULL, 0,
                        {0, ESC_ACT_INFINITY, 1700003600},  NULL};
    assert_int_equal(esc_act_rows(a, &in, &err), ESC_OK);
    assert_int_equal(esc_act_finish(a, &err), ESC_ELIMIT);
    assert_non_null(strstr(err.msg, "SQLite store: more than 2 risk events for "));
    esc_act_free(a);
    assert_int_equal(esc_sinks_close(ss, &err), ESC_OK);
    assert_int_equal(list(db, ESC_SINK_RISK, NULL), 8); /* the run's two were stored */
    drop(t);
    drop(t2);
}

static size_t lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[1 << 16];
    size_t n = 0;
    while (fgets(buf, sizeof buf, f)) {
        assert_true(buf[0] == '{');
        assert_non_null(strchr(buf, '\n'));
        if (!needle || strstr(buf, needle))
            n++;
    }
    fclose(f);
    return n;
}

static void test_jsonl(void **state) {
    (void)state;
    char np[256], rp[256];
    snprintf(np, sizeof np, "%s/notables.jsonl", dir);
    snprintf(rp, sizeof rp, "%s/risk.jsonl", dir);
    esc_sink_opts o;
    memset(&o, 0, sizeof o);
    o.notables_path = np;
    o.risk_path = rp;
    esc_table *t = rows_for("dave", "HOST-9", 5, 0);
    esc_act_counts c = hunt(&o, t, 1700000000);
    assert_int_equal(c.incidents, 2); /* user=dave and system=HOST-9 */
    assert_int_equal(lines(np, NULL), 7);
    assert_int_equal(lines(np, "\"search_name\":\"Risk - 24 Hour"), 2);
    assert_int_equal(lines(rp, NULL), 10);
    assert_int_equal(lines(rp, "\"risk_object_type\":\"system\""), 5);
    /* appending: a second hunt adds lines (the store, not the files, deduplicates) */
    hunt(&o, t, 1700000000);
    assert_int_equal(lines(np, NULL), 14);
    drop(t);
    /* both kinds into one file */
    snprintf(np, sizeof np, "%s/both.jsonl", dir);
    o.notables_path = np;
    o.risk_path = np;
    t = rows_for("erin", "HOST-2", 1, 0);
    hunt(&o, t, 1700000000);
    assert_int_equal(lines(np, NULL), 3);
    drop(t);
    /* unwritable path */
    esc_sink *s = NULL;
    esc_error err;
    assert_int_equal(esc_sink_jsonl_open("/nonexistent/dir/n.jsonl", NULL, &s, &err), ESC_EIO);
}

/* One notable of id i (64 hex digits) with a json of `pad` bytes. */
static esc_status put_one(esc_sink *s, int i, size_t pad, esc_error *err) {
    char id[65];
    snprintf(id, sizeof id, "%064x", i + 1);
    char *json = malloc(pad + 128);
    int n = snprintf(json, pad + 128, "{\"event_id\":\"%s\",\"pad\":\"", id);
    memset(json + n, 'p', pad);
    memcpy(json + n + pad, "\"}", 3);
    esc_sink_event ev = {.kind = ESC_SINK_NOTABLE,
                         .event_id = id,
                         .time = 1700000000 + i,
                         .search_name = "s",
                         .json = json,
                         .json_len = strlen(json)};
    esc_status st = s->ops->put(s, &ev, err);
    free(json);
    return st;
}

/* A COMMIT that fails (here: the WAL cannot grow past RLIMIT_FSIZE) is reported and leaves no
 * transaction open: once the disk takes writes again, the next event starts a transaction of
 * its own and is stored. */
static void test_sqlite_failed_commit(void **state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/commit.db", dir);
    esc_sink *s = NULL;
    esc_error err;
    assert_int_equal(esc_sink_sqlite_open(path, &s, &err), ESC_OK);
    assert_int_equal(put_one(s, 0, 10, &err), ESC_OK);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    low = old;
    low.rlim_cur = 64 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
    for (int i = 1; i < 40; i++)
        assert_int_equal(put_one(s, i, 8000, &err), ESC_OK); /* in SQLite's cache */
    assert_int_not_equal(s->ops->flush(s, &err), ESC_OK);    /* the WAL cannot take them */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(put_one(s, 100, 10, &err), ESC_OK);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    s->ops->close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM notables", -1, &q, NULL);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2); /* the first and the last */
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A store with a damaged page is refused on open (PRAGMA quick_check), not written to. */
static void test_sqlite_damaged_store(void **state) {
    (void)state;
    char path[256], again[256];
    snprintf(path, sizeof path, "%s/damaged.db", dir);
    snprintf(again, sizeof again, "%s/./damaged.db", dir); /* not the path checked once already */
    esc_sink *s = NULL;
    esc_error err;
    assert_int_equal(esc_sink_sqlite_open(path, &s, &err), ESC_OK);
    for (int i = 0; i < 200; i++)
        assert_int_equal(put_one(s, i, 400, &err), ESC_OK);
    assert_int_equal(s->ops->flush(s, &err), ESC_OK);
    s->ops->close(s);
    sqlite3 *db; /* fold the WAL into the file */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE", NULL, NULL,
                 NULL);
    sqlite3_close(db);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 3 * 4096 + 8, SEEK_SET); /* inside a b-tree page: its cell pointers */
    for (int i = 0; i < 64; i++)
        fputc(0xA5, f);
    fclose(f);
    s = NULL;
    assert_int_equal(esc_sink_sqlite_open(again, &s, &err), ESC_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "damaged"));
}

static void test_token(void **state) {
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/token", dir);
    FILE *f = fopen(p, "w");
    fputs("  0b1f2c3d-aaaa-bbbb-cccc-1234567890ab \n", f);
    fclose(f);
    char *tok = NULL;
    esc_error err;
    assert_int_equal(esc_hec_token_load(p, &tok, &err), ESC_OK);
    assert_string_equal(tok, "0b1f2c3d-aaaa-bbbb-cccc-1234567890ab");
    free(tok);
    setenv("ESCUDO_HEC_TOKEN", "from-env", 1);
    assert_int_equal(esc_hec_token_load(NULL, &tok, &err), ESC_OK);
    assert_string_equal(tok, "from-env");
    free(tok);
    unsetenv("ESCUDO_HEC_TOKEN");
    assert_int_equal(esc_hec_token_load(NULL, &tok, &err), ESC_EUSAGE);
    f = fopen(p, "w");
    fputs("bad token\n", f);
    fclose(f);
    assert_int_equal(esc_hec_token_load(p, &tok, &err), ESC_EUSAGE);
    assert_null(strstr(err.msg, "bad token")); /* never echo the token */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_idempotent),
        cmocka_unit_test(test_sqlite_history_and_filters),
        cmocka_unit_test(test_sqlite_history_cap),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_sqlite_failed_commit),
        cmocka_unit_test(test_sqlite_damaged_store),
        cmocka_unit_test(test_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
