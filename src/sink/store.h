/* Reading the SQLite store that the sqlite sink writes (escudo notables / escudo risk).
 *
 * Schema and migrations are in docs/actions.md; the sink (sink_sqlite.c) owns them. Opening a
 * store for reading never creates or migrates it. */
#ifndef ESC_SINK_STORE_H
#define ESC_SINK_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "sink/sink.h"

#define ESC_STORE_SCHEMA_VERSION 2

typedef struct esc_store_filter {
    bool has_since, has_until;
    int64_t since, until;   /* _time in [since, until) */
    const char *rule;       /* case-insensitive substring of search_name or rule_title */
    const char *object;     /* risk_object, or (notables) any field value equal to it */
    const char *status;     /* notables: exact status */
    const char *severities; /* notables: ",low,high," (the severities wanted, lower case) */
    const char *detection;  /* case-insensitive glob over search_name (or the name inside
                               "ESCU - NAME - Rule") or rule_title */
    int64_t limit;          /* 0 = no limit */
} esc_store_filter;

typedef struct esc_store_row {
    const char *event_id;
    int64_t time;
    const char *search_name, *rule_title, *severity, *urgency, *status, *owner;
    const char *risk_object, *risk_object_type; /* may be NULL for notables */
    int64_t risk_score;
    bool has_risk_score;
    const char *json;
    const char *host, *user; /* notables: the row's dest and user (NULL when absent) */
    int64_t orig_time;       /* notables: the first event's _time, when has_orig_time */
    bool has_orig_time;
} esc_store_row;

typedef esc_status (*esc_store_row_fn)(void *ctx, const esc_store_row *row, esc_error *err);

/* Rows of one kind matching f, ordered by _time then event_id. */
esc_status esc_store_list(const char *db_path, esc_sink_kind kind, const esc_store_filter *f,
                          esc_store_row_fn fn, void *ctx, esc_error *err);

/* An analyst's change to one notable, as Splunk ES incident review makes it. NULL members are
 * left as they are; at least one of status, owner, comment is set. */
typedef struct esc_store_update {
    const char *event_id; /* the full id, or a prefix that names one notable */
    const char *status;   /* unassigned, new, in progress, pending, resolved, closed */
    const char *owner;
    const char *comment;
    const char *user; /* who made the change */
    int64_t time;     /* when (epoch seconds) */
} esc_store_update;

/* Apply u: the notable's status and owner (row and JSON) and one notable_updates row. Opens
 * the store read-write (migrating it). ESC_EUSAGE with a message
 * when no notable or several match u->event_id. *full (may be NULL, 65 bytes) gets the id. */
esc_status esc_store_update_notable(const char *db_path, const esc_store_update *u, char *full,
                                    esc_error *err);

/* One notable's history, oldest first (time, user, status, owner, comment; NULLs as NULL). */
typedef esc_status (*esc_store_history_fn)(void *ctx, int64_t time, const char *user,
                                           const char *status, const char *owner,
                                           const char *comment, esc_error *err);
esc_status esc_store_history(const char *db_path, const char *event_id, esc_store_history_fn fn,
                             void *ctx, esc_error *err);

#endif
