/* Limits of escudo test (detect/ctest.h, docs/limits.md): the notables and risk events one test
 * may capture (CAPTURE_MAX_EVENTS, 10^6 by default) through the option that lowers it. The real
 * cap needs 10^6 action events from one test (gigabytes of rendered JSON), so the cap is hit here
 * at the seed's 24 events: exactly the cap passes, one less fails the integration test with the
 * limit's message while the unit test still passes. The results one report keeps
 * (ESC_CTEST_MAX_RESULTS) are hit the same way, through esc_ctest_report.max. The 256 attack_data
 * files per test are hit through the CLI in tests/pathological/t_action_limits.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "content/content.h"
#include "detect/ctest.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"

static bool any_reason(const esc_ctest_result *r, const char *needle) {
    for (size_t i = 0; i < r->nreasons; i++)
        if (strstr(r->reasons[i], needle))
            return true;
    return false;
}

/* The shipped content and its seed detection. */
static const esc_detection *load_seed(esc_content **c) {
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SOURCE_DIR "/content"};
    esc_error err = {0};
    assert_int_equal(esc_content_load(dirs, 2, c, &err), ESC_OK);
    const esc_detection *seed = esc_content_find(*c, SEED_ID);
    assert_non_null(seed);
    return seed;
}

static void test_capture_cap(void **state) {
    (void)state;
    esc_content *c = NULL;
    esc_error err = {0};
    const esc_detection *seed = load_seed(&c);
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    /* the seed's test makes 8 notables and 16 risk events: 24 captured events */
    esc_ctest_opts o = {
        .profile = ESC_PROFILE_SPLUNK, .search_time = 1715706000, .max_capture = 24};
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_OK);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.r[1].kind, ESC_CTEST_INTEGRATION);
    assert_int_equal(rep.r[1].outcome, ESC_CTEST_PASS);
    assert_int_equal(rep.r[1].notables + rep.r[1].risk_events, 24);

    /* one below: the 24th event is refused; the integration test fails with the message */
    o.max_capture = 23;
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_OK);
    assert_int_equal(rep.n, 4);
    assert_int_equal(rep.r[2].kind, ESC_CTEST_UNIT);
    assert_int_equal(rep.r[2].outcome, ESC_CTEST_PASS);
    assert_int_equal(rep.r[3].kind, ESC_CTEST_INTEGRATION);
    assert_int_equal(rep.r[3].outcome, ESC_CTEST_FAIL);
    assert_string_equal(rep.r[3].detection, seed->name);
    assert_true(any_reason(&rep.r[3], "actions failed: more than 23 events from one test"));
    assert_int_equal(rep.r[3].notables + rep.r[3].risk_events, 23);

    /* 0 is the default cap (10^6): passes again */
    o.max_capture = 0;
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_OK);
    assert_int_equal(rep.r[5].outcome, ESC_CTEST_PASS);
    esc_ctest_report_fini(&rep);
    esc_content_free(c);
}

/* Results per report (ESC_CTEST_MAX_RESULTS, 10^6: a static result per detection and two per
 * tests: entry, so about 330,000 detections with one test each) through the report's field that
 * lowers it: the result past the cap is an error (the command's exit 3) and the report keeps the
 * results before it. */
static void test_results_cap(void **state) {
    (void)state;
    esc_content *c = NULL;
    esc_error err = {0};
    const esc_detection *seed = load_seed(&c);
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    esc_ctest_opts o = {.profile = ESC_PROFILE_SPLUNK, .search_time = 1715706000};
    /* at the cap: static, unit and integration are the 3 results */
    rep.max = 3;
    assert_int_equal(esc_ctest_validate(&rep, c, seed, &err), ESC_OK);
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_OK);
    assert_int_equal(rep.n, 3);
    /* past it: the next result is refused with the limit's message */
    assert_int_equal(esc_ctest_validate(&rep, c, seed, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 3 test results");
    assert_int_equal(rep.n, 3);
    /* in the middle of a run: the unit result is kept, the integration result refused */
    rep.max = 4;
    memset(&err, 0, sizeof err);
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 4 test results");
    assert_int_equal(rep.n, 4);
    assert_int_equal(rep.r[3].kind, ESC_CTEST_UNIT);
    assert_int_equal(rep.r[3].outcome, ESC_CTEST_PASS);
    /* 0 is the default cap (10^6) */
    rep.max = 0;
    assert_int_equal(esc_ctest_validate(&rep, c, seed, &err), ESC_OK);
    assert_int_equal(rep.n, 5);
    esc_ctest_report_fini(&rep);
    esc_content_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_cap),
        cmocka_unit_test(test_results_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
