/* Expanding input paths: directories walked recursively, entries in byte order of their names,
 * symbolic links followed, each directory entered once (device + inode, esc_dirs_seen, which the
 * content loader's folder walk shares), so link loops end.
 * Errors carry the path in their message (the walk's own path strings do not outlive it).
 * Limits: at most max_files files per call (ESC_WALK_MAX_FILES unless esc_paths_expand_max is
 * given another), MAX_DEPTH levels below a named directory.
 * Not here: reading files or deciding their format. */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "ingest/input.h"

#define MAX_DEPTH 256

struct esc_dir_id {
    dev_t dev;
    ino_t ino;
};

typedef struct walk {
    char **files;
    size_t n, cap;
    esc_dirs_seen seen;
    size_t skipped;
    size_t max_files;
} walk;

static esc_status push_file(walk *w, const char *path, esc_error *err) {
    if (w->n == w->max_files)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu input files", w->max_files);
    if (w->n == w->cap && !ESC_VEC_GROW(w->files, w->cap, w->n + 1, 64))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!(w->files[w->n] = esc_strdup(path)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    w->n++;
    return ESC_OK;
}

static esc_status mark_id(esc_dirs_seen *s, const struct stat *sb) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].dev == sb->st_dev && s->v[i].ino == sb->st_ino)
            return ESC_SKIP;
    if (s->n == s->cap && !ESC_VEC_GROW(s->v, s->cap, s->n + 1, 16))
        return ESC_ENOMEM;
    s->v[s->n].dev = sb->st_dev;
    s->v[s->n].ino = sb->st_ino;
    s->n++;
    return ESC_OK;
}

esc_status esc_dirs_seen_mark(esc_dirs_seen *s, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ESC_EIO;
    return mark_id(s, &sb);
}

void esc_dirs_seen_fini(esc_dirs_seen *s) {
    esc_free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static esc_status walk_path(walk *w, const char *path, int depth, esc_error *err) {
    struct stat sb;
    if (strcmp(path, "-") == 0)
        return push_file(w, path, err);
    if (stat(path, &sb) != 0) {
        w->skipped++;
        return esc_error_set(err, ESC_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return push_file(w, path, err);
    if (depth > MAX_DEPTH) {
        w->skipped++;
        return esc_error_set(err, ESC_EIO, "directory nested deeper than %d levels, not read: %s",
                             MAX_DEPTH, path);
    }
    esc_status mst = mark_id(&w->seen, &sb);
    if (mst == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (mst != ESC_OK)
        return ESC_OK; /* entered already (a link loop, or two links to one folder) */
    DIR *d = opendir(path);
    if (!d) {
        w->skipped++;
        return esc_error_set(err, ESC_EIO, "%s: cannot open directory: %s", path, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    esc_status st = ESC_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap && !ESC_VEC_GROW(names, cap, n + 1, 32)) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto done;
        }
        if (!(names[n] = esc_strdup(e->d_name))) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && !st; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *child = esc_malloc(len);
        if (!child) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        snprintf(child, len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", names[i]);
        esc_status cst = walk_path(w, child, depth + 1, err);
        esc_free(child);
        if (cst == ESC_ENOMEM || cst == ESC_ELIMIT)
            st = cst;
    }
done:
    for (size_t i = 0; i < n; i++)
        esc_free(names[i]);
    esc_free(names);
    closedir(d);
    return st;
}

esc_status esc_paths_expand(const char *const *paths, size_t npaths, char ***files, size_t *nfiles,
                            size_t *skipped, esc_error *err) {
    return esc_paths_expand_max(paths, npaths, ESC_WALK_MAX_FILES, files, nfiles, skipped, err);
}

esc_status esc_paths_expand_max(const char *const *paths, size_t npaths, size_t max_files,
                                char ***files, size_t *nfiles, size_t *skipped, esc_error *err) {
    walk w = {0};
    w.max_files = max_files;
    esc_status st = ESC_OK;
    for (size_t i = 0; i < npaths; i++) {
        esc_status pst = walk_path(&w, paths[i], 0, err);
        if (pst == ESC_ENOMEM || pst == ESC_ELIMIT) {
            st = pst;
            break;
        }
    }
    esc_dirs_seen_fini(&w.seen);
    if (st) {
        esc_paths_free(w.files, w.n);
        return st;
    }
    if (skipped)
        *skipped = w.skipped;
    *files = w.files;
    *nfiles = w.n;
    if (w.n == 0 && w.skipped)
        return err ? err->code : ESC_EIO;
    return ESC_OK;
}

void esc_paths_free(char **files, size_t n) {
    for (size_t i = 0; files && i < n; i++)
        esc_free(files[i]);
    esc_free(files);
}
