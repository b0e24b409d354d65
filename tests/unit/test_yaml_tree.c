/* The YAML tree as bytes (content/yaml_tree.c, esc_yaml_save and esc_yaml_load), which the
 * content cache files: every YAML file of escu-full and of the shipped content reads back as the
 * very tree esc_yaml_parse made; a cut or damaged copy is refused or read without harm; the caps
 * hold on reading as on parsing; and the trees of a fixed document are pinned by their digest
 * together with ESC_YAML_TREE_FORMAT, so a change to what the parser makes fails here until the
 * format number, part of the cache's key, is raised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content/yaml_tree.h"
#include "core/sha256.h"

static void same_tree(const esc_ynode *a, const esc_ynode *b) {
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->plain, b->plain);
    assert_int_equal(a->line, b->line);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->str == NULL, b->str == NULL);
    if (a->str) {
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->str, b->str, a->len + 1); /* and the NUL after it */
    }
    size_t items = a->kind == ESC_Y_MAP ? 2 * a->n : a->kind == ESC_Y_SEQ ? a->n : 0;
    for (size_t i = 0; i < items; i++)
        same_tree(a->items[i], b->items[i]);
}

/* Parse text, save the tree, load it back and compare; the saved bytes into *out. */
static void round_trip(const char *text, size_t n, esc_buf *out) {
    esc_arena a, b;
    esc_arena_init(&a, 0, 0);
    esc_arena_init(&b, 0, 0);
    esc_ynode *t = NULL, *u = NULL;
    esc_error e;
    esc_error_clear(&e);
    if (esc_yaml_parse(text, n, &a, 64, &t, &e) == ESC_OK) {
        size_t at = out->len;
        assert_int_equal(esc_yaml_save(t, out), ESC_OK);
        assert_true(esc_yaml_load(out->ptr + at, out->len - at, &b, 64, &u));
        same_tree(t, u);
    }
    esc_arena_fini(&a);
    esc_arena_fini(&b);
}

static size_t walk(const char *dir, esc_buf *out) {
    DIR *d = opendir(dir);
    size_t files = 0;
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0) {
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            static char text[4 << 20];
            size_t n = fread(text, 1, sizeof text, f);
            fclose(f);
            round_trip(text, n, out);
            files++;
        } else if (de->d_type == DT_DIR) {
            files += walk(path, out);
        }
    }
    closedir(d);
    return files;
}

static void test_content_round_trip(void **state) {
    (void)state;
    esc_buf out;
    esc_buf_init(&out, 0);
    size_t n = walk(ESC_SHARED_DATA "/escu-full", &out) + walk(ESC_SOURCE_DIR "/content", &out);
    assert_true(n > 1600);
    esc_buf_fini(&out);
}

/* Every kind of node the parser makes: plain, quoted and block scalars, nulls written four
 * ways, an alias (null), an empty document's collections, a key repeated, text with a NUL. */
static const char DOC[] = "name: Windows Thing\n"
                          "id: 'quoted'\n"
                          "search: \"`sysmon` EventCode=1 | stats count by \\\"x\\\"\"\n"
                          "empty:\n"
                          "tilde: ~\n"
                          "null_word: null\n"
                          "anchor: &a [1, 2]\n"
                          "alias: *a\n"
                          "block: |\n  line one\n  line two\n"
                          "folded: >\n  a\n  b\n"
                          "seq:\n- a\n- {k: v, k: w}\n- []\n- {}\n"
                          "nul: \"a\\0b\"\n"
                          "deep: [[[[x]]]]\n";

/* DOC's tree as bytes, into out (esc_buf_fini'd by the caller). */
static void doc_bytes(esc_buf *out) {
    esc_arena a;
    esc_arena_init(&a, 0, 0);
    esc_ynode *t = NULL;
    esc_error e;
    esc_error_clear(&e);
    assert_int_equal(esc_yaml_parse(DOC, sizeof DOC - 1, &a, 64, &t, &e), ESC_OK);
    esc_buf_init(out, 0);
    assert_int_equal(esc_yaml_save(t, out), ESC_OK);
    esc_arena_fini(&a);
}

static void test_pinned(void **state) {
    (void)state;
    esc_buf out;
    doc_bytes(&out);
    esc_sha256 s;
    esc_sha256_init(&s);
    esc_sha256_update(&s, out.ptr, out.len);
    char hex[65];
    esc_sha256_final_hex(&s, hex);
    /* A different digest means esc_yaml_parse or esc_yaml_save now makes other trees or bytes:
     * raise ESC_YAML_TREE_FORMAT (content/yaml_tree.h), then pin both anew. */
    assert_int_equal(ESC_YAML_TREE_FORMAT, 1);
    assert_string_equal(hex, "addac743643802804020b81e29094efc795d4bea191432c49563ef22b3796b6f");
    esc_buf_fini(&out);
}

static void test_damaged(void **state) {
    (void)state;
    esc_arena b;
    esc_ynode *u = NULL;
    esc_buf out;
    doc_bytes(&out);
    char *copy = malloc(out.len);
    assert_non_null(copy);
    /* every cut is refused: a tree's bytes end exactly where its last node does */
    for (size_t n = 0; n < out.len; n++) {
        esc_arena_init(&b, 0, 0);
        assert_false(esc_yaml_load(out.ptr, n, &b, 64, &u));
        esc_arena_fini(&b);
    }
    /* every byte changed to every value: refused or read, never out of bounds (ASan) */
    for (size_t i = 0; i < out.len; i++)
        for (unsigned v = 0; v < 256; v += 17) {
            memcpy(copy, out.ptr, out.len);
            copy[i] = (char)v;
            esc_arena_init(&b, 0, 0);
            (void)esc_yaml_load(copy, out.len, &b, 64, &u);
            esc_arena_fini(&b);
        }
    /* the nesting cap: DOC nests five deep ("deep" under the top mapping) */
    esc_arena_init(&b, 0, 0);
    assert_false(esc_yaml_load(out.ptr, out.len, &b, 4, &u));
    assert_true(esc_yaml_load(out.ptr, out.len, &b, 5, &u));
    esc_arena_fini(&b);
    free(copy);
    esc_buf_fini(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_round_trip),
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
