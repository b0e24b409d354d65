/* Shared CLI plumbing: loading content and selecting detections.
 *
 * Content: the shipped base layer (content/base: the CIM macros ESCU relies on but does not
 * ship, and the ATT&CK tactic table) comes first, then --content folders (default: the shipped
 * content), then --local folders, then the detection files named with --detection FILE; each
 * later one shadows the earlier.
 *
 * Selection: every command that takes detections (hunt, explain, run, test) resolves its
 * selectors here, so a name, id or file means the same everywhere and an unknown one gets the
 * same message. Selection does not plan searches (esc_cli_check_searches does, for the commands
 * that refuse a detection that does not plan) and does not drop duplicates. */
#include <stdio.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "detect/engine.h"

#ifndef ESC_CONTENT_DIR
#define ESC_CONTENT_DIR "content"
#endif

esc_status esc_cli_load_content(const esc_args *a, esc_content **out) {
    const char **content = NULL, **local = NULL, **det = NULL;
    size_t nc = esc_args_all(a, "content", &content);
    size_t nl = esc_args_all(a, "local", &local);
    size_t nd = esc_args_all(a, "detection", &det);
    const char **dirs = esc_calloc(nc + nl + nd + 2, sizeof *dirs);
    if (!dirs) {
        fprintf(stderr, "escudo: out of memory\n");
        return ESC_ENOMEM;
    }
    size_t n = 0;
    dirs[n++] = ESC_CONTENT_DIR "/base"; /* CIM macros and tactics, under any content */
    if (nc == 0)
        dirs[n++] = ESC_CONTENT_DIR;
    for (size_t i = 0; i < nc; i++)
        dirs[n++] = content[i];
    for (size_t i = 0; i < nl; i++)
        dirs[n++] = local[i];
    for (size_t i = 0; i < nd; i++) {
        struct stat sb;
        if (stat(det[i], &sb) == 0 && S_ISREG(sb.st_mode))
            dirs[n++] = det[i];
    }
    esc_error err = {0};
    esc_status st = esc_content_load(dirs, n, out, &err);
    esc_free(dirs);
    if (st) {
        esc_report("error", &err);
        return st;
    }
    if (esc_args_has(a, "verbose"))
        for (size_t i = 0; i < (*out)->warnings.n; i++)
            fprintf(stderr, "escudo: content warning: %s\n", (*out)->warnings.v[i]);
    return ESC_OK;
}

esc_cli_selectors esc_cli_option(const esc_args *a, const char *name) {
    const char **v = NULL;
    size_t n = esc_args_all(a, name, &v);
    return (esc_cli_selectors){v, n, false};
}

esc_cli_selectors esc_cli_positional(const esc_args *a) {
    return (esc_cli_selectors){a->pos, a->npos, true};
}

int esc_cli_select(const char *cmd, const esc_content *c, const esc_cli_selectors *src, size_t nsrc,
                   const esc_detection ***out, size_t *n) {
    size_t total = 0;
    for (size_t s = 0; s < nsrc; s++)
        total += src[s].n;
    *n = 0;
    *out = NULL;
    if (total == 0)
        return ESC_EXIT_OK;
    if (!(*out = esc_calloc(total, sizeof **out))) {
        fprintf(stderr, "escudo: error: out of memory\n");
        return ESC_EXIT_IO;
    }
    for (size_t s = 0; s < nsrc; s++) {
        for (size_t i = 0; i < src[s].n; i++) {
            const char *w = src[s].v[i];
            const esc_detection *d = esc_content_find(c, w);
            if (!d) {
                fprintf(stderr, "escudo %s: no detection named %s in the content%s\n", cmd, w,
                        src[s].positional ? " (a YAML file elsewhere loads with --detection FILE)"
                                          : "");
                esc_free(*out);
                *out = NULL;
                *n = 0;
                return ESC_EXIT_USAGE;
            }
            (*out)[(*n)++] = d;
        }
    }
    return ESC_EXIT_OK;
}

void esc_cli_show_search_error(const esc_content *c, const esc_detection *d) {
    esc_error err = {0};
    char *text = NULL;
    if (esc_engine_check(c, d, &text, &err) == ESC_OK)
        return;
    esc_buf b;
    esc_buf_init(&b, 0);
    if (text && err.has_offset && esc_spl_caret(text, &err, &b) == ESC_OK && b.len)
        fprintf(stderr, "%s%s", b.ptr, b.ptr[b.len - 1] == '\n' ? "" : "\n");
    esc_buf_fini(&b);
    esc_free(text);
}

bool esc_cli_check_searches(const esc_content *c, const esc_detection *const *dets, size_t n) {
    for (size_t i = 0; i < n; i++) {
        esc_error err = {0};
        if (esc_engine_check(c, dets[i], NULL, &err) == ESC_OK)
            continue;
        fprintf(stderr, "escudo: error: %s: %s\n", dets[i]->name, err.msg);
        esc_cli_show_search_error(c, dets[i]);
        return false;
    }
    return true;
}
