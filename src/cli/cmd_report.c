/* escudo report: one self-contained HTML page of what a SQLite store holds (src/report/).
 * This file parses the options, loads the content and its lint verdicts for the ATT&CK
 * coverage, and hands everything to esc_report_write; hunt --report calls esc_cli_report. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "detect/lint.h"
#include "report/report.h"
#include "sched/reltime.h"

static const esc_opt report_opts[] = {
    {"db", "FILE", "the SQLite store written by hunt/run --db (required)"},
    {"output", "FILE", "the HTML file to write (required; -o FILE)"},
    {"since", "T", "only notables and risk events at or after T (epoch, ISO 8601, -24h)"},
    {"until", "T", "only notables and risk events before T"},
    {"now", "T", "the time relative times count from (default: the current time)"},
    {"tz", "ZONE", "IANA zone for zone-less times and the page's times (default UTC)"},
    {"content", "DIR",
     "content for the ATT&CK coverage (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"quiet", NULL, "no summary on stderr"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof report_opts / sizeof report_opts[0])
const esc_cmd_doc esc_doc_report = {"--db FILE -o FILE [OPTIONS]", report_opts, NOPTS};

static bool time_opt(const esc_args *a, const char *flag, int64_t now, int64_t *out) {
    esc_error err = {0};
    if (esc_time_spec_parse(esc_args_get(a, flag), now, out, &err) != ESC_OK) {
        esc_say(stderr, "escudo report: --%s %s: %s", flag, esc_args_get(a, flag), err.msg);
        return false;
    }
    return true;
}

/* The content folders as one line for the page ("shipped" when none was given). */
static void content_label(const esc_args *a, char *out, size_t cap) {
    const char **v = NULL;
    size_t n = esc_args_all(a, "content", &v), len = 0;
    snprintf(out, cap, "%s", n ? "" : "the shipped content");
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", v[i]);
}

int esc_cli_report(const esc_args *a, const esc_content *content, esc_report_opts *o,
                   const char *path, bool quiet) {
    esc_lint_report *lint = NULL;
    esc_error err = {0};
    char label[1024];
    content_label(a, label, sizeof label);
    o->content = content;
    o->content_label = label;
    if (content && esc_lint_run(content, &lint, &err) != ESC_OK) {
        esc_report("error", &err);
        return ESC_EXIT_IO;
    }
    o->lint = lint;
    esc_report_stats st;
    esc_status s = esc_report_write(o, path, &st, &err);
    esc_lint_report_free(lint);
    if (s) {
        esc_report("error", &err);
        return esc_exit_code(s);
    }
    if (!quiet) {
        esc_say(stderr,
                "escudo: report %s: %zu notables (%zu risk threshold), %zu risk events, %zu "
                "hosts, %zu detections fired",
                path, st.notables, st.incidents, st.risk_events, st.hosts, st.detections_fired);
        if (st.marks_capped || st.rows_capped)
            fprintf(stderr,
                    "escudo: report caps: %zu notables not drawn on the timeline, %zu "
                    "rows not listed (the page says so)\n",
                    st.marks_capped, st.rows_capped);
    }
    return ESC_EXIT_OK;
}

int esc_cmd_report(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, report_opts, NOPTS, argc, argv, "report"))
        return ESC_EXIT_USAGE;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "report", "--db FILE -o FILE [OPTIONS]",
                  "Write one self-contained HTML page (no network, no external file) of the\n"
                  "notables and risk events of a SQLite store: summary, timeline by host, 24-hour\n"
                  "risk scores, ATT&CK coverage of the content, detections with their evidence.",
                  report_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    const char *db = esc_args_get(&a, "db"), *out = esc_args_get(&a, "output");
    if (!db || !out) {
        fprintf(stderr, "escudo report: --db FILE and -o FILE are required\n");
        goto done;
    }
    if (a.npos) {
        esc_say(stderr, "escudo report: unexpected argument %s (see --help)", a.pos[0]);
        goto done;
    }
    if (!esc_cli_paths_exist("report", &a, "db", false) ||
        !esc_cli_paths_exist("report", &a, "content", false) ||
        !esc_cli_paths_exist("report", &a, "local", false))
        goto done;
    if (!esc_time_set_zone(esc_args_get(&a, "tz"))) {
        esc_say(stderr, "escudo report: unknown time zone %s", esc_args_get(&a, "tz"));
        goto done;
    }
    esc_report_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    int64_t now = (int64_t)time(NULL);
    if ((esc_args_has(&a, "now") && !time_opt(&a, "now", now, &now)) ||
        (esc_args_has(&a, "since") && !time_opt(&a, "since", now, &o.since)) ||
        (esc_args_has(&a, "until") && !time_opt(&a, "until", now, &o.until)))
        goto done;
    o.has_since = esc_args_has(&a, "since");
    o.has_until = esc_args_has(&a, "until");
    o.generated = now;
    esc_status st = esc_cli_load_content(&a, &content);
    if (st) {
        rc = esc_exit_code(st);
        goto done;
    }
    rc = esc_cli_report(&a, content, &o, out, esc_args_has(&a, "quiet"));
done:
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}
