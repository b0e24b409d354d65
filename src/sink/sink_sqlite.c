/* SQLite sink and store: the embedded default home of notables and risk events.
 *
 * Invariants: WAL journal; the schema is created and upgraded by numbered migrations recorded in
 * PRAGMA user_version (a newer database than this build knows is refused); inserts are
 * INSERT OR IGNORE keyed by event_id, so the same hunt twice leaves no duplicates; writes are
 * batched in transactions of at most BATCH events and committed on flush; a failed COMMIT leaves
 * no transaction open; a store that fails PRAGMA quick_check is refused; an analyst's change
 * to a notable (esc_store_update: status, owner, comment) updates its row and its JSON and is
 * kept in notable_updates, so the history is never lost. Deliberately not done: pruning, and
 * any time source (nothing here reads the clock: the caller passes the update's time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "sink/sink.h"
#include "sink/store.h"

#define BATCH 5000
#define BUSY_MS 10000
#define HISTORY_MAX 10000000 /* stored risk events read for one risk object */

/* Migration N takes the schema from version N-1 to N. */
static const char *const MIGRATIONS[] = {
    /* 1 */
    "CREATE TABLE notables ("
    "  event_id TEXT PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  search_name TEXT NOT NULL,"
    "  rule_title TEXT,"
    "  security_domain TEXT,"
    "  severity TEXT,"
    "  urgency TEXT,"
    "  status TEXT NOT NULL DEFAULT 'new',"
    "  owner TEXT NOT NULL DEFAULT 'unassigned',"
    "  risk_object TEXT,"
    "  risk_object_type TEXT,"
    "  risk_score INTEGER,"
    "  json TEXT NOT NULL"
    ");"
    "CREATE INDEX notables_time ON notables(time);"
    "CREATE INDEX notables_search ON notables(search_name, time);"
    "CREATE TABLE risk_events ("
    "  event_id TEXT PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  search_name TEXT NOT NULL,"
    "  risk_object TEXT NOT NULL,"
    "  risk_object_type TEXT NOT NULL,"
    "  risk_score INTEGER NOT NULL,"
    "  json TEXT NOT NULL"
    ");"
    "CREATE INDEX risk_events_object ON risk_events(risk_object_type, risk_object, time);"
    "CREATE INDEX risk_events_time ON risk_events(time);",
    /* 2: incident review, as Splunk ES keeps it: each change of a notable's status, owner or
     * comment, who made it and when (the notable's row holds the current values) */
    "CREATE TABLE notable_updates ("
    "  event_id TEXT NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  user TEXT,"
    "  status TEXT,"
    "  owner TEXT,"
    "  comment TEXT"
    ");"
    "CREATE INDEX notable_updates_event ON notable_updates(event_id, time);",
};
#define NMIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

typedef struct sqlite_sink {
    esc_sink base;
    sqlite3 *db;
    sqlite3_stmt *ins_notable, *ins_risk, *history;
    size_t pending;
    bool in_tx;
    size_t max_history; /* HISTORY_MAX unless a test lowered it */
} sqlite_sink;

static esc_status dberr(esc_error *err, sqlite3 *db, const char *what) {
    return esc_error_set(err, ESC_EIO, "SQLite store: %s: %s", what,
                         db ? sqlite3_errmsg(db) : "cannot open");
}

static esc_status exec(sqlite3 *db, const char *sql, esc_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        esc_status st = esc_error_set(err, ESC_EIO, "SQLite store: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return st;
    }
    return ESC_OK;
}

static esc_status user_version(sqlite3 *db, int *v, esc_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return dberr(err, db, "reading the schema version");
    *v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return ESC_OK;
}

/* The store at path, which must exist, opened with flags (SQLITE_OPEN_READONLY or
 * SQLITE_OPEN_READWRITE), *v its schema version; an error when it is not an escudo store. The
 * caller closes *db either way. */
static esc_status open_store(const char *path, int flags, sqlite3 **db, int *v, esc_error *err) {
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK)
        return esc_error_set(err, ESC_EIO, "SQLite store %s: %s", path,
                             *db ? sqlite3_errmsg(*db) : "cannot open");
    sqlite3_busy_timeout(*db, BUSY_MS);
    esc_status st = user_version(*db, v, err);
    if (st == ESC_OK && *v == 0)
        st = esc_error_set(err, ESC_EIO, "%s is not an escudo store", path);
    return st;
}

static esc_status migrate(sqlite3 *db, esc_error *err) {
    esc_status st = exec(db, "BEGIN IMMEDIATE", err);
    if (st != ESC_OK)
        return st;
    int v;
    if ((st = user_version(db, &v, err)) != ESC_OK)
        goto fail;
    if (v < 0 || (size_t)v > NMIGRATIONS) {
        st = esc_error_set(err, ESC_EIO,
                           "SQLite store: schema version %d is newer than this escudo (%zu)", v,
                           NMIGRATIONS);
        goto fail;
    }
    for (size_t i = (size_t)v; i < NMIGRATIONS; i++) {
        char pragma[64];
        if ((st = exec(db, MIGRATIONS[i], err)) != ESC_OK)
            goto fail;
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu", i + 1);
        if ((st = exec(db, pragma, err)) != ESC_OK)
            goto fail;
    }
    return exec(db, "COMMIT", err);
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* COMMIT; when it fails the transaction is rolled back (SQLite may have done it already), so no
 * transaction stays open behind a failed commit and the next put starts a fresh one; the error
 * says the events since the last commit are not stored. */
static esc_status commit(sqlite_sink *q, esc_error *err) {
    if (!q->in_tx)
        return ESC_OK;
    esc_status st = exec(q->db, "COMMIT", err);
    if (st != ESC_OK && !sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    q->in_tx = !sqlite3_get_autocommit(q->db);
    q->pending = 0;
    return st;
}

/* PRAGMA quick_check, once per store per process (run opens the store at every firing): a
 * damaged store is refused with SQLite's first finding rather than written to. */
static esc_status quick_check(sqlite3 *db, const char *path, esc_error *err) {
    static char checked[4096];
    if (strcmp(checked, path) == 0)
        return ESC_OK;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
        return esc_error_set(err, ESC_EIO, "SQLite store %s is damaged: %s", path,
                             sqlite3_errmsg(db));
    int rc = sqlite3_step(s);
    const char *r = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    esc_status st = ESC_OK;
    if (!r || strcmp(r, "ok") != 0)
        st = esc_error_set(err, ESC_EIO,
                           "SQLite store %s is damaged (quick_check: %s); move it away or restore "
                           "it from a backup",
                           path, r ? r : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (st == ESC_OK && strlen(path) < sizeof checked)
        memcpy(checked, path, strlen(path) + 1);
    return st;
}

static esc_status sqlite_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    sqlite_sink *q = (sqlite_sink *)s;
    esc_status st;
    if (!q->in_tx) {
        if ((st = exec(q->db, "BEGIN IMMEDIATE", err)) != ESC_OK)
            return st;
        q->in_tx = true;
    }
    sqlite3_stmt *x;
    if (ev->kind == ESC_SINK_NOTABLE) {
        x = q->ins_notable;
        bind_text(x, 1, ev->event_id);
        sqlite3_bind_int64(x, 2, ev->time);
        bind_text(x, 3, ev->search_name);
        bind_text(x, 4, ev->rule_title);
        bind_text(x, 5, ev->security_domain);
        bind_text(x, 6, ev->severity);
        bind_text(x, 7, ev->urgency);
        bind_text(x, 8, ev->status ? ev->status : "new");
        bind_text(x, 9, ev->owner ? ev->owner : "unassigned");
        bind_text(x, 10, ev->risk_object);
        bind_text(x, 11, ev->risk_object_type);
        if (ev->risk_object)
            sqlite3_bind_int(x, 12, ev->risk_score);
        else
            sqlite3_bind_null(x, 12);
        sqlite3_bind_text(x, 13, ev->json, (int)ev->json_len, SQLITE_TRANSIENT);
    } else {
        x = q->ins_risk;
        bind_text(x, 1, ev->event_id);
        sqlite3_bind_int64(x, 2, ev->time);
        bind_text(x, 3, ev->search_name);
        bind_text(x, 4, ev->risk_object);
        bind_text(x, 5, ev->risk_object_type);
        sqlite3_bind_int(x, 6, ev->risk_score);
        sqlite3_bind_text(x, 7, ev->json, (int)ev->json_len, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(x);
    sqlite3_reset(x);
    sqlite3_clear_bindings(x);
    if (rc != SQLITE_DONE)
        return dberr(err, q->db, "inserting an event");
    if (++q->pending >= BATCH)
        return commit(q, err);
    return ESC_OK;
}

static esc_status sqlite_flush(esc_sink *s, esc_error *err) {
    return commit((sqlite_sink *)s, err);
}

static void sqlite_close(esc_sink *s) {
    sqlite_sink *q = (sqlite_sink *)s;
    if (q->in_tx)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(q->ins_notable);
    sqlite3_finalize(q->ins_risk);
    sqlite3_finalize(q->history);
    sqlite3_close(q->db);
    esc_free(q);
}

static esc_status sqlite_history(esc_sink *s, const char *type, const char *object,
                                 esc_risk_history *out, esc_error *err) {
    sqlite_sink *q = (sqlite_sink *)s;
    esc_status st = ESC_OK;
    size_t cap = 0, scap = 0, slen = 0;
    out->pts = NULL;
    out->n = 0;
    out->strings = NULL;
    /* strings are gathered as offsets first (the block may move), then turned into pointers */
    size_t *offs = NULL;
    bind_text(q->history, 1, type);
    bind_text(q->history, 2, object);
    int rc;
    while ((rc = sqlite3_step(q->history)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q->history, 0);
        size_t idl = id ? strlen(id) + 1 : 1;
        if (out->n >= q->max_history) {
            st = esc_error_set(err, ESC_ELIMIT, "SQLite store: more than %zu risk events for %s=%s",
                               q->max_history, type, object);
            break;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            esc_risk_point *p = esc_realloc(out->pts, nc * sizeof *p);
            size_t *o = esc_realloc(offs, nc * sizeof *o);
            if (p)
                out->pts = p;
            if (o)
                offs = o;
            if (!p || !o) {
                st = esc_error_set(err, ESC_ENOMEM, "out of memory");
                break;
            }
            cap = nc;
        }
        if (!ESC_VEC_GROW(out->strings, scap, slen + idl, 4096)) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        memcpy(out->strings + slen, id ? id : "", idl);
        offs[out->n] = slen;
        slen += idl;
        esc_risk_point *p = &out->pts[out->n++];
        p->object = object;
        p->type = type;
        p->time = sqlite3_column_int64(q->history, 1);
        p->score = sqlite3_column_int(q->history, 2);
    }
    if (st == ESC_OK && rc != SQLITE_DONE)
        st = dberr(err, q->db, "reading risk history");
    sqlite3_reset(q->history);
    sqlite3_clear_bindings(q->history);
    if (st == ESC_OK)
        for (size_t i = 0; i < out->n; i++)
            out->pts[i].event_id = out->strings + offs[i];
    esc_free(offs);
    if (st != ESC_OK)
        esc_risk_history_fini(out);
    return st;
}

static const esc_sink_ops sqlite_ops = {
    .name = "sqlite",
    .put = sqlite_put,
    .flush = sqlite_flush,
    .close = sqlite_close,
    .history = sqlite_history,
};

void esc_sink_sqlite_set_max_history(esc_sink *s, size_t n) {
    if (s && s->ops == &sqlite_ops)
        ((sqlite_sink *)s)->max_history = n ? n : HISTORY_MAX;
}

esc_status esc_sink_sqlite_open(const char *path, esc_sink **out, esc_error *err) {
    *out = NULL;
    sqlite_sink *q = esc_calloc(1, sizeof *q);
    if (!q)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    q->base.ops = &sqlite_ops;
    q->max_history = HISTORY_MAX;
    esc_status st = ESC_OK;
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        st = esc_error_set(err, ESC_EIO, "SQLite store %s: %s", path,
                           q->db ? sqlite3_errmsg(q->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, BUSY_MS);
    if ((st = quick_check(q->db, path, err)) != ESC_OK)
        goto fail;
    if ((st = exec(q->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err)) != ESC_OK)
        goto fail;
    if ((st = migrate(q->db, err)) != ESC_OK)
        goto fail;
    if (sqlite3_prepare_v2(q->db,
                           "INSERT OR IGNORE INTO notables (event_id, time, search_name, "
                           "rule_title, security_domain, severity, urgency, status, owner, "
                           "risk_object, risk_object_type, risk_score, json) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &q->ins_notable, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db,
                           "INSERT OR IGNORE INTO risk_events (event_id, time, search_name, "
                           "risk_object, risk_object_type, risk_score, json) "
                           "VALUES (?,?,?,?,?,?,?)",
                           -1, &q->ins_risk, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db,
                           "SELECT event_id, time, risk_score FROM risk_events "
                           "WHERE risk_object_type = ? AND risk_object = ? ORDER BY time",
                           -1, &q->history, NULL) != SQLITE_OK) {
        st = dberr(err, q->db, "preparing statements");
        goto fail;
    }
    *out = &q->base;
    return ESC_OK;
fail:
    sqlite_close(&q->base);
    return st;
}

/* ---- reading --------------------------------------------------------------------------------- */

/* A notable's host and user (the row's dest and user, several values joined by ", "; for a risk
 * threshold notable its risk object) and its orig_time, read from its JSON. */
#define JSON_TEXT(k)                                                                               \
    "(CASE json_type(n.json, '$." k "') WHEN 'array' THEN (SELECT group_concat(value, ', ') "      \
    "FROM json_each(n.json, '$." k "')) ELSE json_extract(n.json, '$." k "') END)"
#define NOTABLE_EXTRA                                                                              \
    "coalesce(" JSON_TEXT(                                                                         \
        "dest") ", CASE n.risk_object_type WHEN 'system' THEN n.risk_object "                      \
                "END), coalesce(" JSON_TEXT(                                                       \
                    "user") ", CASE n.risk_object_type WHEN 'user' THEN "                          \
                            "n.risk_object END), json_extract(n.json, '$.orig_time')"

esc_status esc_store_list(const char *db_path, esc_sink_kind kind, const esc_store_filter *f,
                          esc_store_row_fn fn, void *ctx, esc_error *err) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    esc_status st = ESC_OK;
    char sql[2048];
    int v = 0;
    if ((st = open_store(db_path, SQLITE_OPEN_READONLY, &db, &v, err)) != ESC_OK)
        goto done;
    if ((size_t)v > NMIGRATIONS) {
        st = esc_error_set(err, ESC_EIO, "SQLite store: schema version %d is newer than %zu", v,
                           NMIGRATIONS);
        goto done;
    }
    if (kind == ESC_SINK_NOTABLE)
        snprintf(sql, sizeof sql,
                 "SELECT event_id, time, search_name, rule_title, severity, urgency, status, "
                 "owner, risk_object, risk_object_type, risk_score, json, " NOTABLE_EXTRA
                 " FROM notables n "
                 "WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2) "
                 "AND (?3 IS NULL OR instr(lower(search_name), lower(?3)) > 0 "
                 "  OR instr(lower(coalesce(rule_title,'')), lower(?3)) > 0) "
                 "AND (?4 IS NULL OR risk_object = ?4 OR EXISTS (SELECT 1 FROM json_each(n.json) j"
                 "  WHERE (j.type = 'text' AND j.value = ?4) OR (j.type = 'array' AND EXISTS"
                 "  (SELECT 1 FROM json_each(j.value) k WHERE k.value = ?4)))) "
                 "AND (?5 IS NULL OR status = ?5) "
                 "AND (?7 IS NULL OR instr(?7, ',' || lower(coalesce(severity,'')) || ',') > 0) "
                 "AND (?8 IS NULL OR lower(search_name) GLOB lower(?8) "
                 "  OR lower(search_name) GLOB lower('ESCU - ' || ?8 || ' - Rule') "
                 "  OR lower(coalesce(rule_title,'')) GLOB lower(?8)) "
                 "ORDER BY time, event_id LIMIT ?6");
    else
        snprintf(sql, sizeof sql,
                 "SELECT event_id, time, search_name, NULL, NULL, NULL, NULL, NULL, "
                 "risk_object, risk_object_type, risk_score, json, NULL, NULL, NULL "
                 "FROM risk_events "
                 "WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2) "
                 "AND (?3 IS NULL OR instr(lower(search_name), lower(?3)) > 0) "
                 "AND (?4 IS NULL OR risk_object = ?4) "
                 "AND (?5 IS NULL OR 1) AND (?7 IS NULL OR 1) "
                 "AND (?8 IS NULL OR lower(search_name) GLOB lower(?8) "
                 "  OR lower(search_name) GLOB lower('ESCU - ' || ?8 || ' - Rule')) "
                 "ORDER BY time, event_id LIMIT ?6");
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        st = dberr(err, db, "preparing the query");
        goto done;
    }
    if (f && f->has_since)
        sqlite3_bind_int64(s, 1, f->since);
    if (f && f->has_until)
        sqlite3_bind_int64(s, 2, f->until);
    bind_text(s, 3, f ? f->rule : NULL);
    bind_text(s, 4, f ? f->object : NULL);
    bind_text(s, 5, f ? f->status : NULL);
    sqlite3_bind_int64(s, 6, f && f->limit > 0 ? f->limit : -1);
    bind_text(s, 7, f ? f->severities : NULL);
    bind_text(s, 8, f ? f->detection : NULL);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        esc_store_row r;
        r.event_id = (const char *)sqlite3_column_text(s, 0);
        r.time = sqlite3_column_int64(s, 1);
        r.search_name = (const char *)sqlite3_column_text(s, 2);
        r.rule_title = (const char *)sqlite3_column_text(s, 3);
        r.severity = (const char *)sqlite3_column_text(s, 4);
        r.urgency = (const char *)sqlite3_column_text(s, 5);
        r.status = (const char *)sqlite3_column_text(s, 6);
        r.owner = (const char *)sqlite3_column_text(s, 7);
        r.risk_object = (const char *)sqlite3_column_text(s, 8);
        r.risk_object_type = (const char *)sqlite3_column_text(s, 9);
        r.has_risk_score = sqlite3_column_type(s, 10) != SQLITE_NULL;
        r.risk_score = sqlite3_column_int64(s, 10);
        r.json = (const char *)sqlite3_column_text(s, 11);
        r.host = (const char *)sqlite3_column_text(s, 12);
        r.user = (const char *)sqlite3_column_text(s, 13);
        r.has_orig_time = sqlite3_column_type(s, 14) != SQLITE_NULL;
        r.orig_time = sqlite3_column_int64(s, 14);
        if ((st = fn(ctx, &r, err)) != ESC_OK)
            goto done;
    }
    if (rc != SQLITE_DONE)
        st = dberr(err, db, "reading");
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return st;
}

/* ---- incident review ------------------------------------------------------------------------- */

/* The one notable whose id starts with prefix (hex only) into full[65]. */
static esc_status find_notable(sqlite3 *db, const char *prefix, char *full, esc_error *err) {
    size_t n = strlen(prefix);
    if (!n || n > 64 || strspn(prefix, "0123456789abcdef") != n)
        return esc_error_set(err, ESC_EUSAGE, "%s is not a notable id (hex digits)", prefix);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT event_id FROM notables WHERE substr(event_id, 1, ?2) = ?1 "
                           "LIMIT 2",
                           -1, &s, NULL) != SQLITE_OK)
        return dberr(err, db, "preparing the query");
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    int found = 0;
    while (sqlite3_step(s) == SQLITE_ROW && found < 2) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!found && id)
            snprintf(full, 65, "%s", id);
        found++;
    }
    sqlite3_finalize(s);
    if (found == 1)
        return ESC_OK;
    return esc_error_set(err, ESC_EUSAGE,
                         found ? "%s names several notables: give more of the id"
                               : "no notable %s in the store",
                         prefix);
}

static esc_status apply_update(sqlite3 *db, const esc_store_update *u, const char *id,
                               esc_error *err) {
    sqlite3_stmt *s = NULL;
    esc_status st = ESC_OK;
    if (sqlite3_prepare_v2(db,
                           "UPDATE notables SET status = coalesce(?2, status), "
                           "owner = coalesce(?3, owner), json = json_set(json, '$.status', "
                           "coalesce(?2, status), '$.owner', coalesce(?3, owner)) "
                           "WHERE event_id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return dberr(err, db, "preparing the update");
    bind_text(s, 1, id);
    bind_text(s, 2, u->status);
    bind_text(s, 3, u->owner);
    if (sqlite3_step(s) != SQLITE_DONE)
        st = dberr(err, db, "updating the notable");
    sqlite3_finalize(s);
    if (st)
        return st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO notable_updates (event_id, time, user, status, owner, "
                           "comment) VALUES (?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return dberr(err, db, "preparing the history");
    bind_text(s, 1, id);
    sqlite3_bind_int64(s, 2, u->time);
    bind_text(s, 3, u->user);
    bind_text(s, 4, u->status);
    bind_text(s, 5, u->owner);
    bind_text(s, 6, u->comment);
    if (sqlite3_step(s) != SQLITE_DONE)
        st = dberr(err, db, "keeping the history");
    sqlite3_finalize(s);
    return st;
}

esc_status esc_store_update_notable(const char *db_path, const esc_store_update *u, char *full,
                                    esc_error *err) {
    sqlite3 *db = NULL;
    char id[65] = "";
    int v = 0;
    esc_status st = open_store(db_path, SQLITE_OPEN_READWRITE, &db, &v, err);
    if (st != ESC_OK)
        goto done;
    if ((st = migrate(db, err)) != ESC_OK || (st = exec(db, "BEGIN IMMEDIATE", err)) != ESC_OK)
        goto done;
    if ((st = find_notable(db, u->event_id, id, err)) == ESC_OK)
        st = apply_update(db, u, id, err);
    if (st == ESC_OK)
        st = exec(db, "COMMIT", err);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (st == ESC_OK && full)
        memcpy(full, id, sizeof id);
done:
    sqlite3_close(db);
    return st;
}

esc_status esc_store_history(const char *db_path, const char *event_id, esc_store_history_fn fn,
                             void *ctx, esc_error *err) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    esc_status st = ESC_OK;
    char id[65];
    int v = 0;
    if ((st = open_store(db_path, SQLITE_OPEN_READONLY, &db, &v, err)) != ESC_OK ||
        (st = find_notable(db, event_id, id, err)))
        goto done;
    if (v < 2) /* no change was ever made */
        goto done;
    if (sqlite3_prepare_v2(db,
                           "SELECT time, user, status, owner, comment FROM notable_updates "
                           "WHERE event_id = ? ORDER BY time, rowid",
                           -1, &s, NULL) != SQLITE_OK) {
        st = dberr(err, db, "preparing the query");
        goto done;
    }
    bind_text(s, 1, id);
    while (sqlite3_step(s) == SQLITE_ROW && st == ESC_OK)
        st = fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
                (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
                (const char *)sqlite3_column_text(s, 4), err);
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return st;
}
