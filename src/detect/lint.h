/* Support verdicts: which detections of loaded content escudo can run, and why not the others.
 *
 * A detection is supported when all of these hold, checked in this order (the first that fails
 * is its reason):
 *   1. it has a search;
 *   2. every data model its search names is one escudo has (cim/dm.c; reason "unsupported
 *      data model 'X'", span = the name in the expanded search);
 *   3. every data_source it names (none is allowed) is a Windows one (esc_lint_source_windows:
 *      Sysmon, Windows channels, PowerShell, CrowdStrike, NTLM Operational; reason "unmapped
 *      source: a, b", no span);
 *   4. the engine plans it, exactly as esc_engine_new does for hunt (esc_engine_check: macros
 *      and the content's lookups). Reason: the planner's message, naming the first unsupported
 *      command or function, span into the expanded search (into the unexpanded search when
 *      macro expansion itself failed).
 * "Windows Processes-only" (issue 8): reads a source mapped to Endpoint.Processes and no other
 * data model. "Windows-sourced" (issue 15): every data_source is a Windows one; the population
 * the coverage target is measured on. Every supported detection is Windows-sourced or has no
 * data_source.
 *
 * Nothing here prints; the report owns every string it holds. */
#ifndef ESC_DETECT_LINT_H
#define ESC_DETECT_LINT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "content/content.h"

typedef enum esc_lint_kind {
    ESC_LINT_SUPPORTED = 0,
    ESC_LINT_NO_SEARCH,
    ESC_LINT_DATA_MODEL,
    ESC_LINT_UNMAPPED_SOURCE,
    ESC_LINT_UNSUPPORTED, /* the planner refused the search */
} esc_lint_kind;

typedef struct esc_lint_verdict {
    const esc_detection *det;
    esc_lint_kind kind;
    bool supported;
    bool windows_processes; /* reads a mapped Windows source, no data model but Processes */
    bool windows;           /* every data_source is a Windows one */
    char *reason;           /* NULL when supported */
    char *category;         /* summary key: reason without specifics ("unmapped source", ...) */
    bool has_span;
    size_t span_start, span_end; /* [start, end) byte offsets into `text` */
    char *text;  /* what the span points into: the expanded search (or unexpanded); may be NULL */
    char *caret; /* the line of `text` holding the span, then a line of ^ under it; or NULL */
} esc_lint_verdict;

typedef struct esc_lint_count {
    char *category;
    size_t n;
} esc_lint_count;

typedef struct esc_lint_report {
    esc_lint_verdict *v; /* one per detection, in content order */
    size_t n;
    size_t supported;
    size_t windows_processes, windows_processes_supported;
    size_t windows, windows_supported;
    esc_lint_count *by_reason; /* unsupported detections by category, most frequent first */
    size_t nby_reason;
} esc_lint_report;

/* True for a Windows data source name (Sysmon for Windows, a Windows channel, PowerShell,
 * CrowdStrike). */
bool esc_lint_source_windows(const char *data_source_name);
/* False when d names a data source that is not a Windows one (lint's "unmapped source"; a
 * detection naming none is not refused for it). hunt counts the same way. */
bool esc_lint_sources_ok(const esc_detection *d);
/* True for the names of the data sources escudo maps to Endpoint.Processes. */
bool esc_lint_source_mapped(const char *data_source_name);

/* Verdicts for every detection of c. ESC_ENOMEM is the only failure; a detection that cannot be
 * planned is a verdict, not an error. *out owned by the caller (esc_lint_report_free). */
esc_status esc_lint_run(const esc_content *c, esc_lint_report **out, esc_error *err);
void esc_lint_report_free(esc_lint_report *r);

/* Partition locality (`lint --partition-key KEY`, docs/scale.md): whether the (expanded) search
 * gives, over a share of the events partitioned by KEY (every event of one KEY value in one
 * share), exactly the rows it gives for those KEY values over all events. True when every
 * command that groups rows across events groups by a field named KEY or ending in ".KEY"
 * (tstats, stats, eventstats, streamstats, chart, timechart, top, rare, dedup, transaction and
 * the like); commands that keep a count of rows over all groups (head, tail, a sort with a
 * limit) and commands that bring rows from elsewhere (join, append, inputlookup, ...) are not
 * local. A grouping on a field the key was renamed to is not recognised (conservative). *why:
 * NULL when local, else what is not local (owned by the caller). */
esc_status esc_lint_partition_local(const char *search, const char *key, bool *local, char **why);

#endif
