/* parse/json_value.h: one JSON object read whole (what escudo test reads its captured risk
 * events with): member types and text, array items, byte-exact string decoding, the first of
 * duplicate keys, and malformed text with its offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "parse/json_value.h"

static esc_json_object *read_ok(const char *s) {
    esc_json_object *o = NULL;
    esc_error err = {0};
    assert_int_equal(esc_json_object_read(s, strlen(s), &o, &err), ESC_OK);
    assert_non_null(o);
    return o;
}

static void test_members(void **state) {
    (void)state;
    esc_json_object *o =
        read_ok(" {\"a\": \"x\", \"n\": -1.5e3, \"t\": true, \"f\": false, \"z\": null,"
                " \"o\": {\"k\": [1, 2]}, \"arr\": [\"p\\tq\", 7, {\"in\": 1}, [], null]}\n");
    assert_int_equal(esc_json_object_count(o), 7);
    static const struct {
        const char *key, *text;
        esc_json_type type;
    } want[] = {{"a", "x", ESC_JT_STR},
                {"n", "-1.5e3", ESC_JT_NUM},
                {"t", "true", ESC_JT_TRUE},
                {"f", "false", ESC_JT_FALSE},
                {"z", "null", ESC_JT_NULL},
                {"o", "{\"k\": [1, 2]}", ESC_JT_OBJ},
                {"arr", "[\"p\\tq\", 7, {\"in\": 1}, [], null]", ESC_JT_ARR}};
    for (size_t i = 0; i < 7; i++) {
        const esc_json_member *m = esc_json_object_member(o, i);
        assert_string_equal(m->key, want[i].key);
        assert_string_equal(m->text, want[i].text);
        assert_int_equal(m->len, strlen(want[i].text));
        assert_int_equal(m->type, want[i].type);
        if (m->type != ESC_JT_ARR)
            assert_null(m->items);
    }
    assert_null(esc_json_object_member(o, 7));
    const esc_json_member *a = esc_json_object_get(o, "arr", ESC_JT_ARR);
    assert_non_null(a);
    assert_int_equal(a->nitems, 5);
    assert_string_equal(a->items[0], "p\tq");
    assert_string_equal(a->items[1], "7");
    assert_string_equal(a->items[2], "{\"in\": 1}");
    assert_string_equal(a->items[3], "[]");
    assert_string_equal(a->items[4], "null");
    /* the object's own members are not read: its array has no items */
    assert_null(esc_json_object_get(o, "k", 0));
    esc_json_object_free(o);

    o = read_ok("{}");
    assert_int_equal(esc_json_object_count(o), 0);
    assert_null(esc_json_object_get(o, "a", 0));
    esc_json_object_free(o);
    esc_json_object_free(NULL);
}

static void test_duplicates(void **state) {
    (void)state;
    esc_json_object *o = read_ok("{\"k\": 1, \"k\": \"one\", \"k\": \"two\", \"k\": [\"x\"]}");
    assert_int_equal(esc_json_object_count(o), 4);
    assert_string_equal(esc_json_object_get(o, "k", 0)->text, "1");
    assert_string_equal(esc_json_object_get(o, "k", ESC_JT_STR)->text, "one");
    assert_string_equal(esc_json_object_get(o, "k", ESC_JT_ARR)->items[0], "x");
    assert_null(esc_json_object_get(o, "k", ESC_JT_OBJ));
    assert_null(esc_json_object_get(o, "K", 0)); /* case-sensitive */
    esc_json_object_free(o);
}

static void test_strings(void **state) {
    (void)state;
    /* escapes resolved; a pair combined; a lone surrogate and NUL as U+FFFD; an escaped key */
    esc_json_object *o = read_ok("{\"s\": \"a\\\"b\\\\c\\/d\\n\\r\\t\\b\\f\", "
                                 "\"u\": \"\\u00e9\\ud83d\\ude00\\ud800x\\u0000y\", "
                                 "\"k\\u0065y\": \"v\"}");
    assert_string_equal(esc_json_object_get(o, "s", 0)->text, "a\"b\\c/d\n\r\t\b\f");
    const esc_json_member *u = esc_json_object_get(o, "u", 0);
    assert_string_equal(u->text, "\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBDx\xEF\xBF\xBDy");
    assert_int_equal(u->len, strlen(u->text));
    assert_string_equal(esc_json_object_get(o, "key", 0)->text, "v");
    esc_json_object_free(o);
    /* bytes that are not UTF-8 come back as written, with and without escapes around them */
    o = read_ok("{\"raw\": \"\xFF\xC3(\", \"mixed\": \"\xFE\\n\xFE\"}");
    assert_string_equal(esc_json_object_get(o, "raw", 0)->text, "\xFF\xC3(");
    assert_string_equal(esc_json_object_get(o, "mixed", 0)->text, "\xFE\n\xFE");
    esc_json_object_free(o);
}

static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *text;
        uint64_t offset;
    } bad[] = {
        {"", 0},
        {"[1]", 0},
        {"{\"a\": 1", 7},
        {"{\"a\": 1} x", 9},
        {"{\"a\": 1}{}", 8},
        {"{\"a\": \"\\x\"}", 7},
        {"{\"a\": 01}", 7},
        {"{a: 1}", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        esc_json_object *o = (esc_json_object *)1;
        esc_error err = {0};
        assert_int_equal(esc_json_object_read(bad[i].text, strlen(bad[i].text), &o, &err),
                         ESC_EMALFORMED);
        assert_null(o);
        assert_true(err.msg[0]);
        assert_true(err.has_offset);
        assert_int_equal(err.offset, bad[i].offset);
    }
    /* nesting past the tokenizer's limit */
    char deep[200];
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    deep[n] = 0;
    esc_json_object *o = NULL;
    esc_error err = {0};
    assert_int_equal(esc_json_object_read(deep, n, &o, &err), ESC_EMALFORMED);
    assert_non_null(strstr(err.msg, "nesting"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
