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

#define ESC_STORE_SCHEMA_VERSION 1

typedef struct esc_store_filter {
    bool has_since, has_until;
    int64_t since, until; /* _time in [since, until) */
    const char *rule;     /* case-insensitive substring of search_name or rule_title */
    const char *object;   /* risk_object, or (notables) any field value equal to it */
    const char *status;   /* notables: exact status */
    int64_t limit;        /* 0 = no limit */
} esc_store_filter;

typedef struct esc_store_row {
    const char *event_id;
    int64_t time;
    const char *search_name, *rule_title, *severity, *urgency, *status, *owner;
    const char *risk_object, *risk_object_type; /* may be NULL for notables */
    int64_t risk_score;
    bool has_risk_score;
    const char *json;
} esc_store_row;

typedef esc_status (*esc_store_row_fn)(void *ctx, const esc_store_row *row, esc_error *err);

/* Rows of one kind matching f, ordered by _time then event_id. */
esc_status esc_store_list(const char *db_path, esc_sink_kind kind, const esc_store_filter *f,
                          esc_store_row_fn fn, void *ctx, esc_error *err);

#endif
