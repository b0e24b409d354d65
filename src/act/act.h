/* Actions: notables, risk events and the 24-hour risk incident rule (SPEC section 6), and the
 * sinks they are delivered to (src/sink/sink.h).
 *
 * Everything is driven by content: the detection's name, description, tags (observables,
 * message, confidence, impact, risk_score, mitre_attack_id, analytic_story, security_domain),
 * drilldown_searches, and its deployment (alert_action.notable, alert_action.rba). Nothing here
 * knows a particular detection. Field order, identities and renderings are in docs/actions.md.
 *
 * Use (hunt, run and test all go through esc_act_step, the one action step):
 *
 *     esc_sinks *sinks;  esc_sinks_open(&opts, &sinks, &err);          // sink/sink.h
 *     esc_act *act = esc_act_new(content, sinks, &err);
 *     esc_act_input in[n] = {{d, t, by, nby, w, late}, ...};  // one per finished search
 *     esc_act_step(act, in, n, &hooks, &err);  // rows -> events -> incident rule -> sinks
 *     esc_act_free(act);  esc_sinks_close(sinks, &err);
 */
#ifndef ESC_ACT_ACT_H
#define ESC_ACT_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/content.h"
#include "core/error.h"
#include "core/sha256.h"
#include "sink/sink.h"
#include "spl/spl.h"

#define ESC_ACT_INFINITY INT64_MAX /* info_max_time of an unbounded search: "+Infinity" */

typedef struct esc_act_window {
    int64_t earliest;    /* info_min_time, epoch seconds (0 for all time) */
    int64_t latest;      /* info_max_time, epoch seconds, or ESC_ACT_INFINITY */
    int64_t search_time; /* info_search_time: the run's time ("now"), epoch seconds */
} esc_act_window;

/* A row emitted after its window's run (SPEC section 6, --late=emit). */
typedef struct esc_act_late {
    bool late;                 /* false: an ordinary row */
    int64_t lag;               /* seconds between the window's run and this emission */
    const char *orig_event_id; /* the notable already fired for this row, or NULL (a new row) */
} esc_act_late;

typedef struct esc_act_input {
    const esc_detection *detection;
    const esc_table *rows; /* result rows after the filter macro */
    /* Names of the search's BY fields (after rename), which make a row's identity. When NULL,
     * the columns that are neither multivalue nor numeric nor firstTime/lastTime are used. */
    const char *const *by;
    size_t nby;
    esc_act_window window;
    /* Rows emitted after their window's run: one entry per row (see esc_act_rows_late), or
     * NULL for ordinary rows. */
    const esc_act_late *late;
} esc_act_input;

typedef struct esc_act esc_act;

/* content must outlive the esc_act; sinks may be NULL (events are then only counted). */
esc_act *esc_act_new(const esc_content *content, esc_sinks *sinks, esc_error *err);
void esc_act_free(esc_act *a);
/* Notables (when the deployment has alert_action.notable) and risk events (alert_action.rba
 * enabled) for every row, delivered to the sinks in row order: each row's notable, then its
 * risk events. A detection without a deployment produces nothing. An event larger than 16 MiB
 * (ESC_ACT_MAX_EVENT) is not made: the other events are, and ESC_SKIP is returned at the end
 * with the first such error in *err ("notable for <name>: event larger than 16777216 bytes").
 * Any other error stops at once. */
esc_status esc_act_rows(esc_act *a, const esc_act_input *in, esc_error *err);
/* The same for rows emitted after their window's run: late has one entry per row. A late new
 * row keeps its ordinary identity; a late row that updates one that already fired gets a new
 * event_id (hash of orig_event_id and the row's values) and no risk events (its risk was
 * counted when it fired). Late notables carry late=true, lag and orig_event_id. */
esc_status esc_act_rows_late(esc_act *a, const esc_act_input *in, const esc_act_late *late,
                             esc_error *err);
/* What a caller of the action step learns while it runs; every member may be NULL. */
typedef struct esc_act_hooks {
    /* an event not made because it is over the size cap (e holds the message); the step goes
     * on with the other events */
    void (*skipped)(void *ctx, const esc_error *e);
    /* around the events of input i (run uses them to mark its late rows) */
    void (*begin)(void *ctx, size_t i);
    void (*end)(void *ctx, size_t i);
    void *ctx;
} esc_act_hooks;
/* The action step, the one way hunt, run and test turn finished searches into actions: for each
 * of the n inputs (a detection's result table after its filter macro, and its window) the
 * notables and risk events of its rows (esc_act_rows, or esc_act_rows_late when in[i].late),
 * then the risk incident rule once over them all (esc_act_finish), everything delivered to the
 * sinks. An event over the size cap goes to hooks->skipped and is not an error; any other error
 * stops the step and is returned. hooks may be NULL. */
esc_status esc_act_step(esc_act *a, const esc_act_input *in, size_t n, const esc_act_hooks *hooks,
                        esc_error *err);
/* The risk incident rule over the risk events of this run, together with the history the
 * sinks keep (SQLite); emits the threshold notables that an event of this run triggered, then
 * forgets this run's risk events. An esc_act is one run: a scheduler makes one per scheduled
 * run (or calls finish after each), and spans runs through a sink with history (--db); without
 * one, the rule sees only the risk events since the last finish. */
esc_status esc_act_finish(esc_act *a, esc_error *err);

typedef struct esc_act_counts {
    size_t notables, risk_events, incidents;
} esc_act_counts;
esc_act_counts esc_act_get_counts(const esc_act *a);
/* Notables carry orig_time (the first event's _time, as ES notables do), evidence_count and
 * evidence (the references kept, docs/evidence.md) of their rows; off by default. */
void esc_act_set_evidence(esc_act *a, bool on);
/* Risk events only, for a caller that reads them alone (the hunt's risk stage): no notables are
 * made, and the risk events are not kept for the incident rule (nor counted against its cap).
 * Off by default. */
void esc_act_set_risk_only(esc_act *a, bool on);
/* Risk events kept for the incident rule per run (ESC_ACT_MAX_POINTS, 5*10^7, by default; 0
 * restores it). Past it esc_act_rows fails with "more than N risk events in one run" (ESC_ELIMIT)
 * after delivering the event that did not fit. For tests. */
void esc_act_set_max_points(esc_act *a, size_t n);

/* ---- pieces, exposed for tests and for other callers ---------------------------------------- */

/* The members a notable writes itself, in its JSON's order (a result row's field of one of
 * these names is left out of the notable): what a reader of a notable counts as its metadata,
 * with every member named annotations*. esc_act_notable_keys[esc_act_nnotable_keys]. */
extern const char *const esc_act_notable_keys[];
extern const size_t esc_act_nnotable_keys;

/* SPEC severity for a score: informational, low, medium, high, critical. */
const char *esc_act_severity(int score);
/* Enterprise Security urgency for a severity with unknown asset/identity priority. */
const char *esc_act_urgency(const char *severity);
/* round(impact*confidence/100) when both are set, else tags.risk_score, else 0. */
int esc_act_score(const esc_detection *d);
/* Risk object type for an observable type: User -> user; Hostname, IP, Endpoint -> system;
 * anything else lower-cased. */
const char *esc_act_object_type(const char *observable_type);

/* The incident rule (SPEC section 6) over points (any order; copied and sorted inside). For each
 * incident, calls emit with the triggering point, the 24-hour sum and count. Points with the
 * same event_id are counted once. */
typedef esc_status (*esc_incident_fn)(void *ctx, const esc_risk_point *at, int sum, size_t count,
                                      esc_error *err);
esc_status esc_act_incidents(const esc_risk_point *pts, size_t n, esc_incident_fn emit, void *ctx,
                             esc_error *err);

#endif
