/* Internal to src/spl/: the SPL command registry, and what a command's file may use.
 *
 * Every SPL command is one descriptor (spl_cmd) in its own file, src/spl/cmd_NAME.c (a family of
 * close commands may share one: stats/eventstats, regex/rex, fields/table), holding the
 * command's three parts together:
 *
 *   parse    the command's arguments -> options in its stage (the text after the command word,
 *            with the lexer helpers below; errors through spl_fail at the culprit's offset)
 *   plan     resolve names against the input schema, fill st->out (the columns after the
 *            stage) and compile what can be compiled once (regexes, eval expressions)
 *   run      one pass over the result table at execution time (esc_exec_finish)
 *
 * and optionally free (what the stage owns outside the plan's arena) and explain.
 *
 * The generic machinery dispatches through the registry: parse.c splits the pipeline and finds
 * the command word with spl_cmd_find, plan.c runs each stage's plan in order, exec.c each
 * stage's run. tstats is the pipeline's source (SPL_CMD_SOURCE): it has no run hook; exec.c
 * feeds it records through spl_tstats_feed and turns its groups into the first table.
 *
 * To add a command: write src/spl/cmd_NAME.c defining `const spl_cmd spl_cmd_NAME = {...}`
 * and add `X(NAME)` to SPL_COMMANDS below. Options the command keeps go in its block of
 * `stage` (ast.h) unless the generic slots (names, cols, cols2, map, re, ...) can hold them.
 * To add an eval function: one static function and one line in a family table (eval_fn_*.c),
 * see eval.h. */
#ifndef ESC_SPL_CMD_H
#define ESC_SPL_CMD_H

#include "agg/agg.h"
#include "spl/ast.h"

/* ---- the registry ---- */

typedef struct spl_parser spl_parser;

/* What a run hook works on. */
typedef struct spl_run {
    esc_table *t;  /* the rows so far; a hook edits them in place or swaps in new contents */
    esc_exec *sub; /* the execution of the stage's subsearch (st->sub), else NULL */
} spl_run;

enum {
    SPL_CMD_SOURCE = 1 << 0,     /* makes the first table from records; only the first command */
    SPL_CMD_BARRIER = 1 << 1,    /* a row's output depends on other rows (dedup, stats, join):
                                    later row searches give the prefilter no literals */
    SPL_CMD_ROW_SEARCH = 1 << 2, /* st->where filters rows: its literals may feed the prefilter */
};

struct spl_cmd {
    const char *name; /* the command word, case-sensitive */
    unsigned flags;   /* SPL_CMD_* */
    /* Parse the arguments (the parser is after the command word); false on error (reported). */
    bool (*parse)(spl_parser *P, stage *st);
    /* Fill st->out from in (NULL for a source) and resolve what the stage refers to. */
    esc_status (*plan)(esc_plan *p, stage *st, const schema *in, esc_error *err);
    /* Run over the table (not for a source). */
    esc_status (*run)(const stage *st, spl_run *x, esc_error *err);
    /* Optional: free what the stage owns outside the arena (also after a failed plan). */
    void (*free)(stage *st);
    /* Optional: text after "stage N: NAME" in esc_plan_explain. */
    void (*explain)(const stage *st, esc_buf *out);
};

/* The registry: X(NAME) for each descriptor `const spl_cmd spl_cmd_NAME` a cmd_*.c defines. */
#define SPL_COMMANDS(X)                                                                            \
    X(tstats)                                                                                      \
    X(rename)                                                                                      \
    X(convert)                                                                                     \
    X(search)                                                                                      \
    X(where)                                                                                       \
    X(eval)                                                                                        \
    X(fields)                                                                                      \
    X(table)                                                                                       \
    X(dedup)                                                                                       \
    X(stats)                                                                                       \
    X(eventstats)                                                                                  \
    X(regex)                                                                                       \
    X(rex)                                                                                         \
    X(lookup)                                                                                      \
    X(join)                                                                                        \
    X(bin)                                                                                         \
    X(bucket)                                                                                      \
    X(fillnull)                                                                                    \
    X(makemv)                                                                                      \
    X(mvexpand)                                                                                    \
    X(sort)                                                                                        \
    X(replace)                                                                                     \
    X(transaction)                                                                                 \
    X(xmlkv)                                                                                       \
    X(spath)                                                                                       \
    X(addtotals)                                                                                   \
    X(appendpipe)                                                                                  \
    X(map)                                                                                         \
    X(inputlookup)

/* A stats stage fed in pieces (a raw-event search streams its rows into its first stats):
 * open, add each table of rows (the stage's input schema), close into the result table
 * (the rows as run_stats would give for all the rows at once, in the same order), free. */
typedef struct spl_stats_acc spl_stats_acc;
spl_stats_acc *spl_stats_open(const stage *st);
esc_status spl_stats_add(spl_stats_acc *c, esc_table *t, esc_error *err);
esc_status spl_stats_close(spl_stats_acc *c, esc_table **out, esc_error *err);
/* The result table in pieces, rows as spl_stats_close gives them: the order of the groups (n
 * of them, *order esc_malloc'd; *lin their events, or NULL), the rows of groups
 * order[from..to) (their lineage *lin, borrowed), then *lin itself, given to the caller. */
esc_status spl_stats_order(spl_stats_acc *c, size_t **order, size_t *n, const esc_evset **lin,
                           esc_error *err);
esc_status spl_stats_rows(spl_stats_acc *c, const size_t *order, size_t from, size_t to,
                          esc_table **out, esc_error *err);
esc_evset *spl_stats_lineage(spl_stats_acc *c);
void spl_stats_free(spl_stats_acc *c);
/* Its group table (two-stage executions encode and merge it: exec.c). */
esc_agg *spl_stats_agg(spl_stats_acc *c);
/* Rows of the groups, in group order: BY cells only (as the stats' rows have them), aggregates
 * empty. */
esc_status spl_stats_key_rows(spl_stats_acc *c, esc_table **out, esc_error *err);
/* Keep the groups with keep[g] (their lineage too), renumbered in order. */
esc_status spl_stats_compact(spl_stats_acc *c, const bool *keep, esc_error *err);
/* Spilling a running stats (spl/spill.c) past the hunt's group budget: whether its state merges
 * (no list(), no stats-local function such as stdev), the bytes its groups and their events
 * hold, moving them to *sp (opened on first use), and merging them back (with those still in
 * memory last, the order they were fed) before spl_stats_close. */
typedef struct spl_spill spl_spill;
bool spl_stats_spillable(const spl_stats_acc *c);
size_t spl_stats_mem(const spl_stats_acc *c);
esc_status spl_stats_spill(spl_stats_acc *c, spl_spill **sp, esc_error *err);
esc_status spl_stats_unspill(spl_stats_acc *c, spl_spill *sp, uint64_t dropped[2], esc_error *err);
/* A stats (st->unique or not) over t's rows when each of its groups holds one row and its group
 * table would stay under its caps (unique.c, docs/spl.md "One row per group"): each row's
 * aggregates over it alone, its BY cells moved from it, the rows in the order of their groups, as
 * run_stats gives them; t's rows emptied. Else *out is NULL and t unchanged. */
esc_status spl_stats_unique(const stage *st, esc_table *t, esc_table **out, esc_error *err);

#define SPL_CMD_DECLARE(name) extern const spl_cmd spl_cmd_##name;
SPL_COMMANDS(SPL_CMD_DECLARE)
#undef SPL_CMD_DECLARE

/* addtotals without col=true: each row's total from the row alone (cmd_addtotals.c). */
bool spl_addtotals_row_local(const stage *st);
/* inputlookup's rows (cmd_lookup.c): a new table of the stage's schema, NULL when out of
 * memory. */
esc_table *spl_inputlookup_table(const stage *st);

/* An external lookup escudo computes itself (lookup_ext.c): an app's `external_cmd` lookup
 * whose script is written here. fields: its fields_list, the input first, then the output;
 * compute writes the output for one input value into out (SPL_EXT_OUT bytes), false when out
 * of memory. */
#define SPL_EXT_OUT 40
typedef struct spl_ext_lookup {
    esc_spl_lookup def;
    const char *const *fields;
    size_t nfields;
    bool (*compute)(const char *s, size_t n, char *out);
} spl_ext_lookup;
/* The external lookup called name, or NULL. */
const spl_ext_lookup *spl_ext_lookup_find(const char *name);
/* A `search [subsearch]` (cmd_search.c): the rows of sub (finished) as a filter of t's rows
 * by the stage's column map. */
/* The raw-event search, the source of a search that does not start with '|' (cmd_raw.c); not
 * in the registry: no command word names it. */
extern const spl_cmd spl_cmd_raw;
/* The results a subpipeline reads, its stage 0 (cmd_appendpipe.c); not in the registry. */
extern const spl_cmd spl_cmd_pipein;

/* The command called name[0..len), or NULL. */
const spl_cmd *spl_cmd_find(const char *name, size_t len);

/* ---- parsing (parse.c): a character-level lexer over one command's text ---- */

struct spl_parser {
    esc_plan *p;
    const char *s;
    size_t pos, end; /* current command segment */
    int depth;
    esc_error *err;
    bool failed;
    esc_status st;
    size_t nodes; /* expression nodes so far (left-deep OR chains recurse per node) */
};

static inline bool spl_is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static inline char spl_peek(const spl_parser *P) {
    return P->pos < P->end ? P->s[P->pos] : 0;
}
void spl_skip_ws(spl_parser *P);
bool spl_at_end(spl_parser *P); /* skips whitespace */
/* Report ESC_ECONTENT at offset off (the first error wins); returns NULL. */
void *spl_fail(spl_parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *spl_alloc0(spl_parser *P, size_t n); /* zeroed, in the plan's arena */
const char *spl_dup(spl_parser *P, const char *s, size_t n);
/* A double-quoted string at P->pos, unescaped (\\ and \"); *len its length. */
const char *spl_quoted(spl_parser *P, size_t *len);
/* A bare run of characters up to whitespace or one of stops; returns its length. */
size_t spl_bare(spl_parser *P, const char *stops);
/* Keyword kw at pos (ASCII case-insensitive when ci), followed by a delimiter? */
bool spl_kw_at(spl_parser *P, const char *kw, bool ci);
bool spl_accept_kw(spl_parser *P, const char *kw, bool ci); /* skips it when there */
/* A field name or value: quoted or bare (stops at stops); NULL when there is none. */
const char *spl_word(spl_parser *P, const char *stops, size_t *len, size_t *start);
bool spl_expect_end(spl_parser *P, const char *cmd); /* "unexpected text in CMD" */
/* A search expression (tstats where: stops at `by`), an eval expression. */
snode *spl_parse_search(spl_parser *P, bool tstats);
enode *spl_parse_expr(spl_parser *P);
/* The same for a raw-event search: bare terms, TERM(...) and CASE(...) too. */
snode *spl_parse_search_raw(spl_parser *P);
/* A [...] subsearch at P->pos (brackets balanced outside quotes): its text and offset into
 * st->sub_text, st->sub_len, st->sub_start; P->pos after the ']'. Planning it is the caller's
 * (spl_parse_subplan). */
bool spl_parse_subsearch(spl_parser *P, stage *st);
/* Plan the subsearch spl_parse_subsearch found into st->sub (spl_subplan); a failure fails P
 * with the subplan's status. */
bool spl_parse_subplan(spl_parser *P, stage *st);
/* Names or patterns, comma or space separated, into st->names (fields, table, dedup); with
 * allow_sign a leading `+` or `-` (fields -: remove). */
bool spl_parse_names(spl_parser *P, stage *st, bool allow_sign);
/* `X KW Y, ...` pairs into st->pairs (rename FIELD as NAME, replace OLD with NEW), up to
 * ESC_SPL_MAX_RENAMES, until the end or the keyword stop (NULL: none); check, when set, judges
 * each pair as it is read (false: it failed P). The messages are the command's own. */
typedef struct spl_pair_syntax {
    const char *kw, *stop;
    const char *too_many, *no_from, *no_kw, *no_to, *none;
    bool (*check)(spl_parser *P, const rename_pair *pair);
} spl_pair_syntax;
bool spl_parse_pairs(spl_parser *P, stage *st, const spl_pair_syntax *syn);

/* ---- planning (plan.c) ---- */

esc_status spl_plan_oom(esc_error *err);
bool spl_schema_alloc(esc_plan *p, schema *s, size_t n);
/* Copy in into a fresh schema with room for extra more columns. */
bool spl_schema_copy(esc_plan *p, schema *out, const schema *in, size_t extra);
int spl_schema_find(const schema *s, const char *name);
/* Column called name, appended (not multivalue, no origin) when there is none. */
int spl_schema_add(schema *s, const char *name);
/* Field-name pattern with '*', case-sensitive. */
bool spl_name_matches(const char *pat, const char *name);
esc_status spl_explain_snode(const snode *n, esc_buf *out);

/* ---- execution (exec.c) ---- */

esc_status spl_exec_oom(esc_error *err);
/* The run hook of commands that only choose, order or rename columns: column i of st->out takes
 * the input column st->map[i]. */
esc_status spl_run_remap(const stage *st, spl_run *x, esc_error *err);
/* The run of commands that extract fields from one input column's text (spath, xmlkv): fn for
 * each row of t whose column col has a value (col < 0: none is run), with touched, one flag per
 * column of t, all false; a status from fn stops the walk and is out of memory. */
typedef esc_status (*spl_text_row_fn)(const stage *st, esc_cell *row, bool *touched, void *ctx);
esc_status spl_run_text_rows(const stage *st, esc_table *t, int col, spl_text_row_fn fn, void *ctx,
                             esc_error *err);
/* Value v into an extracted field's cell: it replaces what the cell held when *touched is false
 * (then set), else it is appended (up to ESC_SPL_MAX_MV values, the rest dropped). */
esc_status spl_cell_add(esc_cell *cell, bool *touched, esc_str v);
/* A table with the columns of s and nrows empty rows. */
esc_table *spl_table_new(const schema *s, size_t nrows);
/* Rebuild t with the columns of s where column i takes t's column map[i] (moved; -1: empty). */
esc_status spl_table_remap(esc_table *t, const schema *s, const int *map, esc_error *err);
/* Keep rows with keep[r] set. */
void spl_table_filter(esc_table *t, const bool *keep);
/* Give back the room of rows past t->nrows (after rows were dropped). */
void spl_table_shrink(esc_table *t);
/* n empty rows at the end of t (they carry no events). */
esc_status spl_table_add_rows(esc_table *t, size_t n, esc_error *err);
/* Swap the contents of a and b (a hook replacing its table's rows frees b afterwards). */
void spl_table_swap(esc_table *a, esc_table *b);
bool spl_cell_num(esc_cell *c, double v, const esc_str *text);
/* Key text of a cell for dedup/stats: values joined by '\n'. */
esc_status spl_cell_key(const esc_cell *c, esc_buf *b);

/* ---- aggregates (cmd_stats.c), shared by tstats and stats ---- */

bool spl_parse_aggs(spl_parser *P, stage *st, bool tstats);
bool spl_parse_by(spl_parser *P, stage *st);
/* A span "N[unit]" (s, m, h, d, w and their long forms; no unit: seconds) in microseconds. */
bool spl_parse_span(const char *v, int64_t *out);
esc_agg *spl_agg_new(const stage *st);
/* One row per group, ordered by key; time_keys: BY _time keys are numbers (tstats). */
esc_status spl_agg_table(esc_agg *a, const stage *st, bool time_keys, esc_table **out,
                         esc_error *err);
const char *spl_agg_name(aggfn f);
/* Rows of the tstats groups groups[0..n) of a, in that order: BY cells only, aggregates empty. */
esc_status spl_agg_rows(const esc_agg *a, const stage *st, const size_t *groups, size_t n,
                        esc_table **out, esc_error *err);

/* ---- group pruning (prune.c) ---- */

/* What the verdict of stages 1..k on a group depends on (prune.c): by, bit i for BY field i,
 * the BY fields whose values alone decide it (and whether the check meets a regex limit or
 * fails); skip: no stage that could meet a regex limit or fail reads an aggregate column, so
 * the records of a group whose verdict is known to be dead need not be counted at all. */
typedef struct spl_prune_deps {
    uint64_t by;
    bool skip;
} spl_prune_deps;
/* k > 0: stages 1..k after tstats decide from the BY values alone whether a group can give a
 * row (see prune.c); 0: no pruning. d (may be NULL): what decides it. */
size_t spl_prune_stages(const esc_plan *p, spl_prune_deps *d);
/* The pruning of a grouping stage s's groups (a raw-event search's streamed stats): stages
 * s+1..k run over a row of each group's BY values, then (where > 0) the row must pass the
 * clean AND operands of stage where's condition (prune.c). */
#define SPL_PRUNE_OPS 16
typedef struct spl_prune {
    size_t s, k, where;
    const enode *ops[SPL_PRUNE_OPS];
    size_t nops;
} spl_prune;
/* Whether s's groups can be pruned (then *pr says how). */
bool spl_prune_stats(const esc_plan *p, size_t s, spl_prune *pr);
/* dead[r] for the rows of t (BY cells of one group each, aggregates empty; t is changed):
 * true when that group cannot give a row. */
esc_status spl_prune_check_rows(const esc_plan *p, const spl_prune *pr, esc_table *t, bool *dead,
                                esc_error *err);
/* dead[i] for the groups groups[0..n) of a: true when the group cannot give a row; *exact:
 * the check neither met a regex limit nor failed (else every dead[i] is false). */
esc_status spl_prune_check(const esc_plan *p, size_t k, esc_agg *a, const size_t *groups, size_t n,
                           bool *dead, bool *exact, esc_error *err);
/* The verdicts of checks, by the values of the BY fields deps (spl_prune_deps.by) of a table of
 * nby BY fields: a bounded map that starts again when full and stops when rarely hit (nothing
 * a search gives depends on what it holds). keys: a group's BY values, only those of deps
 * read; h: spl_prune_memo_hash of them. get: -1 not known, 0 alive, 1 dead. */
typedef struct spl_prune_memo spl_prune_memo;
spl_prune_memo *spl_prune_memo_new(uint64_t deps, size_t nby);
void spl_prune_memo_free(spl_prune_memo *m);
bool spl_prune_memo_on(const spl_prune_memo *m);
bool spl_prune_memo_any_dead(const spl_prune_memo *m);
void spl_prune_memo_keys(const spl_prune_memo *m, const esc_agg *a, size_t g, esc_str *keys);
uint64_t spl_prune_memo_hash(const spl_prune_memo *m, const esc_str *keys);
/* Whether group g of a has the values keys of the memo's BY fields. */
bool spl_prune_memo_same(const spl_prune_memo *m, const esc_agg *a, size_t g, const esc_str *keys);
int spl_prune_memo_get(spl_prune_memo *m, uint64_t h, const esc_str *keys);
void spl_prune_memo_put(spl_prune_memo *m, uint64_t h, const esc_str *keys, bool dead);

/* ---- the source (cmd_tstats.c) ---- */

/* One record into the tstats groups (after the window and where checks). */
/* dead (may be NULL): a record whose every group's verdict it holds as dead is not counted. */
esc_status spl_tstats_feed(const stage *st, esc_agg *agg, const esc_record *r, spl_prune_memo *dead,
                           esc_error *err);
/* Seconds as text with the sub-second part kept (trailing zeros dropped). */
size_t spl_time_text(int64_t us, char *buf, size_t cap);
/* One raw event (after the window and where checks) as a row of t (st->out's columns). */
esc_status spl_raw_feed(const stage *st, esc_table *t, size_t *cap, const esc_record *r,
                        esc_error *err);

/* ---- evidence (evidence.c): the events behind each row ---- */
/* Count record r (which carries its event) in group g's evidence. */
esc_status spl_evidence_feed(esc_evset *es, size_t g, const esc_record *r, esc_error *err);
/* t->evidence for the finished table t of plan p (nothing when no reference is kept): agg and
 * es its tstats groups (may be NULL; held: some of the search's groups kept references, though
 * agg holds only those t's rows may need, see spl_evidence_keys), subs[i] the finished table of
 * join stage i's subsearch with its own evidence (NULL for other stages; subs may be NULL). */
esc_status spl_evidence_attach(const esc_plan *p, const esc_agg *agg, const esc_evset *es,
                               bool held, const esc_table *const *subs, esc_table *t,
                               esc_error *err);
/* Constrain k (a keyset of p's tstats BY fields, semijoin.h) to the values of the columns of
 * t that constrain a row's groups in spl_evidence_attach: every group some row of t takes its
 * evidence from passes it (a row keeping no BY field constrains nothing). False when out of
 * memory. */
typedef struct spl_keyset spl_keyset;
bool spl_evidence_keys(const esc_plan *p, const esc_table *t, spl_keyset *k);
/* A raw-event search x's finish keeps only the events keep (ctx, the row's cells) says yes to,
 * read back from its spill file or not (a map's search: the events some result row's search
 * takes). */
void spl_exec_keep_rows(esc_exec *x, spl_row_keep keep, void *ctx);
/* Run x's plan, a subpipeline (stage 0 the results so far), over a copy of in: *out. */
esc_status spl_exec_pipe(esc_exec *x, const esc_table *in, esc_table **out, esc_error *err);
/* Keep t (owned from now) as x's finished table, for the evidence of the search that joins x:
 * a join's subsearch result (esc_exec_free frees it). */
void spl_exec_keep(esc_exec *x, esc_table *t);
/* A join's subsearch rows: its finished table (finished already when its parent's groups were
 * filtered by them, spl/semijoin.c), after its own groups were filtered by t's join fields
 * where that is exact. *s owned by the caller. */
esc_status spl_exec_join_rows(esc_exec *sub, const stage *st, const esc_table *t, esc_table **s,
                              esc_error *err);
/* Whether the stage's output rows each depend on one input row only (no subsearch). */
bool spl_exec_row_local(const stage *st);
void spl_evidence_free(esc_table *t);
/* One row's references and their paths (the row keeps its place). */
void spl_row_evidence_free(esc_row_evidence *e);

/* Lineage (evidence.c): a raw-event search's rows carry their events through the pipeline, row
 * r of a table standing for group t->row_id[r] of t->lineage (each event its own group at
 * first); a command that copies rows copies their groups, one that merges rows (stats,
 * transaction) merges theirs; a command that drops rows drops theirs (spl_table_filter,
 * spl_table_remap keep row_id in step). A command that builds rows any other way drops the
 * lineage (its rows then carry no events). */
/* Row `row` of t (t->row_id has room) is the event of record r. */
esc_status spl_lineage_event(esc_table *t, size_t row, const esc_record *r, esc_error *err);
/* dst's rows are now src's (same order): src's lineage moves to dst. */
void spl_lineage_carry(esc_table *dst, esc_table *src);
/* dst's row i copies src's row from[i] (sort, join, mvexpand): src's lineage moves to dst.
 * False when out of memory. */
bool spl_lineage_pick(esc_table *dst, esc_table *src, const size_t *from);
/* dst's rows each merge some of src's rows (transaction): a new lineage, each row its own empty
 * group (nothing when src has none); then spl_lineage_add for each member. False: no memory. */
bool spl_lineage_open(esc_table *dst, const esc_table *src);
/* Which (new group, row group) pairs were merged: rows copied by mvexpand share a group, whose
 * events count once in a group they both go to. on: src has such copies (else nothing kept). */
typedef struct spl_lineage_seen {
    size_t (*v)[2];
    size_t cap, n;
    bool on;
} spl_lineage_seen;
bool spl_lineage_seen_start(spl_lineage_seen *s, const esc_table *src); /* false: no memory */
void spl_lineage_seen_fini(spl_lineage_seen *s);
/* Count the events of src's row srow in group g of dst (a stats group, a transaction), once per
 * pair when seen (may be NULL) says so. Nothing when dst is NULL or src has no lineage. False:
 * out of memory. */
bool spl_lineage_merge(esc_evset *dst, size_t g, const esc_table *src, size_t srow,
                       spl_lineage_seen *seen);
/* dst (a copy of src's rows, row_id NULL) gets a copy of src's lineage. False: no memory. */
bool spl_lineage_dup(esc_table *dst, const esc_table *src);
/* t's rows base.. are s's rows (appended): each gets a new group holding its row's events. */
bool spl_lineage_append(esc_table *t, size_t base, const esc_table *s);
/* The finished table's lineage as t->evidence (nothing when no row has an event); the lineage
 * is given back. */
esc_status spl_lineage_finish(esc_table *t, esc_error *err);

#endif
