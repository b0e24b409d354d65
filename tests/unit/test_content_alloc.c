/* Loading the shipped content with each allocation failing in turn (ESCUDO_FAIL_ALLOC, in a
 * child process each): the load either gives the whole content (one detection, every MITRE
 * tactic, no warning) or ESC_ENOMEM, never a content with a file quietly skipped (the MITRE
 * table lost to a failed allocation in its YAML tree was a warning, and its detections' tactics
 * were gone). A sweep of about 500 runs: left out of valgrind (tools/hardening.sh), the ASan
 * build runs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_sweep.h"
#include "content/content.h"

static const char *shipped = ESC_SOURCE_DIR "/content";
static const char *base = ESC_SOURCE_DIR "/content/base"; /* CIM macros, tactics */

static int load_once(void *ctx) {
    size_t want_mitre = *(const size_t *)ctx;
    esc_content *c = NULL;
    esc_error err;
    const char *both[] = {base, shipped};
    esc_status st = esc_content_load(both, 2, &c, &err);
    int rc = st == ESC_ENOMEM ? 1 : st != ESC_OK ? 3 : 0;
    if (st == ESC_OK && (c->warnings.n || c->ndetections != 1 || c->nmitre != want_mitre))
        rc = 2;
    esc_content_free(c);
    return rc;
}

static void test_alloc_failures(void **state) {
    (void)state;
    esc_content *c = NULL;
    esc_error err;
    const char *both[] = {base, shipped};
    assert_int_equal(esc_content_load(both, 2, &c, &err), ESC_OK);
    size_t want = c->nmitre;
    esc_content_free(c);
    assert_true(want > 100);
    int points =
        alloc_sweep(load_once, &want, 100000, 100, "exit (2: content lost, 3: other error)");
    assert_true(points > 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc_failures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
