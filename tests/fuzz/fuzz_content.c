/* libFuzzer target for ESCU YAML content: the YAML tree (esc_yaml_parse) on the whole input,
 * then esc_content_load over a content folder built from it, then macro expansion of every
 * loaded detection's search with the loaded macros. The tree's bytes for the content cache
 * (esc_yaml_save) must read back whole and save to the same bytes; the input itself is also
 * read as such bytes (esc_yaml_load), which must refuse it or stay within the caps.
 *
 * Input layout: the input is split at lines "#---" into up to five files of one content folder:
 * detections/d.yml, macros/m.yml, deployments/p.yml, lookups/l.yml (with a CSV beside it named
 * l.csv, so the locating path runs) and data_sources/s.yml. The folder lives under $TMPDIR (or
 * /tmp), is made once per process and removed at exit. esc_content_load reads files only, so
 * the files are rewritten for every input; there is no in-memory entry point. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "content/content.h"
#include "content/yaml_tree.h"
#include "spl/spl.h"

static const char *const files[] = {"detections/d.yml", "macros/m.yml", "deployments/p.yml",
                                    "lookups/l.yml", "data_sources/s.yml"};
#define NFILES (sizeof files / sizeof files[0])

static char root[256];

static void cleanup(void) {
    char p[512];
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/lookups/l.csv", root);
    unlink(p);
    static const char *const dirs[] = {"detections", "macros", "deployments", "lookups",
                                       "data_sources"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        rmdir(p);
    }
    rmdir(root);
}

static int setup(void) {
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/fuzz_content.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root))
        return -1;
    char p[512];
    static const char *const dirs[] = {"detections", "macros", "deployments", "lookups",
                                       "data_sources"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        if (mkdir(p, 0700) != 0)
            return -1;
    }
    snprintf(p, sizeof p, "%s/lookups/l.csv", root);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs("a,b\n1,2\n", f);
    fclose(f);
    atexit(cleanup);
    return 0;
}

static int put(const char *name, const uint8_t *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (setup() != 0)
            abort();
        ready = 1;
    }

    /* the YAML tree alone */
    esc_arena a;
    esc_arena_init(&a, 64 * 1024, 256u << 20);
    esc_ynode *y = NULL;
    esc_error err;
    memset(&err, 0, sizeof err);
    if (esc_yaml_parse((const char *)data, size, &a, 64, &y, &err) == ESC_OK && y) {
        (void)esc_ymap_get(y, "search");
        (void)esc_ynode_str(esc_ymap_get(y, "name"));
        /* the content cache's bytes of the tree read back whole, and equal (yaml_tree.h) */
        esc_buf b, b2;
        esc_buf_init(&b, 0);
        esc_buf_init(&b2, 0);
        esc_ynode *back = NULL;
        if (esc_yaml_save(y, &b) == ESC_OK) {
            if (!esc_yaml_load(b.ptr, b.len, &a, 64, &back) || esc_yaml_save(back, &b2) != ESC_OK ||
                b2.len != b.len || memcmp(b.ptr, b2.ptr, b.len) != 0)
                abort();
        }
        esc_buf_fini(&b);
        esc_buf_fini(&b2);
    }
    /* the input itself as a cached tree's bytes: refused or read, within the caps */
    (void)esc_yaml_load((const char *)data, size, &a, 64, &y);
    esc_arena_fini(&a);

    /* split into the folder's files */
    size_t start = 0, part = 0;
    for (size_t i = 0; i <= size && part < NFILES; i++) {
        int cut = i == size || (i + 5 <= size && memcmp(data + i, "#---", 4) == 0 &&
                                (i == 0 || data[i - 1] == '\n') && data[i + 4] == '\n');
        if (!cut)
            continue;
        if (put(files[part++], data + start, i - start) != 0)
            abort();
        start = i + 5;
        i += 4;
    }
    for (; part < NFILES; part++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, files[part]);
        unlink(path);
    }

    const char *dirs[] = {root};
    esc_content *c = NULL;
    memset(&err, 0, sizeof err);
    if (esc_content_load(dirs, 1, &c, &err) == ESC_OK && c) {
        volatile size_t sink = 0;
        for (size_t i = 0; i < c->ndetections; i++) {
            const esc_detection *d = &c->detections[i];
            if (!d->search || !d->filter_macro)
                __builtin_trap(); /* documented: a loaded detection has both */
            char *out = NULL;
            esc_error e2;
            if (esc_spl_expand(d->search, &c->macros, &out, &e2) == ESC_OK)
                sink += strlen(out);
            esc_free(out);
            if (d->name && !esc_content_find(c, d->name))
                __builtin_trap();
        }
        for (size_t i = 0; i < c->warnings.n; i++)
            sink += strlen(c->warnings.v[i]);
        (void)sink;
    }
    esc_content_free(c);
    return 0;
}
