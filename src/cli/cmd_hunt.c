/* escudo hunt: detections over files, offline, one window (all time by default). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__ /* set by the headers above */
#include <malloc.h>
#endif

#include "act/act.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "detect/engine.h"
#include "detect/lint.h"
#include "ingest/input.h"
#include "report/report.h"
#include "sched/reltime.h"
#include "sink/sink.h"

static const esc_opt hunt_opts[] = {
    {"format", "table|json|csv|timeline-csv|timeline-json",
     "output format (default table); timeline-*: one line per event behind the rows,\n"
     "                           time-ordered across detections"},
    {"evidence", NULL,
     "json rows and notables: severity, ATT&CK ids, orig_time and the events\n"
     "                           behind each (5 earliest, 5 latest, the count)"},
    {"color", "auto|always|never",
     "colour severities in the table (default auto: a terminal,\n"
     "                           unless NO_COLOR is set)"},
    {"profile", "splunk|native", "CIM mapping profile (default splunk: as Splunk's add-ons)"},
    {"earliest", "T", "window start, inclusive: epoch, ISO 8601 or relative (-70m@m)"},
    {"latest", "T", "window end, exclusive (default +Infinity)"},
    {"now", "T", "the time relative times count from (default: the current time)"},
    {"tz", "ZONE", "IANA zone for zone-less times, snapping and output (default UTC)"},
    {"content", "DIR", "content folder (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"detection", "NAME|ID|FILE|GLOB", "run only this detection (repeatable; default: all loaded)"},
    ESC_CLI_TAG_OPTS,
    {"aidmaster", "FILE", "CrowdStrike host inventory (aid -> ComputerName)"},
    {"recover", NULL, "also read deleted EVTX records left in slack space"},
    {"threads", "N",
     "threads (default 2): a file is read and decoded ahead on a second one,\n"
     "                           spills are written on a third; EVTX on standard input is\n"
     "                           decoded on N (1: none of these)"},
    {"strict", NULL, "exit 1 when any warning was reported"},
    {"summary-json", "FILE", "write the run summary as JSON"},
    {"quiet", NULL, "no summary or progress on stderr"},
    {"max-warnings", "N", "print at most N warnings (default 20; all are counted)"},
    {"verbose", NULL, "also print content warnings"},
    {"notables", "FILE", "append notables as JSON lines to FILE (- for stdout)"},
    {"risk", "FILE", "append risk events as JSON lines to FILE (- for stdout)"},
    {"db", "FILE", "keep notables and risk events in a SQLite store (no duplicates)"},
    {"report", "FILE", "write an HTML report of the store (without --db: of this hunt)"},
    {"hec", "URL", "send notables and risk events to Splunk HEC (https://host:8088)"},
    {"hec-token-file", "FILE", "HEC token (else $ESCUDO_HEC_TOKEN; never on the command line)"},
    {"hec-spool", "DIR", "where unsent HEC batches wait (default .escudo-spool)"},
    {"hec-ca", "FILE", "CA certificates (PEM) that sign the HEC server's certificate"},
    {"hec-insecure", NULL, "do not verify the HEC server's TLS certificate"},
    {"hec-no-ack", NULL, "do not wait for HEC indexer acknowledgement"},
    {"hec-max-wait", "SECONDS",
     "most time spent sending to HEC and waiting for it, then leave batches\n"
     "                           spooled (default 60)"},
    {"group-memory", "MIB",
     "memory for search groups while reading (default 16); past it the largest\n"
     "                           are spilled to temporary files in $TMPDIR (0: spill all)"},
    {"two-stage", "N",
     "check the Kafka mode's two-stage aggregation: split the hosts into N\n"
     "                           shards and merge their partial results (docs/scale.md)"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof hunt_opts / sizeof hunt_opts[0])
const esc_cmd_doc esc_doc_hunt = {"[OPTIONS] PATH...", hunt_opts, NOPTS};

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(const esc_hunt_stats *s, double elapsed) {
    uint64_t bytes = s->bytes + s->current_offset;
    fprintf(stderr, "\r\033[Kescudo: %.1f MB, %.0f MB/s, %llu events", (double)bytes / 1e6,
            elapsed > 0 ? (double)bytes / 1e6 / elapsed : 0.0, (unsigned long long)s->events);
    if (s->current && s->current_size) {
        fputs(", ", stderr);
        esc_out_human(stderr, s->current, strlen(s->current)); /* a file name: escaped */
        fprintf(stderr, " %.0f%%", 100.0 * (double)s->current_offset / (double)s->current_size);
    }
    fflush(stderr);
}

static void summary_json(FILE *f, const esc_hunt_stats *s, double elapsed, size_t ndet,
                         size_t nskipped, char **first, size_t nfirst) {
    fprintf(f,
            "{\"inputs\": %llu, \"inputs_unknown\": %llu, \"inputs_failed\": %llu, "
            "\"bytes\": %llu, \"events\": %llu, \"prefiltered\": %llu, "
            "\"process_events\": %llu, \"malformed\": %llu, \"repaired\": %llu, "
            "\"warnings\": %llu, \"aidmaster\": %llu, \"unresolved_hosts\": %llu, "
            "\"other_records\": %llu, \"rows\": %llu, \"regex_limited\": %llu, "
            "\"detections\": %zu, "
            "\"detections_skipped\": %zu, \"elapsed_s\": %.3f, \"mb_per_s\": %.1f, "
            "\"first_warnings\": [",
            (unsigned long long)s->inputs, (unsigned long long)s->inputs_unknown,
            (unsigned long long)s->inputs_failed, (unsigned long long)s->bytes,
            (unsigned long long)s->events, (unsigned long long)s->prefiltered,
            (unsigned long long)s->process_events, (unsigned long long)s->malformed,
            (unsigned long long)s->repaired, (unsigned long long)s->warnings,
            (unsigned long long)s->aidmaster, (unsigned long long)s->unresolved_hosts,
            (unsigned long long)s->other, (unsigned long long)s->rows,
            (unsigned long long)s->regex_limited, ndet, nskipped, elapsed,
            elapsed > 0 ? (double)s->bytes / 1e6 / elapsed : 0.0);
    for (size_t i = 0; i < nfirst; i++) {
        if (i)
            fputs(", ", f);
        esc_out_json_string(f, first[i], strlen(first[i]));
    }
    fputs("]}\n", f);
}

static char *warning_text(const esc_error *err) {
    char buf[ESC_ERROR_MSG_MAX + 512];
    if (err->path && err->line)
        snprintf(buf, sizeof buf, "%s:%llu: %s", err->path, (unsigned long long)err->line,
                 err->msg);
    else if (err->path && err->has_offset)
        snprintf(buf, sizeof buf, "%s: offset %llu: %s", err->path, (unsigned long long)err->offset,
                 err->msg);
    else
        snprintf(buf, sizeof buf, "%s%s%s", err->path ? err->path : "", err->path ? ": " : "",
                 err->msg);
    return esc_strdup(buf);
}

static bool parse_time(const char *flag, const char *spec, int64_t now, int64_t *out) {
    esc_error err = {0};
    if (esc_time_spec_parse(spec, now, out, &err) != ESC_OK) {
        esc_say(stderr, "escudo hunt: --%s %s: %s", flag, spec, err.msg);
        return false;
    }
    return true;
}

/* An event over the size cap: reported, the others still made, exit 3 at the end. */
static void report_skip(void *dropped, const esc_error *e) {
    esc_report("error", e);
    *(bool *)dropped = true;
}

/* Notables and risk events (SPEC section 6) into the sinks the flags name; nothing without one. */
static int run_actions(const esc_args *a, const esc_content *content, const esc_engine *engine,
                       const esc_hunt *hunt, const esc_hunt_opts *ho, int64_t now, bool quiet,
                       const char *token, const char *db) {
    esc_sink_opts so = {.notables_path = esc_args_get(a, "notables"),
                        .risk_path = esc_args_get(a, "risk"),
                        .db_path = db,
                        .hec_url = esc_args_get(a, "hec"),
                        .hec_spool_dir = esc_args_get(a, "hec-spool"),
                        .hec_insecure = esc_args_has(a, "hec-insecure"),
                        .hec_ca_file = esc_args_get(a, "hec-ca"),
                        .hec_ack = !esc_args_has(a, "hec-no-ack")};
    if (!so.notables_path && !so.risk_path && !so.db_path && !so.hec_url)
        return ESC_EXIT_OK;
    if (esc_args_has(a, "hec-max-wait"))
        so.hec_max_wait_ms = atoi(esc_args_get(a, "hec-max-wait")) * 1000;
    esc_sinks *sinks = NULL;
    esc_act *act = NULL;
    esc_error err = {0};
    esc_status st = ESC_OK;
    bool dropped = false; /* an event over the size cap: reported, the others still made */
    so.hec_token = token; /* read by hunt_checks, before the hunt */
    if ((st = esc_sinks_open(&so, &sinks, &err)) || !(act = esc_act_new(content, sinks, &err))) {
        st = st ? st : ESC_ENOMEM;
        goto out;
    }
    esc_act_set_evidence(act, esc_args_has(a, "evidence"));
    esc_act_window w = {
        esc_time_sec(ho->earliest_us),
        ho->latest_us == ESC_TIME_MAX ? ESC_ACT_INFINITY : esc_time_sec(ho->latest_us), now};
    size_t n = esc_engine_count(engine);
    esc_act_input *in = esc_calloc(n ? n : 1, sizeof *in);
    if (!in) {
        st = esc_error_set(&err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        in[i] = (esc_act_input){.detection = esc_engine_detection(engine, i),
                                .rows = esc_hunt_table(hunt, i),
                                .window = w};
    st = esc_act_step(act, in, n, &(esc_act_hooks){.skipped = report_skip, .ctx = &dropped}, &err);
    esc_free(in);
    if (!st && !quiet) {
        esc_act_counts c = esc_act_get_counts(act);
        fprintf(stderr, "escudo: %zu notables, %zu risk events, %zu risk threshold notables\n",
                c.notables, c.risk_events, c.incidents);
    }
out:;
    /* every sink commits; HEC batches that could not be delivered wait in the spool, which is
     * reported (exit 3) but does not undo what the other sinks hold */
    esc_status cst = esc_sinks_flush(sinks, st ? NULL : &err);
    st = st ? st : cst;
    esc_error why = {0};
    if (!st && esc_sinks_pending(sinks, &why)) {
        err = why;
        st = why.code;
    }
    cst = esc_sinks_close(sinks, st ? NULL : &err);
    st = st ? st : cst;
    esc_act_free(act);
    if (st) {
        esc_report("error", &err);
        return esc_exit_code(st);
    }
    return dropped ? ESC_EXIT_IO : ESC_EXIT_OK;
}

/* How the rows are printed. */
typedef struct hunt_out {
    esc_out_format fmt;
    int timeline; /* 1 timeline-csv, 2 timeline-json */
    bool evidence, color;
} hunt_out;

/* The flags that shape the hunt (output format, profile, zone, window, readers) and the check
 * that inputs were given; false after the message on a usage error. */
static bool hunt_options(const esc_args *a, hunt_out *fmt, esc_hunt_opts *ho, int64_t *now) {
    const char *f = esc_args_get(a, "format");
    fmt->timeline = f && !strcmp(f, "timeline-csv") ? 1 : f && !strcmp(f, "timeline-json") ? 2 : 0;
    if (f && !fmt->timeline && !esc_out_format_parse(f, &fmt->fmt)) {
        fprintf(stderr, "escudo hunt: --format must be table, json, csv, timeline-csv or "
                        "timeline-json\n");
        return false;
    }
    fmt->evidence = esc_args_has(a, "evidence") && !fmt->timeline && fmt->fmt == ESC_OUT_JSON;
    bool ok;
    fmt->color = esc_out_color(esc_args_get(a, "color"), &ok);
    if (!ok) {
        esc_say(stderr, "escudo hunt: --color must be auto, always or never, not %s",
                esc_args_get(a, "color"));
        return false;
    }
    *ho =
        (esc_hunt_opts){.profile = ESC_PROFILE_SPLUNK, .earliest_us = 0, .latest_us = ESC_TIME_MAX};
    const char *prof = esc_args_get(a, "profile");
    if (prof && strcmp(prof, "native") == 0)
        ho->profile = ESC_PROFILE_NATIVE;
    else if (prof && strcmp(prof, "splunk") != 0) {
        fprintf(stderr, "escudo hunt: --profile must be splunk or native\n");
        return false;
    }
    if (!esc_time_set_zone(esc_args_get(a, "tz"))) {
        esc_say(stderr, "escudo hunt: unknown time zone %s", esc_args_get(a, "tz"));
        return false;
    }
    int64_t t;
    *now = (int64_t)time(NULL);
    if (esc_args_has(a, "now") && !parse_time("now", esc_args_get(a, "now"), *now, now))
        return false;
    ho->now = *now; /* risk events without lastTime, fed to the RBA detections */
    if (esc_args_has(a, "earliest")) {
        if (!parse_time("earliest", esc_args_get(a, "earliest"), *now, &t))
            return false;
        ho->earliest_us = t * ESC_US_PER_SEC;
    }
    if (esc_args_has(a, "latest")) {
        if (!parse_time("latest", esc_args_get(a, "latest"), *now, &t))
            return false;
        ho->latest_us = t * ESC_US_PER_SEC;
    }
    ho->reader.recover = esc_args_has(a, "recover");
    long threads = 2;
    if (!esc_cli_number("hunt", a, "threads", 1, 64, &threads))
        return false;
    ho->reader.threads = (int)threads;
    long shards = 0;
    if (!esc_cli_number("hunt", a, "two-stage", 1, ESC_HUNT_MAX_SHARDS, &shards))
        return false;
    ho->shards = (size_t)shards;
    long group_mib = -1;
    if (!esc_cli_number("hunt", a, "group-memory", 0, 1L << 20, &group_mib))
        return false;
    if (group_mib >= 0) /* 0 MiB: a budget of one byte, every table is spilled at every step */
        ho->group_memory = group_mib ? (size_t)group_mib << 20 : 1;
    if ((esc_args_has(a, "earliest") || esc_args_has(a, "latest")) &&
        ho->earliest_us >= ho->latest_us) {
        fprintf(stderr, "escudo hunt: --earliest must be before --latest (the window is empty)\n");
        return false;
    }
    ho->aidmaster = esc_args_get(a, "aidmaster");
    if (a->npos == 0) {
        fprintf(stderr, "escudo hunt: no input (give files, directories or -; see --help)\n");
        return false;
    }
    return true;
}

/* What else can be checked before any input is read: numbers, the paths of the content and the
 * inventory, and the HEC settings with its token (*token, wiped and freed by the caller). */
static int hunt_checks(const esc_args *a, long *max_warn, char **token) {
    if (!esc_cli_number("hunt", a, "max-warnings", 0, LONG_MAX, max_warn) ||
        !esc_cli_paths_exist("hunt", a, "content", false) ||
        !esc_cli_paths_exist("hunt", a, "local", false) ||
        !esc_cli_paths_exist("hunt", a, "aidmaster", false))
        return ESC_EXIT_USAGE;
    return esc_cli_check_hec("hunt", a, token);
}

/* Warnings of one hunt: every one counted by the hunt, the first ones kept for --summary-json,
 * at most `max` printed. */
typedef struct warn_log {
    char *first[64];
    size_t nfirst;
    long printed, max;
    bool quiet;
} warn_log;

static void warn(warn_log *w, const esc_error *err, bool clear_progress) {
    if (w->nfirst < sizeof w->first / sizeof w->first[0])
        w->first[w->nfirst++] = warning_text(err);
    if (!w->quiet && w->printed++ < w->max) {
        if (clear_progress)
            fputs("\r\033[K", stderr);
        esc_report("warning", err);
    }
}

/* The engine of the detections named with --detection (strict: each must plan), or of those a
 * glob or tag selection picks, or of every loaded detection (those that do not plan are
 * skipped, and said so). */
static int hunt_engine(const esc_args *a, const esc_content *content, const warn_log *w,
                       esc_engine **engine) {
    const esc_detection **dets = NULL;
    size_t n = 0;
    esc_error err = {0};
    esc_status st;
    esc_cli_selectors src[5] = {esc_cli_option(a, "detection")};
    size_t nsrc = 1 + esc_cli_tag_selectors(a, src + 1);
    bool exact = true;
    int rc = esc_cli_select("hunt", content, src, nsrc, &dets, &n, &exact);
    if (rc != ESC_EXIT_OK)
        return rc;
    rc = ESC_EXIT_USAGE;
    bool strict = n > 0 && exact; /* named exactly: each must plan */
    if (strict && !esc_cli_check_searches(content, dets, n))
        goto out;
    st = esc_engine_new(content, n ? dets : NULL, n, strict, engine, &err);
    if (st) {
        esc_report("error", &err);
        rc = esc_exit_code(st);
        goto out;
    }
    for (size_t i = 0; !w->quiet && i < esc_engine_nskipped(*engine); i++) {
        const char *why;
        const esc_detection *d = esc_engine_skipped(*engine, i, &why);
        if ((long)i < w->max)
            esc_say(stderr, "escudo: not supported, skipped: %s: %s", d->name, why);
    }
    if (esc_engine_count(*engine) == 0) {
        fprintf(stderr, "escudo hunt: no detection to run\n");
        goto out;
    }
    rc = ESC_EXIT_OK;
out:
    esc_free(dets);
    return rc;
}

/* The files under the PATH arguments. A path that cannot be listed is a warning, counted in
 * *unlisted; false after the message when out of memory or over a limit. */
static bool expand_inputs(const esc_args *a, char ***files, size_t *nfiles, size_t *unlisted) {
    esc_error err = {0};
    for (size_t i = 0; i < a->npos; i++) {
        char **f1 = NULL;
        size_t n1 = 0, sk = 0;
        esc_status st = esc_paths_expand(&a->pos[i], 1, &f1, &n1, &sk, &err);
        if (st == ESC_ENOMEM || st == ESC_ELIMIT) {
            esc_report("error", &err);
            return false;
        }
        if (st || sk) {
            esc_report("warning", &err);
            (*unlisted)++;
        }
        char **grown = esc_realloc(*files, (*nfiles + n1 + 1) * sizeof **files);
        if (!grown) {
            esc_paths_free(f1, n1);
            fprintf(stderr, "escudo: error: out of memory\n");
            return false;
        }
        *files = grown;
        if (n1)
            memcpy(*files + *nfiles, f1, n1 * sizeof *f1);
        *nfiles += n1;
        esc_free(f1);
    }
    return true;
}

/* Every record through the engine, warnings as they come, progress on a terminal; then the
 * searches' final stage. *elapsed is the time it took. */
static int read_inputs(esc_hunt *hunt, warn_log *w, double *elapsed) {
    esc_error err = {0};
    esc_status st;
    double t0 = now_mono(), last = t0;
    bool tty = !w->quiet && isatty(2);
    bool drew = false;
    for (;;) {
        esc_error_clear(&err);
        st = esc_hunt_step(hunt, &err);
        if (st == ESC_EOF)
            break;
        if (st == ESC_ENOMEM) {
            esc_report("error", &err);
            return ESC_EXIT_IO;
        }
        if (st != ESC_OK)
            warn(w, &err, drew);
        if (tty) {
            double t1 = now_mono();
            if (t1 - last > 0.25) {
                progress(esc_hunt_stats_get(hunt), t1 - t0);
                drew = true;
                last = t1;
            }
        }
    }
    if (drew)
        fputs("\r\033[K", stderr);
    if ((st = esc_hunt_finish(hunt, &err))) {
        esc_report("error", &err);
        return esc_exit_code(st);
    }
    *elapsed = now_mono() - t0;
    return ESC_EXIT_OK;
}

/* A search whose regular expressions hit the match limit: one warning each. */
static void regex_limit_warnings(const esc_engine *engine, const esc_hunt *hunt, warn_log *w) {
    esc_error err = {0};
    for (size_t i = 0; i < esc_engine_count(engine); i++) {
        uint64_t n = esc_hunt_table(hunt, i)->regex_limited;
        if (!n)
            continue;
        esc_error_set(&err, ESC_ELIMIT,
                      "%s: %llu regular-expression matches stopped at the match limit (%d "
                      "steps, depth %d) and counted as no match",
                      esc_engine_search_name(engine, i), (unsigned long long)n,
                      ESC_SPL_RE_MATCH_LIMIT, ESC_SPL_RE_DEPTH_LIMIT);
        warn(w, &err, false);
    }
}

/* A search whose spilled groups, merged back, passed a cap: one warning for the records of the
 * groups dropped (the hunt counted one per record, as for those dropped while reading); one
 * whose join left subsearch rows unused past Splunk's 50,000: one warning. */
static void merge_cap_warnings(const esc_engine *engine, const esc_hunt *hunt, warn_log *w) {
    esc_error err = {0};
    for (size_t i = 0; i < esc_engine_count(engine); i++) {
        const esc_table *t = esc_hunt_table(hunt, i);
        if (t->dropped_groups) {
            esc_error_set(&err, ESC_ELIMIT,
                          "%s: more than %d groups: %llu records of further groups dropped",
                          esc_engine_search_name(engine, i), ESC_SPL_MAX_GROUPS,
                          (unsigned long long)t->dropped_groups);
            warn(w, &err, false);
        }
        if (t->dropped_bytes) {
            esc_error_set(&err, ESC_ELIMIT,
                          "%s: aggregation memory limit reached: %llu records dropped",
                          esc_engine_search_name(engine, i), (unsigned long long)t->dropped_bytes);
            warn(w, &err, false);
        }
        if (t->join_unused) {
            esc_error_set(&err, ESC_ELIMIT,
                          "%s: join uses the first %d rows of its subsearch, as Splunk does "
                          "(subsearch_maxout): %llu rows not used",
                          esc_engine_search_name(engine, i), ESC_SPL_JOIN_ROWS,
                          (unsigned long long)t->join_unused);
            warn(w, &err, false);
        }
    }
}

/* The result tables on stdout: with several detections, each named, and empty ones left out
 * except in JSON; CSV under one header, the table for people grouped (cli/triage.c). */
static void print_rows(const hunt_out *o, const esc_engine *engine, const esc_hunt *hunt) {
    esc_out_format fmt = o->fmt;
    size_t ndet = esc_engine_count(engine);
    bool header = true;
    if (o->timeline || o->evidence || (ndet > 1 && fmt != ESC_OUT_JSON)) {
        esc_result *r = esc_calloc(ndet ? ndet : 1, sizeof *r);
        if (!r)
            return;
        for (size_t i = 0; i < ndet; i++)
            r[i] = (esc_result){esc_engine_detection(engine, i), esc_engine_search_name(engine, i),
                                esc_hunt_table(hunt, i)};
        if (o->timeline)
            esc_out_timeline(stdout, o->timeline == 1, r, ndet);
        else if (o->evidence)
            esc_out_evidence_json(stdout, r, ndet);
        else if (fmt == ESC_OUT_CSV)
            esc_out_csv_union(stdout, r, ndet);
        else
            esc_out_people(stdout, r, ndet, o->color, 0);
        esc_free(r);
        fflush(stdout);
        return;
    }
    for (size_t i = 0; i < ndet; i++) {
        const esc_table *tb = esc_hunt_table(hunt, i);
        if (fmt != ESC_OUT_JSON && tb->nrows == 0 && ndet > 1)
            continue;
        esc_out_rows(stdout, fmt, tb, ndet > 1 ? esc_engine_search_name(engine, i) : NULL,
                     header || fmt == ESC_OUT_TABLE);
        header = false;
        if (fmt == ESC_OUT_TABLE && i + 1 < ndet)
            fputc('\n', stdout);
    }
    fflush(stdout);
}

/* "detections N, skipped M: n1 why1, n2 why2" (the reasons grouped, the commonest first, at
 * most 6 named), and without --content, that only the shipped example ran. */
static void print_detections(const esc_args *a, const esc_engine *engine) {
    enum { MAXW = 6 };
    const char *why[MAXW];
    size_t count[MAXW], nwhy = 0, other = 0, nsk = esc_engine_nskipped(engine);
    for (size_t i = 0; i < nsk; i++) {
        const char *w;
        esc_engine_skipped(engine, i, &w);
        size_t k = 0;
        while (k < nwhy && strcmp(why[k], w) != 0)
            k++;
        if (k == nwhy && nwhy == MAXW) {
            other++;
            continue;
        }
        if (k == nwhy) {
            why[nwhy] = w;
            count[nwhy++] = 0;
        }
        count[k]++;
        for (; k > 0 && count[k] > count[k - 1]; k--) { /* commonest first */
            const char *tw = why[k];
            size_t tc = count[k];
            why[k] = why[k - 1], count[k] = count[k - 1];
            why[k - 1] = tw, count[k - 1] = tc;
        }
    }
    fprintf(stderr, "escudo: detections %zu, skipped %zu", esc_engine_count(engine), nsk);
    for (size_t k = 0; k < nwhy; k++) {
        fprintf(stderr, "%s%zu ", k ? ", " : ": ", count[k]);
        esc_out_human(stderr, why[k], strlen(why[k])); /* from the content: escaped */
    }
    if (other)
        fprintf(stderr, ", %zu other reasons", other);
    fputc('\n', stderr);
    size_t unmapped = 0; /* as escudo lint counts them (detect/lint.h, condition 3) */
    for (size_t i = 0; i < esc_engine_count(engine); i++) {
        unmapped += !esc_lint_sources_ok(esc_engine_detection(engine, i));
    }
    if (unmapped)
        fprintf(stderr,
                "escudo: %zu of them read a source that is not a Windows one (escudo lint counts "
                "them unsupported: unmapped source)\n",
                unmapped);
    char dir[ESC_CLI_PATH_MAX];
    if (!esc_args_has(a, "content") && !esc_args_has(a, "local") && !esc_args_has(a, "detection") &&
        !esc_cli_default_content(dir, sizeof dir))
        fprintf(stderr, "escudo: only the shipped example detection ran (no --content): to run "
                        "ESCU, give --content DIR, a security_content checkout (its detections, "
                        "macros and lookups), or install it once with `escudo content install "
                        "--from DIR`\n");
}

static void print_summary(const esc_hunt_stats *s, long max_warn, double elapsed) {
    if (s->warnings > (uint64_t)max_warn)
        fprintf(stderr, "escudo: %llu more warnings not shown\n",
                (unsigned long long)(s->warnings - (uint64_t)max_warn));
    fprintf(stderr,
            "escudo: %llu inputs (%llu unknown format, %llu failed), %.1f MB, %llu events, "
            "%llu process events, %llu malformed, %llu repaired, %llu warnings, %llu rows, "
            "%.2f s, %.0f MB/s\n",
            (unsigned long long)s->inputs, (unsigned long long)s->inputs_unknown,
            (unsigned long long)s->inputs_failed, (double)s->bytes / 1e6,
            (unsigned long long)s->events, (unsigned long long)s->process_events,
            (unsigned long long)s->malformed, (unsigned long long)s->repaired,
            (unsigned long long)s->warnings, (unsigned long long)s->rows, elapsed,
            elapsed > 0 ? (double)s->bytes / 1e6 / elapsed : 0.0);
    if (s->two_stage)
        fprintf(stderr, "escudo: two stages: %llu detections, %llu bytes of partial aggregates\n",
                (unsigned long long)s->two_stage, (unsigned long long)s->partial_bytes);
}

/* hunt --report without --db: the notables and risk events go to a store of this hunt alone, in
 * a temporary file removed after the report. */
static bool temp_store(char *out, size_t cap) {
    const char *dir = getenv("TMPDIR");
    snprintf(out, cap, "%s/escudo-report-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(out);
    if (fd < 0) {
        esc_say(stderr, "escudo hunt: --report: cannot make a temporary store in %s",
                dir && *dir ? dir : "/tmp");
        *out = 0;
        return false;
    }
    close(fd);
    return true;
}

static void remove_store(const char *path) {
    char side[ESC_CLI_PATH_MAX + 8];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

static int hunt_report(const esc_args *a, const esc_content *content, const esc_engine *engine,
                       const esc_hunt_stats *s, const char *db, int64_t now, bool quiet) {
    esc_report_run run = {.inputs = a->pos,
                          .ninputs = a->npos,
                          .files = s->inputs,
                          .bytes = s->bytes,
                          .events = s->events,
                          .process_events = s->process_events,
                          .detections_run = esc_engine_count(engine),
                          .detections_skipped = esc_engine_nskipped(engine)};
    esc_report_opts o = {.db_path = db, .run = &run, .generated = now};
    return esc_cli_report(a, content, &o, esc_args_get(a, "report"), quiet);
}

/* Loading the content and building the engine allocate and free a great many blocks (the
 * planner's 96 KiB literal lists, Hyperscan's compiler's million small ones for escu-full when
 * core/hscache.c has not kept its databases), and glibc trimmed the heap's top at each large free
 * only to grow it again at the next allocation: 4,900 brk calls for escu-full and the page
 * faults after them, about 0.1 s of system time. Meanwhile the top stays (M_TRIM_THRESHOLD; 419
 * brk calls, 184 with the databases read from the cache); then glibc's default threshold
 * (128 KiB) is back and the free pages go back at once, so the hunt's heap is as before (the
 * 1 GiB hunt's peak the same). A process setting, so the CLI's (mallopt(3)). */
static void keep_heap_top(bool keep) {
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, keep ? 1 << 30 : 128 << 10);
#endif
    if (!keep)
        esc_alloc_trim();
}

int esc_cmd_hunt(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    esc_engine *engine = NULL;
    esc_hunt *hunt = NULL;
    char *token = NULL;
    char **files = NULL;
    size_t nfiles = 0, unlisted = 0;
    warn_log w = {0};
    int rc = ESC_EXIT_USAGE;
    esc_error err = {0};
    hunt_out fmt = {ESC_OUT_TABLE, 0, false, false};
    esc_hunt_opts ho;
    int64_t now;
    double elapsed = 0;

    if (!esc_args_parse(&a, hunt_opts, NOPTS, argc, argv, "hunt"))
        goto done;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "hunt", "[OPTIONS] PATH...",
                  "Run detections over log files (EVTX, XmlWinEventLog, JSON lines; gzip; "
                  "directories\nrecursively; - for standard input) and print the result rows.",
                  hunt_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    if (!hunt_options(&a, &fmt, &ho, &now))
        goto done;
    w.max = 20;
    if ((rc = hunt_checks(&a, &w.max, &token)) != ESC_EXIT_OK)
        goto done;
    rc = ESC_EXIT_USAGE;
    w.quiet = esc_args_has(&a, "quiet");
    keep_heap_top(true);
    esc_status st = esc_cli_load_content(&a, &content);
    if (st) {
        rc = esc_exit_code(st);
        goto done;
    }
    rc = hunt_engine(&a, content, &w, &engine);
    keep_heap_top(false);
    if (rc != ESC_EXIT_OK)
        goto done;
    rc = ESC_EXIT_IO;
    if (!expand_inputs(&a, &files, &nfiles, &unlisted))
        goto done;
    if ((st = esc_hunt_new(engine, &ho, (const char *const *)files, nfiles, &hunt, &err))) {
        esc_report("error", &err);
        rc = esc_exit_code(st);
        goto done;
    }
    if ((rc = read_inputs(hunt, &w, &elapsed)) != ESC_EXIT_OK)
        goto done;
    esc_error late = {0};
    if (esc_hunt_late_warning(hunt, &late))
        warn(&w, &late, false);
    regex_limit_warnings(engine, hunt, &w);
    merge_cap_warnings(engine, hunt, &w);
    print_rows(&fmt, engine, hunt);
    const char *db = esc_args_get(&a, "db");
    char tmpdb[ESC_CLI_PATH_MAX] = "";
    if (esc_args_has(&a, "report") && !db && !temp_store(tmpdb, sizeof tmpdb)) {
        rc = ESC_EXIT_IO;
        goto done;
    }
    int act_rc =
        run_actions(&a, content, engine, hunt, &ho, now, w.quiet, token, *tmpdb ? tmpdb : db);
    esc_hunt_stats s = *esc_hunt_stats_get(hunt);
    s.warnings += unlisted; /* inputs that could not be listed (unreadable, too deep) */
    if (esc_args_has(&a, "report") && !act_rc)
        act_rc = hunt_report(&a, content, engine, &s, *tmpdb ? tmpdb : db, now, w.quiet);
    if (*tmpdb)
        remove_store(tmpdb);
    if (!w.quiet) {
        print_detections(&a, engine);
        print_summary(&s, w.max, elapsed);
    }
    const char *sj = esc_args_get(&a, "summary-json");
    if (sj) {
        FILE *f = fopen(sj, "w");
        if (!f) {
            esc_say(stderr, "escudo hunt: cannot write %s", sj);
            rc = ESC_EXIT_IO;
            goto done;
        }
        summary_json(f, &s, elapsed, esc_engine_count(engine), esc_engine_nskipped(engine), w.first,
                     w.nfirst);
        fclose(f);
    }
    /* An input that could not be read at all is an I/O error (after the others were read). */
    if (s.inputs_failed || unlisted)
        rc = ESC_EXIT_IO;
    else
        rc = esc_args_has(&a, "strict") && s.warnings ? ESC_EXIT_FAIL : ESC_EXIT_OK;
    rc = act_rc ? act_rc : rc;
done:
    if (token) {
        memset(token, 0, strlen(token));
        esc_free(token);
    }
    for (size_t i = 0; i < w.nfirst; i++)
        esc_free(w.first[i]);
    esc_hunt_free(hunt);
    esc_engine_free(engine);
    esc_paths_free(files, nfiles);
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}
