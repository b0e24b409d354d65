/* The HTML report's caps and failures (report/report.h, docs/limits.md): the read caps
 * (max_notables, max_risk) fail the report with a message, the drawing caps (max_marks,
 * max_rows) are stated on the page, a file that is not a store and a path that cannot be written
 * are I/O errors that leave no page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "sink/sink.h"

static char dir[128], db[160];

static void put(esc_sink *sk, esc_sink_kind kind, int i, const char *json) {
    char id[65];
    snprintf(id, sizeof id, "%c%063d", kind == ESC_SINK_NOTABLE ? 'a' : 'b', i);
    esc_sink_event ev = {.kind = kind,
                         .event_id = id,
                         .time = 1700000000 + i * 60,
                         .search_name = "ESCU - Test - Rule",
                         .rule_title = kind == ESC_SINK_NOTABLE ? "Test <b>" : NULL,
                         .severity = kind == ESC_SINK_NOTABLE ? "high" : NULL,
                         .risk_object = kind == ESC_SINK_RISK ? "HOST-1" : NULL,
                         .risk_object_type = kind == ESC_SINK_RISK ? "system" : NULL,
                         .risk_score = 60,
                         .json = json,
                         .json_len = strlen(json)};
    esc_error err;
    assert_int_equal(sk->ops->put(sk, &ev, &err), ESC_OK);
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/escudo-report-test-%d", (int)getpid());
    snprintf(db, sizeof db, "%s/s.db", dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    if (system(cmd) != 0)
        return -1;
    esc_sink *sk = NULL;
    esc_error err;
    if (esc_sink_sqlite_open(db, &sk, &err) != ESC_OK)
        return -1;
    for (int i = 0; i < 5; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"dest\":\"host-%d\",\"firstTime\":\"2023-11-14T22:%02d:00\","
                 "\"annotations.mitre_attack\":[\"T1059\"]}",
                 i % 2, 13 + i);
        put(sk, ESC_SINK_NOTABLE, i, json);
    }
    for (int i = 0; i < 3; i++)
        put(sk, ESC_SINK_RISK, i, "{}");
    assert_int_equal(sk->ops->flush(sk, &err), ESC_OK);
    sk->ops->close(sk);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static esc_status render(esc_report_opts *o, esc_buf *b, esc_report_stats *st, esc_error *err) {
    o->db_path = o->db_path ? o->db_path : db;
    esc_buf_init(b, 0);
    return esc_report_render(o, b, st, err);
}

static void test_counts(void **state) {
    (void)state;
    esc_report_opts o = {0};
    esc_report_stats st;
    esc_error err;
    esc_buf b;
    assert_int_equal(render(&o, &b, &st, &err), ESC_OK);
    assert_int_equal(st.notables, 5);
    assert_int_equal(st.risk_events, 3);
    assert_int_equal(st.risk_objects, 1);
    assert_int_equal(st.hosts, 2);
    assert_int_equal(st.detections_fired, 1);
    assert_int_equal(st.marks_capped, 0);
    assert_non_null(strstr(b.ptr, "<span id=\"n-notables\" data-count=\"5\">5</span>"));
    assert_non_null(strstr(b.ptr, "Test &lt;b&gt;"));
    assert_null(strstr(b.ptr, "Test <b>"));
    esc_buf_fini(&b);
}

static void test_read_caps(void **state) {
    (void)state;
    esc_report_opts o = {.max_notables = 5};
    esc_report_stats st;
    esc_error err;
    esc_buf b;
    assert_int_equal(render(&o, &b, &st, &err), ESC_OK); /* at the cap */
    esc_buf_fini(&b);
    o.max_notables = 4;
    assert_int_equal(render(&o, &b, &st, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 4 notables to report; narrow with --since/--until");
    esc_buf_fini(&b);
    o = (esc_report_opts){.max_risk = 2};
    assert_int_equal(render(&o, &b, &st, &err), ESC_ELIMIT);
    assert_string_equal(err.msg, "more than 2 risk events to report; narrow with --since/--until");
    esc_buf_fini(&b);
}

static void test_drawing_caps(void **state) {
    (void)state;
    esc_report_opts o = {.max_marks = 2, .max_rows = 3};
    esc_report_stats st;
    esc_error err;
    esc_buf b;
    assert_int_equal(render(&o, &b, &st, &err), ESC_OK);
    assert_int_equal(st.marks_drawn, 2);
    assert_int_equal(st.marks_capped, 3);
    assert_int_equal(st.rows_listed, 3);
    assert_int_equal(st.rows_capped, 2);
    assert_non_null(strstr(b.ptr, "Timeline cap: 2 marks drawn (cap 2)"));
    assert_non_null(strstr(b.ptr, "Row cap: 3 notable rows listed, 2 not listed"));
    assert_non_null(strstr(b.ptr, "<span id=\"n-notables\" data-count=\"5\">5</span>"));
    esc_buf_fini(&b);
}

static void test_failures(void **state) {
    (void)state;
    char bad[400], out[400];
    snprintf(bad, sizeof bad, "%s/not-a-store.db", dir);
    FILE *f = fopen(bad, "w");
    fputs("hello", f);
    fclose(f);
    esc_report_opts o = {.db_path = bad};
    esc_error err;
    esc_buf b;
    assert_int_equal(render(&o, &b, NULL, &err), ESC_EIO);
    esc_buf_fini(&b);
    o.db_path = db;
    snprintf(out, sizeof out, "%s/no-such-dir/r.html", dir);
    assert_int_equal(esc_report_write(&o, out, NULL, &err), ESC_EIO);
    assert_int_equal(access(out, F_OK), -1);
    snprintf(out, sizeof out, "%s/r.html", dir);
    assert_int_equal(esc_report_write(&o, out, NULL, &err), ESC_OK);
    assert_int_equal(access(out, F_OK), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_read_caps),
        cmocka_unit_test(test_drawing_caps),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
