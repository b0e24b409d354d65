/* The command-line interface: the only place that prints or exits.
 *
 * Every command has one option table (name, argument, help) that drives both parsing and its
 * --help text, so the documentation cannot drift from the parser. Exit codes (SPEC section 5):
 * 0 ran, 1 test failures or warnings under --strict, 2 usage or content error, 3 I/O or
 * internal error. */
#ifndef ESC_CLI_CLI_H
#define ESC_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "content/content.h"
#include "spl/spl.h"

enum { ESC_EXIT_OK = 0, ESC_EXIT_FAIL = 1, ESC_EXIT_USAGE = 2, ESC_EXIT_IO = 3 };

typedef struct esc_opt {
    const char *name; /* long name without "--" */
    const char *arg;  /* argument placeholder, NULL for a flag */
    const char *help;
} esc_opt;

/* Parsed options: for option i, values[i] (last given) and count[i]; multi-valued options also
 * keep every value in all[i]. Positional arguments in pos. */
typedef struct esc_args {
    const esc_opt *opts;
    size_t nopts;
    const char **values;
    const char ***all;
    size_t *count;
    const char **pos;
    size_t npos;
} esc_args;

/* Parse argv[1..] against opts. Prints the problem and returns false on a usage error. */
bool esc_args_parse(esc_args *a, const esc_opt *opts, size_t nopts, int argc, char **argv,
                    const char *cmd);
void esc_args_free(esc_args *a);
const char *esc_args_get(const esc_args *a, const char *name);
bool esc_args_has(const esc_args *a, const char *name);
size_t esc_args_all(const esc_args *a, const char *name, const char ***values);
void esc_usage(FILE *f, const char *cmd, const char *synopsis, const char *about,
               const esc_opt *opts, size_t nopts);

/* What --help, the man page and the shell completions say about a command: its synopsis and
 * its option table (the one its parser reads). */
typedef struct esc_cmd_doc {
    const char *synopsis;
    const esc_opt *opts;
    size_t nopts;
} esc_cmd_doc;
extern const esc_cmd_doc esc_doc_hunt, esc_doc_explain, esc_doc_dump, esc_doc_run, esc_doc_status,
    esc_doc_test, esc_doc_lint, esc_doc_notables, esc_doc_risk, esc_doc_content, esc_doc_report;

/* A command as `escudo --help` lists it. */
typedef struct esc_cmd_entry {
    const char *name;
    const char *help;
    const esc_cmd_doc *doc;
} esc_cmd_entry;
/* The man page (roff) of escudo and its commands. */
void esc_doc_man(FILE *f, const esc_cmd_entry *cmds, size_t n);
/* Completions for `shell` (bash or zsh); false when the shell is not one of them. */
bool esc_doc_completions(FILE *f, const char *shell, const esc_cmd_entry *cmds, size_t n);

/* Exit code for a status. */
int esc_exit_code(esc_status st);
/* "escudo: path:offset: message" on stderr. */
void esc_report(const char *level, const esc_error *err);

#define ESC_CLI_PATH_MAX 4096

/* The shipped content folder into out: ESC_CONTENT_DIR (the source tree's content/) when it
 * exists, else PREFIX/share/escudo/content when the binary runs from PREFIX/bin (make
 * install). */
void esc_cli_content_dir(char *out, size_t cap);
/* The user's installed content folder (escudo content install):
 * ${XDG_DATA_HOME:-$HOME/.local/share}/escudo/content, into out; false when it cannot be named. */
bool esc_cli_user_content_dir(char *out, size_t cap);
/* The Hyperscan cache folder (core/hscache.h) into out: $ESCUDO_CACHE_DIR when set (empty: no
 * cache, false), else ${XDG_CACHE_HOME:-$HOME/.cache}/escudo; false when it cannot be named. */
bool esc_cli_cache_dir(char *out, size_t cap);
/* The content used without --content: the installed content when it holds detections (true),
 * else the shipped content (false). */
bool esc_cli_default_content(char *out, size_t cap);

/* Content: --content DIR... (default: esc_cli_default_content) then --local DIR..., then each
 * --detection FILE on top. */
esc_status esc_cli_load_content(const esc_args *a, esc_content **out);

/* Detection selection, one way for every command (hunt, explain, run, test). A detection
 * selector (--detection, --enable, or the positional arguments) is a loaded detection's name, id
 * or YAML file (a --detection FILE outside the content was loaded on top by
 * esc_cli_load_content), or else a case-insensitive glob (`*`, `?`) over names and ids. Tag
 * selectors pick by the detection's tags: --mitre (ATT&CK technique id glob; a bare technique
 * also takes its sub-techniques), --story (analytic story, case-insensitive glob), --severity
 * (informational .. critical, LEVEL+ for that level and above, from esc_act_score) and
 * --min-risk N (score >= N). Values of one kind are alternatives (OR); kinds combine with AND;
 * tag selectors alone start from every loaded detection. A command lists its sources in the
 * order it wants them. */
typedef enum esc_cli_sel_kind {
    ESC_SEL_DETECTION,
    ESC_SEL_MITRE,
    ESC_SEL_STORY,
    ESC_SEL_SEVERITY,
    ESC_SEL_MIN_RISK,
} esc_cli_sel_kind;

typedef struct esc_cli_selectors {
    const char *const *v;
    size_t n;
    bool positional; /* positional arguments: not loaded on top when they are files */
    esc_cli_sel_kind kind;
} esc_cli_selectors;

/* The tag selection options, for a command's option table. */
#define ESC_CLI_TAG_OPTS                                                                           \
    {"mitre", "TECHNIQUE", "select by ATT&CK technique id, glob (T1003*; repeatable)"},            \
        {"story", "NAME", "select by analytic story, case-insensitive glob (repeatable)"},         \
        {"severity", "LEVEL", "select by severity: informational..critical, LEVEL+ and above"}, {  \
        "min-risk", "N", "select detections whose risk score is at least N"                        \
    }

/* Every value of option `name`, or the positional arguments. */
esc_cli_selectors esc_cli_option(const esc_args *a, const char *name);
esc_cli_selectors esc_cli_positional(const esc_args *a);
/* The tag selectors given (--mitre, --story, --severity, --min-risk) into out[0..4); their
 * number. */
size_t esc_cli_tag_selectors(const esc_args *a, esc_cli_selectors out[4]);

/* Resolve the selectors of each source against c. An unknown name prints "escudo CMD: no
 * detection named X in the content" (for a positional one, followed by how a YAML file elsewhere
 * loads), then the nearest names ("did you mean"); a glob or a tag selection that matches
 * nothing, or a bad --severity / --min-risk value, prints why; these return ESC_EXIT_USAGE, out
 * of memory ESC_EXIT_IO. On ESC_EXIT_OK *out holds *n detections: the ones named exactly in the
 * order given (duplicates kept), then the ones a glob added in content order (each once), less
 * those the tag selectors leave out; the caller frees it with esc_free. When no selector was
 * given, *out is NULL and *n 0. *exact (may be NULL) is set when every detection was named
 * exactly (no glob, no tag selector): commands are strict about those. */
int esc_cli_select(const char *cmd, const esc_content *c, const esc_cli_selectors *src, size_t nsrc,
                   const esc_detection ***out, size_t *n, bool *exact);

/* Levenshtein distance of a and b, ASCII case-insensitive, for "did you mean" (strings over
 * 255 bytes count as far away). */
size_t esc_cli_distance(const char *a, const char *b);

/* Checks made before any input is read (each prints "escudo CMD: --NAME ...: why" and returns
 * false on a usage error; an option not given passes). */
/* A whole number in [min, max]; *out keeps its default when the option is absent. */
bool esc_cli_number(const char *cmd, const esc_args *a, const char *name, long min, long max,
                    long *out);
/* Every value of the option names an existing path (a folder when `dir`). */
bool esc_cli_paths_exist(const char *cmd, const esc_args *a, const char *name, bool dir);
/* The HEC options: --hec is an http(s) URL with a host (and a port from 1 to 65535), the other
 * --hec-* options come with --hec, --hec-max-wait is a number of seconds, --hec-ca exists, and
 * a token is available (read into *token, which the caller wipes and frees). ESC_EXIT_OK,
 * ESC_EXIT_USAGE after the message, or ESC_EXIT_IO when out of memory. */
int esc_cli_check_hec(const char *cmd, const esc_args *a, char **token);

/* Print the expanded search line with ^ under the span of a planner error. */
void esc_cli_show_search_error(const esc_content *c, const esc_detection *d);
/* Plan each detection; on the first failure print its error with the caret and return false. */
bool esc_cli_check_searches(const esc_content *c, const esc_detection *const *dets, size_t n);

/* Output of result tables (SPEC section 5). search_name NULL when one detection runs. */
typedef enum esc_out_format { ESC_OUT_TABLE, ESC_OUT_JSON, ESC_OUT_CSV } esc_out_format;
bool esc_out_format_parse(const char *s, esc_out_format *f);
void esc_out_rows(FILE *f, esc_out_format fmt, const esc_table *t, const char *search_name,
                  bool header);
/* JSON string with escapes as Python's json.dumps(ensure_ascii=False) writes them. */
void esc_out_json_string(FILE *f, const char *s, size_t n);
/* A cell as JSON: an array when mv or multivalue, a number when numeric, else a string. */
void esc_out_json_cell(FILE *f, const esc_cell *c, bool mv);
/* A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
void esc_out_csv_field(FILE *f, const char *s, size_t n);
/* A cell's values joined by sep (esc_malloc'd; NULL when out of memory). */
char *esc_out_cell_text(const esc_cell *c, const char *sep);

/* ---- several detections' results at once (triage.c, docs/output.md) ---- */
typedef struct esc_result {
    const esc_detection *d;
    const char *search_name; /* "ESCU - <name> - Rule" */
    const esc_table *t;
} esc_result;
/* JSON lines, each row with its severity, risk score, ATT&CK ids and evidence (--evidence). */
void esc_out_evidence_json(FILE *f, const esc_result *r, size_t n);
/* One line per evidence event, time-ordered across all detections, fixed columns. */
void esc_out_timeline(FILE *f, bool csv, const esc_result *r, size_t n);
/* CSV of several detections under one header: search_name and the union of their columns. */
void esc_out_csv_union(FILE *f, const esc_result *r, size_t n);
/* For people: a summary table, then each detection's rows, ordered by time, fitted to width
 * columns, severity coloured when color. */
void esc_out_people(FILE *f, const esc_result *r, size_t n, bool color, size_t width);
/* --color auto|always|never with NO_COLOR and whether stdout is a terminal: colour or not.
 * false with a message when the value is unknown (*ok false). */
bool esc_out_color(const char *opt, bool *ok);

/* Text for people (tables, messages): every control character shown visibly instead of sent
 * to the terminal: \n \r \t as two characters, other C0 controls and DEL as \xHH (ESC is
 * \x1b), C1 controls (U+0080-U+009F) as \u00HH. Backslashes are printed as they are. Every
 * place that prints a value, a path or a message for people goes through these; machine
 * formats (JSON, CSV) do not: they keep exact values under their own escaping. */
void esc_out_human(FILE *f, const char *s, size_t n);
/* Columns s takes once escaped (a UTF-8 sequence is one column). */
size_t esc_out_human_width(const char *s);
/* s escaped as esc_out_human writes it, as a new string (esc_malloc'd; NULL: out of memory). */
char *esc_out_human_dup(const char *s);
/* s escaped, then spaces up to width columns. */
void esc_out_human_pad(FILE *f, const char *s, size_t width);
/* printf for people: the formatted text escaped as esc_out_human, then a newline. */
void esc_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int esc_cmd_hunt(int argc, char **argv);
int esc_cmd_explain(int argc, char **argv);
int esc_cmd_dump(int argc, char **argv);
int esc_cmd_notables(int argc, char **argv);
int esc_cmd_risk(int argc, char **argv);
int esc_cmd_test(int argc, char **argv);
int esc_cmd_run(int argc, char **argv);
int esc_cmd_status(int argc, char **argv);
int esc_cmd_lint(int argc, char **argv);
int esc_cmd_content(int argc, char **argv);
/* escudo content install --from PATH (src/cli/content_install.c): an exit code. */
int esc_content_install(const char *from);
int esc_cmd_report(int argc, char **argv);

/* The HTML report of o->db_path into path (escudo report, hunt --report): loads the lint
 * verdicts of content (may be NULL) for the ATT&CK coverage, fills o->content, o->lint and
 * o->content_label (from a's --content), writes, and says what it wrote unless quiet. An exit
 * code. */
struct esc_report_opts;
int esc_cli_report(const esc_args *a, const esc_content *content, struct esc_report_opts *o,
                   const char *path, bool quiet);

#endif
