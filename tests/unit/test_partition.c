/* Unit tests for partition locality (`lint --partition-key`, esc_lint_partition_local): which
 * searches give, over the events of some hosts, exactly their rows of the search over all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "detect/lint.h"

static void expect(const char *search, bool want, const char *why_part) {
    bool local = !want;
    char *why = NULL;
    assert_int_equal(esc_lint_partition_local(search, "dest", &local, &why), ESC_OK);
    if (local != want)
        fail_msg("%s: local=%d, want %d (%s)", search, local, want, why ? why : "");
    if (want)
        assert_null(why);
    else
        assert_non_null(strstr(why, why_part));
    esc_free(why);
}

static void test_local(void **state) {
    (void)state;
    /* the seed detection's shape: tstats by a data model field ending in .dest */
    expect("| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes where "
           "Processes.process_name=net.exe by Processes.process Processes.dest | rename "
           "Processes.* as * | search process=*share*",
           true, NULL);
    expect("search x | stats count by user, dest | where count > 5", true, NULL);
    expect("search x | eventstats dc(user) as users by dest | dedup dest user | sort - count", true,
           NULL);
    expect("search x | streamstats count BY dest | table dest count", true, NULL);
    expect("search x | eval y=\"a | head 1\" | fields dest y", true, NULL); /* pipe in a quote */
}

static void test_cross(void **state) {
    (void)state;
    /* the cross-host example */
    expect("| tstats count dc(Processes.dest) as hosts from datamodel=Endpoint.Processes by "
           "Processes.process_name | where hosts > 2",
           false, "tstats groups by fields without the key");
    expect("search x | stats count", false, "stats has no by clause");
    expect("search x | stats count by dest | stats count by user", false, "command 3");
    expect("search x | head 10", false, "head works over all the rows");
    expect("search x | sort 5 - count", false, "sort with a limit");
    expect("search x | dedup user", false, "dedup is not by the key");
    expect("search x | join user [search y]", false, "join");
    expect("search x | stats count by destination", false, "without the key"); /* not .dest */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_cross),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
