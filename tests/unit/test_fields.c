/* Search-time fields: esc_event.sys is filled only when the interest set asks for it (the
 * readers' fast path is unchanged), and esc_fields_extract over it: System names, EventCode,
 * multivalue Data, the EVAL precedence of a source stanza, eventtype and tag. Expected values
 * come from the add-on settings docs/fields.md cites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
    assert_int_equal(n, 4);
    assert_true(esc_str_eq_c(et[0], "windows_endpoint_services"));
    assert_true(esc_str_eq_c(et[3], "wineventlog_windows"));
    esc_arena_fini(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sys_only_when_asked),
        cmocka_unit_test(test_extract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
