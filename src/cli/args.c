/* Option parsing from one table per command; also renders --help from that table. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"

static int find(const esc_opt *opts, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* "unknown option --x", with the nearest option of the table when it is within two edits. */
static void unknown_option(const char *cmd, const esc_opt *opts, size_t nopts, const char *name,
                           size_t len) {
    char given[256];
    snprintf(given, sizeof given, "%.*s", (int)(len < 255 ? len : 255), name);
    const char *near = NULL;
    size_t best = 3;
    for (size_t i = 0; i < nopts; i++) {
        size_t d = esc_cli_distance(given, opts[i].name);
        if (d < best) {
            best = d;
            near = opts[i].name;
        }
    }
    if (near)
        esc_say(stderr, "escudo %s: unknown option --%.*s; did you mean --%s? (see --help)", cmd,
                (int)len, name, near);
    else
        esc_say(stderr, "escudo %s: unknown option --%.*s (see --help)", cmd, (int)len, name);
}

bool esc_args_parse(esc_args *a, const esc_opt *opts, size_t nopts, int argc, char **argv,
                    const char *cmd) {
    memset(a, 0, sizeof *a);
    a->opts = opts;
    a->nopts = nopts;
    a->values = esc_calloc(nopts + 1, sizeof *a->values);
    a->all = esc_calloc(nopts + 1, sizeof *a->all);
    a->count = esc_calloc(nopts + 1, sizeof *a->count);
    a->pos = esc_calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->values || !a->all || !a->count || !a->pos) {
        fprintf(stderr, "escudo: out of memory\n");
        return false;
    }
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || strcmp(s, "-") == 0) {
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (s[1] != '-') {
            if (strcmp(s, "-h") == 0)
                s = "--help";
            else if (strcmp(s, "-o") == 0 && find(opts, nopts, "output", 6) >= 0)
                s = "--output";
            else {
                esc_say(stderr, "escudo %s: unknown option %s (see --help)", cmd, s);
                return false;
            }
        }
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = find(opts, nopts, name, len);
        if (k < 0) {
            unknown_option(cmd, opts, nopts, name, len);
            return false;
        }
        const char *val = NULL;
        if (opts[k].arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "escudo %s: --%s needs %s\n", cmd, opts[k].name, opts[k].arg);
                return false;
            }
        } else if (eq) {
            fprintf(stderr, "escudo %s: --%s takes no value\n", cmd, opts[k].name);
            return false;
        }
        const char **all = esc_realloc(a->all[k], (a->count[k] + 1) * sizeof *all);
        if (!all) {
            fprintf(stderr, "escudo: out of memory\n");
            return false;
        }
        all[a->count[k]] = val ? val : "";
        a->all[k] = all;
        a->count[k]++;
        a->values[k] = val ? val : "";
    }
    return true;
}

void esc_args_free(esc_args *a) {
    for (size_t i = 0; a->all && i < a->nopts; i++)
        esc_free(a->all[i]);
    esc_free(a->all);
    esc_free(a->values);
    esc_free(a->count);
    esc_free(a->pos);
    memset(a, 0, sizeof *a);
}

const char *esc_args_get(const esc_args *a, const char *name) {
    int k = find(a->opts, a->nopts, name, strlen(name));
    return k >= 0 ? a->values[k] : NULL;
}

bool esc_args_has(const esc_args *a, const char *name) {
    int k = find(a->opts, a->nopts, name, strlen(name));
    return k >= 0 && a->count[k] > 0;
}

size_t esc_args_all(const esc_args *a, const char *name, const char ***values) {
    int k = find(a->opts, a->nopts, name, strlen(name));
    if (k < 0)
        return 0;
    *values = a->all[k];
    return a->count[k];
}

void esc_usage(FILE *f, const char *cmd, const char *synopsis, const char *about,
               const esc_opt *opts, size_t nopts) {
    fprintf(f, "usage: escudo %s %s\n\n%s\n\noptions:\n", cmd, synopsis, about);
    for (size_t i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        if (strlen(left) > 24) /* a long placeholder: the help on the next line */
            fprintf(f, "  %s\n  %-24s %s\n", left, "", opts[i].help);
        else
            fprintf(f, "  %-24s %s\n", left, opts[i].help);
    }
}

int esc_exit_code(esc_status st) {
    switch (st) {
    case ESC_OK:
    case ESC_EOF:
    case ESC_SKIP:
        return ESC_EXIT_OK;
    case ESC_EUSAGE:
    case ESC_ECONTENT:
        return ESC_EXIT_USAGE;
    default:
        return ESC_EXIT_IO;
    }
}

/* Paths and messages quote file names and input values: printed escaped (esc_say), so a
 * newline in a file name cannot forge an "escudo:" line, nor an escape sequence reach the
 * terminal. */
void esc_report(const char *level, const esc_error *err) {
    if (err->path && err->line)
        esc_say(stderr, "escudo: %s: %s:%llu: %s", level, err->path, (unsigned long long)err->line,
                err->msg);
    else if (err->path && err->has_offset)
        esc_say(stderr, "escudo: %s: %s: offset %llu: %s", level, err->path,
                (unsigned long long)err->offset, err->msg);
    else if (err->path)
        esc_say(stderr, "escudo: %s: %s: %s", level, err->path, err->msg);
    else
        esc_say(stderr, "escudo: %s: %s", level, err->msg);
}
