/* escudo status: what a run's state directory holds (docs/run.md).
 *
 * Reads the state store (it never writes it) and the files it names: inputs with their offset,
 * size and lag in bytes, detections with when they were enabled and last fired, windows fired,
 * open windows, late events, and the HEC spool backlog when --hec-spool is given. Not here:
 * talking to a running escudo (the store is the interface). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "sched/run.h"

static const esc_opt status_opts[] = {
    {"state", "DIR", "state directory (default .escudo-state)"},
    {"hec-spool", "DIR", "also count HEC batches waiting in this spool"},
    {"format", "table|json", "output format (default table)"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof status_opts / sizeof status_opts[0])
const esc_cmd_doc esc_doc_status = {"[OPTIONS]", status_opts, NOPTS};

static void iso(int64_t t, char out[32]) {
    if (t <= 0 || t == INT64_MAX) {
        snprintf(out, 32, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A partition's lag in messages: its high watermark as last fetched minus the next offset to
 * read; -1 when the high watermark is unknown. */
static long long kafka_lag(const esc_run_status_input *in) {
    if (in->high < 0)
        return -1;
    return in->high > (int64_t)in->offset ? (long long)(in->high - (int64_t)in->offset) : 0;
}

/* The Kafka partitions of the run (run --kafka), when there are any. */
static void print_partitions(const esc_run_status *s) {
    bool any = false;
    for (size_t i = 0; i < s->ninputs; i++)
        any |= s->inputs[i].kafka;
    if (!any)
        return;
    printf("\n%-12s %-12s %-12s %-10s %-6s %-5s %s\n", "read to", "committed", "high mark",
           "lag (msgs)", "open", "owned", "partition");
    for (size_t i = 0; i < s->ninputs; i++) {
        const esc_run_status_input *in = &s->inputs[i];
        if (!in->kafka)
            continue;
        char high[24] = "?", lag[24] = "?";
        if (in->high >= 0) {
            snprintf(high, sizeof high, "%lld", (long long)in->high);
            snprintf(lag, sizeof lag, "%lld", kafka_lag(in));
        }
        printf("%-12llu %-12llu %-12s %-10s %-6llu %-5s ", (unsigned long long)in->offset,
               (unsigned long long)in->committed, high, lag, (unsigned long long)in->open_windows,
               in->owned ? "yes" : "no");
        esc_say(stdout, "%s", in->path);
    }
}

int esc_cmd_status(int argc, char **argv) {
    esc_args a;
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, status_opts, NOPTS, argc, argv, "status"))
        goto done;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "status", "[OPTIONS]",
                  "Show a run's state: inputs (offset, size, lag), detections, windows fired, "
                  "late events,\nopen windows and the HEC spool backlog; with run --kafka, each "
                  "partition's offsets\n(read, committed to the group), high watermark, lag and "
                  "open windows.",
                  status_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    const char *fmt = esc_args_get(&a, "format");
    bool json = fmt && !strcmp(fmt, "json");
    if (fmt && !json && strcmp(fmt, "table")) {
        fprintf(stderr, "escudo status: --format must be table or json\n");
        goto done;
    }
    const char *dir = esc_args_has(&a, "state") ? esc_args_get(&a, "state") : ".escudo-state";
    esc_run_status s;
    esc_error err = {0};
    esc_status st = esc_run_status_read(dir, esc_args_get(&a, "hec-spool"), &s, &err);
    if (st) {
        esc_report("error", &err);
        rc = esc_exit_code(st);
        goto done;
    }
    char t1[32], t2[32];
    if (json) {
        printf("{\"windows_fired\": %llu, \"late_events\": %llu, \"late_notables\": %llu, "
               "\"open_windows\": %llu, \"kept_bytes\": %llu, \"hec_spooled\": %llu, "
               "\"last_checkpoint\": %lld, %s\"inputs\": [",
               (unsigned long long)s.fired, (unsigned long long)s.late,
               (unsigned long long)s.late_emitted, (unsigned long long)s.open_windows,
               (unsigned long long)s.kept_bytes, (unsigned long long)s.hec_spooled,
               (long long)s.last_commit, s.empty ? "\"empty\": true, " : "");
        for (size_t i = 0; i < s.ninputs; i++) {
            const esc_run_status_input *in = &s.inputs[i];
            printf("%s{\"path\": ", i ? ", " : "");
            esc_out_json_string(stdout, in->path, strlen(in->path));
            if (in->kafka) {
                printf(", \"kafka\": true, \"offset\": %llu, \"committed\": %llu, "
                       "\"high_watermark\": %lld, \"lag\": %lld, \"open_windows\": %llu, "
                       "\"owned\": %s}",
                       (unsigned long long)in->offset, (unsigned long long)in->committed,
                       (long long)in->high, (long long)kafka_lag(in),
                       (unsigned long long)in->open_windows, in->owned ? "true" : "false");
                continue;
            }
            printf(", \"offset\": %llu, \"size\": %llu, \"lag\": %llu, \"missing\": %s}",
                   (unsigned long long)in->offset, (unsigned long long)in->size,
                   (unsigned long long)(in->size > in->offset ? in->size - in->offset : 0),
                   in->missing ? "true" : "false");
        }
        printf("], \"detections\": [");
        for (size_t i = 0; i < s.ndets; i++) {
            printf("%s{\"id\": ", i ? ", " : "");
            esc_out_json_string(stdout, s.dets[i].id, strlen(s.dets[i].id));
            printf(", \"enabled_at\": %lld, \"last_fired\": %lld}", (long long)s.dets[i].enabled_at,
                   (long long)s.dets[i].last_fired);
        }
        printf("]}\n");
    } else {
        iso(s.last_commit, t1);
        if (s.empty)
            esc_say(stdout, "state %s: empty (%s holds no table: nothing checkpointed yet)", dir,
                    ESC_RUN_STATE_FILE);
        else
            esc_say(stdout, "state %s, last checkpoint %s (clock time)", dir, t1);
        printf("windows fired %llu, open windows %llu (%llu bytes kept), late events %llu "
               "(%llu late notables), HEC spool backlog %llu batches\n",
               (unsigned long long)s.fired, (unsigned long long)s.open_windows,
               (unsigned long long)s.kept_bytes, (unsigned long long)s.late,
               (unsigned long long)s.late_emitted, (unsigned long long)s.hec_spooled);
        size_t nfiles = 0;
        for (size_t i = 0; i < s.ninputs; i++)
            nfiles += !s.inputs[i].kafka;
        print_partitions(&s);
        if (nfiles || nfiles == s.ninputs)
            printf("\n%-14s %-14s %-14s %s\n", "offset", "size", "lag (bytes)", "input");
        for (size_t i = 0; i < s.ninputs; i++) {
            const esc_run_status_input *in = &s.inputs[i];
            if (in->kafka)
                continue;
            printf("%-14llu %-14llu %-14llu ", (unsigned long long)in->offset,
                   (unsigned long long)in->size,
                   (unsigned long long)(in->size > in->offset ? in->size - in->offset : 0));
            esc_say(stdout, "%s%s", in->path, in->missing ? " (missing)" : "");
        }
        printf("\n%-21s %-21s %s\n", "enabled", "last fired", "detection");
        for (size_t i = 0; i < s.ndets; i++) {
            iso(s.dets[i].enabled_at, t1);
            iso(s.dets[i].last_fired, t2);
            printf("%-21s %-21s ", t1, t2);
            esc_say(stdout, "%s", s.dets[i].id);
        }
    }
    esc_run_status_fini(&s);
    rc = ESC_EXIT_OK;
done:
    esc_args_free(&a);
    return rc;
}
