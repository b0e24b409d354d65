/* Expanding input paths: byte order, the cap on the number of files (docs/limits.md, "files
 * named by one run"; 10^7 by default, set low here through esc_paths_expand_max). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/input.h"

/* A temporary folder: a/1.xml a/2.xml a/sub/3.xml b/4.xml b/5.xml */
typedef struct tree {
    char root[64], a[80], b[80];
} tree;

static void touch(const char *dir, const char *name) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fclose(f);
}

static int setup(void **state) {
    tree *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->root, sizeof t->root, "/tmp/escudo-walk-XXXXXX");
    if (!mkdtemp(t->root))
        return -1;
    snprintf(t->a, sizeof t->a, "%s/a", t->root);
    snprintf(t->b, sizeof t->b, "%s/b", t->root);
    char sub[96];
    snprintf(sub, sizeof sub, "%s/sub", t->a);
    if (mkdir(t->a, 0700) || mkdir(t->b, 0700) || mkdir(sub, 0700))
        return -1;
    touch(t->a, "2.xml");
    touch(t->a, "1.xml");
    touch(sub, "3.xml");
    touch(t->b, "5.xml");
    touch(t->b, "4.xml");
    *state = t;
    return 0;
}

static int teardown(void **state) {
    tree *t = *state;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void test_order(void **state) {
    tree *t = *state;
    const char *paths[] = {t->root};
    char **files = NULL;
    size_t n = 0, skipped = 9;
    esc_error err;
    assert_int_equal(esc_paths_expand(paths, 1, &files, &n, &skipped, &err), ESC_OK);
    assert_int_equal(n, 5);
    assert_int_equal(skipped, 0);
    const char *want[] = {"a/1.xml", "a/2.xml", "a/sub/3.xml", "b/4.xml", "b/5.xml"};
    for (size_t i = 0; i < n; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/%s", t->root, want[i]);
        assert_string_equal(files[i], p);
    }
    esc_paths_free(files, n);
}

/* The cap counts every file of one call: exactly max_files is fine, one more is ESC_ELIMIT with
 * the message of docs/limits.md, and nothing is returned. */
static void test_cap(void **state) {
    tree *t = *state;
    const char *paths[] = {t->a, t->b};
    char **files = NULL;
    size_t n = 0;
    esc_error err;
    assert_int_equal(esc_paths_expand_max(paths, 2, 5, &files, &n, NULL, &err), ESC_OK);
    assert_int_equal(n, 5);
    esc_paths_free(files, n);

    files = NULL;
    n = 0;
    esc_error_clear(&err);
    assert_int_equal(esc_paths_expand_max(paths, 2, 4, &files, &n, NULL, &err), ESC_ELIMIT);
    assert_int_equal(err.code, ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 4 input files");
    assert_null(files);
    assert_int_equal(n, 0);

    /* hit inside the first directory, and by a file named directly */
    const char *one[] = {t->a};
    assert_int_equal(esc_paths_expand_max(one, 1, 2, &files, &n, NULL, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 2 input files");
    char f1[160];
    snprintf(f1, sizeof f1, "%s/1.xml", t->a);
    const char *named[] = {f1, f1};
    assert_int_equal(esc_paths_expand_max(named, 2, 1, &files, &n, NULL, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 1 input files");
    assert_null(files);
}

/* The default cap and its message. */
static void test_default(void **state) {
    (void)state;
    assert_int_equal(ESC_WALK_MAX_FILES, 10000000);
    const char *paths[] = {"-"};
    char **files = NULL;
    size_t n = 0;
    esc_error err;
    assert_int_equal(esc_paths_expand_max(paths, 1, 0, &files, &n, NULL, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 0 input files");
    assert_int_equal(esc_paths_expand(paths, 1, &files, &n, NULL, &err), ESC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(files[0], "-");
    esc_paths_free(files, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test(test_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
