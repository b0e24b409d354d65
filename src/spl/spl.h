/* The SPL subset: search text -> plan -> execution over CIM records -> result table.
 *
 * Stages (each in its own file): expand (macros) -> lex -> parse (AST with byte spans) -> plan
 * -> exec. A plan is built once at load time and is read-only afterwards; each execution
 * (esc_exec) owns its scratch and aggregates, so one plan can run over many windows at once.
 * Semantics are SPEC section 4, documented in docs/spl.md.
 *
 * Extending the subset: a command is one file, src/spl/cmd_NAME.c, holding its parse, plan and
 * run parts in a descriptor, plus one X(NAME) line in SPL_COMMANDS (src/spl/cmd.h, which says
 * what each part does); an eval function is one static C function and one line in its family's
 * table (src/spl/eval_fn_*.c; src/spl/eval.h says how). Nothing else dispatches on commands
 * (but exec.c feeds records to tstats, the source) or on functions.
 *
 * Errors: ESC_ECONTENT with err->offset = byte offset into the *expanded* search text
 * (esc_plan_new keeps it in err->msg context); esc_spl_caret() renders the line with ^^^ under
 * the culprit. */
#ifndef ESC_SPL_SPL_H
#define ESC_SPL_SPL_H

#include <stdbool.h>
#include <stdint.h>

#include "agg/evidence.h"
#include "cim/cim.h"
#include "core/buf.h"
#include "core/error.h"
#include "parse/event.h"
#include "spl/macro.h"

/* ---- result tables ------------------------------------------------------------------------ */

/* One cell: n values (0 = null, field absent); a multivalue field has n > 1 or comes from a
 * multivalue column. Numbers keep their canonical text in v[0] and is_num set. 24 bytes: n is
 * 32 bits (at most ESC_SPL_CELL_MAX_VALUES), every table holds nrows * ncols of them. */
typedef struct esc_cell {
    char **v;
    double num;
    uint32_t n;
    bool is_num;
} esc_cell;

/* The events behind one result row (docs/evidence.md): the events the row's tstats groups
 * counted, the earliest and latest ESC_EVIDENCE_KEEP of them kept as references. */
typedef struct esc_row_evidence {
    uint64_t total;  /* events counted in the row's groups */
    size_t n;        /* references kept, at most 2 * ESC_EVIDENCE_KEEP */
    esc_evref *refs; /* time order; paths owned by the table */
} esc_row_evidence;

typedef struct esc_table {
    size_t ncols;
    char **cols;  /* column names, in the search's final column order */
    bool *mv_col; /* column made by values()/list()/split/...: always rendered as an array */
    size_t nrows;
    esc_cell *cells;            /* row-major, nrows * ncols */
    uint64_t regex_limited;     /* regex matches a limit stopped (counted as no match) */
    uint64_t dropped_groups;    /* records of spilled groups dropped merging them back: past the
                                   group cap (`more than N groups`) */
    uint64_t dropped_bytes;     /* ... past the byte cap (`aggregation memory limit reached`) */
    uint64_t join_unused;       /* subsearch rows of its joins past ESC_SPL_JOIN_ROWS, not used */
    esc_row_evidence *evidence; /* per row, or NULL: no event carried its provenance */
    bool evidence_truncated;    /* the byte cap stopped keeping references */
    size_t *row_id;     /* internal: each row's first index (group pruning, spl/prune.c), or its
                           group in lineage; NULL: neither */
    esc_evset *lineage; /* internal (spl/evidence.c): a raw-event search's rows carry their
                           events: row r's are group row_id[r] of this set; NULL: none */
} esc_table;

void esc_table_free(esc_table *t);
static inline const esc_cell *esc_table_cell(const esc_table *t, size_t row, size_t col) {
    return &t->cells[row * t->ncols + col];
}
/* Column index by name, or -1. */
int esc_table_col(const esc_table *t, const char *name);
/* Whether two cells hold the same values in the same order (two empty cells are equal). */
bool esc_cell_eq(const esc_cell *a, const esc_cell *b);

/* ---- compile ------------------------------------------------------------------------------ */

typedef struct esc_plan esc_plan;

/* Limits on what content controls. */
#define ESC_SPL_MACRO_DEPTH 100      /* nested macro calls */
#define ESC_SPL_EXPAND_MAX (1 << 20) /* bytes of expanded search text */
#define ESC_SPL_MAX_STAGES 64        /* commands in a pipeline */
#define ESC_SPL_MAX_NEST 100         /* parentheses / NOT / function nesting */
#define ESC_SPL_MAX_NODES 10000      /* expression nodes in one search */
#define ESC_SPL_MAX_ARGS 64          /* arguments of one eval function call */
#define ESC_SPL_MAX_ITEMS                                                                          \
    64                             /* aggregates, BY fields, eval assignments, conversions,        \
                                      lookup or join fields of one command; dedup keys */
#define ESC_SPL_MAX_RENAMES 128    /* pairs of one rename */
#define ESC_SPL_MAX_NAMES 256      /* fields of one fields, table or dedup */
#define ESC_SPL_MAX_COLUMNS 256    /* columns of a table an eval, convert, ... widens */
#define ESC_SPL_MAX_GROUPS 1000000 /* groups of one tstats or stats */
#define ESC_SPL_MAX_SPLITS                                                                         \
    10000                      /* groups one row's multivalue BY fields put it in (stats, tstats) */
#define ESC_SPL_MAX_BYVALS 256 /* BY values tstats reads from one record (the rest are ignored) */
#define ESC_SPL_MAX_EXEC_BYTES (1 << 30) /* bytes one execution keeps (keys and values) */
#define ESC_SPL_MAX_ROWS 1000000         /* rows mvexpand may make */
#define ESC_SPL_MAX_MV 100000            /* values makemv or rex max_match put in one cell */
#define ESC_SPL_SUBSEARCH_ROWS 10000     /* rows a subsearch gives (Splunk's [subsearch] maxout) */
#define ESC_SPL_JOIN_ROWS 50000          /* subsearch rows a join uses ([join] subsearch_maxout) */
#define ESC_SPL_RE_MATCH_LIMIT 100000    /* PCRE2 steps per regex match (Splunk's match_limit) */
#define ESC_SPL_RE_DEPTH_LIMIT 1000      /* PCRE2 backtracking depth (Splunk's depth_limit) */
/* values of any one cell (esc_cell.n is 32 bits); more are out of memory (32 GiB of pointers) */
#define ESC_SPL_CELL_MAX_VALUES UINT32_MAX

/* Expand every `macro` / `macro(a,b)` call recursively. *out is esc_malloc'd. Errors name the
 * macro (unknown, wrong arity, cycle, expansion depth or size limit) with its offset in search.
 * Its offsets are into the unexpanded search text. */
esc_status esc_spl_expand(const char *search, const esc_macro_set *macros, char **out,
                          esc_error *err);

/* A CSV lookup as content defines it (ESCU lookups/NAME.yml beside its CSV), for `| lookup`. */
typedef struct esc_spl_lookup {
    const char *name;          /* definition name, as searches write it */
    const char *csv_path;      /* NULL: no CSV (a KV-store collection): using it is an error */
    bool case_sensitive;       /* case_sensitive_match (Splunk's default is true) */
    const char *match_type;    /* "WILDCARD(a),WILDCARD(b)" or NULL: '*' in those columns */
    const char *default_match; /* output value when fewer than min_matches rows match, or NULL */
    size_t min_matches;        /* 0: none */
    size_t max_matches;        /* 0: Splunk's default, 100 */
} esc_spl_lookup;

/* What a search may refer to besides the records: macros and lookups (both may be empty). The
 * plan reads the lookup CSVs while it is built and keeps its own copy. */
typedef struct esc_spl_env {
    const esc_macro_set *macros;
    const esc_spl_lookup *lookups;
    size_t nlookups;
} esc_spl_env;

/* esc_plan_new_ex with lookups. */
esc_plan *esc_plan_new_env(const char *search, const esc_spl_env *env, char **err_text,
                           esc_error *err);

/* Expand, parse and plan. NULL on error (err filled: offset into the expanded text). */
esc_plan *esc_plan_new(const char *search, const esc_macro_set *macros, esc_error *err);
/* Same, and on error *err_text (esc_malloc'd, may stay NULL on allocation failure) is the text
 * err->offset points into: the expanded search, or the unexpanded one when expansion failed.
 * Pass it to esc_spl_caret. err_text may be NULL. */
esc_plan *esc_plan_new_ex(const char *search, const esc_macro_set *macros, char **err_text,
                          esc_error *err);
void esc_plan_free(esc_plan *p);
const char *esc_plan_expanded(const esc_plan *p);
/* Human-readable plan: expanded search, stages, the where predicate, and prefilter literals. */
esc_status esc_plan_explain(const esc_plan *p, esc_buf *out);
/* Render the expanded search line containing err->offset with ^ under the span. */
esc_status esc_spl_caret(const char *expanded, const esc_error *err, esc_buf *out);

/* What records the plan can use: adds literal clauses (a conjunction; see esc_interest) that
 * every record that can produce a row must satisfy, taking into account that missing fields
 * become "unknown" and fillnull values. Adds nothing when it cannot prove a literal. */
void esc_plan_interest(const esc_plan *p, esc_interest *in);
/* The datasets (1 << esc_dataset) the plan and its subsearches read. */
uint32_t esc_plan_datasets(const esc_plan *p);
/* The Windows (provider, event code) pairs the plan's records can come from, other than the
 * Endpoint.Processes sources (a raw-event search's codes with provider NULL, a data model's
 * sources), its subsearches' included, appended to out[*n..max). False when it may read any
 * event (a raw-event search naming no event code) or out is full. */
bool esc_plan_win_sources(const esc_plan *p, esc_win_source *out, size_t max, size_t *n);
/* The datasets other than Endpoint.Processes ev may enter for this plan: its data model's
 * sources, or the event codes and channels a raw-event search requires. */
uint32_t esc_plan_select(const esc_plan *p, const esc_event *ev);
/* esc_plan_select with esc_plan_event_meta(ev) given: a raw-event search that is never (below)
 * or names a channel pattern is taken at its word only while meta is false. */
uint32_t esc_plan_select_meta(const esc_plan *p, const esc_event *ev, bool meta);
/* True when ev has an EventData/UserData or System field named source, sourcetype or
 * eventtype (then those fields hold more than extraction's own values). */
bool esc_plan_event_meta(const esc_event *ev);
/* True when the raw-event search (no subsearch) can select a Windows event only while
 * esc_plan_event_meta holds: a source, sourcetype or eventtype term that no value extraction
 * gives a Windows event matches (sourcetype="linux:audit", source=ActiveDirectory). */
bool esc_plan_never(const esc_plan *p);
/* Record clauses, a conjunction: a record that passes the main where clause (tstats' where, a
 * raw-event search's terms) has, for every clause, one of its literals inside a value of that
 * literal's field (r->v[cim] of an Endpoint.Processes record, r->fs's values of the field
 * otherwise; field "_raw": the record's _raw, or any of its values when it has none),
 * ASCII case-insensitively. A literal is the longest piece between '*'s (>= 3 bytes) of a
 * field=value term or of a bare term (field "_raw"); NOT, !=, comparisons, index and eventtype
 * give none. No clauses (0) when the plan has a subsearch, which reads records of its own. A
 * hunt scans each record once for every detection's literals and offers it only to the
 * detections whose clauses all hold. */
size_t esc_plan_record_clauses(const esc_plan *p);
/* The clauses of p's own where clause, whether or not a stage has a subsearch (read them with
 * esc_plan_record_clause). */
size_t esc_plan_main_clauses(const esc_plan *p);
/* The dataset p's first command reads (an esc_dataset; ESC_DS_N: none, as inputlookup). */
int esc_plan_source(const esc_plan *p);
/* The where clauses through which a record can reach an execution of p: p's own (for records
 * of esc_plan_source(p)), then each subsearch's, recursively, in stage order; up to max plans
 * in alts (may be NULL when max is 0), returns how many there are. A record that passes none of
 * them (its dataset differs, or esc_plan_main_clauses of each fails) changes nothing. */
size_t esc_plan_alts(const esc_plan *p, const esc_plan **alts, size_t max);
/* One record literal: the text, and the field whose value holds it (a CIM field of an
 * Endpoint.Processes record when cim >= 0, else the field set's field `field`). */
typedef struct esc_plan_rlit {
    const char *text;
    int cim;
    const char *field;
} esc_plan_rlit;
/* Clause k's literals (owned by the plan) in *out; returns how many. */
size_t esc_plan_record_clause(const esc_plan *p, size_t k, const esc_plan_rlit **out);
/* Bit i set when CIM field i is read by the plan. */
uint32_t esc_plan_fields(const esc_plan *p);
/* True when a record passes the tstats where clause (window not considered). */
bool esc_plan_record_matches(const esc_plan *p, const esc_record *r);

/* ---- execute ------------------------------------------------------------------------------ */

typedef struct esc_exec esc_exec;

#define ESC_TIME_MAX INT64_MAX /* "+Infinity" window end */

/* A run over the window [earliest_us, latest_us). NULL on allocation failure. */
esc_exec *esc_exec_new(const esc_plan *p, int64_t earliest_us, int64_t latest_us, esc_error *err);
void esc_exec_free(esc_exec *x);
/* One record: window check, where clause, then aggregation (copies what it keeps).
 * ESC_ELIMIT when the group limit is hit (err says which). */
esc_status esc_exec_feed(esc_exec *x, const esc_record *r, esc_error *err);
/* No record comes any more: x drops the tstats groups its pruning knows dead and lets go of
 * what only feeding uses (the verdicts it remembers, spl/prune.c), so that its finish, or
 * another's, can use the room. Optional; then x is fed no more. */
esc_status esc_exec_fed_all(esc_exec *x, esc_error *err);
/* Finish aggregation and run the rest of the pipeline. *out owned by the caller. */
esc_status esc_exec_finish(esc_exec *x, esc_table **out, esc_error *err);
size_t esc_exec_groups(const esc_exec *x);
/* Give back the memory of x's tstats groups (and its subsearches') once x is finished: x can be
 * finished no more. An owner's groups (esc_exec_share) go when it and every execution sharing
 * them have been released. */
void esc_exec_release(esc_exec *x);

/* ---- memory budget (docs/limits.md "group memory") ---------------------------------------- */

/* Bytes x's tstats groups and their evidence hold now, its subsearches' included; *spillable
 * (may be NULL): the part esc_exec_spill(x, min) would give back. */
size_t esc_exec_mem(const esc_exec *x, size_t min, size_t *spillable);
/* Bytes of the spill file x's groups merge back from when it finishes: its own, or its
 * owner's when shared (so an owner and its sharers count the same). */
uint64_t esc_exec_spilled(const esc_exec *x);
/* Move x's tstats groups (and its subsearches') to a temporary file in $TMPDIR (spl/spill.c);
 * esc_exec_finish merges them back. Tables with an aggregate that does not merge (list), shared
 * ones and ones holding under min bytes stay. ESC_EIO when the file cannot be written. */
esc_status esc_exec_spill(esc_exec *x, size_t min, esc_error *err);
/* Spills (esc_exec_spill) written on a thread of their own (spl/spill.c) from now until the
 * matching spl_spill_async_end (calls nest); false when the thread could not be started
 * (spills stay synchronous). */
bool spl_spill_async_begin(void);
void spl_spill_async_end(void);
/* Until every chunk queued so far is written (or held). */
void spl_spill_async_wait(void);
/* True once, with the message in err, after the thread's first failed write (the chunks it
 * could not write stay in memory and are read back all the same). */
bool spl_spill_async_failed(esc_error *err);
/* Let x read owner's tstats groups instead of keeping its own, when both have fed nothing yet,
 * run over the same window, and start with the same tstats over Endpoint.Processes (same text)
 * whose groups neither prunes. True when shared: from then on x's feed skips its source (the
 * caller feeds owner every record it feeds x: Processes records go to every execution), and
 * owner must outlive x's esc_exec_finish. */
bool esc_exec_share(esc_exec *x, esc_exec *owner);

/* ---- two stages (docs/scale.md) ----------------------------------------------------------- */

/* Whether the plan splits into a first stage (the records to the aggregates of its tstats, or of
 * a raw-event search's first stats after only row-local commands) whose partial results merge
 * exactly, and the rest. When not, *why (may be NULL; esc_malloc'd) names the reason: a
 * subsearch, no stats to split at, or the function that does not merge (list, first, last,
 * stdev, var, range, ...). */
bool esc_plan_mergeable(const esc_plan *p, char **why);
/* The first stage's partial aggregates of an execution fed some records, appended to out (the
 * encoding of agg/partial.c). ESC_EINTERNAL when the plan is not mergeable. */
esc_status esc_exec_partial(esc_exec *x, esc_buf *out, esc_error *err);
/* Merge a partial (esc_exec_partial of an execution of the same plan) into x's aggregates;
 * esc_exec_finish then runs the rest of the pipeline over the merged groups. ESC_EMALFORMED for
 * a broken partial. Evidence (the events behind each row) is not carried: merged rows have
 * none. */
esc_status esc_exec_merge(esc_exec *x, const void *data, size_t len, esc_error *err);

#endif
