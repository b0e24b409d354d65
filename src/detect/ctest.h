/* Detection tests with contentctl semantics, offline (SPEC section 7; docs/testing.md).
 *
 * Three kinds of test per detection:
 *  - static: what `contentctl validate` checks without running anything: required fields,
 *    risk_score = round(impact*confidence/100), every observable and every $token$ of
 *    tags.message among the search's output columns, detection ids unique in a folder. A search
 *    escudo cannot plan is "not validated: <the planner's message>" (a skip, never a pass).
 *  - unit (one per entry of the detection's `tests:`): its attack_data files replayed over all
 *    time through the engine (esc_hunt, as hunt does); passes when one result row has every
 *    observable field present and not "null".
 *  - integration (one per entry of `tests:`): the same rows through the action step
 *    (esc_act_step into an in-memory capture): a notable when the deployment makes notables,
 *    risk events that match the detection, no $token$ left in risk messages, every declared
 *    risk object covered.
 *
 * Results accumulate in an esc_ctest_report, which owns every string in it. Nothing here prints;
 * esc_ctest_junit renders JUnit XML into a buffer for the caller to write. The code is in
 * detect/ctest_{discover,validate,replay,report}.c (ctest_int.h says which does what). */
#ifndef ESC_DETECT_CTEST_H
#define ESC_DETECT_CTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cim/cim.h"
#include "core/buf.h"
#include "core/error.h"
#include "content/content.h"

#define ESC_CTEST_MAX_REASONS 32      /* reasons kept per result (more are counted) */
#define ESC_CTEST_MAX_FILES 256       /* attack_data files per test */
#define ESC_CTEST_MAX_RESULTS 1000000 /* results per report */

typedef enum esc_ctest_kind {
    ESC_CTEST_STATIC,
    ESC_CTEST_UNIT,
    ESC_CTEST_INTEGRATION,
} esc_ctest_kind;

typedef enum esc_ctest_outcome {
    ESC_CTEST_PASS,
    ESC_CTEST_FAIL,
    ESC_CTEST_SKIP,
} esc_ctest_outcome;

typedef struct esc_ctest_result {
    char *detection; /* detection name, or the file's path when it could not be loaded */
    char *id;        /* may be NULL */
    char *path;      /* the detection's YAML file */
    esc_ctest_kind kind;
    char *test_name; /* the tests: entry's name (unit, integration); NULL for static */
    esc_ctest_outcome outcome;
    char **reasons; /* failures (all of them), or the one reason for a skip */
    size_t nreasons;
    size_t more_reasons; /* reasons beyond ESC_CTEST_MAX_REASONS, counted only */
    double seconds;      /* wall time of this test (unit: the replay; integration: actions) */
    uint64_t events, process_events, rows;
    uint64_t notables;    /* the detection's own notables */
    uint64_t risk_events; /* its risk events */
    uint64_t incidents;   /* notables of the 24-hour risk incident rule they triggered */
    bool replayed;        /* unit, integration: the attack data went through the engine (a failure
                           * before that, e.g. a search that does not compile, was not replayed) */
} esc_ctest_result;

typedef struct esc_ctest_report {
    esc_ctest_result *r;
    size_t n, cap;
    size_t max;         /* results kept; 0 = ESC_CTEST_MAX_RESULTS (tests lower it) */
    size_t count[3][3]; /* [kind][outcome] */
} esc_ctest_report;

typedef struct esc_ctest_opts {
    const char *data_root; /* where attack_data URLs map to (see esc_ctest_resolve); may be NULL */
    esc_profile profile;   /* CIM mapping (ESC_PROFILE_SPLUNK: what contentctl's Splunk does) */
    int64_t search_time;   /* info_search_time of the notables, epoch seconds */
    int threads;           /* EVTX worker threads */
    size_t max_capture;    /* notables and risk events kept per test; 0 = 10^6 (tests lower it) */
} esc_ctest_opts;

void esc_ctest_report_init(esc_ctest_report *rep);
void esc_ctest_report_fini(esc_ctest_report *rep);

/* Static validation of d (one result). ESC_ENOMEM / ESC_ELIMIT only; findings are results. */
esc_status esc_ctest_validate(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                              esc_error *err);

/* Content-wide checks over the folders as loaded: every detection YAML under each folder's
 * detections/ is read again, so that ids duplicated inside one folder (which loading silently
 * shadows) and files loading skipped (no name, id or search; bad YAML; a folder nested deeper
 * than loading reads) are reported as static failures. Shadowing across folders (a local override)
 * is not a duplicate. */
esc_status esc_ctest_scan(esc_ctest_report *rep, const char *const *dirs, size_t ndirs,
                          esc_error *err);

/* Unit and integration tests of every entry of d's `tests:` (two results per entry). A detection
 * without tests gets a skipped unit and a skipped integration result saying so. ESC_ENOMEM /
 * ESC_ELIMIT only. */
esc_status esc_ctest_run(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                         const esc_ctest_opts *o, esc_error *err);

/* An attack_data `data` value -> a readable local file, *out esc_malloc'd. An http(s) URL
 * containing "attack_data/master/" maps to data_root + what follows it (any other URL: the
 * part after the host). A relative path is tried against the detection file's folder, then
 * the parent of the content folder the detection lives in (the folder holding detections/),
 * then the current directory; an absolute path as is. ESC_EOF with err->msg saying where it
 * looked when no file exists. ESC_ECONTENT when a URL's file would be outside data_root: its
 * path climbs above the root with `..`, or the file's real path (links followed) is not under
 * the root's real path; nothing outside the root is opened. */
esc_status esc_ctest_resolve(const char *data, const char *detection_path, const char *data_root,
                             char **out, esc_error *err);

/* Whether escudo maps a source/sourcetype pair (case-insensitive). When it does not, *why says
 * so (static text). */
bool esc_ctest_sourcetype_ok(const char *source, const char *sourcetype, const char **why);

/* JUnit XML of the whole report: one <testsuite> per kind, one <testcase> per result,
 * <failure>/<skipped> with the reasons, everything XML-escaped. */
esc_status esc_ctest_junit(const esc_ctest_report *rep, esc_buf *out);

const char *esc_ctest_kind_name(esc_ctest_kind k);       /* static, unit, integration */
const char *esc_ctest_outcome_name(esc_ctest_outcome o); /* pass, fail, skip */

#endif
