/* Search-time fields: esc_event.sys is filled only when the interest set asks for it (the
 * readers' fast path is unchanged), and esc_fields_extract over it: System names, EventCode,
 * multivalue Data, the EVAL precedence of a source stanza, eventtype and tag. Expected values
 * come from the add-on settings docs/fields.md cites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fields/fields.h"
#include "parse/xml/xml.h"

static const char *xml =
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Service Control Manager' Guid='{555908d1-a6d7-4695-8e1e-26931d2012f4}' "
    "EventSourceName='Service Control Manager'/><EventID Qualifiers='16384'>7045</EventID>"
    "<Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>"
    "<Keywords>0x8080000000000000</Keywords><TimeCreated "
    "SystemTime='2024-01-02T03:04:05.0000000Z'/>"
    "<EventRecordID>99</EventRecordID><Correlation/><Execution ProcessID='640' ThreadID='7'/>"
    "<Channel>System</Channel><Computer>DC1</Computer><Security UserID='S-1-5-18'/></System>"
    "<EventData><Data Name='ServiceName'>a</Data><Data Name='ServiceName'>b</Data>"
    "<Data Name='ImagePath'>C:\\x.exe</Data><Data Name='AccountName'>-</Data></EventData></Event>";

static esc_str S(const char *s) {
    return esc_str_c(s);
}

static void test_sys_only_when_asked(void **state) {
    (void)state;
    esc_arena a;
    esc_arena_init(&a, 0, 1 << 20);
    esc_interest none;
    memset(&none, 0, sizeof none);
    esc_event ev;
    assert_int_equal(esc_xml_event_parse(xml, strlen(xml), &none, &a, &ev, NULL), ESC_OK);
    assert_int_equal(ev.nsys, 0);
    assert_null(ev.sys);
    esc_interest sys = none;
    sys.system = true;
    assert_int_equal(esc_xml_event_parse(xml, strlen(xml), &sys, &a, &ev, NULL), ESC_OK);
    assert_int_equal(ev.nsys, 17); /* Correlation/ is empty: left out */
    assert_true(esc_str_eq_c(ev.sys[0].name, "Provider@Name"));
    assert_true(esc_str_eq_c(ev.sys[3].name, "EventID@Qualifiers"));
    assert_true(esc_str_eq_c(ev.sys[4].name, "EventID"));
    assert_true(esc_str_eq_c(ev.sys[4].value, "7045"));
    assert_true(esc_str_eq_c(ev.sys[16].name, "Security@UserID"));
    assert_true(esc_str_eq_c(ev.sys[16].value, "S-1-5-18"));
    esc_arena_fini(&a);
}

static void test_extract(void **state) {
    (void)state;
    esc_arena a;
    esc_arena_init(&a, 0, 1 << 20);
    esc_interest sys;
    memset(&sys, 0, sizeof sys);
    sys.system = true;
    esc_event ev;
    esc_fields fs;
    assert_int_equal(esc_xml_event_parse(xml, strlen(xml), &sys, &a, &ev, NULL), ESC_OK);
    assert_int_equal(esc_fields_extract(&ev, false, &a, &fs, NULL), ESC_OK);
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("source")), "XmlWinEventLog:System"));
    assert_true(
        esc_str_eq_c(esc_fields_get(&fs, S("EventCode")), "7045")); /* EventID2_as_EventCode */
    assert_null(esc_fields_get(&fs, S("EventID")).ptr); /* <EventID Qualifiers=..>: no kv */
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("Qualifiers")), "16384"));
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("ProcessID")), "640"));
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("RecordNumber")), "99"));
    esc_str v[4];
    assert_int_equal(esc_fields_values(&fs, S("ServiceName"), v, 4), 2); /* MV_ADD */
    assert_int_equal(esc_fields_values(&fs, S("service"), v, 4), 2);     /* FIELDALIAS */
    assert_true(esc_str_eq_c(v[1], "b"));
    /* [source::XmlWinEventLog:System] EVAL-vendor; [XmlWinEventLog] EVAL-vendor_product */
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("vendor")), "Microsoft"));
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("vendor_product")), "Microsoft Windows"));
    assert_true(esc_str_eq_c(esc_fields_get(&fs, S("dest")), "DC1")); /* Computer_as_dest */
    /* endpoint filesystem os report service track_event_signatures windows (counted past 4) */
    assert_int_equal(esc_fields_values(&fs, S("tag"), v, 4), 7);
    esc_str et[8];
    size_t n = esc_fields_values(&fs, S("eventtype"), et, 8);
    /* Splunk_TA_windows 8.4.0 eventtypes.conf: endpoint_services_processes (sourcetype
     * XmlWinEventLog), windows_endpoint_services (7036), windows_event_signature,
     * wineventlog_system, wineventlog_windows, winsystem (eventtype=wineventlog_system) */
    assert_int_equal(n, 6);
    assert_true(esc_str_eq_c(et[0], "endpoint_services_processes"));
    assert_true(esc_str_eq_c(et[1], "windows_endpoint_services"));
    assert_true(esc_str_eq_c(et[4], "wineventlog_windows"));
    assert_true(esc_str_eq_c(et[5], "winsystem"));
    esc_arena_fini(&a);
}

/* The eventtype values of one event: provider, channel, code and its EventData. */
static size_t eventtypes_of(const char *provider, const char *channel, const char *code,
                            const char *data, esc_str *et, size_t max, esc_fields *fs,
                            esc_arena *a) {
    char buf[2048];
    snprintf(buf, sizeof buf,
             "<Event><System><Provider Name='%s'/><EventID>%s</EventID>"
             "<TimeCreated SystemTime='2024-01-02T03:04:05Z'/><EventRecordID>1</EventRecordID>"
             "<Channel>%s</Channel><Computer>h</Computer></System><EventData>%s</EventData>"
             "</Event>",
             provider, code, channel, data);
    esc_interest sys;
    memset(&sys, 0, sizeof sys);
    sys.system = true;
    esc_event ev;
    assert_int_equal(esc_xml_event_parse(buf, strlen(buf), &sys, a, &ev, NULL), ESC_OK);
    assert_int_equal(esc_fields_extract(&ev, false, a, fs, NULL), ESC_OK);
    return esc_fields_values(fs, S("eventtype"), et, max);
}

static bool has(const esc_fields *fs, const char *name, const char *value) {
    esc_str v[64];
    size_t n = esc_fields_values(fs, S(name), v, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (esc_str_eq_c(v[i], value))
            return true;
    return false;
}

/* Splunk_TA_windows 8.4.0 eventtypes.conf and tags.conf: a code list with a term for one of its
 * codes ([windows_security_endpoint_registry]: EventCode=4657 OR (EventCode=4670 AND
 * ObjectType="Registry")), a channel without a source stanza ([wineventlog-ds]), a word searched
 * in _raw ([windows_time_failure]: the bare Microsoft-Windows-Time-Service), a field-value stanza
 * ([Logon_Type=8] cleartext = enabled) and ta_windows_action!=error on 4625 only. */
static void test_eventtypes(void **state) {
    (void)state;
    esc_arena a;
    esc_arena_init(&a, 0, 1 << 20);
    esc_fields fs;
    esc_str et[32];
    const char *sec = "Microsoft-Windows-Security-Auditing";
    eventtypes_of(sec, "Security", "4657", "", et, 32, &fs, &a);
    assert_true(has(&fs, "eventtype", "windows_security_endpoint_registry"));
    assert_true(has(&fs, "eventtype", "winsec"));
    assert_true(has(&fs, "tag", "registry") && has(&fs, "tag", "security"));
    eventtypes_of(sec, "Security", "4670", "<Data Name='ObjectType'>File</Data>", et, 32, &fs, &a);
    assert_false(has(&fs, "eventtype", "windows_security_endpoint_registry"));
    eventtypes_of(sec, "Security", "4670", "<Data Name='ObjectType'>Registry</Data>", et, 32, &fs,
                  &a);
    assert_true(has(&fs, "eventtype", "windows_security_endpoint_registry"));
    eventtypes_of(sec, "Security", "4726", "", et, 32, &fs, &a);
    assert_true(has(&fs, "eventtype", "windows_account_deleted"));
    assert_true(has(&fs, "eventtype", "windows_security_change_account"));
    assert_false(has(&fs, "eventtype", "wineventlog_windows")); /* NOT the account codes */
    assert_true(has(&fs, "tag", "change") && has(&fs, "tag", "delete"));
    eventtypes_of(sec, "Security", "4624", "<Data Name='LogonType'>8</Data>", et, 32, &fs, &a);
    assert_true(has(&fs, "tag", "cleartext") && has(&fs, "tag", "authentication"));
    eventtypes_of(sec, "Security", "4624", "<Data Name='LogonType'>3</Data>", et, 32, &fs, &a);
    assert_false(has(&fs, "tag", "cleartext"));
    /* 4625's Status 0xC0000133 makes ta_windows_action "error": not a logon failure */
    eventtypes_of(sec, "Security", "4625", "<Data Name='Status'>0xC0000133</Data>", et, 32, &fs,
                  &a);
    assert_false(has(&fs, "eventtype", "windows_logon_failure"));
    eventtypes_of(sec, "Security", "4625", "<Data Name='Status'>0xC000006D</Data>", et, 32, &fs,
                  &a);
    assert_true(has(&fs, "eventtype", "windows_logon_failure"));
    size_t n = eventtypes_of("NTDS General", "Directory Service", "1644", "", et, 32, &fs, &a);
    assert_int_equal(n, 4); /* endpoint_services_processes windows_event_signature
                               wineventlog-ds wineventlog_windows */
    assert_true(esc_str_eq_c(et[2], "wineventlog-ds"));
    eventtypes_of("Microsoft-Windows-Time-Service", "System", "36", "", et, 32, &fs, &a);
    assert_true(has(&fs, "eventtype", "windows_time_failure"));
    assert_true(has(&fs, "tag", "synchronize") && has(&fs, "tag", "failure"));
    eventtypes_of("Microsoft-Windows-Kernel-General", "System", "36", "", et, 32, &fs, &a);
    assert_false(has(&fs, "eventtype", "windows_time_failure"));
    esc_arena_fini(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sys_only_when_asked),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_eventtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
