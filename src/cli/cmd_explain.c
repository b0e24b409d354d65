/* escudo explain: what each detection compiles to, and what the readers will look for. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "detect/engine.h"

static const esc_opt explain_opts[] = {
    {"content", "DIR", "content folder (repeatable; default: the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"detection", "NAME|ID|FILE|GLOB", "explain only this detection (repeatable; default: all)"},
    ESC_CLI_TAG_OPTS,
    {"verbose", NULL, "also print content warnings"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof explain_opts / sizeof explain_opts[0])
const esc_cmd_doc esc_doc_explain = {"[OPTIONS] [NAME|ID...]", explain_opts, NOPTS};

static void print_interest(const esc_interest *in) {
    printf("readers keep:\n");
    for (size_t i = 0; i < in->nwin; i++)
        printf("  provider %s, EventID %u\n", in->win[i].provider ? in->win[i].provider : "(any)",
               in->win[i].event_id);
    if (in->crowdstrike)
        printf("  CrowdStrike ProcessRollup2, SyntheticProcessRollup2 (and aidmaster records)\n");
    if (in->nclauses == 0)
        printf("literal prefilter: none\n");
    for (size_t c = 0; c < in->nclauses; c++) {
        printf("literal prefilter clause %zu: one of", c + 1);
        for (size_t l = 0; l < in->clause[c].nlit; l++)
            printf(" \"%s\"", in->clause[c].lit[l]);
        printf(" (ASCII case-insensitive)\n");
    }
}

int esc_cmd_explain(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    const esc_detection **dets = NULL;
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, explain_opts, NOPTS, argc, argv, "explain"))
        goto done;
    if (esc_args_has(&a, "help")) {
        esc_usage(stdout, "explain", "[OPTIONS] [NAME|ID...]",
                  "Print each detection's expanded search, its plan, and the literal prefilter\n"
                  "the readers apply (an event without these literals is never decoded).",
                  explain_opts, NOPTS);
        rc = ESC_EXIT_OK;
        goto done;
    }
    esc_status st = esc_cli_load_content(&a, &content);
    if (st) {
        rc = esc_exit_code(st);
        goto done;
    }
    esc_cli_selectors src[6] = {esc_cli_option(&a, "detection"), esc_cli_positional(&a)};
    size_t nsrc = 2 + esc_cli_tag_selectors(&a, src + 2);
    size_t n = 0;
    if ((rc = esc_cli_select("explain", content, src, nsrc, &dets, &n, NULL)) != ESC_EXIT_OK)
        goto done;
    bool all = n == 0;
    if (all)
        n = content->ndetections;
    for (size_t i = 0; i < n; i++) {
        const esc_detection *d = all ? &content->detections[i] : dets[i];
        esc_error err = {0};
        esc_engine *e = NULL;
        printf("%sdetection: %s (%s)\nfile: %s\n", i ? "\n" : "", d->name, d->id, d->path);
        if (esc_engine_new(content, &d, 1, true, &e, &err) != ESC_OK) {
            printf("not supported: %s\n", err.msg);
            fflush(stdout);
            esc_cli_show_search_error(content, d);
            rc = ESC_EXIT_USAGE;
            continue;
        }
        esc_buf b;
        esc_buf_init(&b, 0);
        if (esc_plan_explain(esc_engine_plan(e, 0), &b) == ESC_OK)
            printf("%s", b.ptr ? b.ptr : "");
        if (b.len && b.ptr[b.len - 1] != '\n')
            putchar('\n');
        esc_buf_fini(&b);
        print_interest(esc_engine_interest(e));
        esc_engine_free(e);
    }
done:
    esc_free(dets);
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}
