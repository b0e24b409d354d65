/* Unit tests for the limits of the multivalue commands that hostile content or input controls
 * (docs/limits.md): makemv and rex max_match stop at ESC_SPL_MAX_MV values a cell, mvexpand
 * refuses to make more than ESC_SPL_MAX_ROWS rows (ESC_ELIMIT), rex mode=sed bounds its matches
 * the same way; sort keeps Splunk's default 10,000 rows. Golden files cannot hold inputs this
 * large. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "spl/spl.h"

/* Run search over n records whose process is "P<i> " followed by reps times "a ". */
static esc_status run(const char *search, size_t n, size_t reps, esc_table **out, esc_error *err) {
    esc_plan *p = esc_plan_new(search, NULL, err);
    assert_non_null(p);
    esc_exec *x = esc_exec_new(p, 0, INT64_MAX, err);
    assert_non_null(x);
    size_t len = 16 + reps * 2;
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(s, 16, "P%zu ", i);
        for (size_t j = 0; j < reps; j++)
            memcpy(s + k + 2 * j, "a ", 2);
        s[k + 2 * reps] = 0;
        esc_record r;
        memset(&r, 0, sizeof r);
        r.time_us = 1000000;
        r.v[ESC_CIM_PROCESS] = esc_str_c(s);
        assert_int_equal(esc_exec_feed(x, &r, err), ESC_OK);
    }
    free(s);
    esc_status rc = esc_exec_finish(x, out, err);
    esc_exec_free(x);
    esc_plan_free(p);
    return rc;
}

static const char *cell(const esc_table *t, size_t row, const char *col) {
    int c = esc_table_col(t, col);
    assert_true(c >= 0);
    const esc_cell *x = esc_table_cell(t, row, (size_t)c);
    return x->n ? x->v[0] : NULL;
}

/* 100,010 tokens in one value: makemv keeps the first 100,000, rex max_match=0 as well. */
static void test_mv_cap(void **state) {
    (void)state;
    esc_error err = {0};
    esc_table *t = NULL;
    assert_int_equal(run("| tstats count from datamodel=Endpoint.Processes by Processes.process"
                         " | rename Processes.* as * | eval m=process"
                         " | rex field=process max_match=0 \"(?<tok>\\w+)\""
                         " | makemv m | eval n=mvcount(m), nt=mvcount(tok)",
                         1, ESC_SPL_MAX_MV + 9, &t, &err),
                     ESC_OK);
    assert_int_equal(t->nrows, 1);
    assert_string_equal(cell(t, 0, "n"), "100000");
    assert_string_equal(cell(t, 0, "nt"), "100000");
    esc_table_free(t);
}

/* 11 rows of 100,000 values: mvexpand would make 1,100,000 rows, over ESC_SPL_MAX_ROWS. */
static void test_mvexpand_cap(void **state) {
    (void)state;
    esc_error err = {0};
    esc_table *t = NULL;
    const char *q = "| tstats count from datamodel=Endpoint.Processes by Processes.process"
                    " | rename Processes.* as * | makemv process | mvexpand process";
    assert_int_equal(run(q, 11, ESC_SPL_MAX_MV - 1, &t, &err), ESC_ELIMIT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "mvexpand: more than 1000000 rows"));
    /* 10 rows of 100,000 values are 1,000,000 rows: within the limit */
    assert_int_equal(run(q, 10, ESC_SPL_MAX_MV - 1, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, ESC_SPL_MAX_ROWS);
    esc_table_free(t);
}

/* stats BY two multivalue fields: one group per combination of values, a repeated value feeding
 * its group again (dedup_splitvals=false); over ESC_SPL_MAX_SPLITS combinations in one row is an
 * error. 99 values ("P0" and 98 "a") twice: 9,801 combinations, 4 groups, (a, a) counted 9,604
 * times; 102 values twice: 10,404 combinations, over the cap. */
static void test_splits_cap(void **state) {
    (void)state;
    esc_error err = {0};
    esc_table *t = NULL;
    const char *q = "| tstats count from datamodel=Endpoint.Processes by Processes.process"
                    " | rename Processes.* as * | makemv process | eval q=process"
                    " | stats count by process q";
    assert_int_equal(run(q, 1, 98, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, 4);
    assert_string_equal(cell(t, 0, "process"), "P0");
    assert_string_equal(cell(t, 0, "q"), "P0");
    assert_string_equal(cell(t, 0, "count"), "1");
    assert_string_equal(cell(t, 3, "process"), "a");
    assert_string_equal(cell(t, 3, "q"), "a");
    assert_string_equal(cell(t, 3, "count"), "9604");
    esc_table_free(t);
    t = NULL;
    assert_int_equal(run(q, 1, 101, &t, &err), ESC_ELIMIT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "more than 10000 groups"));
}

/* rex mode=sed with g stops replacing after ESC_SPL_MAX_MV matches: the rest stays. */
static void test_sed_cap(void **state) {
    (void)state;
    esc_error err = {0};
    esc_table *t = NULL;
    assert_int_equal(run("| tstats count from datamodel=Endpoint.Processes by Processes.process"
                         " | rename Processes.* as * | rex field=process mode=sed \"s/a/b/g\""
                         " | eval nb=mvcount(split(process, \"b\")) - 1,"
                         " na=mvcount(split(process, \"a\")) - 1",
                         1, ESC_SPL_MAX_MV + 5, &t, &err),
                     ESC_OK);
    assert_string_equal(cell(t, 0, "nb"), "100000");
    assert_string_equal(cell(t, 0, "na"), "5");
    esc_table_free(t);
}

/* sort keeps 10,000 rows unless given a count (Splunk's default); sort 0 keeps all. */
static void test_sort_default_count(void **state) {
    (void)state;
    esc_error err = {0};
    esc_table *t = NULL;
    const char *q = "| tstats count from datamodel=Endpoint.Processes by Processes.process"
                    " | rename Processes.* as * | sort - process";
    assert_int_equal(run(q, 10001, 0, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, 10000);
    assert_string_equal(cell(t, 0, "process"), "P9999 ");
    esc_table_free(t);
    q = "| tstats count from datamodel=Endpoint.Processes by Processes.process"
        " | rename Processes.* as * | sort 0 - process";
    assert_int_equal(run(q, 10001, 0, &t, &err), ESC_OK);
    assert_int_equal(t->nrows, 10001);
    esc_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mv_cap),     cmocka_unit_test(test_mvexpand_cap),
        cmocka_unit_test(test_sed_cap),    cmocka_unit_test(test_sort_default_count),
        cmocka_unit_test(test_splits_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
