/* Sinks: where notables and risk events go. One small interface, three implementations.
 *
 * A sink is a descriptor of operations (esc_sink_ops) plus its own state; implementations embed
 * esc_sink as their first member. put() gets each event once, in order; flush() makes what was
 * put durable (written, committed, acknowledged or spooled); close() frees.
 *
 * "Spooled, not yet sent" is not an error. A sink that forwards events elsewhere (HEC) and
 * holds what it could not deliver durably on disk returns ESC_OK from put() and flush(); its
 * esc_sink_hec_pending() tells how many batches still wait (or were refused and set aside) and why.
 * The caller keeps going: the other sinks committed, the waiting batches are sent first by the next
 * flush or run (esc_sink_hec_pending, esc_sinks_pending). An error from put() or flush() means
 * something was not made durable (a disk write, a commit failed) and the caller must not count the
 * events as delivered. history() is optional: a sink that keeps events (SQLite) returns the stored
 * risk events of one risk object so the risk incident rule can span runs.
 *
 *  - jsonl  (--notables FILE, --risk FILE): one JSON object a line, appended.
 *  - sqlite (--db FILE): the embedded store; schema in docs/actions.md; idempotent by event_id.
 *  - hec    (--hec URL): Splunk HTTP Event Collector, at least once, spooled on disk; a
 *            restart does not spool again an event_id the spool holds.
 */
#ifndef ESC_SINK_SINK_H
#define ESC_SINK_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct esc_sink esc_sink;
typedef struct esc_sinks esc_sinks;

/* The events actions make and sinks carry (act/act.h makes them). */
typedef enum esc_sink_kind {
    ESC_SINK_NOTABLE,
    ESC_SINK_RISK,
} esc_sink_kind;

/* One member of an event as a field: what a reader of the event's JSON gets back
 * (parse/json_value.h), a string's text decoded, a number's text as written, and an array as
 * one field per element (a string element decoded, any other as written: null, an object).
 * Null members and object members are left out. */
typedef enum esc_sink_field_kind {
    ESC_SINK_FIELD_STR,  /* a string member */
    ESC_SINK_FIELD_NUM,  /* a number member */
    ESC_SINK_FIELD_ELEM, /* an element of an array member */
} esc_sink_field_kind;

typedef struct esc_sink_field {
    const char *name;
    const char *value; /* NUL-terminated, len bytes */
    size_t len;
    esc_sink_field_kind kind;
} esc_sink_field;

/* One produced event as the sinks see it. Strings are valid for the duration of the call. */
typedef struct esc_sink_event {
    esc_sink_kind kind;
    const char *event_id; /* 64 lower-case hex digits (SHA-256) */
    int64_t time;         /* _time, epoch seconds */
    const char *search_name;
    const char *rule_title; /* notable; NULL for risk */
    const char *severity;   /* notable */
    const char *urgency;    /* notable */
    const char *status;     /* notable */
    const char *owner;      /* notable */
    const char *security_domain;
    const char *risk_object;      /* risk event (and risk incident notable) */
    const char *risk_object_type; /* user, system, ... */
    int risk_score;               /* risk event: calculated_risk_score; incident: the sum */
    const char *json;             /* the whole event, one JSON object, no newline */
    size_t json_len;
    /* A risk event's members as fields, in the JSON's order, for a sink that would otherwise
     * read the JSON back; NULL (nfields 0) for a notable, and for a risk event whose JSON a
     * reader might get otherwise (act/act.c says when): such a sink then reads json. */
    const esc_sink_field *fields;
    size_t nfields;
} esc_sink_event;

/* A risk event reduced to what the incident rule needs. */
typedef struct esc_risk_point {
    const char *event_id;
    const char *object, *type;
    int64_t time;
    int score;
} esc_risk_point;

typedef struct esc_risk_history {
    esc_risk_point *pts; /* esc_malloc'd, strings owned by `strings` */
    size_t n;
    char *strings; /* one block holding every string of pts */
} esc_risk_history;

typedef struct esc_sink_ops {
    const char *name;
    esc_status (*put)(esc_sink *s, const esc_sink_event *ev, esc_error *err);
    esc_status (*flush)(esc_sink *s, esc_error *err); /* NULL: nothing buffered */
    void (*close)(esc_sink *s);                       /* NULL: nothing to release */
    /* optional; NULL when the sink keeps no history */
    esc_status (*history)(esc_sink *s, const char *type, const char *object, esc_risk_history *out,
                          esc_error *err);
} esc_sink_ops;

struct esc_sink {
    const esc_sink_ops *ops;
};

/* What the CLI collects from its flags. NULL fields are off. */
typedef struct esc_sink_opts {
    const char *notables_path; /* --notables FILE ("-" = stdout) */
    const char *risk_path;     /* --risk FILE */
    const char *db_path;       /* --db FILE */
    const char *hec_url;       /* --hec URL (https://host:8088; the path is added) */
    const char *hec_token;     /* from --hec-token-file or ESCUDO_HEC_TOKEN, never argv */
    const char *hec_spool_dir; /* --hec-spool DIR; default: <db or cwd>/.escudo-spool */
    bool hec_insecure;         /* --hec-insecure: no TLS verification */
    bool hec_ack;              /* use indexer acknowledgement (default on) */
    const char *hec_index, *hec_source, *hec_sourcetype; /* optional event metadata */
    size_t hec_batch;                                    /* events per request; 0 = 100 */
    int hec_timeout_ms;                                  /* per request; 0 = 10000 */
    int hec_max_wait_ms;     /* the most time the sink spends sending and waiting, over
                              * all its puts and flushes (events stay spooled); 0 = 60000 */
    const char *hec_ca_file; /* --hec-ca FILE: CA certificates (PEM) to verify the server */
    size_t hec_max_files;    /* spooled batches listed per flush; 0 = 10^6 (tests lower it) */
} esc_sink_opts;

/* Open every sink the options name. With no sink named, *out is an empty set (not NULL). */
esc_status esc_sinks_open(const esc_sink_opts *o, esc_sinks **out, esc_error *err);
/* Add a sink of the caller's own (it is closed with the set). ESC_ELIMIT when the set is full. */
esc_status esc_sinks_add(esc_sinks *s, esc_sink *sink, esc_error *err);
/* Deliver to every sink; the first error is returned after all sinks got the event. */
esc_status esc_sinks_put(esc_sinks *s, const esc_sink_event *ev, esc_error *err);
/* Stored risk events for one object from the first sink that keeps history (empty if none). */
esc_status esc_sinks_history(esc_sinks *s, const char *type, const char *object,
                             esc_risk_history *out, esc_error *err);
void esc_risk_history_fini(esc_risk_history *h);
/* Flush every sink (each one even when an earlier failed); the first error is returned.
 * Batches spooled but not yet delivered are not an error: see esc_sinks_pending. */
esc_status esc_sinks_flush(esc_sinks *s, esc_error *err);
/* After a flush: batches not delivered yet (or refused and set aside), summed over the sinks;
 * why (may be NULL) gets the first sink's account. 0: everything flushed was delivered. */
size_t esc_sinks_pending(esc_sinks *s, esc_error *why);
/* Flush and close all; NULL is a no-op. Returns the first flush error; as for esc_sinks_flush,
 * pending batches are not one (call esc_sinks_flush and esc_sinks_pending first to hear of
 * them). A sink with nothing new since the last flush is not flushed again. */
esc_status esc_sinks_close(esc_sinks *s, esc_error *err);

/* Reading the token: the file's first line, trimmed; else $ESCUDO_HEC_TOKEN. *out esc_malloc'd. */
esc_status esc_hec_token_load(const char *token_file, char **out, esc_error *err);

/* Individual sinks (esc_sinks_open uses these). */
esc_status esc_sink_jsonl_open(const char *notables_path, const char *risk_path, esc_sink **out,
                               esc_error *err);
esc_status esc_sink_sqlite_open(const char *path, esc_sink **out, esc_error *err);
/* Stored risk events history() reads for one risk object before it fails with ESC_ELIMIT;
 * 0 = 10^7 (the default; tests lower it). Ignored for a sink that is not SQLite's. */
void esc_sink_sqlite_set_max_history(esc_sink *s, size_t n);
esc_status esc_sink_hec_open(const esc_sink_opts *o, esc_sink **out, esc_error *err);
/* After a flush of a HEC sink: the batches held on disk but not delivered (waiting for a later
 * flush or run, or refused by Splunk and set aside); 0 when none, and for a sink that is not
 * HEC's. why (may be NULL) gets a one-line account naming the spool, with code ESC_EIO. */
size_t esc_sink_hec_pending(esc_sink *s, esc_error *why);

#endif
