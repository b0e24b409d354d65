/* escudo notables / escudo risk: list what the SQLite store (--db) holds, filtered by time, rule,
 * detection, object, severity and status, as a table for people or as the stored JSON objects,
 * one a line; and `escudo notables set|history`, the incident review of Splunk ES: a notable's
 * status, owner and comment changed with their history kept (docs/triage.md).
 * Listing opens the store read-only; only `set` writes (sink/store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "sched/reltime.h"
#include "sink/store.h"

#define LIST_OPTS                                                                                  \
    {"db", "FILE", "the SQLite store written by hunt/run --db (required)"},                        \
        {"since", "T", "only events at or after T (epoch, ISO 8601 or relative, e.g. -24h)"},      \
        {"until", "T", "only events before T"},                                                    \
        {"rule", "TEXT", "search_name or rule title contains TEXT (any case)"},                    \
        {"object", "VALUE", "risk object (notables: also any field) equal to VALUE"},              \
        {"status", "STATUS",                                                                       \
         "notables with this status (new, in progress, closed, ...); set: the new one\n"           \
         "                           (unassigned, new, in-progress, pending, resolved, closed)"},  \
        {"severity", "LEVEL",                                                                      \
         "notables of this severity (informational..critical), LEVEL+ and above;\n"                \
         "                           a comma list takes several"},                                 \
        {"detection", "NAME|GLOB", "events of this detection (its name or a glob, any case)"},     \
        {"limit", "N", "at most N events"},                                                        \
        {"format", "table|json", "output format (default table)"},                                 \
        {"now", "T", "the time relative times count from (default: the current time)"},            \
        {"tz", "ZONE", "IANA zone for zone-less times and the table's times (default UTC)"}, {     \
        "help", NULL, "show this help"                                                             \
    }

static const esc_opt list_opts[] = {LIST_OPTS};
#define NOPTS (sizeof list_opts / sizeof list_opts[0])
/* --help, the man page and completions of `notables`: listing, and set ID's own options */
static const esc_opt notables_doc_opts[] = {
    LIST_OPTS,
    {"owner", "NAME", "set: who owns the notable"},
    {"comment", "TEXT", "set: a note kept in the notable's history"},
    {"user", "NAME", "set: who makes the change (default: $USER)"},
};
#define NDOC (sizeof notables_doc_opts / sizeof notables_doc_opts[0])
const esc_cmd_doc esc_doc_notables = {
    "--db FILE [OPTIONS] | set ID --db FILE [--status S] [--owner N] [--comment T] | "
    "history ID --db FILE",
    notables_doc_opts, NDOC};
const esc_cmd_doc esc_doc_risk = {"--db FILE [OPTIONS]", list_opts, NOPTS};

typedef struct printer {
    esc_sink_kind kind;
    bool json;
    size_t n;
} printer;

static const char *or_dash(const char *s) {
    return s && *s ? s : "-";
}

/* s escaped in exactly w columns (a longer value cut with "…"), then two spaces. */
static void cut_pad(const char *s, size_t w) {
    char buf[256];
    if (esc_out_human_width(s) > w) {
        size_t cols = 0, i = 0;
        for (; s[i] && i < 240; i++)
            if (((unsigned char)s[i] & 0xC0) != 0x80) {
                if (cols == w - 1)
                    break;
                cols++;
            }
        snprintf(buf, sizeof buf, "%.*s\xe2\x80\xa6", (int)i, s);
        s = buf;
    }
    esc_out_human_pad(stdout, s, w);
    fputs("  ", stdout);
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
        esc_buf o;
        esc_buf_init(&o, 256);
        if (!r->has_orig_time || esc_time_format(&o, r->orig_time, "%Y-%m-%dT%H:%M:%S"))
            esc_buf_append_c(&o, "-");
        /* stored values come from the input: printed escaped (esc_out_human) */
        printf("%-19s  ", t.ptr ? t.ptr : "");
        esc_out_human_pad(stdout, or_dash(r->severity), 13);
        fputs("  ", stdout);
        esc_out_human_pad(stdout, or_dash(r->urgency), 8);
        fputs("  ", stdout);
        esc_out_human_pad(stdout, or_dash(r->status), 11);
        fputs("  ", stdout);
        cut_pad(or_dash(r->owner), 12);
        cut_pad(or_dash(r->host), 20);
        cut_pad(or_dash(r->user), 20);
        printf("%-19s  %-12.12s  ", o.ptr ? o.ptr : "-", r->event_id);
        esc_say(stdout, "%s", or_dash(r->rule_title));
        esc_buf_fini(&o);
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

static const char *const LEVELS[] = {"informational", "low", "medium", "high", "critical"};

/* "high+,low" -> ",low,high,critical," (the severities notables carry, esc_act_severity). */
static bool severity_set(const char *spec, char *out, size_t cap) {
    bool want[5] = {false};
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(tok);
        bool up = n && tok[n - 1] == '+';
        if (up)
            tok[--n] = 0;
        size_t k = 0;
        while (k < 5 && strcasecmp(tok, LEVELS[k]) != 0)
            k++;
        if (k == 5)
            return false;
        for (size_t j = k; j < (up ? 5 : k + 1); j++)
            want[j] = true;
    }
    size_t len = (size_t)snprintf(out, cap, ",");
    for (size_t k = 0; k < 5; k++)
        if (want[k])
            len += (size_t)snprintf(out + len, cap - len, "%s,", LEVELS[k]);
    return len > 1;
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
        bool nt = kind == ESC_SINK_NOTABLE;
        esc_usage(stdout, cmd, nt ? esc_doc_notables.synopsis : "--db FILE [OPTIONS]",
                  nt ? "List the notables held in a SQLite store, oldest first (time is the "
                       "run's time;\nrisk threshold notables carry the time of the risk event "
                       "that crossed it; orig_time is\nthe first event's). `notables set ID` "
                       "changes a notable's status, owner or comment\nas Splunk ES incident "
                       "review does; `notables history ID` lists the changes."
                     : "List the risk events held in a SQLite store, oldest first (time is the "
                       "result row's\nlastTime).",
                  nt ? notables_doc_opts : list_opts, nt ? NDOC : NOPTS);
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
    f.detection = esc_args_get(&a, "detection");
    char sev[96];
    if (esc_args_has(&a, "severity")) {
        if (kind == ESC_SINK_RISK) {
            fprintf(stderr, "escudo risk: risk events have a score, not a severity (--severity is "
                            "for notables)\n");
            goto done;
        }
        if (!severity_set(esc_args_get(&a, "severity"), sev, sizeof sev)) {
            esc_say(stderr,
                    "escudo %s: --severity %s: give informational, low, medium, high or "
                    "critical (LEVEL+ for that level and above; a comma list)",
                    cmd, esc_args_get(&a, "severity"));
            goto done;
        }
        f.severities = sev;
    }
    if (f.status && kind == ESC_SINK_RISK) {
        fprintf(stderr, "escudo risk: risk events have no status (see escudo notables)\n");
        goto done;
    }
    if (!p.json) {
        if (kind == ESC_SINK_NOTABLE)
            printf("%-19s  %-13s  %-8s  %-11s  %-12s  %-20s  %-20s  %-19s  %-12s  %s\n", "time",
                   "severity", "urgency", "status", "owner", "host", "user", "orig_time",
                   "event_id", "rule_title");
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

/* ---- incident review: escudo notables set|history ID ---- */

static const esc_opt set_opts[] = {
    {"db", "FILE", "the SQLite store (required)"},
    {"status", "STATUS", "unassigned, new, in-progress, pending, resolved or closed"},
    {"owner", "NAME", "who owns the notable"},
    {"comment", "TEXT", "a note kept in the notable's history"},
    {"user", "NAME", "who makes the change (default: $USER)"},
    {"help", NULL, "show this help"},
};
#define NSET (sizeof set_opts / sizeof set_opts[0])
static const esc_opt history_opts[] = {
    {"db", "FILE", "the SQLite store (required)"},
    {"help", NULL, "show this help"},
};
#define SET_SYNOPSIS "ID --db FILE [--status S] [--owner NAME] [--comment T]"

/* Splunk ES's notable statuses (ES Notable Event API reference, "status";
 * https://help.splunk.com/splunk-enterprise-security-7/api-reference/7.2/notable-event-endpoints/
 * notable-event-api-reference; the same list as default_status of the splunk.es collection:
 * unassigned, new, in progress, pending, resolved, closed), stored in lower case as notables
 * carry "new". "in-progress" and "in_progress" are taken for "in progress". */
static const char *es_status(const char *s) {
    static const char *const ST[] = {"unassigned", "new",      "in progress",
                                     "pending",    "resolved", "closed"};
    char t[32];
    size_t n = 0;
    for (; s[n] && n + 1 < sizeof t; n++)
        t[n] = s[n] == '-' || s[n] == '_' ? ' ' : s[n];
    t[n] = 0;
    for (size_t i = 0; i < sizeof ST / sizeof ST[0]; i++)
        if (!strcasecmp(t, ST[i]) && !s[n])
            return ST[i];
    return NULL;
}

static esc_status print_update(void *ctx, int64_t t, const char *user, const char *status,
                               const char *owner, const char *comment, esc_error *err) {
    (void)ctx;
    (void)err;
    esc_buf b;
    esc_buf_init(&b, 64);
    if (esc_time_format(&b, t, "%Y-%m-%dT%H:%M:%S"))
        esc_buf_printf(&b, "%lld", (long long)t);
    esc_say(stdout, "%s  %s  status=%s  owner=%s  comment=%s", b.ptr ? b.ptr : "", or_dash(user),
            or_dash(status), or_dash(owner), comment ? comment : "-");
    esc_buf_fini(&b);
    return ESC_OK;
}

static int notables_set(int argc, char **argv, bool history) {
    const char *cmd = history ? "notables history" : "notables set";
    esc_args a;
    int rc = ESC_EXIT_USAGE;
    const esc_opt *opts = history ? history_opts : set_opts;
    size_t nopts = history ? 2 : NSET;
    if (!esc_args_parse(&a, opts, nopts, argc, argv, cmd))
        return ESC_EXIT_USAGE;
    if (esc_args_has(&a, "help") || a.npos != 1 || !esc_args_get(&a, "db")) {
        bool help = esc_args_has(&a, "help");
        esc_usage(help ? stdout : stderr, cmd, history ? "ID --db FILE" : SET_SYNOPSIS,
                  history ? "The changes made to a notable, oldest first."
                          : "Change a notable's status, owner or comment as Splunk ES incident "
                            "review does;\nevery change is kept (escudo notables history ID).",
                  opts, nopts);
        rc = help ? ESC_EXIT_OK : ESC_EXIT_USAGE;
        goto done;
    }
    esc_error err = {0};
    esc_status st;
    if (history) {
        st = esc_store_history(esc_args_get(&a, "db"), a.pos[0], print_update, NULL, &err);
    } else {
        const char *status = esc_args_get(&a, "status");
        if (status && !(status = es_status(status))) {
            esc_say(stderr,
                    "escudo notables set: --status %s: give unassigned, new, in-progress, "
                    "pending, resolved or closed",
                    esc_args_get(&a, "status"));
            goto done;
        }
        esc_store_update u = {a.pos[0],
                              status,
                              esc_args_get(&a, "owner"),
                              esc_args_get(&a, "comment"),
                              esc_args_get(&a, "user"),
                              (int64_t)time(NULL)};
        if (!u.user)
            u.user = getenv("USER");
        if (!u.status && !u.owner && !u.comment) {
            fprintf(stderr, "escudo notables set: give --status, --owner or --comment\n");
            goto done;
        }
        char full[65];
        st = esc_store_update_notable(esc_args_get(&a, "db"), &u, full, &err);
        if (st == ESC_OK)
            esc_say(stdout, "%s: status %s, owner %s", full, u.status ? u.status : "kept",
                    u.owner ? u.owner : "kept");
    }
    if (st != ESC_OK) {
        esc_say(stderr, "escudo %s: %s", cmd, err.msg);
        rc = st == ESC_EUSAGE ? ESC_EXIT_FAIL : esc_exit_code(st);
        goto done;
    }
    rc = ESC_EXIT_OK;
done:
    esc_args_free(&a);
    return rc;
}

int esc_cmd_notables(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "set") || !strcmp(argv[1], "history")))
        return notables_set(argc - 1, argv + 1, !strcmp(argv[1], "history"));
    return esc_cli_store_list(ESC_SINK_NOTABLE, argc, argv);
}
