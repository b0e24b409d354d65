/* What the files of `escudo test` share; private to src/detect/ctest_*.c (callers use ctest.h).
 *
 *   ctest_discover.c   which detection files exist (the content scan) and which attack data
 *                      files a test replays
 *   ctest_validate.c   static validation, and planning a detection's search for the others
 *   ctest_replay.c     unit and integration tests: attack data through the engine (esc_hunt),
 *                      result rows through the action step (esc_act_step)
 *   ctest_report.c     results, the report that owns them, JUnit XML
 *
 * A result is built with esc_ctest_result_begin, given reasons with esc_ctest_reason (a result
 * with a reason fails unless its outcome says otherwise), and moved into the report with
 * esc_ctest_report_add, which owns it from then on. */
#ifndef ESC_DETECT_CTEST_INT_H
#define ESC_DETECT_CTEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "detect/ctest.h"
#include "detect/engine.h"
#include "spl/spl.h"

#define CTEST_YAML_MAX (4u << 20) /* bytes of a detection YAML read again (scan, validation) */
#define CTEST_REASON_MAX 2048     /* bytes of one reason */
#define CTEST_MSG_MAX 1024        /* planner messages (esc_ctest_plan) */

/* ---- results (ctest_report.c) ------------------------------------------------------------- */

/* A fresh result, outcome PASS until a reason is added; strings copied (detection NULL: "?"). */
esc_status esc_ctest_result_begin(esc_ctest_result *r, const char *detection, const char *id,
                                  const char *path, esc_ctest_kind kind, const char *test_name,
                                  esc_error *err);
/* Frees r's strings; r is left empty. */
void esc_ctest_result_fini(esc_ctest_result *r);
/* One reason, printf-style, cut at CTEST_REASON_MAX bytes; past ESC_CTEST_MAX_REASONS only
 * counted. ESC_ENOMEM only. */
esc_status esc_ctest_reason(esc_ctest_result *r, esc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Move r into the report (r is left empty, also on failure): a PASS with reasons becomes a
 * FAIL. ESC_ELIMIT past the report's maximum; ESC_ENOMEM. */
esc_status esc_ctest_report_add(esc_ctest_report *rep, esc_ctest_result *r, esc_error *err);

/* ---- discovery (ctest_discover.c) --------------------------------------------------------- */

/* The attack data files of test tc of d, resolved (esc_ctest_resolve) into files[], each
 * esc_malloc'd, *nfiles of them. Entries of a sourcetype escudo does not map are left out.
 * When the test cannot run (no attack_data, a file missing or only a Git LFS pointer, nothing
 * mapped) *nfiles is 0 and why[0..cap) says so: a skip; *broken is set instead when the test
 * itself is wrong (a URL leading outside the data root): a failure. ESC_ELIMIT past
 * ESC_CTEST_MAX_FILES; ESC_ENOMEM. Unless ESC_OK with *nfiles > 0, files[] holds nothing. */
esc_status esc_ctest_attack_files(const esc_detection *d, const esc_detection_test *tc,
                                  const char *data_root, char **files, size_t *nfiles, bool *broken,
                                  char *why, size_t cap, esc_error *err);

/* ---- planning (ctest_validate.c) ---------------------------------------------------------- */

/* Plan d's search through the engine, as hunt does. On failure *engine is NULL and exactly one
 * of broken (the content's fault: expansion failed, or a search escudo understands but
 * rejects) or unsupported (escudo does not implement it) holds the planner's message; both are
 * CTEST_MSG_MAX bytes. ESC_ENOMEM only. */
esc_status esc_ctest_plan(const esc_content *c, const esc_detection *d, esc_engine **engine,
                          char *broken, char *unsupported, esc_error *err);

/* ---- small text helpers ------------------------------------------------------------------- */

static inline char *dup_or_null(const char *s, bool *oom) {
    if (!s)
        return NULL;
    char *d = esc_strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static inline bool is_blank(const char *s) {
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static inline bool is_tok_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Next $token$ in s from *pos: its name in [*start, *start + *len). */
static inline bool next_token(const char *s, size_t *pos, size_t *start, size_t *len) {
    for (size_t i = *pos; s[i]; i++) {
        if (s[i] != '$')
            continue;
        size_t j = i + 1;
        while (s[j] && is_tok_char(s[j]))
            j++;
        if (s[j] == '$' && j > i + 1) {
            *start = i + 1;
            *len = j - i - 1;
            *pos = j + 1;
            return true;
        }
    }
    return false;
}

/* The column named name[0, n) of t, or -1. */
static inline int table_col_n(const esc_table *t, const char *name, size_t n) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i]) == n && memcmp(t->cols[i], name, n) == 0)
            return (int)i;
    return -1;
}

#endif
