/* escudo: entry point and command dispatch.
 *
 * Before any command runs, the libraries that take a process-wide allocator (SQLite, Hyperscan)
 * are routed through esc_malloc, so that the allocation-failure mode (ESCUDO_FAIL_ALLOC) covers
 * them too; zlib and PCRE2 take theirs per stream and per context (ingest/input.c,
 * spl/regex.c). libyaml and libcurl have no hook. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hs/hs.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/hscache.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
    const esc_cmd_doc *doc;
} command;

static const command commands[] = {
    {"hunt", esc_cmd_hunt, "run detections over log files and print the result rows",
     &esc_doc_hunt},
    {"explain", esc_cmd_explain, "show a detection's expanded search, plan and prefilter",
     &esc_doc_explain},
    {"dump", esc_cmd_dump, "print the events of log files as XML or JSON lines", &esc_doc_dump},
    {"run", esc_cmd_run, "run enabled detections on their schedule over growing inputs",
     &esc_doc_run},
    {"status", esc_cmd_status, "show the state of a run", &esc_doc_status},
    {"test", esc_cmd_test, "test detections offline, as contentctl does", &esc_doc_test},
    {"lint", esc_cmd_lint, "report which detections of a content folder are supported",
     &esc_doc_lint},
    {"content", esc_cmd_content, "list what the content holds and what escudo supports",
     &esc_doc_content},
    {"notables", esc_cmd_notables, "list notables held in a --db store", &esc_doc_notables},
    {"risk", esc_cmd_risk, "list risk events held in a --db store", &esc_doc_risk},
    {"report", esc_cmd_report, "write an HTML report of a --db store (timeline, risk, ATT&CK)",
     &esc_doc_report},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The hidden outputs the build turns into escudo.1, escudo.bash and _escudo (src/cli/docs.c). */
static int docs(int argc, char **argv) {
    esc_cmd_entry e[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        e[i] = (esc_cmd_entry){commands[i].name, commands[i].help, commands[i].doc};
    if (strcmp(argv[1], "--help-man") == 0) {
        esc_doc_man(stdout, e, NCOMMANDS);
        return ESC_EXIT_OK;
    }
    if (argc != 3 || !esc_doc_completions(stdout, argv[2], e, NCOMMANDS)) {
        fprintf(stderr, "escudo: --completions takes bash or zsh\n");
        return ESC_EXIT_USAGE;
    }
    return ESC_EXIT_OK;
}

/* SQLite asks for the size of a block: it is kept in 8 bytes before it (SQLite needs 8-byte
 * alignment, which malloc's 16 bytes plus 8 keep). */
static void *sq_malloc(int n) {
    uint64_t *p = n > 0 ? esc_malloc((size_t)n + 8) : NULL;
    if (!p)
        return NULL;
    p[0] = (uint64_t)n;
    return p + 1;
}

static void sq_free(void *p) {
    if (p)
        esc_free((uint64_t *)p - 1);
}

static void *sq_realloc(void *p, int n) {
    uint64_t *q = n > 0 ? esc_realloc((uint64_t *)p - 1, (size_t)n + 8) : NULL;
    if (!q)
        return NULL;
    q[0] = (uint64_t)n;
    return q + 1;
}

static int sq_size(void *p) {
    return p ? (int)((uint64_t *)p)[-1] : 0;
}

static int sq_roundup(int n) {
    return (n + 7) & ~7;
}

static int sq_init(void *data) {
    (void)data;
    return SQLITE_OK;
}

static void sq_shutdown(void *data) {
    (void)data;
}

static void route_allocators(void) {
    static const sqlite3_mem_methods sq = {sq_malloc,  sq_free, sq_realloc,  sq_size,
                                           sq_roundup, sq_init, sq_shutdown, NULL};
    sqlite3_config(SQLITE_CONFIG_MALLOC, &sq);
    hs_set_allocator(esc_malloc, esc_free);
}

/* "escudo X.Y.Z" and the default content's version (the first line of its VERSION file: the
 * installed content's, else the shipped content's). */
static int version(void) {
    char dir[ESC_CLI_PATH_MAX], path[ESC_CLI_PATH_MAX + 16], line[512] = "";
    esc_cli_default_content(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/VERSION", dir);
    FILE *f = fopen(path, "r");
    if (f && fgets(line, sizeof line, f))
        line[strcspn(line, "\r\n")] = 0;
    if (f)
        fclose(f);
    printf("escudo %s\n", ESC_VERSION);
    esc_say(stdout, "content: %s (%s)", line[0] ? line : "unknown version: no VERSION file", dir);
    return ESC_EXIT_OK;
}

static void usage(FILE *f) {
    fprintf(f, "usage: escudo COMMAND [OPTIONS] [ARGS]\n\n"
               "escudo runs Splunk ESCU endpoint detections natively over Windows event logs\n"
               "(EVTX, XmlWinEventLog, JSON lines) and CrowdStrike FDR data.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`escudo COMMAND --help` describes a command. `escudo --version` prints the "
               "version.\nExit codes: 0 ran, 1 test failures or warnings under --strict, 2 usage "
               "or content\nerror, 3 I/O or internal error.\n");
}

int main(int argc, char **argv) {
    esc_alloc_init();
    route_allocators();
    char cache[ESC_CLI_PATH_MAX];
    if (esc_cli_cache_dir(cache, sizeof cache)) {
        esc_hs_cache_use(cache);
        esc_content_cache_use(cache);
    }
    if (argc < 2) {
        usage(stderr);
        return ESC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return version();
    if (strcmp(argv[1], "--help-man") == 0 || strcmp(argv[1], "--completions") == 0)
        return docs(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return ESC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    const char *near = NULL;
    size_t best = 3; /* within two edits */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t d = esc_cli_distance(argv[1], commands[i].name);
        if (d < best) {
            best = d;
            near = commands[i].name;
        }
    }
    if (near)
        esc_say(stderr, "escudo: unknown command '%s'; did you mean '%s'? (see escudo --help)",
                argv[1], near);
    else
        esc_say(stderr, "escudo: unknown command '%s' (see escudo --help)", argv[1]);
    return ESC_EXIT_USAGE;
}
