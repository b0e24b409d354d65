/* escudo lint: one verdict per detection of the content (supported, or why not), then counts.
 *
 * The verdicts come from esc_lint_run (detect/lint.h); this file only prints them, as text (one
 * line per detection, the caret under an unsupported command or function, then a summary) or as
 * JSON lines (one object per detection, then one {"summary": {...}} object). Lint is a report:
 * it exits 0 whatever the verdicts; 2 for a usage or content error, 3 out of memory. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "detect/engine.h"
#include "detect/lint.h"

static const esc_opt lint_opts[] = {
    {"content", "DIR", "content folder (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"format", "text|json", "output format (default text)"},
    {"verbose", NULL, "also print content warnings"},
    {"partition-key", "FIELD",
     "also say whether each detection is exact per partition keyed\n                           by "
     "FIELD (dest: run --kafka, docs/scale.md)"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof lint_opts / sizeof lint_opts[0])
const esc_cmd_doc esc_doc_lint = {"[OPTIONS]", lint_opts, NOPTS};

static void json_str(const char *s) {
    if (!s) {
        fputs("null", stdout);
        return;
    }
    esc_out_json_string(stdout, s, strlen(s));
}

static double pct(size_t a, size_t b) {
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* Partition locality of each detection's (expanded) search: "local" or the reason; and for
 * one that is not local, in ts[i], whether it runs in two stages (docs/scale.md): "exact" or
 * why not. */
static char **partition_verdicts(const esc_content *c, const esc_lint_report *r, const char *key,
                                 char ***ts) {
    char **out = esc_calloc(r->n + 1, sizeof *out);
    *ts = esc_calloc(r->n + 1, sizeof **ts);
    if (!*ts) {
        esc_free(out);
        return NULL;
    }
    for (size_t i = 0; out && i < r->n; i++) {
        bool local = false, merges = false;
        char *why = NULL, *twhy = NULL;
        const char *text = r->v[i].text ? r->v[i].text : "";
        if (esc_lint_partition_local(text, key, &local, &why) != ESC_OK)
            return out; /* out of memory: the rest stay unknown */
        out[i] = local ? esc_strdup("local") : why;
        if (!local && esc_engine_mergeable(c, r->v[i].det, &merges, &twhy) == ESC_OK)
            (*ts)[i] = merges ? esc_strdup("exact") : twhy;
    }
    return out;
}

static void partition_free(char **pv, size_t n) {
    for (size_t i = 0; pv && i < n; i++)
        esc_free(pv[i]);
    esc_free(pv);
}

static void print_partition_text(const esc_lint_report *r, char **pv, char **ts, const char *key) {
    size_t nlocal = 0, nmerge = 0;
    for (size_t i = 0; i < r->n; i++) {
        nlocal += pv[i] && !strcmp(pv[i], "local");
        nmerge += ts[i] && !strcmp(ts[i], "exact");
    }
    printf("\npartition key %s: %zu of %zu detections are partition-local; %zu of the other %zu "
           "run in two stages\n",
           key, nlocal, r->n, nmerge, r->n - nlocal);
    for (size_t i = 0; i < r->n; i++) {
        const esc_detection *d = r->v[i].det;
        bool local = pv[i] && !strcmp(pv[i], "local");
        printf("  %-15s  %s  %s", local ? "local" : "cross-partition", d->id ? d->id : "-",
               d->name ? d->name : "?");
        if (!local)
            printf(": %s; two stages: %s", pv[i] ? pv[i] : "?", ts[i] ? ts[i] : "?");
        putchar('\n');
    }
}

static void print_json(const esc_lint_report *r, char **pv, char **ts) {
    for (size_t i = 0; i < r->n; i++) {
        const esc_lint_verdict *v = &r->v[i];
        const esc_detection *d = v->det;
        fputs("{\"id\": ", stdout);
        json_str(d->id);
        fputs(", \"name\": ", stdout);
        json_str(d->name);
        fputs(", \"file\": ", stdout);
        json_str(d->path);
        printf(", \"supported\": %s, \"windows_processes_only\": %s, \"windows\": %s, "
               "\"data_sources\": [",
               v->supported ? "true" : "false", v->windows_processes ? "true" : "false",
               v->windows ? "true" : "false");
        for (size_t k = 0; k < d->data_sources.n; k++) {
            fputs(k ? ", " : "", stdout);
            json_str(d->data_sources.v[k]);
        }
        fputs("], \"reason\": ", stdout);
        json_str(v->reason);
        fputs(", \"category\": ", stdout);
        json_str(v->category);
        if (pv) {
            bool local = pv[i] && !strcmp(pv[i], "local");
            printf(", \"partition_local\": %s, \"partition_reason\": ", local ? "true" : "false");
            json_str(local ? NULL : pv[i]);
            bool exact = ts[i] && !strcmp(ts[i], "exact");
            printf(", \"two_stage\": %s, \"two_stage_reason\": ", local   ? "null"
                                                                  : exact ? "true"
                                                                          : "false");
            json_str(local || exact ? NULL : ts[i]);
        }
        if (v->has_span)
            printf(", \"span\": [%zu, %zu]}\n", v->span_start, v->span_end);
        else
            fputs(", \"span\": null}\n", stdout);
    }
    printf("{\"summary\": {\"total\": %zu, \"supported\": %zu, \"unsupported\": %zu, "
           "\"windows_processes_only\": %zu, \"windows_processes_only_supported\": %zu, "
           "\"windows_processes_only_percent\": %.1f, \"windows\": %zu, "
           "\"windows_supported\": %zu, \"windows_percent\": %.1f, \"by_reason\": {",
           r->n, r->supported, r->n - r->supported, r->windows_processes,
           r->windows_processes_supported,
           pct(r->windows_processes_supported, r->windows_processes), r->windows,
           r->windows_supported, pct(r->windows_supported, r->windows));
    for (size_t k = 0; k < r->nby_reason; k++) {
        fputs(k ? ", " : "", stdout);
        json_str(r->by_reason[k].category);
        printf(": %zu", r->by_reason[k].n);
    }
    fputs("}}}\n", stdout);
}

static void print_text(const esc_lint_report *r) {
    for (size_t i = 0; i < r->n; i++) {
        const esc_lint_verdict *v = &r->v[i];
        const esc_detection *d = v->det;
        if (v->supported) {
            printf("supported    %s  %s\n", d->id ? d->id : "-", d->name ? d->name : "?");
            continue;
        }
        printf("unsupported  %s  %s: %s", d->id ? d->id : "-", d->name ? d->name : "?",
               v->reason ? v->reason : "?");
        if (v->has_span)
            printf(" [bytes %zu-%zu]", v->span_start, v->span_end);
        putchar('\n');
        if (v->caret) {
            /* Indent both lines of the caret rendering. */
            const char *p = v->caret;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                printf("    %.*s\n", (int)len, p);
                p += len + (nl ? 1 : 0);
            }
        }
    }
    printf("\n%zu detections, %zu supported, %zu unsupported\n", r->n, r->supported,
           r->n - r->supported);
    printf("%zu Windows Processes-only detections, %zu supported (%.1f%%)\n", r->windows_processes,
           r->windows_processes_supported,
           pct(r->windows_processes_supported, r->windows_processes));
    printf("%zu Windows-sourced detections (Sysmon, Windows channels, PowerShell, CrowdStrike), "
           "%zu supported (%.1f%%)\n",
           r->windows, r->windows_supported, pct(r->windows_supported, r->windows));
    if (r->nby_reason)
        printf("unsupported by reason:\n");
    for (size_t k = 0; k < r->nby_reason; k++)
        printf("  %5zu  %s\n", r->by_reason[k].n, r->by_reason[k].category);
}

int esc_cmd_lint(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    esc_lint_report *r = NULL;
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, lint_opts, NOPTS, argc, argv, "lint"))
        return ESC_EXIT_USAGE;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "lint", "[OPTIONS]",
                  "Say for every detection of the content whether escudo supports it: every\n"
                  "data model its search names is one escudo maps (docs/cim.md), each\n"
                  "data_source it names is a Windows one (Sysmon, Windows channels, PowerShell,\n"
                  "CrowdStrike, NTLM Operational) and the engine plans its search. Otherwise\n"
                  "the reason, with the span in the expanded search. Then summary counts.\n"
                  "Exit 0 whatever the verdicts.",
                  lint_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    if (a.npos) {
        esc_say(stderr, "escudo lint: unexpected argument '%s' (see escudo lint --help)", a.pos[0]);
        goto done;
    }
    const char *fmt = esc_args_get(&a, "format");
    bool json = false;
    if (fmt && strcmp(fmt, "json") == 0)
        json = true;
    else if (fmt && strcmp(fmt, "text") != 0) {
        esc_say(stderr, "escudo lint: --format must be text or json, not '%s'", fmt);
        goto done;
    }
    esc_status st = esc_cli_load_content(&a, &content);
    if (st) { /* a content folder that cannot be loaded is a content error, not I/O */
        rc = st == ESC_ENOMEM ? ESC_EXIT_IO : ESC_EXIT_USAGE;
        goto done;
    }
    esc_error err = {0};
    if ((st = esc_lint_run(content, &r, &err)) != ESC_OK) {
        esc_report("error", &err);
        rc = ESC_EXIT_IO;
        goto done;
    }
    const char *key = esc_args_get(&a, "partition-key");
    char **ts = NULL;
    char **pv = key ? partition_verdicts(content, r, key, &ts) : NULL;
    if (key && !pv) {
        rc = ESC_EXIT_IO;
        goto done;
    }
    if (json)
        print_json(r, pv, ts);
    else
        print_text(r);
    if (pv && !json)
        print_partition_text(r, pv, ts, key);
    partition_free(pv, r->n);
    partition_free(ts, r->n);
    rc = fflush(stdout) == 0 ? ESC_EXIT_OK : ESC_EXIT_IO;
done:
    esc_lint_report_free(r);
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}
