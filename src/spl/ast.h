/* Internal to src/spl/: the AST the parser builds and the planner and executor read (the
 * command registry that fills and reads stages is cmd.h; eval values and functions, eval.h).
 *
 * Every node carries a byte span [start, end) into the expanded search text. All nodes and
 * strings of one plan live in the plan's arena and are freed with it; nothing here is shared
 * between plans. Column references are resolved at plan time against the statically known
 * column list of each stage (the result schema of an SPL pipeline over tstats is static). */
#ifndef ESC_SPL_AST_H
#define ESC_SPL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/str.h"
#include "spl/spl.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define ESC_PLAN_MAX_CODES 64
#define ESC_PLAN_MAX_CHANS 8

/* Whether a row (its cells, in its table's column order) is kept. */
typedef bool (*spl_row_keep)(void *ctx, const esc_cell *row);

#define FIELD_TIME (-2)   /* _time of a record */
#define FIELD_ABSENT (-1) /* a field no record or row has */
#define FIELD_NAMED (-3)  /* a field read by name from a record's field set (fname) */
#define FIELD_RAW (-4)    /* _raw of a raw event */

/* ---- search expressions (tstats where, | search) ---- */

typedef enum sop { SOP_EQ, SOP_NE, SOP_LT, SOP_LE, SOP_GT, SOP_GE } sop;

/* SN_TERM: a bare search term of a raw-event search, matched against _raw (val; term_case:
 * CASE(), case-sensitive; term_major: TERM(), bounded by major breakers only). */
typedef enum snode_kind { SN_AND, SN_OR, SN_NOT, SN_CMP, SN_ALL, SN_TERM } snode_kind;

typedef struct snode {
    snode_kind kind;
    size_t start, end;
    struct snode *l, *r; /* AND/OR: both; NOT: l */
    /* SN_CMP: field op value; IN (a, b) is an OR of SOP_EQ nodes */
    const char *field;
    int ref; /* CIM field id / FIELD_TIME / FIELD_ABSENT (tstats), column or -1 (rows) */
    sop op;
    const char *val; /* pattern, escapes resolved; '*' is a wildcard */
    size_t val_len;
    esc_str fname; /* FIELD_NAMED: the field's name in the record's field set */
    bool term_case, term_major;
    /* SN_OR, the top of a chain of ORs holding many exact values (plan.c): the chain's
     * members, the exact ones in a hash table, for a record's where clause; else NULL */
    struct snode_set *set;
    uint8_t shape; /* SN_CMP of a record's where clause: spl_glob_shape of val (else ANY) */
} snode;

/* ---- eval expressions (| where, | eval) ---- */

typedef enum eop {
    EOP_OR,
    EOP_AND,
    EOP_XOR,
    EOP_NOT,
    EOP_NEG,
    EOP_EQ,
    EOP_NE,
    EOP_LT,
    EOP_LE,
    EOP_GT,
    EOP_GE,
    EOP_LIKE,
    EOP_ADD,
    EOP_SUB,
    EOP_MUL,
    EOP_DIV,
    EOP_MOD,
    EOP_CONCAT,
} eop;

typedef enum enode_kind {
    EN_NUM,
    EN_STR,
    EN_FIELD,
    EN_CALL,
    EN_BIN,
    EN_UN,
    EN_BOOL,
    EN_NULL
} enode_kind;

typedef struct enode {
    enode_kind kind;
    size_t start, end;
    eop op;
    double num;
    const char *str; /* EN_STR text, EN_FIELD name, EN_CALL function name */
    size_t str_len;
    int col;                      /* EN_FIELD: column, or -1 */
    const struct spl_eval_fn *fn; /* EN_CALL: the function (eval.h), set at plan time */
    pcre2_code *re; /* match()/like()/replace()/LIKE with a literal pattern (owned by the plan) */
    bool plain_re;  /* re's pattern is plain (spl_re_plain): match() finds it without PCRE2 */
    struct enode **args; /* EN_CALL arguments, EN_BIN l,r; EN_UN operand */
    size_t nargs;
} enode;

/* ---- aggregates (tstats, stats) ---- */

typedef enum aggfn {
    AGG_COUNT,
    AGG_COUNT_FIELD,
    AGG_VALUES,
    AGG_LIST,
    AGG_DC,
    AGG_MIN,
    AGG_MAX,
    AGG_SUM,
    AGG_AVG,
    AGG_EARLIEST,
    AGG_LATEST,
    /* stats and eventstats only (cmd_stats.c computes them; agg/ does not) */
    AGG_STDEV,
    AGG_STDEVP,
    AGG_VAR,
    AGG_VARP,
    AGG_RANGE,
    AGG_FIRST,
    AGG_LAST,
} aggfn;

#define AGG_FIRST_LOCAL AGG_STDEV /* this and later functions are computed by cmd_stats.c */

typedef struct aggspec {
    aggfn fn;
    size_t start, end;
    const char *field;  /* NULL for count */
    int ref;            /* CIM field / FIELD_TIME / FIELD_ABSENT, or column / -1 for stats */
    struct enode *expr; /* stats/eventstats AGG(eval(EXPR)): the values, else NULL */
    const char *as;     /* output column name */
    esc_str fname;      /* FIELD_NAMED (tstats over a field set) */
} aggspec;

typedef struct byspec {
    const char *field;
    size_t start, end;
    int ref;
    esc_str fname; /* FIELD_NAMED (tstats over a field set) */
} byspec;

/* ---- stages ---- */

/* The command of a stage: its parse, plan and run parts (cmd.h). */
typedef struct spl_cmd spl_cmd;

typedef struct rename_pair {
    const char *from, *to;
    size_t start, end;
} rename_pair;

typedef struct convert_item {
    const char *field; /* may hold '*' */
    const char *as;    /* NULL: in place */
    size_t start, end;
} convert_item;

typedef struct eval_item {
    const char *name;
    int col; /* target column in the stage's output */
    int dep; /* the one column e reads (its value decides the result), or -1 */
    enode *e;
    size_t start, end;
} eval_item;

typedef struct lk_field {
    const char *csv; /* column of the lookup */
    const char *row; /* field of the row */
    int csv_col, row_col;
    size_t start;
} lk_field;

typedef struct lookup_table {
    size_t ncols, nrows;
    const char **hdr;
    const char **cells; /* nrows * ncols, "" for an empty cell */
    uint32_t *clen;     /* strlen of each cell */
    bool *wild;         /* per column: values are '*' patterns */
    bool ci;            /* case-insensitive matching */
    /* per cell of a case-insensitive wildcard column: X, lowercased, of a pattern "*X*" whose X
     * holds no '*' (a substring test), else NULL; NULL when no cell is one */
    const char **sub;
    /* those X by the hash of their first two characters (sub_hash): SPL_LOOKUP_SUB_BUCKETS
     * chain heads (cell + 1, 0 ends the chain), sub_next per cell; NULL when an X is shorter */
    uint32_t *sub_head, *sub_next;
    /* the first input field's column (key_col; -1: none) indexed by the first key_len
     * characters of a cell (lowercased when ci; key_len the shortest text before a '*' among
     * the indexed cells, at most SPL_LOOKUP_KEY_LEN): key_head[key_mask + 1] chains of rows
     * (row + 1, 0 ends; key_next per row) of the cells that can only match a value starting
     * with them, by their hash; key_any, ascending, the rows whose cell is empty or a pattern
     * starting with '*' other than a "*X*" one of sub_head */
    int key_col;
    uint32_t *key_head, *key_next, *key_any;
    size_t nkey_any, key_len, key_mask;
    bool key_sub; /* a cell of key_col is a "*X*" one of sub_head */
    const char *dflt;
    size_t min_matches, max_matches;
    /* an external lookup computed here (lookup_ext.c): no rows, its fields_list the header */
    const struct spl_ext_lookup *ext;
} lookup_table;

typedef struct schema {
    size_t n;
    const char **name;
    bool *mv;
    int *origin; /* what a column copies unchanged: a CIM field (>= 0) from a tstats BY field,
                    SPL_ORIGIN_BY(k) the k-th tstats BY field read by name, SPL_ORIGIN_JOIN(i, c)
                    column c of the subsearch of join stage i; else -1 */
} schema;

/* Origins other than a CIM field (all below -1, so the literal prefilter takes none from them;
 * what evidence.c uses to find the groups and subsearch rows behind a row). */
#define SPL_ORIGIN_BY(k) (-16 - (int)(k)) /* k < ESC_SPL_MAX_ITEMS */
#define SPL_ORIGIN_JOIN(i, c) (-16 - ESC_SPL_MAX_ITEMS - (int)((i)*ESC_SPL_MAX_COLUMNS + (c)))

/* One command of the pipeline. The options are grouped by the commands that use them; the
 * generic slots (names, re, cols, cols2, map) are shared by several. */
typedef struct stage {
    const spl_cmd *cmd;
    size_t start, end;
    const char *name; /* command word as written */
    /* tstats */
    char *fillnull; /* NULL: no fillnull */
    bool fill;
    int64_t span_us; /* tstats by _time span=...: bucket width (0: one second) */
    int ds;          /* tstats, raw search: the esc_dataset read */
    /* raw search: open addressing from a column name's hash (esc_fields_name_hash) to 1 + the
     * column (0: empty); per column, its name's length */
    uint16_t *colhash;
    size_t colmask;
    uint16_t *collen;
    /* tstats, stats */
    aggspec *aggs;
    size_t naggs;
    byspec *by;
    size_t nby;
    /* stats: no two of its input rows have the same values in some of its BY fields, so each
     * group holds one row (unique.c); run_stats checks it and takes them one at a time */
    bool unique;
    /* tstats where, search */
    snode *where;
    /* where */
    enode *cond;
    /* rename */
    rename_pair *pairs;
    size_t npairs;
    /* convert */
    const char *timeformat;
    convert_item *conv;
    size_t nconv;
    /* eval */
    eval_item *evals;
    size_t nevals;
    /* fields, table, dedup: patterns / names */
    const char **names;
    size_t nnames;
    bool remove; /* fields - */
    /* regex, rex: names[0] is the pattern */
    const char *regex_field;
    bool regex_neg;
    pcre2_code *re;      /* compiled at plan time, freed by the command's free hook */
    size_t max_match;    /* rex: matches to take (0: up to ESC_SPL_MAX_MV) */
    const char *sed_rep; /* rex mode=sed: the replacement (NULL: extraction) */
    size_t sed_nth;      /* rex mode=sed: replace the Nth match only (0: every match) */
    /* lookup */
    const char *lookup_name;
    size_t lookup_start;
    lookup_table *lt;
    lk_field *lin, *lout;
    size_t nlin, nlout;
    bool outputnew;
    /* join: names = join fields; sub = the subsearch's plan (owned) */
    esc_plan *sub;
    size_t sub_start; /* offset of the subsearch text in the expanded search */
    const char *sub_text;
    size_t sub_len;
    int join_type;   /* 0 inner, 1 left/outer */
    size_t join_max; /* 0: unlimited */
    bool join_overwrite;
    /* a command's own options, private to its file (transaction) */
    void *opts;
    /* plan: the output schema after this stage, and column maps (-1: absent) */
    schema out;
    int *map; /* rename/fields/table: output column -> input column; rex: group numbers;
                 join: subsearch column -> output column */
    size_t nmap;
    int *cols;  /* dedup, join: key columns; convert: source columns; regex, rex: the field */
    int *cols2; /* convert, rex, eventstats: destination columns; join: subsearch key columns */
    /* tstats, stats, eventstats, raw search: per output column, no later stage, the final table
     * nor its evidence reads it (live.c); NULL: every column is read (and for other stages) */
    bool *dead;
} stage;

/* One record clause: a record the main where clause takes has one of these literals inside
 * one of its values (esc_plan_record_clauses). */
typedef struct spl_rclause {
    esc_plan_rlit *lit;
    size_t nlit;
} spl_rclause;

struct esc_plan {
    esc_arena arena;
    const esc_spl_env *env; /* valid while the plan is built only */
    char *expanded;
    stage *stages;
    size_t nstages;
    uint32_t fields;
    /* literal clauses for the prefilter, computed at plan time (arena, nclauses of them: a
     * clause is 2 KiB, so a plan does not hold room for ESC_INTEREST_MAX_CLAUSES) */
    esc_literal_clause *clauses;
    size_t nclauses;
    bool has_join;         /* a stage joins a subsearch: no literal clauses */
    bool has_sub;          /* a stage has a subsearch (it reads records of its own) */
    spl_rclause *rclauses; /* record clauses (arena), a conjunction */
    size_t nrclauses;
    int ds; /* esc_dataset the source reads (tstats' data model, or raw events) */
    /* raw-event searches: event codes and channels an event must have (any_*: no limit) */
    uint32_t codes[ESC_PLAN_MAX_CODES];
    size_t ncodes;
    bool any_code;
    const char *chans[ESC_PLAN_MAX_CHANS];
    size_t chan_len[ESC_PLAN_MAX_CHANS];
    size_t nchans;
    bool any_chan;
    /* a channel above is a pattern (a source=WinEventLog:Microsoft-Windows-AppLocker/... term) */
    bool chan_glob;
    /* the where clause holds for no Windows event whose source, sourcetype and eventtype are
     * the ones search-time extraction gives it (esc_plan_select) */
    bool never;
    int depth; /* subsearch nesting */
    /* appendpipe's subpipeline (cmd_appendpipe.c): its rows are the results so far, of this
     * schema (stage 0 is spl_cmd_pipein); NULL for a search that reads records */
    const schema *pipe_in;
    /* map's search (cmd_map.c): its rows also keep every field this text names (the whole
     * search's), so that the commands after the map find them; NULL: its own text only */
    const char *names_text;
    /* a raw-event search planned again (plan.c narrow_raw): the names its rows leave out (the
     * first planning found no later stage reads them) and whether names inside "..." count,
     * as the first planning settled it (0: not settled, 1: they count, 2: they do not) */
    const char *const *raw_skip;
    size_t nraw_skip;
    int raw_quoted;
};

/* record field access (match.c): the values of a field reference (ref, fname) of r, up to max
 * into out (buf: scratch for _time); returns how many there are. */
size_t spl_rec_values(const esc_record *r, int ref, esc_str fname, esc_str *out, size_t max,
                      char *buf, size_t cap);
/* Resolve a tstats / raw field name for dataset ds: *fname set for FIELD_NAMED. */
int spl_ds_lookup(int ds, const char *name, esc_str *fname);
/* A bare term against a raw event (match.c). */
bool spl_term_match(const snode *n, const esc_record *r);

/* plan.c: a plan for a subsearch (text at offset `at` of the parent's expanded search) */
esc_status spl_subplan(esc_plan *parent, stage *st, esc_error *err);
/* appendpipe's subpipeline (st->sub_text) over results of schema in; map's search (text:
 * expanded, one raw-event search) whose rows keep every field the whole search names. */
esc_status spl_subpipe(esc_plan *parent, stage *st, const schema *in, esc_error *err);
esc_status spl_submap(esc_plan *parent, stage *st, const char *text, esc_error *err);
/* live.c: each stage's dead output columns, once every stage is planned */
esc_status spl_plan_live(esc_plan *p, esc_error *err);
/* unique.c: each stats' unique flag, once every stage is planned */
void spl_plan_unique(esc_plan *p);
/* parse.c */
esc_status spl_parse(esc_plan *p, esc_error *err);
/* shared helpers (match.c) */
bool spl_glob_imatch(const char *pat, size_t plen, const char *s, size_t slen);
bool spl_glob_match(const char *pat, size_t plen, const char *s, size_t slen);
/* A pattern's shape, worked out once (a where clause's patterns are matched against every
 * record): SPL_GLOB_ANY for any pattern, or one of the shapes spl_glob_imatch_shaped matches
 * without looking for the stars again. */
enum { SPL_GLOB_ANY, SPL_GLOB_EXACT, SPL_GLOB_PREFIX, SPL_GLOB_SUFFIX, SPL_GLOB_INNER };
uint8_t spl_glob_shape(const char *pat, size_t plen);
/* spl_glob_imatch of a pattern of that shape. */
bool spl_glob_imatch_shaped(uint8_t shape, const char *pat, size_t plen, const char *s,
                            size_t slen);
bool spl_parse_num(const char *s, size_t n, double *out);
int spl_cim_lookup(const char *name, size_t len); /* CIM id, FIELD_TIME, or FIELD_ABSENT */
const char *spl_cim_name(int id);
bool spl_main_matches(const esc_plan *p, const esc_record *r);
bool spl_row_match(const snode *n, const esc_cell *row, size_t ncols);
/* exec.c */
size_t spl_num_text(double v, char *buf, size_t cap);
/* printf's "%.15g" or "%.17g" (prec) of a non-integer of 1 to 1e15 in magnitude, without printf
 * (exec.c); 0 when it leaves the number to printf. */
size_t spl_num_fixed_g(double v, int prec, char *out);
bool spl_cell_copy(esc_cell *dst, const esc_cell *src);
/* A cell of one value made here (spl_cell_set, spl_cell_copy) holds the value in its value
 * array's allocation, just past v[0] (a separate allocation of each costs the allocator's
 * share twice): change a value with spl_cell_replace and grow v after spl_cell_own. False:
 * out of memory, or more than ESC_SPL_CELL_MAX_VALUES values. */
bool spl_cell_set(esc_cell *c, const esc_str *v, size_t n);
/* Value i of c replaced by nv (esc_malloc'd, taken). */
void spl_cell_replace(esc_cell *c, size_t i, char *nv);
/* c's values each in an allocation of its own, so that v may be reallocated. */
bool spl_cell_own(esc_cell *c);
esc_status spl_table_widen(esc_table *t, const schema *s, esc_error *err);
/* regex.c: every PCRE2 use. spl_re_compile fills *code (a PCRE2 error code; HEAP_FAILED when
 * out of memory) and *off on failure. Matches count a stop at a limit as no match and add to
 * spl_re_limited(), the calling thread's running count. */
pcre2_code *spl_re_compile(const char *pat, size_t len, uint32_t opts, int *code, size_t *off);
pcre2_match_data *spl_re_data(const pcre2_code *re);
int spl_re_match(const pcre2_code *re, const char *s, size_t n, pcre2_match_data *md);
/* The same from byte offset start (for repeated matching: rex max_match, makemv tokenizer).
 * A start > 0 must be a code point boundary after a successful match of the same subject from
 * 0 (which checked its UTF-8): later starts skip that check. */
int spl_re_match_at(const pcre2_code *re, const char *s, size_t n, size_t start,
                    pcre2_match_data *md);
int spl_re_substitute(const pcre2_code *re, const char *s, size_t n, uint32_t opts, const char *rep,
                      size_t rlen, char *out, size_t *outlen);
/* A plain pattern: letters, digits, ' ', '_' and '-' (literals to PCRE2) and '.' (any character
 * but a line break) only. spl_re_plain_find says whether it occurs in s as PCRE2 (UTF mode, no
 * DOTALL) would find it, without PCRE2: 1 or 0; -1 when it cannot tell (a byte past ASCII, a
 * line-break byte, a subject of ESC_RE_PLAIN_MAX bytes or more): then PCRE2 decides. */
#define ESC_RE_PLAIN_MAX 4096
bool spl_re_plain(const char *p, size_t m);
int spl_re_plain_find(const char *p, size_t m, const char *s, size_t n);
uint64_t spl_re_limited(void);
/* Set the running count back (a check that must not count, spl/prune.c). */
void spl_re_limited_set(uint64_t n);
/* eval.c */
esc_status spl_eval_compile(esc_plan *p, enode *e, const schema *sc, esc_error *err);
void spl_eval_free(enode *e);
/* *out: the condition is true for the row. ESC_ENOMEM when evaluation ran out of memory. */
esc_status spl_cond_true(const enode *e, const esc_cell *row, size_t ncols, bool *out);
/* A value produced by eval; v is esc_malloc'd. */
esc_status spl_eval_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out);
/* The same for stats' agg(eval(EXPR)): a false condition is null (not counted). */
esc_status spl_eval_agg_cell(const enode *e, const esc_cell *row, size_t ncols, esc_cell *out);
/* exec.c: the values of c (c->v set) given back; spl_cell_clear is the way to call it */
void spl_cell_free_values(esc_cell *c);
/* c emptied, its values given back; an empty cell (most of a raw-event search's rows) costs
 * no call */
static inline void spl_cell_clear(esc_cell *c) {
    if (c->v)
        spl_cell_free_values(c);
    memset(c, 0, sizeof *c);
}

#endif
