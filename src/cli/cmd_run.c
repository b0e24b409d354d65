/* escudo run: enabled detections on their schedule over growing inputs (docs/run.md).
 *
 * This file parses flags and the config file, loads content, builds the engine of the enabled
 * detections, installs signal handlers and drives the library run loop (sched/run.h) step by
 * step, printing its messages. Invariants: the signal handlers only set flags that the loop
 * polls between steps; SIGHUP rebuilds content and engine and continues from the state store.
 * Not here: anything the run loop decides (reading, windows, firing, checkpoints). */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/run_kafka.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/timeutil.h"
#include "detect/engine.h"
#include "content/yaml_tree.h"
#include "sched/clock.h"
#include "sched/reltime.h"
#include "sched/run.h"

static const esc_opt run_opts[] = {
    {"config", "FILE", "YAML config (keys as the long options; flags override it)"},
    {"enable", "NAME|ID|GLOB", "run this detection on its deployment's schedule (repeatable)"},
    {"content", "DIR", "content folder (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"state", "DIR", "state directory (default .escudo-state)"},
    {"clock-start", "T", "simulated clock: start at T (epoch, ISO 8601)"},
    {"clock-speed", "N|max",
     "simulated clock: N times real time (default 1); max: jump to the next\n                      "
     "     deadline whenever idle (replays)"},
    {"late", "drop|emit", "late events: report them (drop, default) or emit their notables"},
    {"late-retention", "SECONDS", "how long fired windows stay recomputable (default 86400)"},
    {"evidence", NULL,
     "notables and risk events: orig_time and the events behind each row\n"
     "                           (5 earliest, 5 latest, the count)"},
    {"profile", "splunk|native", "CIM mapping profile (default splunk)"},
    {"tz", "ZONE", "IANA zone for cron, snapping and output (default UTC)"},
    {"once-until", "T", "stop after every run scheduled up to T has fired"},
    {"poll", "SECONDS", "clock time between input polls when idle (default 1)"},
    {"aidmaster", "FILE", "CrowdStrike host inventory (aid -> ComputerName)"},
    {"kafka", "BROKERS", "read a Kafka topic as a consumer group member (host:port,...)"},
    {"topic", "NAME", "the Kafka topic to read (with --kafka)"},
    {"group", "ID", "the Kafka consumer group (default escudo)"},
    {"kafka-config", "KEY=VALUE", "a librdkafka setting (repeatable; no secrets: use the file)"},
    {"kafka-config-file", "FILE", "librdkafka settings, KEY=VALUE lines (TLS, SASL, secrets)"},
    {"kafka-max-message", "BYTES",
     "skip (and count malformed) a message larger than this (default and\n"
     "                           most 16 MiB)"},
    {"kafka-output", "TOPIC",
     "also write notables and risk events to TOPIC, in Kafka transactions\n"
     "                           with the offsets (keyed by event id)"},
    {"repartition-topic", "TOPIC",
     "run detections that group across hosts in two stages: partial\n"
     "                           aggregates travel through TOPIC to the worker merging them"},
    {"repartition-max-message", "BYTES",
     "stop when one partition's partial aggregates of a window are larger\n"
     "                           (default 1000000, the brokers' usual message.max.bytes)"},
    {"notables", "FILE", "append notables as JSON lines to FILE"},
    {"risk", "FILE", "append risk events as JSON lines to FILE"},
    {"db", "FILE", "keep notables and risk events in a SQLite store (no duplicates)"},
    {"hec", "URL", "send notables and risk events to Splunk HEC (https://host:8088)"},
    {"hec-token-file", "FILE", "HEC token (else $ESCUDO_HEC_TOKEN; never on the command line)"},
    {"hec-spool", "DIR", "where unsent HEC batches wait (default .escudo-spool)"},
    {"hec-insecure", NULL, "do not verify the HEC server's TLS certificate"},
    {"hec-ca", "FILE", "CA certificates (PEM) that sign the HEC server's certificate"},
    {"hec-no-ack", NULL, "do not wait for HEC indexer acknowledgement"},
    {"hec-max-wait", "SECONDS", "retry HEC this long per firing, then leave batches spooled"},
    {"max-warnings", "N", "print at most N messages per step (default 20)"},
    {"quiet", NULL, "no summary on stderr"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof run_opts / sizeof run_opts[0])
const esc_cmd_doc esc_doc_run = {"[OPTIONS] INPUT... | --kafka BROKERS --topic NAME", run_opts,
                                 NOPTS};

static volatile sig_atomic_t g_stop, g_reload;

static void on_stop(int sig) {
    (void)sig;
    g_stop = 1;
}
static void on_hup(int sig) {
    (void)sig;
    g_reload = 1;
}

static void install(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a signal ends the clock's sleep */
    sigaction(sig, &sa, NULL);
}

#define ESC_RUN_CONFIG_MAX ((size_t)1 << 20) /* bytes of a --config file */

/* The config file as extra arguments placed before the command line's (so flags win). */
typedef struct cfg_args {
    char **v;
    size_t n, cap;
} cfg_args;

static bool cfg_push(cfg_args *c, const char *s) {
    if (!ESC_VEC_GROW(c->v, c->cap, c->n + 2, 32))
        return false;
    return (c->v[c->n++] = esc_strdup(s)) != NULL;
}

static bool cfg_opt_known(const char *k) {
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(run_opts[i].name, k) && strcmp(k, "config") && strcmp(k, "help"))
            return true;
    return !strcmp(k, "inputs");
}

static bool cfg_flag(const char *k) {
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(run_opts[i].name, k))
            return run_opts[i].arg == NULL;
    return false;
}

static bool cfg_value(cfg_args *c, const char *key, const esc_ynode *v) {
    char opt[128];
    snprintf(opt, sizeof opt, "--%s", key);
    const char *s = esc_ynode_str(v);
    if (!strcmp(key, "inputs"))
        return s ? cfg_push(c, s) : true;
    if (cfg_flag(key)) {
        if (s && (!strcmp(s, "true") || !strcmp(s, "yes")))
            return cfg_push(c, opt);
        return true;
    }
    return s ? cfg_push(c, opt) && cfg_push(c, s) : true;
}

static bool load_config(const char *path, cfg_args *c, cfg_args *pos) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "escudo run: --config %s: cannot open\n", path);
        return false;
    }
    char *data = esc_malloc(ESC_RUN_CONFIG_MAX + 1); /* one byte more: a longer file is seen */
    size_t n = data ? fread(data, 1, ESC_RUN_CONFIG_MAX + 1, f) : 0;
    bool rerr = ferror(f) != 0;
    fclose(f);
    if (!data)
        return false;
    if (rerr || n > ESC_RUN_CONFIG_MAX) {
        esc_say(stderr, "escudo run: --config %s: %s", path,
                rerr ? "cannot read" : "larger than 1 MiB; a config is a short list of options");
        esc_free(data);
        return false;
    }
    esc_arena a;
    esc_arena_init(&a, 64 * 1024, 16u << 20);
    esc_ynode *root = NULL;
    esc_error err = {0};
    bool ok = false;
    if (esc_yaml_parse(data, n, &a, 16, &root, &err)) {
        fprintf(stderr, "escudo run: %s:%llu: %s\n", path, (unsigned long long)err.line, err.msg);
        goto out;
    }
    if (!root || root->kind != ESC_Y_MAP) {
        fprintf(stderr, "escudo run: %s: the config is a mapping of option names to values\n",
                path);
        goto out;
    }
    for (size_t i = 0; i < root->n; i++) {
        const char *k = esc_ynode_str(root->items[2 * i]);
        const esc_ynode *v = root->items[2 * i + 1];
        if (!k || !cfg_opt_known(k)) {
            fprintf(stderr, "escudo run: %s:%zu: unknown key %s\n", path, root->items[2 * i]->line,
                    k ? k : "(not a string)");
            goto out;
        }
        cfg_args *dst = !strcmp(k, "inputs") ? pos : c;
        if (v->kind == ESC_Y_SEQ) {
            for (size_t j = 0; j < v->n; j++)
                if (!cfg_value(dst, k, v->items[j]))
                    goto out;
        } else if (!cfg_value(dst, k, v)) {
            goto out;
        }
    }
    ok = true;
out:
    esc_arena_fini(&a);
    esc_free(data);
    return ok;
}

static void cfg_free(cfg_args *c) {
    for (size_t i = 0; i < c->n; i++)
        esc_free(c->v[i]);
    esc_free(c->v);
}

static bool parse_t(const char *flag, const char *spec, int64_t now, int64_t *out) {
    esc_error err = {0};
    if (esc_time_spec_parse(spec, now, out, &err) != ESC_OK) {
        fprintf(stderr, "escudo run: --%s %s: %s\n", flag, spec, err.msg);
        return false;
    }
    return true;
}

/* Whether a detection that is not partition-local runs in two stages (--repartition-topic);
 * when it does, it is added to two[*ntwo]. False after the message when it cannot. */
static bool two_stage(const esc_args *a, const esc_content *c, const esc_detection *d,
                      const esc_detection **two, size_t *ntwo, bool exact) {
    bool ok = false;
    char *why = NULL;
    if (esc_args_has(a, "repartition-topic") && esc_engine_mergeable(c, d, &ok, &why) == ESC_OK &&
        ok) {
        two[(*ntwo)++] = d;
        return true;
    }
    if (esc_args_has(a, "repartition-topic"))
        esc_say(stderr, "escudo run: --repartition-topic: %s does not run in two stages (%s)%s",
                d->name, why ? why : "out of memory", exact ? "" : "; not enabled");
    esc_free(why);
    return false;
}

/* Whether d's search plans. When it does not: named exactly, the planner's error with a caret
 * under the search; picked by a glob, a note that it is not enabled (as hunt skips it). */
static bool plans(const esc_content *c, const esc_detection *d, bool exact) {
    if (exact)
        return esc_cli_check_searches(c, &d, 1);
    esc_error err = {0};
    if (esc_engine_check(c, d, NULL, &err) == ESC_OK)
        return true;
    esc_say(stderr, "escudo run: %s is not supported: %s; not enabled", d->name, err.msg);
    return false;
}

/* Content and the engine of the enabled detections (--enable, each once, each with a
 * scheduled deployment and a search that plans); with --kafka, those not partition-local that
 * run in two stages in *two (esc_malloc'd). */
static int build(const esc_args *a, esc_content **content, esc_engine **engine,
                 const esc_detection ***two, size_t *ntwo) {
    const esc_detection **dets = NULL;
    size_t nsel = 0, n = 0;
    esc_error err = {0};
    esc_status st = esc_cli_load_content(a, content);
    if (st)
        return esc_exit_code(st);
    esc_cli_selectors src = esc_cli_option(a, "enable");
    bool exact = true;
    int rc = esc_cli_select("run", *content, &src, 1, &dets, &nsel, &exact);
    if (rc != ESC_EXIT_OK)
        return rc;
    rc = ESC_EXIT_USAGE;
    *ntwo = 0;
    if (!(*two = esc_calloc(nsel + 1, sizeof **two)))
        goto out;
    for (size_t i = 0; i < nsel; i++) { /* each once, packed at the front of dets */
        const esc_detection *d = dets[i];
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup = dup || dets[k] == d;
        if (dup)
            continue;
        if (!d->deployment || !d->deployment->cron_schedule) {
            esc_say(stderr, "escudo run: %s has no deployment with a schedule%s", d->name,
                    exact ? "" : "; not enabled");
            if (!exact) /* a glob enables what can run */
                continue;
            goto out;
        }
        if (!plans(*content, d, exact)) {
            if (!exact)
                continue;
            goto out;
        }
        char *why = NULL;
        if (esc_args_has(a, "kafka") && !esc_cli_kafka_local(*content, d, &why) &&
            !two_stage(a, *content, d, *two, ntwo, exact)) {
            if (!esc_args_has(a, "repartition-topic"))
                esc_say(stderr,
                        "escudo run: --kafka: %s is not partition-local (%s): each worker sees "
                        "only the hosts of its partitions; --repartition-topic TOPIC runs it in "
                        "two stages (docs/scale.md)%s",
                        d->name, why ? why : "its search could not be read",
                        exact ? "" : "; not enabled");
            esc_free(why);
            if (!exact)
                continue;
            goto out;
        }
        esc_free(why);
        dets[n++] = d;
    }
    if (n == 0) {
        fprintf(stderr, "escudo run: no detection enabled (shipped content is disabled by "
                        "default: --enable NAME, or enable: in the config)\n");
        goto out;
    }
    if ((st = esc_engine_new(*content, dets, n, true, engine, &err))) {
        esc_report("error", &err);
        rc = esc_exit_code(st);
        goto out;
    }
    rc = ESC_EXIT_OK;
out:
    esc_free(dets);
    return rc;
}

/* The command line to parse: argv[0], the config file's options, the command line's arguments,
 * then the config file's inputs (after a "--" unless the command line has one), so flags given
 * on the command line win. *av points into argv and cfg (freed by the caller). */
static int merge_config(int argc, char **argv, cfg_args *cfg, cfg_args *cpos, char ***av, int *ac) {
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
        else if (!strcmp(argv[i], "--"))
            break;
    }
    if (config && !load_config(config, cfg, cpos))
        return ESC_EXIT_USAGE;
    int n = 1 + (int)cfg->n + (argc - 1) + (int)cpos->n + 1;
    if (!(*av = esc_calloc((size_t)n + 1, sizeof **av)))
        return ESC_EXIT_IO;
    int k = 0;
    (*av)[k++] = argv[0];
    for (size_t i = 0; i < cfg->n; i++)
        (*av)[k++] = cfg->v[i];
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        (*av)[k++] = argv[i];
        dashdash = dashdash || !strcmp(argv[i], "--");
    }
    if (cpos->n && !dashdash)
        (*av)[k++] = "--";
    for (size_t i = 0; i < cpos->n; i++)
        (*av)[k++] = cpos->v[i];
    *ac = k;
    return ESC_EXIT_OK;
}

/* Inputs, zone, profile, late events and polling; false after the message on a usage error. */
static bool run_options(const esc_args *a, esc_runner_opts *ro) {
    if (a->npos == 0 && !esc_args_has(a, "kafka")) {
        fprintf(stderr, "escudo run: no input (give files, directories, - or --kafka; see "
                        "--help)\n");
        return false;
    }
    if (!esc_time_set_zone(esc_args_get(a, "tz"))) {
        fprintf(stderr, "escudo run: unknown time zone %s\n", esc_args_get(a, "tz"));
        return false;
    }
    *ro = (esc_runner_opts){.profile = ESC_PROFILE_SPLUNK, .once_until = ESC_RUN_FOREVER};
    const char *prof = esc_args_get(a, "profile");
    if (prof && !strcmp(prof, "native"))
        ro->profile = ESC_PROFILE_NATIVE;
    else if (prof && strcmp(prof, "splunk") != 0) {
        fprintf(stderr, "escudo run: --profile must be splunk or native\n");
        return false;
    }
    const char *late = esc_args_get(a, "late");
    if (late && strcmp(late, "drop") && strcmp(late, "emit")) {
        fprintf(stderr, "escudo run: --late must be drop or emit\n");
        return false;
    }
    ro->late_emit = late && !strcmp(late, "emit");
    ro->evidence = esc_args_has(a, "evidence");
    long retention = -1;
    if (!esc_cli_number("run", a, "late-retention", 0, 100L * 366 * 86400, &retention) ||
        !esc_cli_number("run", a, "max-warnings", 0, LONG_MAX, NULL) ||
        !esc_cli_paths_exist("run", a, "content", false) ||
        !esc_cli_paths_exist("run", a, "local", false) ||
        !esc_cli_paths_exist("run", a, "aidmaster", false))
        return false;
    if (retention >= 0)
        ro->late_retention = retention;
    if (esc_args_has(a, "poll")) {
        double p = atof(esc_args_get(a, "poll"));
        if (!(p > 0 && p < 86400)) {
            fprintf(stderr, "escudo run: --poll must be between 0 and 86400 seconds\n");
            return false;
        }
        ro->poll_us = (int64_t)(p * 1e6);
    }
    return true;
}

/* The real clock, and a simulated or manual one when --clock-start or --clock-speed asks for it
 * (ro->clock is the one the run uses); --once-until counts from the clock's start. */
static int run_clock(const esc_args *a, esc_runner_opts *ro, esc_clock **real, esc_clock **clock) {
    esc_error err = {0};
    if (!(*real = esc_clock_new_real()))
        return ESC_EXIT_IO;
    int64_t now_real = esc_clock_now_sec(*real), start = now_real;
    if (esc_args_has(a, "clock-start") &&
        !parse_t("clock-start", esc_args_get(a, "clock-start"), now_real, &start))
        return ESC_EXIT_USAGE;
    double speed = 1;
    const char *sp = esc_args_get(a, "clock-speed");
    bool max_speed = sp && !strcmp(sp, "max");
    if (sp && !max_speed && esc_clock_parse_speed(sp, &speed, &err)) {
        fprintf(stderr, "escudo run: --clock-speed: %s\n", err.msg);
        return ESC_EXIT_USAGE;
    }
    if (esc_args_has(a, "clock-start") || esc_args_has(a, "clock-speed")) {
        if (max_speed)
            *clock = esc_clock_new_manual(start * ESC_US_PER_SEC);
        else
            *clock = esc_clock_new_sim(*real, start * ESC_US_PER_SEC, speed, &err);
        if (!*clock) {
            fprintf(stderr, "escudo run: %s\n", err.msg);
            return ESC_EXIT_USAGE;
        }
    }
    if (esc_args_has(a, "once-until") &&
        !parse_t("once-until", esc_args_get(a, "once-until"), start, &ro->once_until))
        return ESC_EXIT_USAGE;
    if (esc_args_has(a, "once-until") && ro->once_until < start) {
        esc_say(stderr, "escudo run: --once-until %s is before the clock's start",
                esc_args_get(a, "once-until"));
        return ESC_EXIT_USAGE;
    }
    ro->clock = *clock ? *clock : *real;
    ro->stdin_replay = max_speed;
    return ESC_EXIT_OK;
}

/* State, inputs, inventory and sinks; the HEC token is read from its file or the environment
 * into *token (the caller wipes and frees it). */
static int run_sinks(const esc_args *a, esc_runner_opts *ro, char **token) {
    ro->state_dir = esc_args_has(a, "state") ? esc_args_get(a, "state") : ".escudo-state";
    ro->inputs = a->pos;
    ro->ninputs = a->npos;
    ro->aidmaster = esc_args_get(a, "aidmaster");
    ro->crash_at = getenv("ESCUDO_TEST_CRASH_AT");
    ro->sinks = (esc_sink_opts){.notables_path = esc_args_get(a, "notables"),
                                .risk_path = esc_args_get(a, "risk"),
                                .db_path = esc_args_get(a, "db"),
                                .hec_url = esc_args_get(a, "hec"),
                                .hec_spool_dir = esc_args_get(a, "hec-spool"),
                                .hec_insecure = esc_args_has(a, "hec-insecure"),
                                .hec_ca_file = esc_args_get(a, "hec-ca"),
                                .hec_ack = !esc_args_has(a, "hec-no-ack")};
    if (esc_args_has(a, "hec-max-wait"))
        ro->sinks.hec_max_wait_ms = atoi(esc_args_get(a, "hec-max-wait")) * 1000;
    int rc = esc_cli_check_hec("run", a, token);
    ro->sinks.hec_token = *token;
    return rc;
}

/* Step the runner until its inputs end (--once-until) or a signal arrives, printing at most
 * max_warn of its messages per step. */
static int drive(esc_runner *run, long max_warn) {
    esc_error err = {0};
    while (!g_stop && !g_reload) {
        esc_error_clear(&err);
        esc_status st = esc_runner_step(run, &err);
        const char *const *m;
        size_t dropped, nm = esc_runner_messages(run, &m, &dropped);
        for (size_t i = 0; i < nm && (long)i < max_warn; i++)
            esc_say(stderr, "escudo: %s", m[i]);
        if (nm > (size_t)max_warn || dropped)
            fprintf(stderr, "escudo: %zu more messages\n",
                    nm > (size_t)max_warn ? nm - (size_t)max_warn + dropped : dropped);
        if (st == ESC_EOF)
            break;
        if (st) {
            esc_report("error", &err);
            return esc_exit_code(st);
        }
    }
    return ESC_EXIT_OK;
}

/* Build content and engine, run until done or stopped; on SIGHUP, build them anew and continue
 * from the state store. The counts of every round add up in *total. */
static int run_rounds(const esc_args *a, esc_runner_opts *ro, long max_warn, bool quiet,
                      esc_runner_stats *total) {
    esc_content *content = NULL;
    esc_engine *engine = NULL;
    esc_runner *run = NULL;
    esc_error err = {0};
    const esc_detection **two = NULL;
    size_t ntwo = 0;
    const esc_run_kafka *kafka = ro->kafka;
    esc_run_kafka k2 = kafka ? *kafka : (esc_run_kafka){0};
    int rc;
    for (;;) {
        esc_free(two);
        two = NULL;
        if ((rc = build(a, &content, &engine, &two, &ntwo)) != ESC_EXIT_OK)
            goto out;
        ro->content = content;
        ro->engine = engine;
        if (kafka) { /* the two-stage detections of this round's content */
            k2.repartition = esc_args_get(a, "repartition-topic");
            k2.two_stage = two;
            k2.ntwo_stage = ntwo;
            ro->kafka = &k2;
        }
        esc_status st = esc_runner_new(ro, &run, &err);
        if (st) {
            esc_report("error", &err);
            rc = esc_exit_code(st);
            goto out;
        }
        if ((rc = drive(run, max_warn)) != ESC_EXIT_OK)
            goto out;
        esc_runner_stop(run); /* --kafka: leave the group, say what was committed */
        const char *const *m;
        size_t dropped, nm = esc_runner_messages(run, &m, &dropped);
        for (size_t i = 0; i < nm && !quiet; i++)
            esc_say(stderr, "escudo: %s", m[i]);
        const esc_runner_stats *s = esc_runner_stats_get(run);
        total->events += s->events;
        total->fired += s->fired;
        total->notables += s->notables;
        total->risk_events += s->risk_events;
        total->late = s->late;
        total->late_emitted = s->late_emitted;
        total->malformed += s->malformed;
        esc_runner_free(run);
        run = NULL;
        esc_engine_free(engine);
        engine = NULL;
        esc_content_free(content);
        content = NULL;
        if (!g_reload)
            break;
        g_reload = 0;
        if (!quiet)
            fprintf(stderr, "escudo: SIGHUP: reloading content\n");
    }
    rc = ESC_EXIT_OK;
out:
    esc_runner_free(run);
    esc_engine_free(engine);
    esc_content_free(content);
    esc_free(two);
    ro->kafka = kafka;
    return rc;
}

int esc_cmd_run(int argc, char **argv) {
    esc_args a = {0};
    cfg_args cfg = {0}, cpos = {0};
    char **av = NULL;
    int ac = 0;
    esc_clock *real = NULL, *clock = NULL;
    char *token = NULL;
    esc_runner_opts ro;
    esc_cli_kafka kc = {0};
    int rc = merge_config(argc, argv, &cfg, &cpos, &av, &ac);
    if (rc != ESC_EXIT_OK)
        goto done;
    rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, run_opts, NOPTS, ac, av, "run"))
        goto done;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "run", "[OPTIONS] INPUT... | --kafka BROKERS --topic NAME",
                  "Follow inputs as they grow (files, directories, - for standard input) and "
                  "fire each\nenabled detection on its deployment's schedule; notables and "
                  "risk events go to the sinks.\nState (offsets, open windows, fired windows) "
                  "is checkpointed in --state.",
                  run_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    if (!run_options(&a, &ro) || !esc_cli_kafka_options(&a, &kc, &ro))
        goto done;
    if ((rc = run_clock(&a, &ro, &real, &clock)) != ESC_EXIT_OK ||
        (rc = run_sinks(&a, &ro, &token)) != ESC_EXIT_OK)
        goto done;
    long max_warn = esc_args_has(&a, "max-warnings") ? atol(esc_args_get(&a, "max-warnings")) : 20;
    bool quiet = esc_args_has(&a, "quiet");

    install(SIGTERM, on_stop);
    install(SIGINT, on_stop);
    install(SIGHUP, on_hup);
    esc_runner_stats total = {0};
    if ((rc = run_rounds(&a, &ro, max_warn, quiet, &total)) != ESC_EXIT_OK)
        goto done;
    if (!quiet)
        fprintf(stderr,
                "escudo: %llu records, %llu windows fired, %llu notables, %llu risk events, "
                "%llu malformed, late events %llu (%llu late notables)%s\n",
                (unsigned long long)total.events, (unsigned long long)total.fired,
                (unsigned long long)total.notables, (unsigned long long)total.risk_events,
                (unsigned long long)total.malformed, (unsigned long long)total.late,
                (unsigned long long)total.late_emitted, g_stop ? ", stopped by a signal" : "");
    rc = ESC_EXIT_OK;
done:
    esc_clock_free(clock);
    esc_clock_free(real);
    if (token) {
        memset(token, 0, strlen(token));
        esc_free(token);
    }
    esc_cli_kafka_fini(&kc);
    esc_args_free(&a);
    esc_free(av);
    cfg_free(&cfg);
    cfg_free(&cpos);
    return rc;
}
