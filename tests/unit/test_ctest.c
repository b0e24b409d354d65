/* Detection tests (detect/ctest.h): attack_data resolution, sourcetypes, static validation of
 * edited copies of the seed detection, the seed's unit and integration tests, JUnit escaping. */
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

#include "core/alloc.h"
#include "content/content.h"
#include "detect/ctest.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
#define DATASET_REL "tests/data/attack/T1070.005/windows-sysmon.log"
#define URL                                                                                        \
    "https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/"                \
    "attack_techniques/T1070.005/atomic_red_team/windows-sysmon.log"

static esc_content *load_shipped(void) {
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SOURCE_DIR "/content"};
    esc_content *c = NULL;
    esc_error err = {0};
    assert_int_equal(esc_content_load(dirs, 2, &c, &err), ESC_OK);
    return c;
}

static bool any_reason(const esc_ctest_result *r, const char *needle) {
    for (size_t i = 0; i < r->nreasons; i++)
        if (strstr(r->reasons[i], needle))
            return true;
    return false;
}

static void test_resolve_url(void **state) {
    (void)state;
    char *p = NULL;
    esc_error err = {0};
    /* no --data-root: a skip that says what to give */
    assert_int_equal(esc_ctest_resolve(URL, NULL, NULL, &p, &err), ESC_EOF);
    assert_null(p);
    assert_non_null(strstr(err.msg, "--data-root"));
    assert_non_null(strstr(err.msg, "DIR/datasets/attack_techniques/T1070.005/"));
    /* a data root laid out like splunk/attack_data */
    char root[] = "/tmp/escudo-ctest-unit-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[512], file[600], cmd[1400];
    snprintf(dir, sizeof dir, "%s/datasets/attack_techniques/T1070.005/atomic_red_team", root);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(file, sizeof file, "%s/windows-sysmon.log", dir);
    esc_error_clear(&err);
    assert_int_equal(esc_ctest_resolve(URL, NULL, root, &p, &err), ESC_EOF);
    assert_non_null(strstr(err.msg, "attack data not found"));
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(esc_ctest_resolve(URL, NULL, root, &p, &err), ESC_OK);
    assert_string_equal(p, file);
    esc_free(p);
    /* a trailing slash on the root changes nothing */
    char root2[600];
    snprintf(root2, sizeof root2, "%s/", root);
    assert_int_equal(esc_ctest_resolve(URL, NULL, root2, &p, &err), ESC_OK);
    assert_string_equal(p, file);
    esc_free(p);
    /* nothing outside the root: `..` climbing out (even to a file that exists), a link out */
    const char *master = "https://h/splunk/attack_data/master/";
    char url[1200];
    snprintf(url, sizeof url, "%s../../../../../../../../etc/passwd", master);
    assert_int_equal(esc_ctest_resolve(url, NULL, root, &p, &err), ESC_ECONTENT);
    assert_null(p);
    assert_non_null(strstr(err.msg, "outside --data-root"));
    snprintf(url, sizeof url,
             "%sdatasets/../datasets/./attack_techniques/T1070.005/"
             "atomic_red_team/windows-sysmon.log",
             master);
    assert_int_equal(esc_ctest_resolve(url, NULL, root, &p, &err), ESC_OK); /* stays inside */
    esc_free(p);
    snprintf(cmd, sizeof cmd, "ln -s /etc/passwd '%s/datasets/out.log'", root);
    assert_int_equal(system(cmd), 0);
    snprintf(url, sizeof url, "%sdatasets/out.log", master);
    assert_int_equal(esc_ctest_resolve(url, NULL, root, &p, &err), ESC_ECONTENT);
    assert_null(p);
    assert_non_null(strstr(err.msg, "symbolic link to a file outside --data-root"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void test_resolve_relative(void **state) {
    (void)state;
    char *p = NULL;
    esc_error err = {0};
    const char *det = ESC_SOURCE_DIR
        "/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml";
    /* relative to the content folder's parent (the repository), whatever the cwd */
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(esc_ctest_resolve(DATASET_REL, det, NULL, &p, &err), ESC_OK);
    char *want = realpath(ESC_SOURCE_DIR "/" DATASET_REL, NULL);
    char *got = realpath(p, NULL);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    esc_free(p);
    /* beside the detection */
    assert_int_equal(
        esc_ctest_resolve("create_or_delete_windows_shares_using_net_exe.yml", det, NULL, &p, &err),
        ESC_OK);
    esc_free(p);
    /* absolute */
    assert_int_equal(esc_ctest_resolve(want, det, NULL, &p, &err), ESC_OK);
    assert_string_equal(p, want);
    esc_free(p);
    free(want);
    /* missing: says where it looked */
    assert_int_equal(esc_ctest_resolve("no/such.log", det, NULL, &p, &err), ESC_EOF);
    assert_null(p);
    assert_non_null(strstr(err.msg, "attack data not found: no/such.log (looked in"));
    assert_int_equal(esc_ctest_resolve("", det, NULL, &p, &err), ESC_EOF);
}

static void test_sourcetypes(void **state) {
    (void)state;
    const char *why;
    assert_true(esc_ctest_sourcetype_ok("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                                        "xmlwineventlog", &why));
    assert_true(esc_ctest_sourcetype_ok("xmlwineventlog:security", "XMLWINEVENTLOG", &why));
    assert_true(esc_ctest_sourcetype_ok("crowdstrike", "CrowdStrike:Events:Sensor", &why));
    assert_true(esc_ctest_sourcetype_ok(NULL, NULL, &why));
    assert_false(esc_ctest_sourcetype_ok("Syslog:Linux-Sysmon/Operational", "sysmon:linux", &why));
    assert_non_null(strstr(why, "Sysmon for Linux"));
    assert_false(esc_ctest_sourcetype_ok("WinEventLog:Security", "WinEventLog", &why));
    assert_non_null(strstr(why, "classic WinEventLog"));
    /* every channel is read since the engine feeds every dataset and raw events (issue 15) */
    assert_true(esc_ctest_sourcetype_ok("XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
                                        "xmlwineventlog", &why));
    assert_true(esc_ctest_sourcetype_ok("XmlWinEventLog:System", "XmlWinEventLog", &why));
    assert_true(esc_ctest_sourcetype_ok(
        "WinEventLog:Microsoft-Windows-Windows Defender/Operational", "xmlwineventlog", &why));
    assert_false(esc_ctest_sourcetype_ok("x", "aws:cloudtrail", &why));
}

static void test_validate(void **state) {
    (void)state;
    esc_content *c = load_shipped();
    const esc_detection *seed = esc_content_find(c, SEED_ID);
    assert_non_null(seed);
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    esc_error err = {0};
    assert_int_equal(esc_ctest_validate(&rep, c, seed, &err), ESC_OK);
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.r[0].outcome, ESC_CTEST_PASS);
    assert_int_equal(rep.r[0].nreasons, 0);

    /* edited copies */
    esc_detection d = *seed;
    d.risk_score = 24;
    d.message = "on $dest$ by $usr$";
    d.author = "";
    esc_observable obs[5];
    memcpy(obs, seed->observables, seed->nobservables * sizeof *obs);
    obs[seed->nobservables] = (esc_observable){"src_ip", "IP Address", {NULL, 0}};
    d.observables = obs;
    d.nobservables = seed->nobservables + 1;
    assert_int_equal(esc_ctest_validate(&rep, c, &d, &err), ESC_OK);
    const esc_ctest_result *r = &rep.r[1];
    assert_int_equal(r->outcome, ESC_CTEST_FAIL);
    assert_true(any_reason(r, "tags.risk_score 24 is not round(impact*confidence/100)"));
    assert_true(any_reason(r, "tags.message token $usr$ is not among"));
    assert_true(any_reason(r, "required field author is missing"));
    assert_true(any_reason(r, "observable src_ip is not among the search's output fields"));
    assert_true(any_reason(r, "observable src_ip has no role"));
    assert_false(any_reason(r, "$dest$"));

    /* unsupported: a skip naming the command, never a pass */
    d = *seed;
    d.search = "| tstats count from datamodel=Endpoint.Processes by Processes.dest "
               "| `drop_dm_object_name(Processes)` | appendcols [| stats count]";
    d.nobservables = 0;
    d.message = NULL;
    d.type = "Hunting";
    assert_int_equal(esc_ctest_validate(&rep, c, &d, &err), ESC_OK);
    r = &rep.r[2];
    assert_int_equal(r->outcome, ESC_CTEST_SKIP);
    assert_int_equal(r->nreasons, 1);
    assert_non_null(strstr(r->reasons[0], "not validated: unsupported command 'appendcols'"));

    /* unknown macro: the content's fault */
    d.search = "| tstats count from datamodel=Endpoint.Processes where `no_such_macro` by "
               "Processes.dest";
    assert_int_equal(esc_ctest_validate(&rep, c, &d, &err), ESC_OK);
    assert_int_equal(rep.r[3].outcome, ESC_CTEST_FAIL);
    assert_true(any_reason(&rep.r[3], "unknown macro 'no_such_macro'"));
    assert_int_equal(rep.count[ESC_CTEST_STATIC][ESC_CTEST_PASS], 1);
    assert_int_equal(rep.count[ESC_CTEST_STATIC][ESC_CTEST_FAIL], 2);
    assert_int_equal(rep.count[ESC_CTEST_STATIC][ESC_CTEST_SKIP], 1);
    esc_ctest_report_fini(&rep);
    esc_content_free(c);
}

static void test_run_seed(void **state) {
    (void)state;
    esc_content *c = load_shipped();
    const esc_detection *seed = esc_content_find(c, SEED_ID);
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    esc_error err = {0};
    esc_ctest_opts o = {.profile = ESC_PROFILE_SPLUNK, .search_time = 1715706000};
    assert_int_equal(esc_ctest_run(&rep, c, seed, &o, &err), ESC_OK);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.r[0].kind, ESC_CTEST_UNIT);
    assert_int_equal(rep.r[0].outcome, ESC_CTEST_PASS);
    assert_int_equal(rep.r[0].rows, 8);
    assert_int_equal(rep.r[0].events, 432);
    assert_string_equal(rep.r[0].test_name, "True Positive Test");
    assert_int_equal(rep.r[1].kind, ESC_CTEST_INTEGRATION);
    assert_int_equal(rep.r[1].outcome, ESC_CTEST_PASS);
    /* 8 rows, each with one user and one dest: 16 risk events */
    assert_int_equal(rep.r[1].risk_events, 16);
    assert_int_equal(rep.r[1].notables, 8);
    assert_int_equal(rep.r[1].incidents, 2); /* user and dest: 8 x 25 > 100 */

    /* the same detection without a deployment cannot make notables */
    esc_detection d = *seed;
    d.deployment = NULL;
    assert_int_equal(esc_ctest_run(&rep, c, &d, &o, &err), ESC_OK);
    assert_int_equal(rep.r[2].outcome, ESC_CTEST_PASS);
    assert_int_equal(rep.r[3].outcome, ESC_CTEST_FAIL);
    assert_true(any_reason(&rep.r[3], "no deployment of type TTP"));

    /* a detection without tests: both kinds skipped with the reason */
    d = *seed;
    d.ntests = 0;
    assert_int_equal(esc_ctest_run(&rep, c, &d, &o, &err), ESC_OK);
    assert_int_equal(rep.r[4].outcome, ESC_CTEST_SKIP);
    assert_int_equal(rep.r[5].outcome, ESC_CTEST_SKIP);
    assert_true(any_reason(&rep.r[4], "no tests: block"));
    esc_ctest_report_fini(&rep);
    esc_content_free(c);
}

static void test_junit(void **state) {
    (void)state;
    esc_content *c = load_shipped();
    const esc_detection *seed = esc_content_find(c, SEED_ID);
    esc_detection d = *seed;
    d.name = "a <b> & \"c\" 'd'\x01";
    d.risk_score = 1;
    esc_ctest_report rep;
    esc_ctest_report_init(&rep);
    esc_error err = {0};
    assert_int_equal(esc_ctest_validate(&rep, c, &d, &err), ESC_OK);
    esc_buf b;
    esc_buf_init(&b, 1 << 20);
    assert_int_equal(esc_ctest_junit(&rep, &b), ESC_OK);
    assert_int_equal(esc_buf_putc(&b, 0), ESC_OK);
    const char *x = b.ptr;
    assert_non_null(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert_non_null(strstr(x, "tests=\"1\" failures=\"1\" skipped=\"0\""));
    assert_non_null(
        strstr(x, "name=\"a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;\xEF\xBF\xBD\""));
    assert_non_null(strstr(x, "<failure message=\"tags.risk_score 1 is not round"));
    assert_null(strchr(x, '\x01'));
    assert_non_null(strstr(x, "<testsuite name=\"unit\" tests=\"0\""));
    esc_buf_fini(&b);
    esc_ctest_report_fini(&rep);
    esc_content_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_url), cmocka_unit_test(test_resolve_relative),
        cmocka_unit_test(test_sourcetypes), cmocka_unit_test(test_validate),
        cmocka_unit_test(test_run_seed),    cmocka_unit_test(test_junit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
