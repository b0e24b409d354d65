/* escudo test: detection tests with contentctl semantics, offline (SPEC section 7).
 *
 * Loads the content, validates each selected detection statically, replays its tests: block
 * (unit and integration) and prints one line per result with its reasons, then the counts;
 * optionally JUnit XML. The checks themselves are in detect/ctest.c; this file only selects,
 * prints and picks the exit code (1 when any test failed, 2 for usage or content errors).
 * Content is loaded as for hunt (esc_cli_load_content: the base layer, --content, --local) and
 * detections are selected as for every command (esc_cli_select: DETECTION arguments, then
 * --detection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "content/content.h"
#include "detect/ctest.h"

static const esc_opt test_opts[] = {
    {"content", "DIR", "content folder (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"detection", "NAME|ID|FILE|GLOB", "test this detection (repeatable); a FILE loads on top"},
    ESC_CLI_TAG_OPTS,
    {"data-root", "DIR", "a splunk/attack_data checkout: attack_data URLs map under it"},
    {"junit", "FILE", "write JUnit XML (one testcase per detection and test kind)"},
    {"format", "text|json", "report format on stdout (default text)"},
    {"profile", "splunk|native", "CIM mapping profile for the replay (default splunk)"},
    {"static-only", NULL, "only validate; do not replay any test"},
    {"failures-only", NULL, "text format: print only failed tests (and the counts)"},
    {"allow-skips", NULL, "exit 0 even when no test was replayed (every one skipped)"},
    {"verbose", NULL, "also print content warnings"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof test_opts / sizeof test_opts[0])
const esc_cmd_doc esc_doc_test = {"[OPTIONS] [DETECTION...]", test_opts, NOPTS};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_text(FILE *f, const esc_ctest_result *r) {
    static const char *const tag[] = {"PASS", "FAIL", "SKIP"};
    fprintf(f, "%s  %-11s  %s", tag[r->outcome], esc_ctest_kind_name(r->kind), r->detection);
    if (r->test_name)
        fprintf(f, " [%s]", r->test_name);
    if (r->kind != ESC_CTEST_STATIC && r->outcome != ESC_CTEST_SKIP) {
        if (r->kind == ESC_CTEST_UNIT)
            fprintf(f, " (%llu rows, %llu events, %.3f s)", (unsigned long long)r->rows,
                    (unsigned long long)r->events, r->seconds);
        else
            fprintf(f, " (%llu notables, %llu risk events, %llu risk incidents, %.3f s)",
                    (unsigned long long)r->notables, (unsigned long long)r->risk_events,
                    (unsigned long long)r->incidents, r->seconds);
    }
    if (r->outcome == ESC_CTEST_SKIP && r->nreasons) {
        fprintf(f, ": %s\n", r->reasons[0]);
        return;
    }
    fputc('\n', f);
    for (size_t i = 0; i < r->nreasons; i++)
        fprintf(f, "      - %s\n", r->reasons[i]);
    if (r->more_reasons)
        fprintf(f, "      - (%zu more)\n", r->more_reasons);
}

static void print_json(FILE *f, const esc_ctest_result *r) {
    fputs("{\"detection\": ", f);
    esc_out_json_string(f, r->detection, strlen(r->detection));
    fputs(", \"id\": ", f);
    if (r->id)
        esc_out_json_string(f, r->id, strlen(r->id));
    else
        fputs("null", f);
    fputs(", \"path\": ", f);
    if (r->path)
        esc_out_json_string(f, r->path, strlen(r->path));
    else
        fputs("null", f);
    fprintf(f, ", \"kind\": \"%s\", \"test\": ", esc_ctest_kind_name(r->kind));
    if (r->test_name)
        esc_out_json_string(f, r->test_name, strlen(r->test_name));
    else
        fputs("null", f);
    fprintf(f, ", \"outcome\": \"%s\", \"reasons\": [", esc_ctest_outcome_name(r->outcome));
    for (size_t i = 0; i < r->nreasons; i++) {
        if (i)
            fputs(", ", f);
        esc_out_json_string(f, r->reasons[i], strlen(r->reasons[i]));
    }
    fprintf(f,
            "], \"seconds\": %.3f, \"events\": %llu, \"process_events\": %llu, \"rows\": %llu, "
            "\"notables\": %llu, \"risk_events\": %llu, \"risk_incidents\": %llu}\n",
            r->seconds, (unsigned long long)r->events, (unsigned long long)r->process_events,
            (unsigned long long)r->rows, (unsigned long long)r->notables,
            (unsigned long long)r->risk_events, (unsigned long long)r->incidents);
}

/* The folders the scan reads: --content (default: the shipped content), then --local. The base
 * layer (content/base, the CIM macros) that esc_cli_load_content puts underneath holds no
 * detections. */
static const char **scan_dirs(const esc_args *a, size_t *n) {
    const char **content = NULL, **local = NULL;
    size_t nc = esc_args_all(a, "content", &content);
    size_t nl = esc_args_all(a, "local", &local);
    /* one block: the pointers, then the shipped content's path */
    const char **dirs = esc_calloc(1, (nc + nl + 1) * sizeof *dirs + ESC_CLI_PATH_MAX);
    if (!dirs)
        return NULL;
    *n = 0;
    if (nc == 0) {
        char *shipped = (char *)(dirs + nc + nl + 1);
        esc_cli_content_dir(shipped, ESC_CLI_PATH_MAX);
        dirs[(*n)++] = shipped;
    }
    for (size_t i = 0; i < nc; i++)
        dirs[(*n)++] = content[i];
    for (size_t i = 0; i < nl; i++)
        dirs[(*n)++] = local[i];
    return dirs;
}

/* Report format and replay options, and the check that each --content and --local folder
 * exists; false after the message on a usage error. */
static bool test_options(const esc_args *a, bool *json, esc_ctest_opts *o) {
    const char *fmt = esc_args_get(a, "format");
    *json = fmt && strcmp(fmt, "json") == 0;
    if (fmt && !*json && strcmp(fmt, "text") != 0) {
        fprintf(stderr, "escudo test: --format must be text or json\n");
        return false;
    }
    *o = (esc_ctest_opts){.data_root = esc_args_get(a, "data-root"),
                          .profile = ESC_PROFILE_SPLUNK,
                          .search_time = (int64_t)time(NULL),
                          .threads = 1};
    const char *prof = esc_args_get(a, "profile");
    if (prof && strcmp(prof, "native") == 0)
        o->profile = ESC_PROFILE_NATIVE;
    else if (prof && strcmp(prof, "splunk") != 0) {
        fprintf(stderr, "escudo test: --profile must be splunk or native\n");
        return false;
    }
    if (!esc_cli_paths_exist("test", a, "data-root", true))
        return false;
    const char **given = NULL;
    size_t ngiven = esc_args_all(a, "content", &given);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ngiven; i++) {
            struct stat sb;
            if (stat(given[i], &sb) != 0) {
                esc_say(stderr, "escudo test: --%s %s: no such file or folder",
                        pass ? "local" : "content", given[i]);
                return false;
            }
        }
        ngiven = esc_args_all(a, "local", &given);
    }
    return true;
}

/* The detections to test: the DETECTION arguments, then --detection; none given means every
 * loaded detection (*all set). */
static int test_selection(const esc_args *a, const esc_content *content, const esc_detection ***sel,
                          size_t *nsel, bool *all) {
    esc_cli_selectors src[6] = {esc_cli_positional(a), esc_cli_option(a, "detection")};
    size_t nsrc = 2 + esc_cli_tag_selectors(a, src + 2);
    int rc = esc_cli_select("test", content, src, nsrc, sel, nsel, NULL);
    if (rc != ESC_EXIT_OK)
        return rc;
    *all = *nsel == 0;
    if (*all) {
        if (!(*sel = esc_calloc(content->ndetections + 1, sizeof **sel))) {
            fprintf(stderr, "escudo: error: out of memory\n");
            return ESC_EXIT_IO;
        }
        for (size_t i = 0; i < content->ndetections; i++)
            (*sel)[(*nsel)++] = &content->detections[i];
    }
    if (*nsel == 0) {
        fprintf(stderr, "escudo test: no detection to test\n");
        return ESC_EXIT_USAGE;
    }
    return ESC_EXIT_OK;
}

/* Content-wide checks of the folders dirs when given (when testing everything: duplicate
 * ids, files loading skipped), then each selected detection: static validation, and its tests
 * replayed unless --static-only. */
static int run_tests(esc_ctest_report *rep, const esc_content *content,
                     const esc_detection *const *sel, size_t nsel, const char *const *dirs,
                     size_t ndirs, bool static_only, const esc_ctest_opts *o) {
    esc_error err = {0};
    esc_status st = ESC_OK;
    if (dirs)
        st = esc_ctest_scan(rep, dirs, ndirs, &err);
    for (size_t i = 0; i < nsel && st == ESC_OK; i++) {
        st = esc_ctest_validate(rep, content, sel[i], &err);
        if (st == ESC_OK && !static_only)
            st = esc_ctest_run(rep, content, sel[i], o, &err);
    }
    if (st != ESC_OK) {
        esc_report("error", &err);
        return esc_exit_code(st);
    }
    return ESC_EXIT_OK;
}

/* Why a test was skipped, in a few words, from the skip's reason (detect/ctest.c). */
enum { SKIP_NO_DATA, SKIP_UNMAPPED, SKIP_UNSUPPORTED, SKIP_NO_TESTS, SKIP_LFS, SKIP_OTHER, NSKIP };
static const char *const skip_name[NSKIP] = {
    "attack data not available (--data-root DIR: a splunk/attack_data checkout)",
    "data source not mapped by escudo",
    "search not supported",
    "no tests: block",
    "attack data is a Git LFS pointer",
    "other"};

static int skip_reason(const char *why) {
    if (!why)
        return SKIP_OTHER;
    if (strstr(why, "attack data not available") || strstr(why, "attack data not found") ||
        strstr(why, "no attack data") || strstr(why, "has no attack_data"))
        return SKIP_NO_DATA;
    if (strncmp(why, "sourcetype ", 11) == 0)
        return SKIP_UNMAPPED;
    if (strstr(why, "not validated"))
        return SKIP_UNSUPPORTED;
    if (strstr(why, "no tests: block"))
        return SKIP_NO_TESTS;
    if (strstr(why, "Git LFS"))
        return SKIP_LFS;
    return SKIP_OTHER;
}

/* Why a test failed before its attack data was replayed, in a few words. */
enum { NOPLAY_SEARCH, NOPLAY_DATA, NOPLAY_OTHER, NNOPLAY };
static const char *const noplay_name[NNOPLAY] = {
    "search does not compile", "attack data outside --data-root", "engine could not start"};

static int noplay_reason(const char *why) {
    if (why && strstr(why, "does not compile"))
        return NOPLAY_SEARCH;
    if (why && strstr(why, "--data-root"))
        return NOPLAY_DATA;
    return NOPLAY_OTHER;
}

/* "replayed R of N tests (P passed, F failed); S skipped: n1 reason1, ...[; X failed without a
 * replay: n1 reason1, ...]" over the unit results (one per tests: entry; its integration result
 * shares the replay). R counts the tests whose attack data went through the engine; a test that
 * failed before that (its search does not compile, its data leads outside --data-root) is
 * counted apart, so R + S + X = N. */
static void print_replayed(FILE *f, const esc_ctest_report *rep) {
    size_t why[NSKIP] = {0}, noplay[NNOPLAY] = {0}, n = 0, ran = 0, pass = 0, skip = 0, np = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const esc_ctest_result *r = &rep->r[i];
        if (r->kind != ESC_CTEST_UNIT)
            continue;
        n++;
        const char *first = r->nreasons ? r->reasons[0] : NULL;
        if (r->replayed) {
            ran++;
            pass += r->outcome == ESC_CTEST_PASS;
        } else if (r->outcome == ESC_CTEST_SKIP) {
            skip++;
            why[skip_reason(first)]++;
        } else {
            np++;
            noplay[noplay_reason(first)]++;
        }
    }
    fprintf(f, "%-11s  %zu of %zu tests (%zu passed, %zu failed); %zu skipped", "replayed", ran, n,
            pass, ran - pass, skip);
    const char *sep = ": ";
    for (int k = 0; k < NSKIP; k++) {
        if (!why[k])
            continue;
        fprintf(f, "%s%zu %s", sep, why[k], skip_name[k]);
        sep = ", ";
    }
    if (np) {
        fprintf(f, "; %zu failed without a replay", np);
        sep = ": ";
        for (int k = 0; k < NNOPLAY; k++) {
            if (!noplay[k])
                continue;
            fprintf(f, "%s%zu %s", sep, noplay[k], noplay_name[k]);
            sep = ", ";
        }
    }
    fputc('\n', f);
}

static size_t count_replayed(const esc_ctest_report *rep) {
    size_t n = 0;
    for (size_t i = 0; i < rep->n; i++)
        n += rep->r[i].kind == ESC_CTEST_UNIT && rep->r[i].replayed;
    return n;
}

/* One line (or JSON object) per result on stdout, then the counts (on stderr with JSON).
 * Returns the number of failed tests. */
static size_t print_report(const esc_ctest_report *rep, bool json, bool failures_only, size_t nsel,
                           double elapsed) {
    for (size_t i = 0; i < rep->n; i++) {
        if (json)
            print_json(stdout, &rep->r[i]);
        else if (!failures_only || rep->r[i].outcome == ESC_CTEST_FAIL)
            print_text(stdout, &rep->r[i]);
    }
    size_t failed = 0;
    FILE *sf = json ? stderr : stdout;
    if (!json)
        fputc('\n', sf);
    for (int k = 0; k < 3; k++) {
        const size_t *c = rep->count[k];
        failed += c[ESC_CTEST_FAIL];
        fprintf(sf, "%-11s  %zu passed, %zu failed, %zu skipped\n",
                esc_ctest_kind_name((esc_ctest_kind)k), c[ESC_CTEST_PASS], c[ESC_CTEST_FAIL],
                c[ESC_CTEST_SKIP]);
    }
    print_replayed(sf, rep);
    fprintf(sf, "escudo test: %zu detections, %zu tests failed, %.2f s\n", nsel, failed, elapsed);
    fflush(stdout);
    return failed;
}

/* The report as JUnit XML in path; false after the message. */
static bool write_junit(const esc_ctest_report *rep, const char *path) {
    esc_buf junit;
    esc_buf_init(&junit, (size_t)1 << 30);
    bool ok = false;
    esc_status st = esc_ctest_junit(rep, &junit);
    if (st != ESC_OK) {
        esc_say(stderr, "escudo test: JUnit report: %s", esc_strerror(st));
        goto out;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(junit.ptr, 1, junit.len, f) != junit.len) {
        esc_say(stderr, "escudo test: cannot write %s", path);
        if (f)
            fclose(f);
        goto out;
    }
    if (fclose(f) != 0) {
        esc_say(stderr, "escudo test: cannot write %s", path);
        goto out;
    }
    ok = true;
out:
    esc_buf_fini(&junit);
    return ok;
}

int esc_cmd_test(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    const char **dirs = NULL;
    size_t ndirs = 0;
    const esc_detection **sel = NULL;
    size_t nsel = 0;
    bool all = false, json = false;
    esc_ctest_opts o;
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    int rc = ESC_EXIT_USAGE;
    esc_status st;

    if (!esc_args_parse(&a, test_opts, NOPTS, argc, argv, "test"))
        goto done;
    if (esc_args_has(&a, "help")) {
        esc_usage(
            stdout, "test", "[OPTIONS] [DETECTION...]",
            "Test detections as contentctl does, offline: static validation of every\n"
            "selected detection (default: all loaded), then its tests: block replayed\n"
            "(unit: result rows with every observable; integration: notables and risk\n"
            "events). DETECTION is a loaded detection's name, id, file or glob. Exit 1 when a\n"
            "test failed, or when nothing was replayed (unless --allow-skips).",
            test_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    if (!test_options(&a, &json, &o))
        goto done;
    if ((st = esc_cli_load_content(&a, &content)) != ESC_OK) {
        rc = esc_exit_code(st);
        goto done;
    }
    if (!(dirs = scan_dirs(&a, &ndirs))) {
        rc = ESC_EXIT_IO;
        goto done;
    }
    if ((rc = test_selection(&a, content, &sel, &nsel, &all)) != ESC_EXIT_OK)
        goto done;
    double t0 = now_mono();
    if ((rc = run_tests(&rep, content, sel, nsel, all ? dirs : NULL, ndirs,
                        esc_args_has(&a, "static-only"), &o)) != ESC_EXIT_OK)
        goto done;
    double elapsed = now_mono() - t0;
    size_t failed = print_report(&rep, json, esc_args_has(&a, "failures-only"), nsel, elapsed);
    const char *jpath = esc_args_get(&a, "junit");
    if (jpath && !write_junit(&rep, jpath)) {
        rc = ESC_EXIT_IO;
        goto done;
    }
    rc = failed ? ESC_EXIT_FAIL : ESC_EXIT_OK;
    const size_t *u = rep.count[ESC_CTEST_UNIT];
    if (!esc_args_has(&a, "static-only") && count_replayed(&rep) == 0) {
        bool allow = esc_args_has(&a, "allow-skips");
        if (u[ESC_CTEST_FAIL]) /* failed before a replay: exit 1 already */
            fprintf(stderr,
                    "escudo test: nothing was replayed: %zu tests skipped, %zu failed before "
                    "their attack data was read (see the reasons above)\n",
                    u[ESC_CTEST_SKIP], u[ESC_CTEST_FAIL]);
        else if (u[ESC_CTEST_SKIP])
            fprintf(stderr,
                    "escudo test: nothing was replayed: every one of the %zu tests was skipped "
                    "(see the reasons above)%s\n",
                    u[ESC_CTEST_SKIP], allow ? "" : "; exit 1 (--allow-skips accepts this)");
        else
            fprintf(stderr,
                    "escudo test: nothing was replayed: no selected detection has a test%s\n",
                    allow ? "" : "; exit 1 (--allow-skips accepts this)");
        if (!allow)
            rc = ESC_EXIT_FAIL;
    }
done:
    esc_ctest_report_fini(&rep);
    esc_free(sel);
    esc_free(dirs);
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}
