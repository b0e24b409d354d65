/* Allocation-failure torture for the SPL pipeline (curl's idea): the seed detection's search is
 * planned, executed over the worked example's records and finished, with the Nth allocation
 * failing, for every N until 200 runs in a row succeed. A run must end in success with the right
 * rows or in a clean error: never a crash, never wrong rows. Each run is a child process (the
 * failure countdown is process-wide), which must end normally: a clean error or success, no crash,
 * and under the sanitizer build no leak (LeakSanitizer makes the child exit non-zero). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_sweep.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/spl.h"

static const char *const OBJ[] = {"object"};
static const char *const FIELD[] = {"field"};

static const esc_macro macros[] = {
    {.name = "process_net",
     .definition =
         "(Processes.process_name=\"net.exe\" OR Processes.original_file_name=\"net.exe\" "
         "OR Processes.process_name=\"net1.exe\" OR "
         "Processes.original_file_name=\"net1.exe\")"},
    {.name = "security_content_summariesonly",
     .definition = "summariesonly=false allow_old_summaries=true fillnull_value=null"},
    {.name = "drop_dm_object_name",
     .nargs = 1,
     .args = OBJ,
     .definition = "rename \"$object$.*\" as *"},
    {.name = "security_content_ctime",
     .nargs = 1,
     .args = FIELD,
     .definition = "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)"},
    {.name = "f", .definition = "search *"},
};

static const char *const search =
    "| tstats `security_content_summariesonly` count values(Processes.user) as user "
    "values(Processes.parent_process) as parent_process min(_time) as firstTime max(_time) as "
    "lastTime from datamodel=Endpoint.Processes where `process_net` by Processes.process "
    "Processes.process_name Processes.parent_process_name Processes.original_file_name "
    "Processes.dest | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)` | "
    "`security_content_ctime(lastTime)` | search process=*share* | eval n=len(process), "
    "parts=split(process, \" \") | where n > 3 AND match(process, \"(?i)share\") | dedup process "
    "| stats count as c values(user) as users by process_name | `f`";

/* 0: success, 1: a clean error */
static int run_once(void) {
    esc_macro_set set = {.items = macros, .n = sizeof macros / sizeof macros[0]};
    esc_error err;
    char *text = NULL;
    int rc = 1;
    esc_plan *p = esc_plan_new_ex(search, &set, &text, &err);
    esc_exec *x = NULL;
    esc_table *t = NULL;
    esc_buf b;
    esc_buf_init(&b, 0);
    if (!p) {
        esc_spl_caret(text, &err, &b);
        goto done;
    }
    esc_plan_explain(p, &b);
    x = esc_exec_new(p, 0, ESC_TIME_MAX, &err);
    if (!x)
        goto done;
    const char *procs[] = {"net  share test=C:\\temp", "C:\\Windows\\system32\\net1  share x",
                           "net share y /delete"};
    for (int i = 0; i < 6; i++) {
        esc_record r;
        memset(&r, 0, sizeof r);
        r.time_us = INT64_C(1607538065120000) + i * 20000;
        r.v[ESC_CIM_PROCESS] = esc_str_c(procs[i % 3]);
        r.v[ESC_CIM_PROCESS_NAME] = esc_str_c(i % 2 ? "net1.exe" : "net.exe");
        r.v[ESC_CIM_ORIGINAL_FILE_NAME] = esc_str_c(i % 2 ? "net1.exe" : "net.exe");
        r.v[ESC_CIM_PARENT_PROCESS_NAME] = esc_str_c("cmd.exe");
        r.v[ESC_CIM_PARENT_PROCESS] = esc_str_c("cmd.exe /c x");
        r.v[ESC_CIM_DEST] = esc_str_c("host");
        r.v[ESC_CIM_USER] = esc_str_c(i % 3 ? "Administrator" : "SYSTEM");
        if (esc_exec_feed(x, &r, &err) != ESC_OK)
            goto done;
    }
    if (esc_exec_finish(x, &t, &err) != ESC_OK)
        goto done;
    /* six tstats rows (3 commands x 2 names); dedup keeps net.exe for each command (it sorts
     * before net1.exe); stats makes one row of three */
    rc = t->nrows == 1 && t->ncols == 3 && esc_table_cell(t, 0, 1)->n == 1 &&
                 strcmp(esc_table_cell(t, 0, 1)->v[0], "3") == 0
             ? 0
             : 2;
    if (rc == 2 && getenv("DBG")) {
        fprintf(stderr, "rows %zu\n%s\n", t->nrows, esc_plan_expanded(p));
        esc_buf_clear(&b);
        esc_plan_explain(p, &b);
        fprintf(stderr, "%s\n", b.ptr);
    }
done:
    esc_buf_fini(&b);
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(p);
    esc_free(text);
    return rc;
}

static int run_sweep_once(void *ctx) {
    (void)ctx;
    return run_once();
}

static void test_alloc_failures(void **state) {
    (void)state;
    assert_true(alloc_sweep(run_sweep_once, NULL, 20000, 200, "exit") > 50);
}

int main(void) {
    /* ESC_SPL_ALLOC_ONE=N: one run in this process with allocation N failing (for a debugger) */
    const char *one = getenv("ESC_SPL_ALLOC_ONE");
    if (one) {
        setenv("ESCUDO_FAIL_ALLOC", one, 1);
        esc_alloc_init();
        int rc = run_once();
        printf("run with allocation %s failing: %d\n", one, rc);
        return rc > 1;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc_failures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
