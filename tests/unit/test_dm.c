/* The CIM data models' "unknown" defaults (cim/dm.c), one case per model. Expected values come
 * from the CIM 8.5 reference (help.splunk.com/en/data-management/common-information-model/8.5/
 * data-models/...): a field whose "Expression:" is `if(isnull(f) OR f="","unknown",f)` reads
 * "unknown" when the event does not give it; a field without such an expression stays missing.
 * Endpoint page: Registry action, dest, registry_path, registry_key_name, registry_value_data,
 * registry_value_name, registry_value_type, user; Filesystem action, dest, file_hash,
 * file_name, file_path, file_acl, user; Services dest, service, service_id, service_name,
 * start_mode, user. The Network Traffic, Network Resolution (DNS), Authentication and Change
 * pages give no expression: nothing defaults there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cim/cim.h"

typedef struct fx {
    esc_event ev;
    esc_arena arena;
    esc_fields in, out;
} fx;

static void ev_init(fx *f, const char *provider, uint32_t id, const char *computer) {
    memset(f, 0, sizeof *f);
    f->ev.kind = ESC_EV_WINDOWS;
    f->ev.provider = esc_str_c(provider);
    f->ev.event_id = id;
    f->ev.has_event_id = true;
    f->ev.computer = computer ? esc_str_c(computer) : ESC_STR_NULL;
    f->ev.time_us = 1000000;
    f->ev.has_time = true;
    esc_arena_init(&f->arena, 0, 1 << 20);
    f->in.ev = &f->ev;
}

static void put(fx *f, const char *k, const char *v) {
    assert_int_equal(esc_fields_add(&f->in, &f->arena, esc_str_c(k), esc_str_c(v), false), ESC_OK);
}

static void map(fx *f, int ds) {
    assert_int_equal(esc_dm_map(ds, &f->in, &f->arena, &f->out), ESC_OK);
}

static void expect(const fx *f, const char *name, const char *want) {
    esc_str v = esc_fields_get(&f->out, esc_str_c(name));
    if (!want) {
        assert_null(v.ptr);
        return;
    }
    assert_non_null(v.ptr);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

#define SYSMON "Microsoft-Windows-Sysmon"
#define SEC "Microsoft-Windows-Security-Auditing"

static void registry(void **state) {
    (void)state;
    fx f;
    ev_init(&f, SYSMON, 13, "HOST"); /* a Sysmon 13 without TargetObject, Details or User */
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "dest", "HOST");
    expect(&f, "action", "modified"); /* the add-on's rule still gives it */
    expect(&f, "registry_path", "unknown");
    expect(&f, "registry_key_name", "unknown");
    expect(&f, "registry_value_name", "unknown");
    expect(&f, "registry_value_data", "unknown");
    expect(&f, "registry_value_type", "unknown");
    expect(&f, "user", "unknown");
    expect(&f, "registry_hive", NULL); /* no expression in the CIM */
    esc_arena_fini(&f.arena);

    ev_init(&f, SYSMON, 12, "HOST"); /* key level: the add-on names no value (EventCode 13 only) */
    put(&f, "TargetObject", "HKLM\\SOFTWARE\\k");
    put(&f, "EventType", "DeleteKey");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "action", "deleted");
    expect(&f, "registry_path", "HKLM\\SOFTWARE\\k");
    expect(&f, "registry_key_name", "k"); /* a key event names the key itself (fields.c) */
    expect(&f, "registry_value_name", "unknown");
    expect(&f, "registry_value_data", "unknown");
    esc_arena_fini(&f.arena);

    /* the field action and Registry.action agree (docs/fields.md, Sysmon 12/13/14): a 12 whose
     * EventType the add-on's case() does not list has no action, so the CIM's "unknown"; a 14
     * is modified whatever its EventType */
    ev_init(&f, SYSMON, 12, "HOST");
    put(&f, "EventType", "SetValue");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "action", "unknown");
    esc_arena_fini(&f.arena);
    ev_init(&f, SYSMON, 14, "HOST");
    put(&f, "EventType", "RenameKey");
    put(&f, "TargetObject", "HKLM\\SOFTWARE\\k\\");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "action", "modified");
    expect(&f, "registry_key_name", "unknown"); /* nothing after the last '\\' */
    esc_arena_fini(&f.arena);
    ev_init(&f, SYSMON, 13, "HOST");
    put(&f, "TargetObject", "HKLM\\SOFTWARE\\k\\v");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "registry_key_name", "k"); /* a value event: the key before the value */
    expect(&f, "registry_value_name", "v");
    esc_arena_fini(&f.arena);
    /* registry_hive is the add-on's field alone (its EVAL names HKLM\System\, HKU\ and
     * HKLM\SOFTWARE\ only): none for HKCR, the field's value when extraction gave one */
    ev_init(&f, SYSMON, 13, "HOST");
    put(&f, "TargetObject", "HKCR\\k\\v");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "registry_hive", NULL);
    esc_arena_fini(&f.arena);
    ev_init(&f, SYSMON, 13, "HOST");
    put(&f, "TargetObject", "HKLM\\SOFTWARE\\k\\v");
    put(&f, "registry_hive", "HKEY_LOCAL_MACHINE\\Software");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "registry_hive", "HKEY_LOCAL_MACHINE\\Software");
    esc_arena_fini(&f.arena);

    ev_init(&f, "Other", 1, NULL); /* tagged only: no rule gives action or dest */
    put(&f, "tag", "endpoint");
    put(&f, "tag", "registry");
    map(&f, ESC_DS_REGISTRY);
    expect(&f, "action", "unknown");
    expect(&f, "dest", "unknown");
    esc_arena_fini(&f.arena);
}

static void filesystem(void **state) {
    (void)state;
    fx f;
    ev_init(&f, SYSMON, 11, "HOST");
    map(&f, ESC_DS_FILESYSTEM);
    expect(&f, "action", "created");
    expect(&f, "file_name", "unknown");
    expect(&f, "file_path", "unknown");
    expect(&f, "file_hash", "unknown");
    expect(&f, "file_acl", "unknown");
    expect(&f, "user", "unknown");
    expect(&f, "file_create_time", NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, "Other", 1, NULL);
    put(&f, "tag", "filesystem");
    put(&f, "tag", "endpoint");
    map(&f, ESC_DS_FILESYSTEM);
    expect(&f, "action", "unknown");
    expect(&f, "dest", "unknown");
    esc_arena_fini(&f.arena);
}

static void services(void **state) {
    (void)state;
    fx f;
    ev_init(&f, "Service Control Manager", 7045, NULL);
    put(&f, "ImagePath", "c:\\a.exe");
    map(&f, ESC_DS_SERVICES);
    expect(&f, "dest", "unknown");
    expect(&f, "user", "unknown");
    expect(&f, "service", "unknown");
    expect(&f, "service_name", "unknown");
    expect(&f, "service_id", "unknown");
    expect(&f, "start_mode", "unknown");
    expect(&f, "service_path", "c:\\a.exe");
    expect(&f, "service_type", NULL);
    esc_arena_fini(&f.arena);
}

static void no_defaults(void **state) {
    (void)state;
    fx f;
    ev_init(&f, SEC, 5156, NULL); /* Network_Traffic: dest, user, src stay missing */
    map(&f, ESC_DS_TRAFFIC);
    expect(&f, "action", "allowed");
    expect(&f, "dest", NULL);
    expect(&f, "user", NULL);
    expect(&f, "src", NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, SEC, 4624, NULL); /* Authentication */
    map(&f, ESC_DS_AUTH);
    expect(&f, "action", "success");
    expect(&f, "dest", NULL);
    expect(&f, "user", NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, SEC, 4720, NULL); /* Change */
    map(&f, ESC_DS_CHANGE);
    expect(&f, "action", "created");
    expect(&f, "dest", NULL);
    expect(&f, "user", NULL);
    expect(&f, "object", NULL);
    esc_arena_fini(&f.arena);

    ev_init(&f, SYSMON, 22, NULL); /* Network_Resolution.DNS */
    map(&f, ESC_DS_DNS);
    expect(&f, "query", NULL);
    expect(&f, "dest", NULL);
    esc_arena_fini(&f.arena);
}

/* Alerts (Splunk_SA_CIM Alerts.json: root dataset Alerts, constraint tag=alert; fields app,
 * body, description, dest, dest_type, id, mitre_technique_id, signature, signature_id,
 * severity, severity_id, src, src_type, subject, type, user, user_name, vendor_account,
 * vendor_region). An event tagged `alert` is in it with its own fields; one tagged otherwise,
 * or with no tag at all (no Windows source stands in for the tag), is not. */
static void alerts(void **state) {
    (void)state;
    assert_int_equal(esc_dm_lookup(esc_str_c("Alerts")), ESC_DS_ALERTS);
    assert_int_equal(esc_dm_lookup(esc_str_c("Alerts.Alerts")), ESC_DS_ALERTS);
    fx f;
    ev_init(&f, "Vendor", 1, "HOST");
    put(&f, "severity", "critical");
    put(&f, "signature", "Bad thing");
    put(&f, "dest", "d1");
    put(&f, "not_a_cim_field", "x");
    put(&f, "tag", "alert");
    map(&f, ESC_DS_ALERTS);
    expect(&f, "severity", "critical");
    expect(&f, "signature", "Bad thing");
    expect(&f, "dest", "d1");
    expect(&f, "not_a_cim_field", NULL);
    expect(&f, "app", NULL); /* no default in the CIM */
    esc_arena_fini(&f.arena);

    ev_init(&f, "Vendor", 1, "HOST");
    put(&f, "severity", "critical");
    put(&f, "tag", "malware");
    assert_int_equal(esc_dm_map(ESC_DS_ALERTS, &f.in, &f.arena, &f.out), ESC_SKIP);
    esc_arena_fini(&f.arena);

    ev_init(&f, SYSMON, 1, "HOST");
    put(&f, "severity", "critical");
    assert_int_equal(esc_dm_map(ESC_DS_ALERTS, &f.in, &f.arena, &f.out), ESC_SKIP);
    esc_win_source w[4];
    assert_int_equal(esc_dm_sources(ESC_DS_ALERTS, w, 4), 0);
    esc_arena_fini(&f.arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry),    cmocka_unit_test(filesystem), cmocka_unit_test(services),
        cmocka_unit_test(no_defaults), cmocka_unit_test(alerts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
