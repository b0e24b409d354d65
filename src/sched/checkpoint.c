/* SQLite state store for `run` (see checkpoint.h).
 *
 * Schema version 1:
 *   inputs(path TEXT PRIMARY KEY, inode INTEGER, offset INTEGER, head_len INTEGER,
 *          head_hash INTEGER)
 *   fired(detection TEXT, earliest INTEGER, latest INTEGER, fired_at INTEGER,
 *         PRIMARY KEY(detection, earliest, latest))
 *   partials(detection TEXT, earliest INTEGER, latest INTEGER, data BLOB,
 *            PRIMARY KEY(detection, earliest, latest))
 * Schema version 2 adds
 *   segments(detection TEXT, earliest INTEGER, latest INTEGER, seq INTEGER, data BLOB,
 *            PRIMARY KEY(detection, earliest, latest, seq))
 * the pieces a partial's owner appends to it commit by commit (a version 1 file is migrated when
 * opened to write; read-only, it is read as having no segments).
 * 64-bit unsigned values (inode, offset, hash) are stored as their int64 bit pattern.
 *
 * Invariants: statements are prepared once at open; every write checks that a transaction is
 * open (in_tx), so nothing is ever auto-committed piecemeal; a failed commit_batch rolls back.
 * Deliberately not done: caching, background checkpoints, encryption, multiple writers. */
#include "sched/checkpoint.h"

#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"

enum {
    ST_PUT_INPUT,
    ST_GET_INPUT,
    ST_PUT_FIRED,
    ST_GET_FIRED,
    ST_PRUNE_FIRED,
    ST_PUT_PARTIAL,
    ST_DEL_PARTIAL,
    ST_GET_PARTIAL,
    ST_LAST_FIRED,
    ST_PUT_SEGMENT, /* the segment statements, prepared on a store of version 2 only */
    ST_TRIM_SEGMENTS,
    ST_GET_SEGMENTS,
    ST_SEGMENT_BYTES,
    ST_COUNT
};

static const char *const SQL[ST_COUNT] = {
    "INSERT INTO inputs(path, inode, offset, head_len, head_hash) VALUES(?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(path) DO UPDATE SET inode = ?2, offset = ?3, head_len = ?4, head_hash = ?5",
    "SELECT inode, offset, head_len, head_hash FROM inputs WHERE path = ?1",
    "INSERT INTO fired(detection, earliest, latest, fired_at) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(detection, earliest, latest) DO UPDATE SET fired_at = ?4",
    "SELECT fired_at FROM fired WHERE detection = ?1 AND earliest = ?2 AND latest = ?3",
    "DELETE FROM fired WHERE latest < ?1",
    "INSERT INTO partials(detection, earliest, latest, data) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(detection, earliest, latest) DO UPDATE SET data = ?4",
    "DELETE FROM partials WHERE detection = ?1 AND earliest = ?2 AND latest = ?3",
    "SELECT data FROM partials WHERE detection = ?1 AND earliest = ?2 AND latest = ?3",
    "SELECT max(fired_at) FROM fired WHERE detection = ?1",
    "INSERT INTO segments(detection, earliest, latest, seq, data) VALUES(?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(detection, earliest, latest, seq) DO UPDATE SET data = ?5",
    "DELETE FROM segments WHERE detection = ?1 AND earliest = ?2 AND latest = ?3 AND seq >= ?4",
    "SELECT seq, data FROM segments WHERE detection = ?1 AND earliest = ?2 AND latest = ?3 "
    "ORDER BY seq",
    "SELECT coalesce(sum(length(data)), 0) FROM segments",
};

static const char SCHEMA_V1[] =
    "CREATE TABLE inputs(path TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " head_len INTEGER NOT NULL, head_hash INTEGER NOT NULL);"
    "CREATE TABLE fired(detection TEXT NOT NULL, earliest INTEGER NOT NULL,"
    " latest INTEGER NOT NULL, fired_at INTEGER NOT NULL,"
    " PRIMARY KEY(detection, earliest, latest)) WITHOUT ROWID;"
    "CREATE TABLE partials(detection TEXT NOT NULL, earliest INTEGER NOT NULL,"
    " latest INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(detection, earliest, latest)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

static const char SCHEMA_V2[] =
    "CREATE TABLE segments(detection TEXT NOT NULL, earliest INTEGER NOT NULL,"
    " latest INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(detection, earliest, latest, seq)) WITHOUT ROWID;"
    "PRAGMA user_version = 2;";

struct esc_ckpt {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    bool in_tx;
    int version; /* the file's schema version */
    char *path;
};

struct esc_ckpt_iter {
    sqlite3_stmt *st;
};

static esc_status db_error(esc_ckpt *c, esc_error *err, const char *what) {
    return esc_error_set(err, ESC_EIO, "state store %s: %s: %s", c->path ? c->path : "", what,
                         c->db ? sqlite3_errmsg(c->db) : "cannot open");
}

static esc_status exec(esc_ckpt *c, const char *sql, esc_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        esc_status st = esc_error_set(err, ESC_EIO, "state store %s: %s", c->path,
                                      msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return st;
    }
    return ESC_OK;
}

static esc_status schema(esc_ckpt *c, esc_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(c, err, "reading the schema version");
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return db_error(c, err, "reading the schema version");
    if (version > ESC_CKPT_SCHEMA_VERSION)
        return esc_error_set(err, ESC_EIO,
                             "state store %s: schema version %d is newer than this escudo's (%d)",
                             c->path, version, ESC_CKPT_SCHEMA_VERSION);
    c->version = ESC_CKPT_SCHEMA_VERSION;
    if (version == ESC_CKPT_SCHEMA_VERSION)
        return ESC_OK;
    /* version 0: a new file (or one that is not ours: the CREATE fails if tables exist);
     * version 1: migrated. */
    esc_status s = exec(c, "BEGIN IMMEDIATE", err);
    if (s != ESC_OK)
        return s;
    if (version == 0)
        s = exec(c, SCHEMA_V1, err);
    if (s == ESC_OK)
        s = exec(c, SCHEMA_V2, err);
    if (s == ESC_OK)
        s = exec(c, "COMMIT", err);
    if (s != ESC_OK)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

/* Read-only: what the file is. ESC_OK an escudo store of this version or an older; ESC_EOF empty
 * (no table at all, e.g. a 0-byte file); ESC_EIO anything else ("not an escudo state store"). */
static esc_status inspect(esc_ckpt *c, esc_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return esc_error_set(err, ESC_EIO, "state store %s: not an escudo state store (%s)",
                             c->path, sqlite3_errmsg(c->db));
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    c->version = version;
    if (version >= 1 && version <= ESC_CKPT_SCHEMA_VERSION)
        return ESC_OK;
    if (version > ESC_CKPT_SCHEMA_VERSION)
        return esc_error_set(err, ESC_EIO,
                             "state store %s: schema version %d is newer than this escudo's (%d)",
                             c->path, version, ESC_CKPT_SCHEMA_VERSION);
    int tables = -1;
    if (version == 0 && sqlite3_prepare_v2(c->db, "SELECT count(*) FROM sqlite_master", -1, &st,
                                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            tables = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (tables == 0)
        return ESC_EOF;
    return esc_error_set(err, ESC_EIO,
                         "state store %s: not an escudo state store (%s); left untouched", c->path,
                         tables < 0 ? sqlite3_errmsg(c->db) : "other tables, no escudo schema");
}

static esc_status open_store(const char *path, bool readonly, esc_ckpt **out, esc_error *err) {
    *out = NULL;
    if (!path || !*path)
        return esc_error_set(err, ESC_EUSAGE, "state store: no path");
    esc_ckpt *c = esc_calloc(1, sizeof *c);
    if (!c || !(c->path = esc_strdup(path))) {
        esc_free(c);
        return esc_error_set(err, ESC_ENOMEM, "state store: out of memory");
    }
    esc_status s;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        s = db_error(c, err, "open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 5000);
    if (readonly)
        s = inspect(c, err);
    else if ((s = exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) == ESC_OK)
        s = schema(c, err);
    if (s != ESC_OK)
        goto fail;
    for (int i = 0; i < (c->version < 2 ? ST_PUT_SEGMENT : ST_COUNT); i++) {
        if (sqlite3_prepare_v3(c->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            s = db_error(c, err, "preparing statements (not an escudo state file?)");
            goto fail;
        }
    }
    *out = c;
    return ESC_OK;
fail:
    esc_ckpt_free(c);
    return s;
}

esc_status esc_ckpt_open(const char *path, esc_ckpt **out, esc_error *err) {
    return open_store(path, false, out, err);
}

esc_status esc_ckpt_open_readonly(const char *path, esc_ckpt **out, esc_error *err) {
    return open_store(path, true, out, err);
}

void esc_ckpt_free(esc_ckpt *c) {
    if (!c)
        return;
    if (c->in_tx)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    esc_free(c->path);
    esc_free(c);
}

esc_status esc_ckpt_begin(esc_ckpt *c, esc_error *err) {
    if (c->in_tx)
        return esc_error_set(err, ESC_EUSAGE, "state store: transaction already open");
    esc_status s = exec(c, "BEGIN IMMEDIATE", err);
    if (s == ESC_OK)
        c->in_tx = true;
    return s;
}

esc_status esc_ckpt_commit(esc_ckpt *c, esc_error *err) {
    if (!c->in_tx)
        return esc_error_set(err, ESC_EUSAGE, "state store: no transaction to commit");
    esc_status s = exec(c, "COMMIT", err);
    if (s != ESC_OK) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    c->in_tx = false;
    return s;
}

esc_status esc_ckpt_rollback(esc_ckpt *c, esc_error *err) {
    if (!c->in_tx)
        return esc_error_set(err, ESC_EUSAGE, "state store: no transaction to roll back");
    c->in_tx = false;
    return exec(c, "ROLLBACK", err);
}

static esc_status check_key(esc_error *err, const char *what, const char *s) {
    if (!s)
        return esc_error_set(err, ESC_EUSAGE, "state store: %s missing", what);
    if (strlen(s) > ESC_CKPT_MAX_KEY)
        return esc_error_set(err, ESC_ELIMIT, "state store: %s longer than %d bytes", what,
                             ESC_CKPT_MAX_KEY);
    return ESC_OK;
}

static esc_status need_tx(esc_ckpt *c, esc_error *err) {
    if (!c->in_tx)
        return esc_error_set(err, ESC_EUSAGE, "state store: write outside a transaction");
    return ESC_OK;
}

/* A write keyed by key (what names it in the error): inside a transaction, the key within its
 * cap. */
static esc_status write_key(esc_ckpt *c, const char *what, const char *key, esc_error *err) {
    esc_status s = need_tx(c, err);
    return s != ESC_OK ? s : check_key(err, what, key);
}

/* Step a write statement to completion and reset it. */
static esc_status run_write(esc_ckpt *c, sqlite3_stmt *st, esc_error *err, const char *what) {
    int rc = sqlite3_step(st);
    esc_status s = rc == SQLITE_DONE ? ESC_OK : db_error(c, err, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

static void bind_window(sqlite3_stmt *st, const char *det, int64_t e, int64_t l) {
    sqlite3_bind_text(st, 1, det, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e);
    sqlite3_bind_int64(st, 3, l);
}

esc_status esc_ckpt_put_input(esc_ckpt *c, const esc_ckpt_input *in, esc_error *err) {
    esc_status s = write_key(c, "input path", in->path, err);
    if (s != ESC_OK)
        return s;
    if (in->head_len > ESC_CKPT_HEAD_MAX)
        return esc_error_set(err, ESC_EUSAGE, "state store: head_len %u over %d",
                             (unsigned)in->head_len, ESC_CKPT_HEAD_MAX);
    sqlite3_stmt *st = c->st[ST_PUT_INPUT];
    sqlite3_bind_text(st, 1, in->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)in->inode);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)in->offset);
    sqlite3_bind_int64(st, 4, in->head_len);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)in->head_hash);
    return run_write(c, st, err, "saving an input offset");
}

esc_status esc_ckpt_put_fired(esc_ckpt *c, const esc_ckpt_fired *f, esc_error *err) {
    esc_status s = write_key(c, "detection id", f->detection, err);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_PUT_FIRED];
    bind_window(st, f->detection, f->earliest, f->latest);
    sqlite3_bind_int64(st, 4, f->fired_at);
    return run_write(c, st, err, "saving a fired window");
}

esc_status esc_ckpt_put_partial(esc_ckpt *c, const esc_ckpt_partial *p, esc_error *err) {
    esc_status s = write_key(c, "detection id", p->detection, err);
    if (s != ESC_OK)
        return s;
    if (p->data && p->len > ESC_CKPT_MAX_BLOB)
        return esc_error_set(err, ESC_ELIMIT, "state store: partial aggregate of %zu bytes over %u",
                             p->len, ESC_CKPT_MAX_BLOB);
    sqlite3_stmt *st = c->st[p->data ? ST_PUT_PARTIAL : ST_DEL_PARTIAL];
    bind_window(st, p->detection, p->earliest, p->latest);
    if (p->data)
        sqlite3_bind_blob64(st, 4, p->len ? p->data : "", p->len, SQLITE_STATIC);
    s = run_write(c, st, err, p->data ? "saving a partial aggregate" : "deleting a partial");
    return s || p->data ? s : esc_ckpt_trim_segments(c, p, 0, err);
}

esc_status esc_ckpt_put_segment(esc_ckpt *c, const esc_ckpt_partial *p, int64_t seq,
                                esc_error *err) {
    esc_status s = write_key(c, "detection id", p->detection, err);
    if (s != ESC_OK)
        return s;
    if (!p->data || p->len > ESC_CKPT_MAX_BLOB)
        return esc_error_set(err, ESC_ELIMIT, "state store: segment of %zu bytes over %u", p->len,
                             ESC_CKPT_MAX_BLOB);
    sqlite3_stmt *st = c->st[ST_PUT_SEGMENT];
    bind_window(st, p->detection, p->earliest, p->latest);
    sqlite3_bind_int64(st, 4, seq);
    sqlite3_bind_blob64(st, 5, p->len ? p->data : "", p->len, SQLITE_STATIC);
    return run_write(c, st, err, "saving a segment");
}

esc_status esc_ckpt_trim_segments(esc_ckpt *c, const esc_ckpt_partial *key, int64_t from,
                                  esc_error *err) {
    esc_status s = write_key(c, "detection id", key->detection, err);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_TRIM_SEGMENTS];
    bind_window(st, key->detection, key->earliest, key->latest);
    sqlite3_bind_int64(st, 4, from);
    return run_write(c, st, err, "deleting segments");
}

esc_status esc_ckpt_prune_fired(esc_ckpt *c, int64_t before, esc_error *err) {
    esc_status s = need_tx(c, err);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_PRUNE_FIRED];
    sqlite3_bind_int64(st, 1, before);
    return run_write(c, st, err, "pruning fired windows");
}

esc_status esc_ckpt_commit_batch(esc_ckpt *c, const esc_ckpt_batch *b, esc_error *err) {
    esc_status s = esc_ckpt_begin(c, err);
    if (s != ESC_OK)
        return s;
    for (size_t i = 0; s == ESC_OK && i < b->n_inputs; i++)
        s = esc_ckpt_put_input(c, &b->inputs[i], err);
    for (size_t i = 0; s == ESC_OK && i < b->n_fired; i++)
        s = esc_ckpt_put_fired(c, &b->fired[i], err);
    for (size_t i = 0; s == ESC_OK && i < b->n_partials; i++)
        s = esc_ckpt_put_partial(c, &b->partials[i], err);
    if (s != ESC_OK) {
        esc_ckpt_rollback(c, NULL);
        return s;
    }
    return esc_ckpt_commit(c, err);
}

esc_status esc_ckpt_get_input(esc_ckpt *c, const char *path, esc_ckpt_input *out, esc_error *err) {
    esc_status s = check_key(err, "input path", path);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_GET_INPUT];
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->path = path;
        out->inode = (uint64_t)sqlite3_column_int64(st, 0);
        out->offset = (uint64_t)sqlite3_column_int64(st, 1);
        int64_t hl = sqlite3_column_int64(st, 2);
        out->head_len = (uint32_t)(hl < 0 ? 0 : hl > ESC_CKPT_HEAD_MAX ? ESC_CKPT_HEAD_MAX : hl);
        out->head_hash = (uint64_t)sqlite3_column_int64(st, 3);
        s = ESC_OK;
    } else {
        s = rc == SQLITE_DONE ? ESC_EOF : db_error(c, err, "reading an input offset");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

esc_status esc_ckpt_get_fired(esc_ckpt *c, const char *detection, int64_t earliest, int64_t latest,
                              int64_t *fired_at, esc_error *err) {
    esc_status s = check_key(err, "detection id", detection);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_GET_FIRED];
    bind_window(st, detection, earliest, latest);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (fired_at)
            *fired_at = sqlite3_column_int64(st, 0);
        s = ESC_OK;
    } else {
        s = rc == SQLITE_DONE ? ESC_EOF : db_error(c, err, "reading a fired window");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

esc_status esc_ckpt_last_fired(esc_ckpt *c, const char *detection, int64_t *fired_at,
                               esc_error *err) {
    esc_status s = check_key(err, "detection id", detection);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_LAST_FIRED];
    sqlite3_bind_text(st, 1, detection, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *fired_at = sqlite3_column_int64(st, 0);
        s = ESC_OK;
    } else {
        s = rc == SQLITE_ROW ? ESC_EOF : db_error(c, err, "reading the last fired window");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

esc_status esc_ckpt_get_partial(esc_ckpt *c, const char *detection, int64_t earliest,
                                int64_t latest, esc_buf *out, esc_error *err) {
    esc_status s = check_key(err, "detection id", detection);
    if (s != ESC_OK)
        return s;
    sqlite3_stmt *st = c->st[ST_GET_PARTIAL];
    bind_window(st, detection, earliest, latest);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        esc_buf_clear(out);
        const void *p = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        s = n > 0 ? esc_buf_append(out, p, (size_t)n) : ESC_OK;
        if (s != ESC_OK)
            esc_error_set(err, s, "state store: partial aggregate does not fit the buffer");
    } else {
        s = rc == SQLITE_DONE ? ESC_EOF : db_error(c, err, "reading a partial aggregate");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

esc_status esc_ckpt_get_segments(esc_ckpt *c, const esc_ckpt_partial *key, esc_ckpt_segment_fn each,
                                 void *ctx, esc_error *err) {
    esc_status s = check_key(err, "detection id", key->detection);
    sqlite3_stmt *st = c->st[ST_GET_SEGMENTS];
    if (s != ESC_OK || !st) /* a version 1 file read as it is: none */
        return s;
    bind_window(st, key->detection, key->earliest, key->latest);
    int rc = SQLITE_DONE;
    while (s == ESC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 1);
        s = each(ctx, sqlite3_column_int64(st, 0), p ? p : "", (size_t)sqlite3_column_bytes(st, 1),
                 err);
    }
    if (s == ESC_OK && rc != SQLITE_DONE)
        s = db_error(c, err, "reading segments");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

esc_status esc_ckpt_segment_bytes(esc_ckpt *c, uint64_t *out, esc_error *err) {
    sqlite3_stmt *st = c->st[ST_SEGMENT_BYTES];
    *out = 0;
    if (!st)
        return ESC_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? ESC_OK : db_error(c, err, "reading segment sizes");
}

esc_status esc_ckpt_partials_iter(esc_ckpt *c, const char *detection, esc_ckpt_iter **out,
                                  esc_error *err) {
    *out = NULL;
    if (detection) {
        esc_status s = check_key(err, "detection id", detection);
        if (s != ESC_OK)
            return s;
    }
    esc_ckpt_iter *it = esc_calloc(1, sizeof *it);
    if (!it)
        return esc_error_set(err, ESC_ENOMEM, "state store: out of memory");
    const char *sql = detection ? "SELECT detection, earliest, latest, data FROM partials WHERE "
                                  "detection = ?1 ORDER BY detection, earliest, latest"
                                : "SELECT detection, earliest, latest, data FROM partials "
                                  "ORDER BY detection, earliest, latest";
    if (sqlite3_prepare_v2(c->db, sql, -1, &it->st, NULL) != SQLITE_OK) {
        esc_ckpt_iter_free(it);
        return db_error(c, err, "listing partial aggregates");
    }
    if (detection)
        sqlite3_bind_text(it->st, 1, detection, -1, SQLITE_TRANSIENT);
    *out = it;
    return ESC_OK;
}

esc_status esc_ckpt_iter_next(esc_ckpt_iter *it, esc_ckpt_partial *out, esc_error *err) {
    int rc = sqlite3_step(it->st);
    if (rc == SQLITE_DONE)
        return ESC_EOF;
    if (rc != SQLITE_ROW)
        return esc_error_set(err, ESC_EIO, "state store: listing partial aggregates: %s",
                             sqlite3_errmsg(sqlite3_db_handle(it->st)));
    out->detection = (const char *)sqlite3_column_text(it->st, 0);
    out->earliest = sqlite3_column_int64(it->st, 1);
    out->latest = sqlite3_column_int64(it->st, 2);
    out->data = sqlite3_column_blob(it->st, 3);
    out->len = (size_t)sqlite3_column_bytes(it->st, 3);
    if (!out->data)
        out->data = "";
    if (!out->detection)
        out->detection = "";
    return ESC_OK;
}

void esc_ckpt_iter_free(esc_ckpt_iter *it) {
    if (!it)
        return;
    sqlite3_finalize(it->st);
    esc_free(it);
}

uint64_t esc_ckpt_head_hash(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = UINT64_C(14695981039346656037);
    if (n > ESC_CKPT_HEAD_MAX)
        n = ESC_CKPT_HEAD_MAX;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

esc_ckpt_decision esc_ckpt_input_decide(const esc_ckpt_input *saved, uint64_t inode, uint64_t size,
                                        const void *head, size_t head_n) {
    if (inode != saved->inode)
        return ESC_CKPT_ROTATED;
    if (head_n < saved->head_len)
        return size != UINT64_MAX && size < saved->offset ? ESC_CKPT_TRUNCATED : ESC_CKPT_ROTATED;
    if (esc_ckpt_head_hash(head, saved->head_len) != saved->head_hash)
        return ESC_CKPT_ROTATED;
    if (size != UINT64_MAX && size < saved->offset)
        return ESC_CKPT_TRUNCATED;
    return ESC_CKPT_RESUME;
}
