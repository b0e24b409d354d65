/* escudo content list | install: what the content holds, by data source and by ATT&CK technique,
 * with how many detections of each escudo supports and why the others are not (the verdicts of
 * esc_lint_run, detect/lint.h, so lint and this list always agree).
 *
 * Invariants: counts only, no detection is run; groups are printed most detections first (ties
 * by name). `content install` is in content_install.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "detect/lint.h"

static const esc_opt content_opts[] = {
    {"from", "DIR", "install: the security_content checkout to copy into the user's content"},
    {"content", "DIR",
     "list: content folder (repeatable; default: the installed content,\n"
     "                           else the shipped content)"},
    {"local", "DIR", "override folder that shadows the content (repeatable)"},
    {"format", "text|json", "output format (default text)"},
    {"verbose", NULL, "also print content warnings"},
    {"help", NULL, "show this help"},
};
#define NOPTS (sizeof content_opts / sizeof content_opts[0])
const esc_cmd_doc esc_doc_content = {"list|install [OPTIONS]", content_opts, NOPTS};

typedef struct bucket {
    const char *key;
    size_t supported, unsupported;
} bucket;

typedef struct buckets {
    bucket *v;
    size_t n, cap;
} buckets;

static bool count(buckets *b, const char *key, bool supported) {
    size_t i = 0;
    while (i < b->n && strcmp(b->v[i].key, key) != 0)
        i++;
    if (i == b->n) {
        if (b->n == b->cap && !ESC_VEC_GROW(b->v, b->cap, b->n + 1, 64))
            return false;
        b->v[b->n++] = (bucket){key, 0, 0};
    }
    if (supported)
        b->v[i].supported++;
    else
        b->v[i].unsupported++;
    return true;
}

static int cmp_bucket(const void *x, const void *y) {
    const bucket *a = x, *b = y;
    size_t na = a->supported + a->unsupported, nb = b->supported + b->unsupported;
    if (na != nb)
        return na > nb ? -1 : 1;
    return strcmp(a->key, b->key);
}

static void print_buckets(const char *title, const buckets *b, bool json, bool last) {
    if (json) {
        printf("\"%s\": {", title);
        for (size_t i = 0; i < b->n; i++) {
            fputs(i ? ", " : "", stdout);
            esc_out_json_string(stdout, b->v[i].key, strlen(b->v[i].key));
            printf(": {\"supported\": %zu, \"unsupported\": %zu}", b->v[i].supported,
                   b->v[i].unsupported);
        }
        fputs(last ? "}" : "}, ", stdout);
        return;
    }
    printf("\nby %s:\n  %-48s  %9s  %11s\n", title, "", "supported", "unsupported");
    for (size_t i = 0; i < b->n; i++) {
        fputs("  ", stdout);
        esc_out_human_pad(stdout, b->v[i].key, 48);
        printf("  %9zu  %11zu\n", b->v[i].supported, b->v[i].unsupported);
    }
}

static void print_list(const esc_lint_report *r, const buckets *src, const buckets *att,
                       bool json) {
    if (json) {
        printf("{\"detections\": %zu, \"supported\": %zu, \"unsupported\": {", r->n, r->supported);
        for (size_t k = 0; k < r->nby_reason; k++) {
            fputs(k ? ", " : "", stdout);
            esc_out_json_string(stdout, r->by_reason[k].category, strlen(r->by_reason[k].category));
            printf(": %zu", r->by_reason[k].n);
        }
        fputs("}, ", stdout);
        print_buckets("data_source", src, true, false);
        print_buckets("mitre_attack_id", att, true, true);
        fputs("}\n", stdout);
        return;
    }
    printf("detections %zu: supported %zu, unsupported %zu", r->n, r->supported,
           r->n - r->supported);
    for (size_t k = 0; k < r->nby_reason; k++) {
        printf("%s%zu ", k ? ", " : " (", r->by_reason[k].n);
        esc_out_human(stdout, r->by_reason[k].category, strlen(r->by_reason[k].category));
    }
    puts(r->nby_reason ? ")" : "");
    print_buckets("data source", src, false, false);
    print_buckets("ATT&CK technique", att, false, true);
}

static int list(int argc, char **argv) {
    esc_args a;
    esc_content *content = NULL;
    esc_lint_report *r = NULL;
    buckets src = {0}, att = {0};
    int rc = ESC_EXIT_USAGE;
    if (!esc_args_parse(&a, content_opts, NOPTS, argc, argv, "content list"))
        return ESC_EXIT_USAGE;
    const char *fmt = esc_args_get(&a, "format");
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "text") != 0) {
        fprintf(stderr, "escudo content list: --format must be text or json\n");
        goto done;
    }
    esc_status st = esc_cli_load_content(&a, &content);
    esc_error err = {0};
    if (st || (st = esc_lint_run(content, &r, &err)) != ESC_OK) {
        if (err.msg[0])
            esc_report("error", &err);
        rc = esc_exit_code(st);
        goto done;
    }
    bool ok = true;
    for (size_t i = 0; i < r->n && ok; i++) {
        const esc_detection *d = r->v[i].det;
        for (size_t k = 0; k < d->data_sources.n && ok; k++)
            ok = count(&src, d->data_sources.v[k], r->v[i].supported);
        if (!d->data_sources.n)
            ok = count(&src, "(none)", r->v[i].supported);
        for (size_t k = 0; k < d->mitre_attack_id.n && ok; k++)
            ok = count(&att, d->mitre_attack_id.v[k], r->v[i].supported);
    }
    if (!ok) {
        fputs("escudo: out of memory\n", stderr);
        rc = ESC_EXIT_IO;
        goto done;
    }
    qsort(src.v, src.n, sizeof *src.v, cmp_bucket);
    qsort(att.v, att.n, sizeof *att.v, cmp_bucket);
    print_list(r, &src, &att, fmt && !strcmp(fmt, "json"));
    rc = ESC_EXIT_OK;
done:
    esc_free(src.v);
    esc_free(att.v);
    esc_lint_report_free(r);
    esc_content_free(content);
    esc_args_free(&a);
    return rc;
}

static int install(int argc, char **argv) {
    esc_args a;
    if (!esc_args_parse(&a, content_opts, NOPTS, argc, argv, "content install"))
        return ESC_EXIT_USAGE;
    const char *from = esc_args_get(&a, "from");
    int rc = ESC_EXIT_USAGE;
    if (!from)
        fprintf(stderr, "escudo content install: --from DIR is required (a security_content "
                        "checkout)\n");
    else
        rc = esc_content_install(from);
    esc_args_free(&a);
    return rc;
}

int esc_cmd_content(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "list"))
        return list(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "install"))
        return install(argc - 1, argv + 1);
    bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    esc_usage(help ? stdout : stderr, "content", esc_doc_content.synopsis,
              "list: what the content holds, by data source and ATT&CK technique, and how many\n"
              "detections of each escudo supports (the verdicts of escudo lint).\n"
              "install --from DIR: copy a security_content checkout into the user's content\n"
              "folder, used by every command when no --content is given.",
              content_opts, NOPTS);
    return help ? ESC_EXIT_OK : ESC_EXIT_USAGE;
}
