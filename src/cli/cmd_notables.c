/* escudo notables / escudo risk: list what the SQLite store (--db) holds, filtered by time, rule,
 * object and status, as a table for people or as the stored JSON objects, one a line.
 * The store is opened read-only; nothing here creates or migrates it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "sched/reltime.h"
#include "sink/store.h"

static const esc_opt list_opts[] = {
    {"db", "FILE", "the SQLite store written by hunt/run --db (required)"},
    {"since", "T", "only events at or after T (epoch, ISO 8601 or relative, e.g. -24h)"},
    {"until", "T", "only events before T"},
    {"rule", "TEXT", "search_name or rule title contains TEXT (any case)"},
    {"object", "VALUE", "risk object (notables: also any field) equal to VALUE"},
    {"status", "STATUS", "notables with this status (new, in progress, closed, ...)"},
    {"limit", "N", "at most N events"},
    {"format", "table|json", "output format (default table)"},
    {"now", "T", "the time relative times count from (default: the current time)"},
    {"tz", "ZONE", "IANA zone for zone-less times and the table's times (default UTC)"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof list_opts / sizeof list_opts[0])
const esc_cmd_doc esc_doc_notables = {"--db FILE [OPTIONS]", list_opts, NOPTS};
const esc_cmd_doc esc_doc_risk = {"--db FILE [OPTIONS]", list_opts, NOPTS};

typedef struct printer {
    esc_sink_kind kind;
    bool json;
    size_t n;
} printer;

static const char *or_dash(const char *s) {
    return s && *s ? s : "-";
}

static esc_status print_row(void *ctx, const esc_store_row *r, esc_error *err) {
    (void)err;
    printer *p = ctx;
    p->n++;
    if (p->json) {
        fputs(r->json ? r->json : "{}", stdout);
        fputc('\n', stdout);
        return ESC_OK;
    }
    esc_buf t;
    esc_buf_init(&t, 256);
    if (esc_time_format(&t, r->time, "%Y-%m-%dT%H:%M:%S") != ESC_OK)
        esc_buf_printf(&t, "%lld", (long long)r->time);
    if (p->kind == ESC_SINK_NOTABLE) {
        char score[24] = "-";
        if (r->has_risk_score)
            snprintf(score, sizeof score, "%lld", (long long)r->risk_score);
        /* stored values come from the input: printed escaped (esc_out_human) */
        printf("%-19s  ", t.ptr ? t.ptr : "");
        esc_out_human_pad(stdout, or_dash(r->severity), 13);
        fputs("  ", stdout);
        esc_out_human_pad(stdout, or_dash(r->urgency), 8);
        fputs("  ", stdout);
        esc_out_human_pad(stdout, or_dash(r->status), 11);
        printf("  %-12.12s  ", r->event_id);
        esc_say(stdout, "%s", or_dash(r->rule_title));
    } else {
        printf("%-19s  ", t.ptr ? t.ptr : "");
        esc_out_human_pad(stdout, or_dash(r->risk_object_type), 6);
        fputs("  ", stdout);
        esc_out_human_pad(stdout, or_dash(r->risk_object), 30);
        printf("  %5lld  %-12.12s  ", (long long)r->risk_score, r->event_id);
        esc_say(stdout, "%s", or_dash(r->search_name));
    }
    esc_buf_fini(&t);
    return ESC_OK;
}

static bool time_opt(const esc_args *a, const char *cmd, const char *flag, int64_t now,
                     int64_t *out) {
    esc_error err = {0};
    if (esc_time_spec_parse(esc_args_get(a, flag), now, out, &err) != ESC_OK) {
        esc_say(stderr, "escudo %s: --%s %s: %s", cmd, flag, esc_args_get(a, flag), err.msg);
        return false;
    }
    return true;
}

/* Shared by `escudo notables` and `escudo risk` (cmd_risk.c). */
int esc_cli_store_list(esc_sink_kind kind, int argc, char **argv);

int esc_cli_store_list(esc_sink_kind kind, int argc, char **argv) {
    const char *cmd = kind == ESC_SINK_NOTABLE ? "notables" : "risk";
    esc_args a;
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, list_opts, NOPTS, argc, argv, cmd))
        return ESC_EXIT_USAGE;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, cmd, "--db FILE [OPTIONS]",
                  kind == ESC_SINK_NOTABLE
                      ? "List the notables held in a SQLite store, oldest first (time is the "
                        "run's time;\nrisk threshold notables carry the time of the risk event "
                        "that crossed it)."
                      : "List the risk events held in a SQLite store, oldest first (time is the "
                        "result row's\nlastTime).",
                  list_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    const char *db = esc_args_get(&a, "db");
    if (!db) {
        esc_say(stderr, "escudo %s: --db FILE is required", cmd);
        goto done;
    }
    const char *fmt = esc_args_get(&a, "format");
    printer p = {kind, false, 0};
    if (fmt && strcmp(fmt, "json") == 0)
        p.json = true;
    else if (fmt && strcmp(fmt, "table") != 0) {
        esc_say(stderr, "escudo %s: --format must be table or json", cmd);
        goto done;
    }
    if (!esc_time_set_zone(esc_args_get(&a, "tz"))) {
        esc_say(stderr, "escudo %s: unknown time zone %s", cmd, esc_args_get(&a, "tz"));
        goto done;
    }
    esc_store_filter f;
    memset(&f, 0, sizeof f);
    int64_t now = (int64_t)time(NULL);
    if (esc_args_has(&a, "now") && !time_opt(&a, cmd, "now", now, &now))
        goto done;
    if (esc_args_has(&a, "since")) {
        if (!time_opt(&a, cmd, "since", now, &f.since))
            goto done;
        f.has_since = true;
    }
    if (esc_args_has(&a, "until")) {
        if (!time_opt(&a, cmd, "until", now, &f.until))
            goto done;
        f.has_until = true;
    }
    if (esc_args_has(&a, "limit")) {
        char *end;
        f.limit = strtoll(esc_args_get(&a, "limit"), &end, 10);
        if (*end || f.limit <= 0) {
            esc_say(stderr, "escudo %s: --limit must be a positive number", cmd);
            goto done;
        }
    }
    f.rule = esc_args_get(&a, "rule");
    f.object = esc_args_get(&a, "object");
    f.status = esc_args_get(&a, "status");
    if (f.status && kind == ESC_SINK_RISK) {
        fprintf(stderr, "escudo risk: risk events have no status (see escudo notables)\n");
        goto done;
    }
    if (!p.json) {
        if (kind == ESC_SINK_NOTABLE)
            printf("%-19s  %-13s  %-8s  %-11s  %-12s  %s\n", "time", "severity", "urgency",
                   "status", "event_id", "rule_title");
        else
            printf("%-19s  %-6s  %-30s  %5s  %-12s  %s\n", "time", "type", "risk_object", "score",
                   "event_id", "search_name");
    }
    esc_error err = {0};
    esc_status st = esc_store_list(db, kind, &f, print_row, &p, &err);
    fflush(stdout);
    if (st != ESC_OK) {
        esc_report("error", &err);
        rc = esc_exit_code(st);
        goto done;
    }
    if (!p.json)
        esc_say(stderr, "escudo: %zu %s", p.n,
                kind == ESC_SINK_NOTABLE ? "notables" : "risk events");
    rc = ESC_EXIT_OK;
done:
    esc_args_free(&a);
    return rc;
}

int esc_cmd_notables(int argc, char **argv) {
    return esc_cli_store_list(ESC_SINK_NOTABLE, argc, argv);
}
