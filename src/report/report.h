/* The HTML report: one self-contained file that shows what a SQLite store holds (issue 17).
 *
 * esc_report_render reads the notables and risk events of a store through the store's own read
 * path (sink/store.h, as `escudo notables` and `escudo risk` do) and writes one HTML page:
 *  - Summary: store, filter, inputs (when a hunt made the report), time span of the evidence,
 *    hosts, detections loaded/supported/run/fired, notables by severity, risk events;
 *  - Timeline: one lane per host, notables (and the evidence events the store references) as
 *    marks coloured by severity, a tooltip per mark; the time axis is cut into segments where
 *    the evidence has long gaps (years-old evidence keeps its own segment), and each segment
 *    opens into a detail view over its own time range (the zoom);
 *  - Risk: per risk object, the 24-hour risk score over time (the sum over (t-24h, t], as the
 *    incident rule of act/act.c computes it) with the threshold 100 drawn and the risk incident
 *    notables marked;
 *  - ATT&CK: a tactic-by-technique grid of the techniques that fired (notables, hosts), and,
 *    from lint, the techniques the loaded content can detect and those it names but escudo
 *    cannot run;
 *  - Detections: a table per detection (notables, hosts, first/last seen) with each notable's
 *    fields and evidence references (input, record id, offset, event time) when the store has
 *    them (docs/report.md says which members are read).
 *
 * Invariants: every value that comes from the store or the content is written escaped (HTML
 * text and attribute context: & < > " '; control, C1 and bidirectional-override characters as
 * visible \xHH / \uHHHH text; invalid UTF-8 as U+FFFD), so a value is never markup. The page
 * loads nothing: no URL in it, a Content-Security-Policy of default-src 'none' with the one
 * inline script allowed by its SHA-256 hash, inline SVG only. Every size is capped (the
 * ESC_REPORT_* constants, docs/limits.md) and a cap that was hit is stated on the page.
 *
 * Deliberately not done: collecting evidence (the store has it or not), any network access,
 * charts drawn by script (the script only sorts, filters and opens sections), and writing the
 * store. */
#ifndef ESC_REPORT_REPORT_H
#define ESC_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/content.h"
#include "core/buf.h"
#include "core/error.h"
#include "detect/lint.h"

#define ESC_REPORT_MAX_NOTABLES 1000000   /* notables read from the store */
#define ESC_REPORT_MAX_RISK 5000000       /* risk events read from the store */
#define ESC_REPORT_MAX_MARKS 5000         /* timeline marks (notables + evidence) drawn */
#define ESC_REPORT_MAX_ROWS 2000          /* notable rows listed in Detections, in all */
#define ESC_REPORT_ROWS_PER_DETECTION 100 /* notable rows listed per detection */
#define ESC_REPORT_MAX_LANES 100          /* host lanes; the others share one lane */
#define ESC_REPORT_MAX_SEGMENTS 24        /* timeline segments (gaps cut) */
#define ESC_REPORT_MAX_RISK_CHARTS 50     /* risk objects charted; the others in a table */
#define ESC_REPORT_MAX_EVIDENCE 10        /* evidence references shown per notable */
#define ESC_REPORT_MAX_FIELDS 8           /* fields shown per notable */
#define ESC_REPORT_MAX_VALUE 300          /* bytes of one value shown; longer ones are cut */
#define ESC_REPORT_MAX_BYTES (64u << 20)  /* the page */

/* What a hunt knows about its run (NULL in esc_report_opts when the report is made from a
 * store alone). */
typedef struct esc_report_run {
    const char *const *inputs; /* the PATH arguments */
    size_t ninputs;
    uint64_t files, bytes, events, process_events;
    size_t detections_run, detections_skipped;
} esc_report_run;

typedef struct esc_report_opts {
    const char *db_path;
    bool has_since, has_until;
    int64_t since, until;          /* notables and risk events with _time in [since, until) */
    const esc_content *content;    /* for the ATT&CK coverage; may be NULL */
    const esc_lint_report *lint;   /* verdicts for content; may be NULL */
    const char *content_label;     /* how the content was named (its folders), or NULL */
    const esc_report_run *run;     /* may be NULL */
    int64_t generated;             /* when the report was made (epoch seconds, caller's clock) */
    size_t max_marks, max_rows;    /* 0: ESC_REPORT_MAX_MARKS, ESC_REPORT_MAX_ROWS (tests) */
    size_t max_notables, max_risk; /* 0: ESC_REPORT_MAX_NOTABLES, ESC_REPORT_MAX_RISK (tests) */
} esc_report_opts;

/* What the page shows, for the caller's message and tests. */
typedef struct esc_report_stats {
    size_t notables, incidents, risk_events, risk_objects, hosts, detections_fired;
    size_t marks_drawn, marks_capped, rows_listed, rows_capped;
    size_t with_evidence; /* notables that carried evidence references */
} esc_report_stats;

/* Render the report into out (appended; its max applies). ESC_EIO when the store cannot be
 * read, ESC_ELIMIT when a read cap is passed, ESC_ENOMEM. stats may be NULL. */
esc_status esc_report_render(const esc_report_opts *o, esc_buf *out, esc_report_stats *stats,
                             esc_error *err);

/* Render and write to path ("-" is not special: the CLI handles standard output), through a
 * temporary file renamed over path, so a failed report leaves no half page. */
esc_status esc_report_write(const esc_report_opts *o, const char *path, esc_report_stats *stats,
                            esc_error *err);

#endif
