/* The hunt's record literal filter: esc_plan_record_clauses (spl/plan.c) and the multi-literal
 * scan over them (detect/litfilter.c). The filter may only drop records a detection's main where
 * clause rejects: each case checks a record the where clause takes passes, and one that lacks a
 * required literal in the literal's field is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect/litfilter.h"
#include "fields/fields.h"

static esc_plan *plan(const char *s) {
    esc_error err;
    esc_plan *p = esc_plan_new(s, NULL, &err);
    if (!p)
        fail_msg("%s: %s", s, err.msg);
    return p;
}

static void test_clauses(void **state) {
    (void)state;
    esc_plan *p = plan("| tstats count from datamodel=Endpoint.Processes where "
                       "Processes.process_name=*net*.exe (Processes.process=*user* OR "
                       "Processes.process=*Group*) NOT Processes.user=xyz Processes.process_id>5 "
                       "by Processes.dest");
    assert_int_equal(esc_plan_record_clauses(p), 2);
    const esc_plan_rlit *l;
    assert_int_equal(esc_plan_record_clause(p, 0, &l), 1);
    assert_string_equal(l[0].text, ".exe"); /* the longest piece between '*'s */
    assert_int_equal(l[0].cim, ESC_CIM_PROCESS_NAME);
    assert_int_equal(esc_plan_record_clause(p, 1, &l), 2);
    assert_string_equal(l[0].text, "user");
    assert_string_equal(l[1].text, "Group");
    esc_plan_free(p);
    /* a branch without a literal leaves the OR without a clause; != and short pieces give none */
    p = plan("| tstats count from datamodel=Endpoint.Processes where (Processes.process=*user* "
             "OR Processes.user!=x) Processes.process_name=*ab*");
    assert_int_equal(esc_plan_record_clauses(p), 0);
    esc_plan_free(p);
    /* raw-event search: fields by name; index and eventtype give none */
    p = plan("index=main eventtype=wineventlog_security EventCode=4688 NewProcessName=*\\\\net.exe "
             "| stats count by host");
    assert_int_equal(esc_plan_record_clauses(p), 2);
    assert_int_equal(esc_plan_record_clause(p, 0, &l), 1);
    assert_string_equal(l[0].text, "4688");
    assert_int_equal(l[0].cim, -1);
    assert_string_equal(l[0].field, "EventCode");
    assert_int_equal(esc_plan_record_clause(p, 1, &l), 1);
    assert_string_equal(l[0].text, "\\net.exe");
    esc_plan_free(p);
    /* an OR of two ANDs takes one clause of each side: not the sources a `sysmon` macro puts
     * first (every event of the source has them), but the most telling one (Sunburst
     * Correlation DLL and Network Event); the records the OR takes have one of the two */
    p = plan("((sourcetype=XmlWinEventLog:Microsoft-Windows-Sysmon/Operational OR "
             "source=XmlWinEventLog:Microsoft-Windows-Sysmon/Operational) EventCode=7 "
             "ImageLoaded=*SolarWinds.Orion.Core.BusinessLayer.dll) OR "
             "((sourcetype=XmlWinEventLog:Microsoft-Windows-Sysmon/Operational OR "
             "source=XmlWinEventLog:Microsoft-Windows-Sysmon/Operational) EventCode=22 "
             "QueryName=*avsvmcloud.com) | stats count by host");
    assert_int_equal(esc_plan_record_clauses(p), 1);
    assert_int_equal(esc_plan_record_clause(p, 0, &l), 2);
    assert_string_equal(l[0].text, "SolarWinds.Orion.Core.BusinessLayer.dll");
    assert_string_equal(l[0].field, "ImageLoaded");
    assert_string_equal(l[1].text, "avsvmcloud.com");
    assert_string_equal(l[1].field, "QueryName");
    esc_plan_free(p);
    /* without metadata: the side's clause whose shortest literal is longest */
    p = plan("(Image=*abcd* CommandLine=*abcdefgh*) OR (User=*xyzuvw* Image=*xyz*) "
             "| stats count by host");
    assert_int_equal(esc_plan_record_clauses(p), 1);
    assert_int_equal(esc_plan_record_clause(p, 0, &l), 2);
    assert_string_equal(l[0].text, "abcdefgh");
    assert_string_equal(l[1].text, "xyzuvw");
    esc_plan_free(p);
    /* a subsearch takes records of its own: no clauses */
    p = plan("| tstats count from datamodel=Endpoint.Processes where Processes.process_name=a.exe "
             "by Processes.dest | join type=inner Processes.dest [| tstats count from "
             "datamodel=Endpoint.Processes where Processes.process_name=b.exe by Processes.dest]");
    assert_int_equal(esc_plan_record_clauses(p), 0);
    esc_plan_free(p);
}

static void test_scan(void **state) {
    (void)state;
    esc_plan *p[4] = {
        plan("| tstats count from datamodel=Endpoint.Processes where "
             "Processes.process_name=net1.exe "
             "(Processes.process=*user* OR Processes.process=*group*) by Processes.dest"),
        plan("| tstats count from datamodel=Endpoint.Processes where Processes.process_name!=x.exe "
             "by Processes.dest"),
        plan("EventCode=10 TargetImage=*lsass.exe | stats count by host"),
        plan("| tstats count from datamodel=Endpoint.Processes where Processes.process=*NET1.EXE* "
             "by Processes.dest"),
    };
    esc_litfilter *f;
    esc_litscan *s;
    assert_int_equal(esc_litfilter_new(p, 4, &f, NULL), ESC_OK);
    assert_non_null(f);
    assert_int_equal(esc_litfilter_filtered(f), 3);
    assert_int_equal(esc_litscan_new(f, &s, NULL), ESC_OK);
    esc_record r;
    memset(&r, 0, sizeof r);
    r.ds = ESC_DS_PROCESSES;
    r.v[ESC_CIM_PROCESS_NAME] = esc_str_c("NET1.EXE"); /* ASCII case-insensitive */
    r.v[ESC_CIM_PROCESS] = esc_str_c("net1 localgroup administrators");
    esc_litscan_record(s, &r);
    for (size_t i = 0; i < 4; i++) /* the where clause of each takes r, the filter too */
        assert_int_equal(esc_litscan_may_match(s, i), esc_plan_record_matches(p[i], &r));
    assert_true(esc_litscan_may_match(s, 0));
    r.v[ESC_CIM_PROCESS] = esc_str_c("net1 share");
    esc_litscan_record(s, &r);
    assert_false(esc_litscan_may_match(s, 0));
    assert_true(esc_litscan_may_match(s, 1));  /* no clause: always offered */
    assert_false(esc_litscan_may_match(s, 3)); /* NET1.EXE is in process_name, not process */
    /* a field set record: literals are looked for in their own field only */
    esc_field fl[2] = {{esc_str_c("SourceImage"), esc_str_c("C:\\Windows\\LSASS.EXE")},
                       {esc_str_c("TargetImage"), esc_str_c("C:\\Windows\\cmd.exe")}};
    esc_fields fs = {.f = fl, .n = 2};
    esc_record q;
    memset(&q, 0, sizeof q);
    q.ds = ESC_DS_RAW;
    q.fs = &fs;
    esc_litscan_record(s, &q);
    assert_false(esc_litscan_may_match(s, 2));
    fl[1].value = esc_str_c("c:\\windows\\system32\\Lsass.exe");
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 2));
    esc_litscan_free(s);
    esc_litfilter_free(f);
    /* no plan with a clause: no filter, every detection offered */
    assert_int_equal(esc_litfilter_new(&p[1], 1, &f, NULL), ESC_OK);
    assert_null(f);
    assert_int_equal(esc_litscan_new(f, &s, NULL), ESC_OK);
    assert_null(s);
    assert_true(esc_litscan_may_match(s, 0));
    for (size_t i = 0; i < 4; i++)
        esc_plan_free(p[i]);
}

/* A join's subsearch takes records of its own: each where clause is an alternative for the
 * records of its dataset; a bare term's literal is looked for in _raw. */
static void test_alternatives(void **state) {
    (void)state;
    esc_plan *p[2] = {
        plan("| tstats count from datamodel=Endpoint.Processes by Processes.process_guid "
             "| join Processes.process_guid [| tstats count from datamodel=Endpoint.Registry "
             "where Registry.registry_path=*mscfile* by Registry.process_guid]"),
        plan("index=unix \"sudoedit -s\" | stats count by host"),
    };
    assert_int_equal(esc_plan_record_clauses(p[0]), 0); /* as before: the main search's alone */
    assert_int_equal(esc_plan_main_clauses(p[0]), 0);
    const esc_plan *alts[2];
    assert_int_equal(esc_plan_alts(p[0], alts, 2), 2);
    assert_int_equal(esc_plan_source(alts[1]), ESC_DS_REGISTRY);
    assert_int_equal(esc_plan_main_clauses(alts[1]), 1);
    esc_litfilter *f;
    esc_litscan *s;
    assert_int_equal(esc_litfilter_new(p, 2, &f, NULL), ESC_OK);
    assert_int_equal(esc_litfilter_filtered(f), 2);
    assert_int_equal(esc_litscan_new(f, &s, NULL), ESC_OK);
    esc_field fl[1] = {{esc_str_c("registry_path"), esc_str_c("HKU\\x\\Run")}};
    esc_fields fs = {.f = fl, .n = 1};
    esc_record q;
    memset(&q, 0, sizeof q);
    q.ds = ESC_DS_REGISTRY;
    q.fs = &fs;
    esc_litscan_record(s, &q);
    assert_false(esc_litscan_may_match(s, 0)); /* neither side takes it */
    assert_false(esc_plan_record_matches(p[0], &q));
    fl[0].value = esc_str_c("HKU\\Classes\\MSCFile\\shell");
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 0)); /* the subsearch's */
    assert_true(esc_plan_record_matches(p[0], &q));
    q.ds = ESC_DS_RAW; /* a dataset neither side reads */
    esc_litscan_record(s, &q);
    assert_false(esc_litscan_may_match(s, 0));
    q.ds = ESC_DS_PROCESSES;
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 0)); /* the main search's: open */
    q.ds = ESC_DS_RAW;
    /* the bare term: in _raw when the record has one, else in any value */
    fs.raw = esc_str_c("<Event>sudoedit x -s</Event>");
    esc_litscan_record(s, &q);
    assert_false(esc_litscan_may_match(s, 1));
    assert_int_equal(esc_plan_record_matches(p[1], &q), false);
    fs.raw = esc_str_c("<Event>SUDOEDIT -s \\</Event>");
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 1));
    assert_true(esc_plan_record_matches(p[1], &q));
    fs.raw = ESC_STR_NULL;
    fl[0].value = esc_str_c("x sudoedit -s y");
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 1));
    assert_true(esc_plan_record_matches(p[1], &q));
    /* the values are scanned in one pass: a literal across two values is in neither, and one
     * value's literal counts wherever it comes */
    esc_field two[3] = {{esc_str_c("a"), esc_str_c("x sudo")},
                        {esc_str_c("b"), esc_str_c("edit -s y")},
                        {esc_str_c("c"), esc_str_c("ab")}};
    esc_fields fs2 = {.f = two, .n = 3};
    q.fs = &fs2;
    esc_litscan_record(s, &q);
    assert_false(esc_litscan_may_match(s, 1));
    assert_false(esc_plan_record_matches(p[1], &q));
    two[2].value = esc_str_c("zz SUDOEDIT -S");
    esc_litscan_record(s, &q);
    assert_true(esc_litscan_may_match(s, 1));
    assert_true(esc_plan_record_matches(p[1], &q));
    esc_litscan_free(s);
    esc_litfilter_free(f);
    esc_plan_free(p[0]);
    esc_plan_free(p[1]);
}

/* A Windows event of channel ch and code id whose text is text. */
static esc_event win_event(const char *ch, uint32_t id, const char *text) {
    esc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ESC_EV_WINDOWS;
    ev.channel = esc_str_c(ch);
    ev.event_id = id;
    ev.has_event_id = true;
    ev.has_time = true;
    ev.text = esc_str_c(text);
    return ev;
}

/* Raw-event searches whose source, sourcetype or eventtype no Windows event has (as extraction
 * gives them: fields.c) select no event, unless the event holds a field of that name itself. */
static void test_never(void **state) {
    (void)state;
    static const struct {
        const char *search;
        bool never;
    } cases[] = {
        {"sourcetype=\"linux:audit\" type=SYSCALL | stats count by host", true},
        {"source=ActiveDirectory admonEventType=Update | stats count by host", true},
        {"eventtype=\"osquery-process\" | search x=1", true},
        {"sourcetype=\"Linux:Audit\" OR source=ActiveDirectory | stats count by host", true},
        {"sourcetype=XmlWinEventLog EventCode=1 | stats count by host", false},
        {"sourcetype=xmlwin* EventCode=1 | stats count by host", false},
        {"source=\"WinEventLog:Microsoft-Windows-AppLocker/*\" | stats count by host", false},
        {"eventtype=wineventlog_security EventCode=4688 | stats count by host", false},
        {"eventtype=windows_logon_* | stats count by host", false},
        {"sourcetype=\"linux:audit\" OR EventCode=4688 | stats count by host", false},
        {"NOT sourcetype=\"linux:audit\" | stats count by host", false},
    };
    esc_event ev = win_event("Security", 4688, "<Event/>");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        esc_plan *p = plan(cases[i].search);
        assert_int_equal(esc_plan_never(p), cases[i].never);
        if (cases[i].never) {
            assert_int_equal(esc_plan_select_meta(p, &ev, false), 0);
            /* while meta: as before, its channel (sourcetype=linux:audit names "audit") */
            bool chan = strstr(cases[i].search, "linux:audit") != NULL;
            assert_int_equal(esc_plan_select_meta(p, &ev, true), chan ? 0 : 1u << ESC_DS_RAW);
        }
        esc_plan_free(p);
    }
    esc_kv data[1] = {{esc_str_c("sourcetype"), esc_str_c("linux:audit")}};
    assert_false(esc_plan_event_meta(&ev));
    ev.data = data;
    ev.ndata = 1;
    assert_true(esc_plan_event_meta(&ev));
    /* a channel pattern: the AppLocker channels only, any channel while meta */
    esc_plan *p =
        plan("(source=\"WinEventLog:Microsoft-Windows-AppLocker/*\" OR "
             "source=\"XmlWinEventLog:Microsoft-Windows-AppLocker/*\") | stats count by host");
    esc_event al = win_event("Microsoft-Windows-AppLocker/EXE and DLL", 8004, "<Event/>");
    assert_int_equal(esc_plan_select_meta(p, &al, false), 1u << ESC_DS_RAW);
    assert_int_equal(esc_plan_select_meta(p, &ev, false), 0);
    assert_int_equal(esc_plan_select_meta(p, &ev, true), 1u << ESC_DS_RAW);
    esc_plan_free(p);
}

/* The text check before extraction: a detection whose every way in is a raw-event search with a
 * clause none of whose literals is in the event's text is ruled out; entities, comments and
 * joins (Security 4688's process) leave literals unchecked. */
static void test_text(void **state) {
    (void)state;
    assert_int_equal(esc_fields_text_bound("TargetImage", "lsass.exe"), 1);
    assert_int_equal(esc_fields_text_bound("_raw", "sudoedit -s"), 2);
    assert_int_equal(esc_fields_text_bound("source", "XmlWinEventLog:Security"), 0); /* a join */
    assert_int_equal(esc_fields_text_bound("EventCode", "4688"), 0);                 /* a number */
    assert_int_equal(esc_fields_text_bound("x", "Microsoft Win"),
                     0); /* vendor_product's constant */
    assert_int_equal(esc_fields_text_bound("action", "denied"), 0);
    /* eventtype and tag values are the tables' own; the tables' words bind other fields */
    assert_int_equal(esc_fields_text_bound("tag", "password"), 0);
    assert_int_equal(esc_fields_text_bound("eventtype", "lsass"), 0);
    assert_int_equal(esc_fields_text_bound("CommandLine", "password"), 1);
    esc_plan *p[3] = {
        plan("EventCode=10 TargetImage=*lsass.exe | stats count by host"),
        plan("index=unix \"sudoedit -s\" | stats count by host"),
        plan("EventCode=10 | stats count by host"),
    };
    esc_litfilter *f;
    esc_litscan *s;
    assert_int_equal(esc_litfilter_new(p, 3, &f, NULL), ESC_OK);
    assert_int_equal(esc_litscan_new(f, &s, NULL), ESC_OK);
    assert_true(esc_litscan_text_can(s, 0));
    assert_true(esc_litscan_text_can(s, 1));
    assert_false(esc_litscan_text_can(s, 2)); /* no clause */
    const char *sysmon = "Microsoft-Windows-Sysmon/Operational";
    esc_event ev = win_event(sysmon, 10, "<Event><Data Name='TargetImage'>C:\\x\\LSASS.EXE</Data>");
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 0));
    assert_false(esc_litscan_text_may_match(s, 1));
    assert_true(esc_litscan_text_may_match(s, 2));
    /* an entity, a CDATA section, a comment: the values as the reader decoded them are
     * checked instead of the text */
    esc_kv lsass = {esc_str_c("TargetImage"), esc_str_c("C:\\x\\lsass.exe")};
    esc_kv other = {esc_str_c("TargetImage"), esc_str_c("C:\\x\\other.exe")};
    ev = win_event(sysmon, 10, "<Event><Data Name='TargetImage'>C:\\x\\lsas&#115;.exe</Data>");
    ev.data = &lsass;
    ev.ndata = 1;
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 0));
    assert_false(esc_litscan_text_may_match(s, 1));
    ev = win_event(sysmon, 10, "<Event><Data Name='TargetImage'>C:\\x\\lsas&#115;.ex</Data>");
    ev.data = &other; /* (not what the text decodes to: only the values count) */
    ev.ndata = 1;
    esc_litscan_text(s, &ev);
    assert_false(esc_litscan_text_may_match(s, 0));
    ev = win_event(sysmon, 10, "<Event><Data Name='TargetImage'>lsass<![CDATA[.exe]]></Data>");
    ev.data = &lsass;
    ev.ndata = 1;
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 0));
    ev = win_event(sysmon, 10, "<Event><Data Name='TargetImage'>lsass<!-- -->.exe</Data>");
    ev.data = &other;
    ev.ndata = 1;
    esc_litscan_text(s, &ev);
    assert_false(esc_litscan_text_may_match(s, 0));
    /* no text (EVTX, JSON): every string the fields come from, each apart */
    ev = win_event(sysmon, 10, NULL);
    esc_litscan_text(s, &ev); /* nothing holds the literal */
    assert_false(esc_litscan_text_may_match(s, 0));
    assert_true(esc_litscan_text_may_match(s, 2));
    ev.data = &lsass;
    ev.ndata = 1;
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 0));
    ev.data = NULL;
    ev.ndata = 0;
    esc_kv sys = {esc_str_c("Security@UserID"), esc_str_c("lsass.exe")};
    ev.sys = &sys;
    ev.nsys = 1;
    esc_litscan_text(s, &ev); /* a System value */
    assert_true(esc_litscan_text_may_match(s, 0));
    ev.sys = NULL;
    ev.nsys = 0;
    ev.computer = esc_str_c("lsass.exe");
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 0));
    ev.computer = ESC_STR_NULL;
    ev.parts[ESC_XML_NPARTS - 1] = esc_str_c("<x>lsass.exe</x>");
    esc_litscan_text(s, &ev); /* a whole-element part */
    assert_true(esc_litscan_text_may_match(s, 0));
    ev.parts[ESC_XML_NPARTS - 1] = ESC_STR_NULL;
    ev.xml = esc_str_c("<Event>lsass.exe</Event>");
    esc_litscan_text(s, &ev); /* the rendering (_raw) */
    assert_true(esc_litscan_text_may_match(s, 0));
    ev.xml = ESC_STR_NULL;
    esc_kv split[2] = {{esc_str_c("a"), esc_str_c("lsa")}, {esc_str_c("b"), esc_str_c("ss.exe")}};
    ev.data = split;
    ev.ndata = 2;
    esc_litscan_text(s, &ev); /* no literal across two values */
    assert_false(esc_litscan_text_may_match(s, 0));
    ev = win_event(sysmon, 10, "<Event><Data Name='x'>! lsass!.exe !</Data>");
    esc_litscan_text(s, &ev); /* '!' without '<' before it: checked */
    assert_false(esc_litscan_text_may_match(s, 0));
    ev = win_event(sysmon, 10, "<Event><Data Name='CommandLine'>sudoedit -s x</Data>");
    esc_litscan_text(s, &ev);
    assert_false(esc_litscan_text_may_match(s, 0));
    assert_true(esc_litscan_text_may_match(s, 1));
    /* Security 4688 joins the program and its arguments with a space: "sudoedit -s" may be
     * in its process without being in its text */
    ev = win_event("Security", 4688, "<Event><Data Name='NewProcessName'>/x/sudoedit</Data>");
    esc_litscan_text(s, &ev);
    assert_true(esc_litscan_text_may_match(s, 1));
    esc_litscan_free(s);
    esc_litfilter_free(f);
    for (size_t i = 0; i < 3; i++)
        esc_plan_free(p[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clauses),      cmocka_unit_test(test_scan),
        cmocka_unit_test(test_alternatives), cmocka_unit_test(test_never),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
