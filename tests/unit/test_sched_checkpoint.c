/* The SQLite state store (sched/checkpoint.h) on real files: round trips, atomic batches,
 * schema versions, and crashes (a child process killed with SIGKILL in the middle of a
 * transaction, or after a commit) followed by a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "sched/checkpoint.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/esc_ckpt_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static esc_ckpt *open_ok(const char *path) {
    esc_ckpt *c = NULL;
    esc_error err = {0};
    if (esc_ckpt_open(path, &c, &err) != ESC_OK)
        fail_msg("open: %s", err.msg);
    return c;
}

static const char HEAD[] = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>";

/* The committed state every crash test starts from. */
static void write_base(const char *path) {
    esc_ckpt *c = open_ok(path);
    esc_ckpt_input in = {"/var/log/a.xml", 42, 1000, (uint32_t)strlen(HEAD),
                         esc_ckpt_head_hash(HEAD, strlen(HEAD))};
    esc_ckpt_fired fired = {"det-1", 100, 200, 260};
    esc_ckpt_partial part = {"det-1", 200, 300, "partial-v1", 10};
    esc_ckpt_batch b = {&in, 1, &fired, 1, &part, 1};
    esc_error err = {0};
    if (esc_ckpt_commit_batch(c, &b, &err) != ESC_OK)
        fail_msg("%s", err.msg);
    esc_ckpt_free(c);
}

static void expect_base(const char *path) {
    esc_ckpt *c = open_ok(path);
    esc_ckpt_input in;
    assert_int_equal(esc_ckpt_get_input(c, "/var/log/a.xml", &in, NULL), ESC_OK);
    assert_int_equal(in.inode, 42);
    assert_int_equal(in.offset, 1000);
    assert_int_equal(in.head_len, strlen(HEAD));
    int64_t at = 0;
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 100, 200, &at, NULL), ESC_OK);
    assert_int_equal(at, 260);
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 200, 300, &at, NULL), ESC_EOF);
    assert_int_equal(esc_ckpt_last_fired(c, "det-1", &at, NULL), ESC_OK);
    assert_int_equal(at, 260);
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 200, 300, &b, NULL), ESC_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.ptr, "partial-v1", 10);
    esc_buf_fini(&b);
    assert_int_equal(esc_ckpt_get_input(c, "/var/log/b.xml", &in, NULL), ESC_EOF);
    esc_ckpt_free(c);
}

static void test_round_trip(void **state) {
    fixture *f = *state;
    write_base(f->path);
    expect_base(f->path);

    /* Updates replace; a NULL partial deletes; pruning drops old fired windows. */
    esc_ckpt *c = open_ok(f->path);
    esc_error err = {0};
    assert_int_equal(esc_ckpt_begin(c, &err), ESC_OK);
    esc_ckpt_input in = {"/var/log/a.xml", 42, UINT64_MAX - 1, 0, 0};
    assert_int_equal(esc_ckpt_put_input(c, &in, &err), ESC_OK);
    esc_ckpt_partial del = {"det-1", 200, 300, NULL, 0};
    assert_int_equal(esc_ckpt_put_partial(c, &del, &err), ESC_OK);
    esc_ckpt_partial empty = {"det-2", 200, 300, "", 0};
    assert_int_equal(esc_ckpt_put_partial(c, &empty, &err), ESC_OK);
    esc_ckpt_fired f2 = {"det-1", 200, 300, 360};
    assert_int_equal(esc_ckpt_put_fired(c, &f2, &err), ESC_OK);
    assert_int_equal(esc_ckpt_prune_fired(c, 250, &err), ESC_OK);
    assert_int_equal(esc_ckpt_commit(c, &err), ESC_OK);

    esc_ckpt_input got;
    assert_int_equal(esc_ckpt_get_input(c, "/var/log/a.xml", &got, NULL), ESC_OK);
    assert_true(got.offset == UINT64_MAX - 1); /* unsigned 64-bit round trip */
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 200, 300, &b, NULL), ESC_EOF);
    assert_int_equal(esc_ckpt_get_partial(c, "det-2", 200, 300, &b, NULL), ESC_OK);
    assert_int_equal(b.len, 0);
    esc_buf_fini(&b);
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 100, 200, NULL, NULL), ESC_EOF);
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 200, 300, NULL, NULL), ESC_OK);
    int64_t last = 0;
    assert_int_equal(esc_ckpt_last_fired(c, "det-1", &last, NULL), ESC_OK);
    assert_int_equal(last, 360);
    assert_int_equal(esc_ckpt_last_fired(c, "det-2", &last, NULL), ESC_EOF);
    esc_ckpt_free(c);
}

static void test_iterate_partials(void **state) {
    fixture *f = *state;
    esc_ckpt *c = open_ok(f->path);
    esc_ckpt_partial p[] = {
        {"det-b", 300, 400, "b300", 4},
        {"det-a", 200, 300, "a200", 4},
        {"det-b", 100, 200, "b100", 4},
    };
    esc_ckpt_batch b = {NULL, 0, NULL, 0, p, 3};
    assert_int_equal(esc_ckpt_commit_batch(c, &b, NULL), ESC_OK);
    esc_ckpt_iter *it = NULL;
    assert_int_equal(esc_ckpt_partials_iter(c, NULL, &it, NULL), ESC_OK);
    esc_ckpt_partial got;
    const char *want[] = {"a200", "b100", "b300"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(esc_ckpt_iter_next(it, &got, NULL), ESC_OK);
        assert_int_equal(got.len, 4);
        assert_memory_equal(got.data, want[i], 4);
    }
    assert_int_equal(esc_ckpt_iter_next(it, &got, NULL), ESC_EOF);
    esc_ckpt_iter_free(it);
    assert_int_equal(esc_ckpt_partials_iter(c, "det-b", &it, NULL), ESC_OK);
    int n = 0;
    while (esc_ckpt_iter_next(it, &got, NULL) == ESC_OK) {
        assert_string_equal(got.detection, "det-b");
        n++;
    }
    assert_int_equal(n, 2);
    esc_ckpt_iter_free(it);
    esc_ckpt_iter_free(NULL);
    esc_ckpt_free(c);
}

static void test_usage_and_limits(void **state) {
    fixture *f = *state;
    esc_ckpt *c = open_ok(f->path);
    esc_error err = {0};
    esc_ckpt_fired fired = {"det-1", 1, 2, 3};
    assert_int_equal(esc_ckpt_put_fired(c, &fired, &err), ESC_EUSAGE); /* no transaction */
    assert_int_equal(esc_ckpt_commit(c, &err), ESC_EUSAGE);
    assert_int_equal(esc_ckpt_rollback(c, &err), ESC_EUSAGE);
    assert_int_equal(esc_ckpt_begin(c, &err), ESC_OK);
    assert_int_equal(esc_ckpt_begin(c, &err), ESC_EUSAGE);
    char *big = malloc(ESC_CKPT_MAX_KEY + 2);
    memset(big, 'x', ESC_CKPT_MAX_KEY + 1);
    big[ESC_CKPT_MAX_KEY + 1] = 0;
    esc_ckpt_fired bad = {big, 1, 2, 3};
    assert_int_equal(esc_ckpt_put_fired(c, &bad, &err), ESC_ELIMIT);
    esc_ckpt_partial huge = {"d", 1, 2, "x", (size_t)ESC_CKPT_MAX_BLOB + 1};
    assert_int_equal(esc_ckpt_put_partial(c, &huge, &err), ESC_ELIMIT);
    esc_ckpt_input in = {"p", 1, 2, ESC_CKPT_HEAD_MAX + 1, 0};
    assert_int_equal(esc_ckpt_put_input(c, &in, &err), ESC_EUSAGE);
    assert_int_equal(esc_ckpt_put_fired(c, &fired, &err), ESC_OK);
    assert_int_equal(esc_ckpt_rollback(c, &err), ESC_OK);
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 1, 2, NULL, NULL), ESC_EOF);
    free(big);

    /* A failing batch leaves nothing behind, not even its earlier items. */
    esc_ckpt_fired ok = {"det-9", 1, 2, 3};
    esc_ckpt_partial toolarge = {"det-9", 1, 2, "x", (size_t)ESC_CKPT_MAX_BLOB + 1};
    esc_ckpt_batch b = {NULL, 0, &ok, 1, &toolarge, 1};
    assert_int_equal(esc_ckpt_commit_batch(c, &b, &err), ESC_ELIMIT);
    assert_int_equal(esc_ckpt_get_fired(c, "det-9", 1, 2, NULL, NULL), ESC_EOF);
    /* esc_ckpt_free with an open transaction rolls it back. */
    assert_int_equal(esc_ckpt_begin(c, &err), ESC_OK);
    assert_int_equal(esc_ckpt_put_fired(c, &ok, &err), ESC_OK);
    esc_ckpt_free(c);
    c = open_ok(f->path);
    assert_int_equal(esc_ckpt_get_fired(c, "det-9", 1, 2, NULL, NULL), ESC_EOF);
    esc_ckpt_free(c);
    esc_ckpt_free(NULL);

    assert_int_equal(esc_ckpt_open("", &c, &err), ESC_EUSAGE);
    assert_int_equal(esc_ckpt_open("/nonexistent-dir/x/state.db", &c, &err), ESC_EIO);
    assert_null(c);
}

static void test_schema_version(void **state) {
    fixture *f = *state;
    esc_ckpt_free(open_ok(f->path));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), ESC_CKPT_SCHEMA_VERSION);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    esc_ckpt *c = NULL;
    esc_error err = {0};
    assert_int_equal(esc_ckpt_open(f->path, &c, &err), ESC_EIO);
    assert_non_null(strstr(err.msg, "newer"));
    assert_null(c);
}

typedef struct segs_seen {
    char got[256];
    int64_t seqs[8];
    size_t n;
} segs_seen;

static esc_status seg_each(void *ctx, int64_t seq, const void *data, size_t len, esc_error *err) {
    (void)err;
    segs_seen *s = ctx;
    s->seqs[s->n++] = seq;
    strncat(s->got, data, len);
    return ESC_OK;
}

static segs_seen segments_of(esc_ckpt *c, const esc_ckpt_partial *key) {
    segs_seen s = {0};
    assert_int_equal(esc_ckpt_get_segments(c, key, seg_each, &s, NULL), ESC_OK);
    return s;
}

/* Segments: appended, read back in seq order whatever the order written, trimmed, deleted with
 * their partial, counted; a rolled-back segment leaves no trace. */
static void test_segments(void **state) {
    fixture *f = *state;
    esc_ckpt *c = open_ok(f->path);
    esc_error err = {0};
    esc_ckpt_partial key = {"det-1", 200, 300, "row", 3}, other = {"det-2", 200, 300, "r", 1};
    esc_ckpt_partial s0 = key, s1 = key, s2 = key, o0 = other;
    s0.data = "aa", s0.len = 2, s1.data = "bbb", s1.len = 3, s2.data = "c", s2.len = 1;
    o0.data = "zz", o0.len = 2;
    assert_int_equal(esc_ckpt_put_segment(c, &s0, 0, &err), ESC_EUSAGE); /* no transaction */
    assert_int_equal(esc_ckpt_begin(c, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_partial(c, &key, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_segment(c, &s1, 1, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_segment(c, &s0, 0, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_segment(c, &o0, 0, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_commit(c, NULL), ESC_OK);
    segs_seen s = segments_of(c, &key);
    assert_string_equal(s.got, "aabbb");
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seqs[1], 1);
    uint64_t bytes = 0;
    assert_int_equal(esc_ckpt_segment_bytes(c, &bytes, NULL), ESC_OK);
    assert_int_equal(bytes, 7);
    assert_int_equal(esc_ckpt_begin(c, NULL), ESC_OK); /* rolled back: nothing of it stays */
    assert_int_equal(esc_ckpt_put_segment(c, &s2, 2, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_rollback(c, NULL), ESC_OK);
    assert_string_equal(segments_of(c, &key).got, "aabbb");
    assert_int_equal(esc_ckpt_begin(c, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_trim_segments(c, &key, 1, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_segment(c, &s2, 1, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_commit(c, NULL), ESC_OK);
    assert_string_equal(segments_of(c, &key).got, "aac");
    esc_ckpt_partial del = key;
    del.data = NULL;
    assert_int_equal(esc_ckpt_begin(c, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_partial(c, &del, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_commit(c, NULL), ESC_OK);
    assert_int_equal(segments_of(c, &key).n, 0);
    assert_string_equal(segments_of(c, &other).got, "zz"); /* another window's: untouched */
    esc_ckpt_free(c);
}

/* A version 1 file (before segments): read-only, read as it is (no segments); opened to write,
 * migrated to version 2 with its rows kept. */
static void test_schema_v1_migrated(void **state) {
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE inputs(path TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset "
                     "INTEGER NOT NULL, head_len INTEGER NOT NULL, head_hash INTEGER NOT NULL);"
                     "CREATE TABLE fired(detection TEXT NOT NULL, earliest INTEGER NOT NULL,"
                     " latest INTEGER NOT NULL, fired_at INTEGER NOT NULL,"
                     " PRIMARY KEY(detection, earliest, latest)) WITHOUT ROWID;"
                     "CREATE TABLE partials(detection TEXT NOT NULL, earliest INTEGER NOT NULL,"
                     " latest INTEGER NOT NULL, data BLOB NOT NULL,"
                     " PRIMARY KEY(detection, earliest, latest)) WITHOUT ROWID;"
                     "INSERT INTO partials VALUES('det-1', 200, 300, x'41424344');"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    esc_ckpt_partial key = {"det-1", 200, 300, NULL, 0};
    esc_ckpt *c = NULL;
    assert_int_equal(esc_ckpt_open_readonly(f->path, &c, NULL), ESC_OK);
    uint64_t bytes = 1;
    assert_int_equal(esc_ckpt_segment_bytes(c, &bytes, NULL), ESC_OK);
    assert_int_equal(bytes, 0);
    assert_int_equal(segments_of(c, &key).n, 0);
    esc_ckpt_free(c);
    c = open_ok(f->path);
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 200, 300, &b, NULL), ESC_OK);
    assert_string_equal(b.ptr, "ABCD");
    esc_buf_fini(&b);
    esc_ckpt_partial s0 = key;
    s0.data = "x", s0.len = 1;
    assert_int_equal(esc_ckpt_begin(c, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_put_segment(c, &s0, 0, NULL), ESC_OK);
    assert_int_equal(esc_ckpt_commit(c, NULL), ESC_OK);
    assert_string_equal(segments_of(c, &key).got, "x");
    esc_ckpt_free(c);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_not_a_state_file(void **state) {
    fixture *f = *state;
    FILE *fp = fopen(f->path, "wb");
    fputs("this is not a database, just text that is long enough to be a header ........", fp);
    fclose(fp);
    esc_ckpt *c = NULL;
    esc_error err = {0};
    assert_int_equal(esc_ckpt_open(f->path, &c, &err), ESC_EIO);
    assert_null(c);
}

/* Run `body` in a child process that dies by SIGKILL at its end; return after it is reaped. */
static void in_killed_child(const char *path, int commit_first) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        esc_ckpt *c = NULL;
        if (esc_ckpt_open(path, &c, NULL) != ESC_OK)
            _exit(2);
        esc_ckpt_input in = {"/var/log/a.xml", 42, 5000, 0, 0};
        esc_ckpt_fired fired = {"det-1", 200, 300, 360};
        esc_ckpt_partial del = {"det-1", 200, 300, NULL, 0};
        esc_ckpt_partial next = {"det-1", 300, 400, "partial-v2", 10};
        if (commit_first) {
            esc_ckpt_batch b = {&in, 1, &fired, 1, &del, 1};
            if (esc_ckpt_commit_batch(c, &b, NULL) != ESC_OK)
                _exit(3);
            esc_ckpt_begin(c, NULL);
            esc_ckpt_put_partial(c, &next, NULL);
        } else {
            esc_ckpt_begin(c, NULL);
            esc_ckpt_put_input(c, &in, NULL);
            esc_ckpt_put_fired(c, &fired, NULL);
            esc_ckpt_put_partial(c, &del, NULL);
            esc_ckpt_put_partial(c, &next, NULL);
        }
        raise(SIGKILL); /* mid-transaction: no rollback, no close */
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_crash_mid_transaction(void **state) {
    fixture *f = *state;
    write_base(f->path);
    in_killed_child(f->path, 0);
    expect_base(f->path); /* nothing of the killed transaction is visible */
    esc_ckpt *c = open_ok(f->path);
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 300, 400, &(esc_buf){0}, NULL), ESC_EOF);
    esc_ckpt_free(c);
}

static void test_crash_after_commit(void **state) {
    fixture *f = *state;
    write_base(f->path);
    in_killed_child(f->path, 1);
    esc_ckpt *c = open_ok(f->path);
    esc_ckpt_input in;
    assert_int_equal(esc_ckpt_get_input(c, "/var/log/a.xml", &in, NULL), ESC_OK);
    assert_int_equal(in.offset, 5000); /* the committed batch survived as a whole */
    assert_int_equal(esc_ckpt_get_fired(c, "det-1", 200, 300, NULL, NULL), ESC_OK);
    esc_buf b;
    esc_buf_init(&b, 0);
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 200, 300, &b, NULL), ESC_EOF);
    /* ... and the transaction open at the kill did not. */
    assert_int_equal(esc_ckpt_get_partial(c, "det-1", 300, 400, &b, NULL), ESC_EOF);
    esc_buf_fini(&b);
    esc_ckpt_free(c);
}

static void test_input_decide(void **state) {
    (void)state;
    char head[ESC_CKPT_HEAD_MAX + 100];
    memset(head, 'a', sizeof head);
    esc_ckpt_input saved = {"x", 7, 10000, ESC_CKPT_HEAD_MAX,
                            esc_ckpt_head_hash(head, ESC_CKPT_HEAD_MAX)};
    /* Only the first 4 KiB count. */
    assert_int_equal(esc_ckpt_head_hash(head, sizeof head), saved.head_hash);
    assert_int_equal(esc_ckpt_input_decide(&saved, 7, 20000, head, sizeof head), ESC_CKPT_RESUME);
    assert_int_equal(esc_ckpt_input_decide(&saved, 7, UINT64_MAX, head, ESC_CKPT_HEAD_MAX),
                     ESC_CKPT_RESUME);
    assert_int_equal(esc_ckpt_input_decide(&saved, 8, 20000, head, sizeof head), ESC_CKPT_ROTATED);
    assert_int_equal(esc_ckpt_input_decide(&saved, 7, 5000, head, sizeof head), ESC_CKPT_TRUNCATED);
    assert_int_equal(esc_ckpt_input_decide(&saved, 7, 100, head, 100), ESC_CKPT_TRUNCATED);
    head[10] = 'b';
    assert_int_equal(esc_ckpt_input_decide(&saved, 7, 20000, head, sizeof head), ESC_CKPT_ROTATED);
    /* A short file hashed whole: growth keeps the identity. */
    esc_ckpt_input small = {"y", 7, 5, 5, esc_ckpt_head_hash("hello", 5)};
    assert_int_equal(esc_ckpt_input_decide(&small, 7, 11, "hello world", 11), ESC_CKPT_RESUME);
    assert_int_equal(esc_ckpt_input_decide(&small, 7, 11, "HELLO world", 11), ESC_CKPT_ROTATED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterate_partials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_v1_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_state_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_commit, setup, teardown),
        cmocka_unit_test(test_input_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
