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

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "content/content.h"
#include "core/alloc.h"

static const char *shipped = ESC_SOURCE_DIR "/content";
static const char *base = ESC_SOURCE_DIR "/content/base"; /* CIM macros, tactics */

static int load_once(size_t want_mitre) {
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
    int n, clean = 0, points = 0;
    for (n = 1; n < 100000 && clean < 100; n++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char v[32];
            snprintf(v, sizeof v, "%d", n);
            setenv("ESCUDO_FAIL_ALLOC", v, 1);
            esc_alloc_init();
            _exit(load_once(want));
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
            fail_msg("failing allocation %d: %s %d", n,
                     WIFEXITED(status) ? "exit (2: content lost, 3: other error)" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        clean = WEXITSTATUS(status) == 0 ? clean + 1 : 0;
        points += WEXITSTATUS(status) == 1;
    }
    print_message("%d runs, %d ended out of memory\n", n - 1, points);
    assert_true(points > 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc_failures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
