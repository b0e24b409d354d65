/* Limits of the run loop (sched/run.h, docs/limits.md): open windows (MAX_WINDOWS, 100,000 by
 * default) through the option that lowers it. Each matching record whose time falls in a window
 * not yet run opens that window (records from a host whose clock is ahead open one per hour);
 * 100,000 of them cost minutes here (20,000 take 12 s in a Debug build, growing with the square),
 * so the cap is hit at 5. One window over the cap stops the step with ESC_ELIMIT and the
 * limit's message, nothing of that step is committed, and a runner with the default cap resumes
 * from the checkpoint and keeps all six windows. The 10,000 inputs are hit through the CLI in
 * tests/pathological/t_action_limits.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "detect/engine.h"
#include "sched/clock.h"
#include "sched/run.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
#define START 1709712000 /* 2024-03-06T08:00:00Z */

/* One matching Sysmon process event (nxlog JSON) at 2024-03-06T<hour>:30:00Z. */
static void put_event(FILE *f, int hour) {
    char t[32];
    snprintf(t, sizeof t, "2024-03-06T%02d:30:00.000Z", hour);
    fprintf(f,
            "{\"SourceName\": \"Microsoft-Windows-Sysmon\", \"EventID\": 1, \"Hostname\": "
            "\"WS20.corp.local\", \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", "
            "\"TimeCreated\": \"%s\", \"@timestamp\": \"%s\", \"Image\": "
            "\"C:\\\\Windows\\\\System32\\\\net.exe\", \"OriginalFileName\": \"net.exe\", "
            "\"CommandLine\": \"net share x=c:\\\\\", \"User\": \"CORP\\\\svc\", \"ParentImage\": "
            "\"C:\\\\Windows\\\\System32\\\\cmd.exe\", \"ParentCommandLine\": \"cmd.exe\"}\n",
            t, t);
}

static esc_status run_to(const esc_runner_opts *o, size_t max_windows, esc_error *err) {
    esc_runner_opts ro = *o;
    ro.max_windows = max_windows;
    esc_runner *r = NULL;
    esc_status st = esc_runner_new(&ro, &r, err);
    for (int k = 0; st == ESC_OK && k < 1000; k++)
        st = esc_runner_step(r, err);
    esc_runner_free(r);
    return st;
}

static void test_window_cap(void **state) {
    (void)state;
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SOURCE_DIR "/content"};
    esc_content *c = NULL;
    esc_engine *eng = NULL;
    esc_error err = {0};
    assert_int_equal(esc_content_load(dirs, 2, &c, &err), ESC_OK);
    const esc_detection *d = esc_content_find(c, SEED_ID);
    assert_non_null(d);
    assert_int_equal(esc_engine_new(c, &d, 1, true, &eng, &err), ESC_OK);
    char base[] = "/tmp/esc_run_limits_XXXXXX";
    assert_non_null(mkdtemp(base));
    char in[128], st_dir[128], out[128], cmd[300];
    snprintf(in, sizeof in, "%s/in.json", base);
    snprintf(st_dir, sizeof st_dir, "%s/state", base);
    snprintf(out, sizeof out, "%s/out.jsonl", base);
    /* six records in six hourly windows, all after the clock (none has run yet) */
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int h = 9; h <= 14; h++)
        put_event(f, h);
    fclose(f);
    const char *inputs[] = {in};
    esc_clock *clk = esc_clock_new_manual(START * ESC_US_PER_SEC);
    esc_runner_opts o = {.content = c,
                         .engine = eng,
                         .profile = ESC_PROFILE_SPLUNK,
                         .clock = clk,
                         .state_dir = st_dir,
                         .inputs = inputs,
                         .ninputs = 1,
                         .once_until = START + 60,
                         .poll_us = 300 * ESC_US_PER_SEC};
    o.sinks.notables_path = out;

    /* exactly the cap: fine */
    assert_int_equal(run_to(&o, 6, &err), ESC_EOF);
    esc_run_status s;
    assert_int_equal(esc_run_status_read(st_dir, NULL, &s, &err), ESC_OK);
    assert_int_equal(s.open_windows, 6);
    assert_int_equal(s.ninputs, 1);
    assert_int_equal(s.inputs[0].offset, s.inputs[0].size);
    esc_run_status_fini(&s);

    /* one over: the step fails with the message; the checkpoint is the one before it */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", st_dir);
    assert_int_equal(system(cmd), 0);
    esc_error_clear(&err);
    assert_int_equal(run_to(&o, 5, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 5 open windows");
    assert_int_equal(esc_run_status_read(st_dir, NULL, &s, &err), ESC_OK);
    assert_int_equal(s.open_windows, 0);
    assert_int_equal(s.fired, 0);
    assert_true(s.ninputs == 0 || s.inputs[0].offset == 0);
    esc_run_status_fini(&s);
    /* again with the same cap: the same error, nothing half done */
    esc_error_clear(&err);
    assert_int_equal(run_to(&o, 5, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 5 open windows");

    /* the default cap (0): resumes from the checkpoint, reads everything, keeps six windows,
     * and fires them once the clock passes them: six notables, one per record */
    esc_error_clear(&err);
    assert_int_equal(run_to(&o, 0, &err), ESC_EOF);
    assert_int_equal(esc_run_status_read(st_dir, NULL, &s, &err), ESC_OK);
    assert_int_equal(s.open_windows, 6);
    assert_int_equal(s.inputs[0].offset, s.inputs[0].size);
    esc_run_status_fini(&s);
    o.once_until = START + 8 * 3600;
    assert_int_equal(run_to(&o, 0, &err), ESC_EOF);
    assert_int_equal(esc_run_status_read(st_dir, NULL, &s, &err), ESC_OK);
    assert_int_equal(s.fired, 8); /* the runs of 09:00 to 16:00, two of them without records */
    esc_run_status_fini(&s);
    f = fopen(out, "r");
    assert_non_null(f);
    /* one notable per record; the 24-hour risk rule, spanning the runs, may add its own */
    int lines = 0;
    char line[65536];
    while (fgets(line, sizeof line, f))
        lines += !strstr(line, "24 Hour Risk Threshold");
    fclose(f);
    assert_int_equal(lines, 6);

    esc_clock_free(clk);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
    esc_engine_free(eng);
    esc_content_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
