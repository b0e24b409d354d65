/* esc_vec_grow (core/alloc): the capacity it gives for a need, what it keeps, and what it
 * refuses, including a failing allocation (the ESCUDO_FAIL_ALLOC countdown) and sizes past
 * size_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core/alloc.h"

static void test_doubling(void **state) {
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_true(ESC_VEC_GROW(v, cap, 1, 16));
    assert_non_null(v);
    assert_int_equal(cap, 16); /* the first capacity */
    for (int i = 0; i < 16; i++)
        v[i] = i;
    assert_true(ESC_VEC_GROW(v, cap, 16, 16)); /* already room: nothing moves */
    assert_int_equal(cap, 16);
    assert_true(ESC_VEC_GROW(v, cap, 17, 16));
    assert_int_equal(cap, 32);
    assert_true(ESC_VEC_GROW(v, cap, 200, 16)); /* 32 doubled until 200 fit */
    assert_int_equal(cap, 256);
    for (int i = 0; i < 16; i++)
        assert_int_equal(v[i], i); /* kept across the moves */
    esc_free(v);
}

static void test_first_zero(void **state) {
    (void)state;
    char *v = NULL;
    size_t cap = 0;
    assert_true(ESC_VEC_GROW(v, cap, 3, 0)); /* from 1: 1, 2, 4 */
    assert_int_equal(cap, 4);
    esc_free(v);
}

static void test_too_large(void **state) {
    (void)state;
    uint64_t *v = NULL;
    size_t cap = 0;
    assert_false(ESC_VEC_GROW(v, cap, SIZE_MAX / 2 + 2, 1)); /* no power of two holds it */
    assert_null(v);
    assert_int_equal(cap, 0);
    assert_false(ESC_VEC_GROW(v, cap, SIZE_MAX / 8 + 1, 1)); /* the bytes overflow */
    assert_null(v);
    assert_int_equal(cap, 0);
}

/* The first allocation after the countdown is set fails: nothing changes. */
static void test_failure(void **state) {
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_true(ESC_VEC_GROW(v, cap, 4, 4));
    int *before = v;
    setenv("ESCUDO_FAIL_ALLOC", "1", 1);
    esc_alloc_init();
    bool ok = ESC_VEC_GROW(v, cap, 5, 4);
    unsetenv("ESCUDO_FAIL_ALLOC");
    esc_alloc_init();
    assert_false(ok);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 4);
    esc_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubling),
        cmocka_unit_test(test_first_zero),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
