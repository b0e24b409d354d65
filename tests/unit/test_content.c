/* Content loading: the shipped content/, ESCU as published, local overrides, broken files. */
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

#include "content/content.h"
#include "content/yaml_tree.h"

#define SEED_ID "743a322c-9a68-4a0f-9c17-85d9cce2a27c"
#define SEED_FILTER "create_or_delete_windows_shares_using_net_exe_filter"

static const char *shipped = ESC_SOURCE_DIR "/content";
static const char *base = ESC_SOURCE_DIR "/content/base"; /* CIM macros, tactics */
static const char *escu = ESC_SHARED_DATA "/escu";

static const esc_macro *macro(const esc_content *c, const char *name, size_t nargs) {
    return esc_macro_find(&c->macros, name, strlen(name), nargs);
}

static bool has(esc_strlist l, const char *s) {
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i], s) == 0)
            return true;
    return false;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_shipped(void **state) {
    (void)state;
    esc_content *c = NULL;
    esc_error err;
    const char *both[] = {base, shipped};
    assert_int_equal(esc_content_load(both, 2, &c, &err), ESC_OK);
    assert_int_equal(c->warnings.n, 0);
    assert_int_equal(c->ndetections, 1);
    const esc_detection *d = esc_content_find(c, SEED_ID);
    assert_non_null(d);
    assert_ptr_equal(esc_content_find(c, "Create or delete windows shares using net exe"), d);
    assert_ptr_equal(esc_content_find(c, "create_or_delete_windows_shares_using_net_exe.yml"), d);
    assert_ptr_equal(esc_content_find(c, "create_or_delete_windows_shares_using_net_exe"), d);
    assert_null(esc_content_find(c, "no such detection"));

    assert_string_equal(d->name, "Create or delete windows shares using net exe");
    assert_int_equal(d->version, 9);
    assert_string_equal(d->type, "TTP");
    assert_string_equal(d->status, "production");
    assert_string_equal(d->date, "2024-09-30");
    assert_string_equal(d->author, "Bhavin Patel, Splunk");
    assert_true(strncmp(d->description, "The following analytic detects the creation", 43) == 0);
    assert_true(strncmp(d->search, "| tstats `security_content_summariesonly` count", 47) == 0);
    assert_non_null(strstr(d->search, "| `" SEED_FILTER "`"));
    assert_non_null(d->how_to_implement);
    assert_true(strncmp(d->known_false_positives, "Administrators often leverage", 29) == 0);
    assert_int_equal(d->data_sources.n, 3);
    assert_string_equal(d->data_sources.v[1], "Windows Event Log Security 4688");
    assert_int_equal(d->references.n, 1);
    assert_int_equal(d->ndrilldowns, 2);
    assert_string_equal(d->drilldowns[0].name, "View the detection results for $user$ and $dest$");
    assert_string_equal(d->drilldowns[0].search,
                        "%original_detection_search% | search  user = $user$ dest = $dest$");
    assert_string_equal(d->drilldowns[0].earliest_offset, "$info_min_time$");
    assert_string_equal(d->drilldowns[1].latest_offset, "$info_max_time$");

    assert_int_equal(d->analytic_story.n, 5);
    assert_string_equal(d->analytic_story.v[0], "Hidden Cobra Malware");
    assert_string_equal(d->analytic_story.v[4], "DarkGate Malware");
    assert_int_equal(d->mitre_attack_id.n, 2);
    assert_string_equal(d->mitre_attack_id.v[0], "T1070");
    assert_string_equal(d->mitre_attack_id.v[1], "T1070.005");
    assert_int_equal(d->product.n, 3);
    assert_int_equal(d->required_fields.n, 12);
    assert_string_equal(d->asset_type, "Endpoint");
    assert_string_equal(d->security_domain, "endpoint");
    assert_string_equal(
        d->message, "An instance of $parent_process_name$ spawning $process_name$ was identified "
                    "on endpoint $dest$ by user $user$ enumerating Windows file shares.");
    assert_int_equal(d->confidence, 50);
    assert_int_equal(d->impact, 50);
    assert_int_equal(d->risk_score, 25);
    assert_int_equal(d->nobservables, 4);
    assert_string_equal(d->observables[0].name, "user");
    assert_string_equal(d->observables[0].type, "User");
    assert_int_equal(d->observables[0].roles.n, 1);
    assert_string_equal(d->observables[0].roles.v[0], "Victim");
    assert_string_equal(d->observables[1].type, "Hostname");
    assert_string_equal(d->observables[3].name, "process_name");
    assert_string_equal(d->observables[3].roles.v[0], "Attacker");
    assert_int_equal(d->ntests, 1);
    assert_string_equal(d->tests[0].name, "True Positive Test");
    assert_int_equal(d->tests[0].nattack_data, 1);
    assert_string_equal(d->tests[0].attack_data[0].data,
                        "tests/data/attack/T1070.005/windows-sysmon.log");
    assert_string_equal(d->tests[0].attack_data[0].source,
                        "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(d->tests[0].attack_data[0].sourcetype, "xmlwineventlog");

    /* deployment linked by type */
    assert_non_null(d->deployment);
    assert_string_equal(d->deployment->name, "ESCU Default Configuration TTP");
    assert_string_equal(d->deployment->cron_schedule, "0 * * * *");
    assert_string_equal(d->deployment->earliest_time, "-70m@m");
    assert_string_equal(d->deployment->latest_time, "-10m@m");
    assert_string_equal(d->deployment->schedule_window, "auto");
    assert_true(d->deployment->notable);
    assert_string_equal(d->deployment->rule_title, "%name%");
    assert_string_equal(d->deployment->rule_description, "%description%");
    assert_int_equal(d->deployment->nes_fields.n, 2);
    assert_string_equal(d->deployment->nes_fields.v[0], "user");
    assert_string_equal(d->deployment->nes_fields.v[1], "dest");
    assert_true(d->deployment->rba);
    assert_true(d->deployment->disabled);

    /* macros: shipped, CIM, synthesised filter */
    const esc_macro *m = macro(c, "process_net", 0);
    assert_non_null(m);
    assert_string_equal(m->definition, "(Processes.process_name=\"net.exe\" OR "
                                       "Processes.original_file_name=\"net.exe\" OR "
                                       "Processes.process_name=\"net1.exe\" OR "
                                       "Processes.original_file_name=\"net1.exe\")");
    m = macro(c, "drop_dm_object_name", 1);
    assert_non_null(m);
    assert_string_equal(m->args[0], "object");
    assert_string_equal(m->definition, "rename \"$object$.*\" as *");
    m = macro(c, "security_content_ctime", 1);
    assert_non_null(m);
    assert_string_equal(m->args[0], "field");
    assert_string_equal(m->definition, "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)");
    assert_string_equal(macro(c, "summariesonly_config", 0)->definition, "false");
    assert_string_equal(macro(c, "oldsummaries_config", 0)->definition, "true");
    assert_string_equal(macro(c, "fillnull_config", 0)->definition, "null");
    assert_non_null(macro(c, "security_content_summariesonly", 0));
    assert_string_equal(d->filter_macro, SEED_FILTER);
    assert_string_equal(macro(c, SEED_FILTER, 0)->definition, "search *");

    /* data sources */
    assert_int_equal(c->ndata_sources, 3);
    bool found = false;
    for (size_t i = 0; i < c->ndata_sources; i++)
        if (strcmp(c->data_sources[i].name, "Sysmon EventID 1") == 0) {
            found = true;
            assert_string_equal(c->data_sources[i].source,
                                "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
            assert_string_equal(c->data_sources[i].sourcetype, "xmlwineventlog");
        }
    assert_true(found);

    /* tactics */
    esc_strlist t = esc_content_tactics(c, "T1070.005");
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0], "defense-evasion");
    t = esc_content_tactics(c, "T1070");
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0], "defense-evasion");
    t = esc_content_tactics(c, "T1053.005");
    assert_true(has(t, "execution") && has(t, "persistence") && has(t, "privilege-escalation"));
    t = esc_content_tactics(c, "T1070.999"); /* unlisted sub-technique: the parent's */
    assert_int_equal(t.n, 1);
    assert_int_equal(esc_content_tactics(c, "T9999").n, 0);
    esc_content_free(c);
    esc_content_free(NULL);
}

static void test_escu(void **state) {
    (void)state;
    const char *dirs[] = {base, escu, shipped};
    esc_content *c = NULL;
    esc_error err;
    assert_int_equal(esc_content_load(dirs + 1, 1, &c, &err), ESC_OK);
    for (size_t i = 0; i < c->warnings.n; i++)
        print_message("warning: %s\n", c->warnings.v[i]);
    assert_int_equal(c->warnings.n, 0);
    assert_int_equal(c->ndetections, 529);
    /* 189 shipped macros + one synthesised filter per detection */
    size_t generated = 0, filters = 0;
    for (size_t i = 0; i < c->macros.n; i++) {
        if (strcmp(c->macros.items[i].definition, "search *") == 0 && c->macros.items[i].origin &&
            strstr(c->macros.items[i].origin, "/detections/"))
            generated++;
    }
    for (size_t i = 0; i < c->ndetections; i++) {
        const esc_detection *d = &c->detections[i];
        assert_non_null(d->filter_macro);
        assert_non_null(macro(c, d->filter_macro, 0));
        if (strstr(d->search, d->filter_macro))
            filters++;
        if (strcmp(d->type, "Hunting") != 0) {
            assert_non_null(d->deployment);
            assert_string_equal(d->deployment->type, d->type);
        }
    }
    assert_int_equal(filters, 529);
    assert_int_equal(c->macros.n, 189 + generated);
    assert_int_equal(generated, 529);
    assert_int_equal(c->ndeployments, 5);
    assert_int_equal(c->ndata_sources, 3);
    assert_int_equal(c->nlookups, 25);
    size_t with_csv = 0;
    for (size_t i = 0; i < c->nlookups; i++)
        with_csv += c->lookups[i].csv_path != NULL;
    assert_int_equal(with_csv, 24);
    const esc_detection *d = esc_content_find(c, SEED_ID);
    assert_non_null(d);
    assert_true(strstr(d->tests[0].attack_data[0].data, "https://media.githubusercontent") ==
                d->tests[0].attack_data[0].data);
    esc_content_free(c);

    /* ESCU then the shipped folder: the shipped detection shadows ESCU's (same id), and ESCU
     * alone has no tactics table, the shipped one covers every technique ESCU names. */
    assert_int_equal(esc_content_load(dirs, 3, &c, &err), ESC_OK);
    assert_int_equal(c->warnings.n, 0);
    assert_int_equal(c->ndetections, 529);
    d = esc_content_find(c, SEED_ID);
    assert_string_equal(d->tests[0].attack_data[0].data,
                        "tests/data/attack/T1070.005/windows-sysmon.log");
    assert_non_null(macro(c, "drop_dm_object_name", 1));
    for (size_t i = 0; i < c->ndetections; i++)
        for (size_t k = 0; k < c->detections[i].mitre_attack_id.n; k++)
            assert_true(esc_content_tactics(c, c->detections[i].mitre_attack_id.v[k]).n > 0);
    esc_content_free(c);
}

static char tmpdir[] = "/tmp/esc_content_XXXXXX";

static void mk(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    write_file(p, text);
}

static void test_override_and_broken(void **state) {
    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    mk("local");
    mk("local/macros");
    mk("local/deployments");
    mk("local/detections");
    mk("local/detections/deep");
    put("local/macros/filter.yml", "definition: search NOT user=svc_backup\n"
                                   "description: local false-positive filter\n"
                                   "name: " SEED_FILTER "\n");
    put("local/macros/ctime.yml", "arguments: [field]\n"
                                  "definition: convert ctime($field$)\n"
                                  "name: security_content_ctime\n");
    put("local/deployments/ttp.yml", "name: Local TTP\n"
                                     "type: TTP\n"
                                     "disabled: false\n"
                                     "scheduling:\n"
                                     "  cron_schedule: '*/5 * * * *'\n"
                                     "  earliest_time: -15m@m\n"
                                     "  latest_time: -5m@m\n"
                                     "alert_action:\n"
                                     "  rba:\n"
                                     "    enabled: false\n");
    /* broken files: bad YAML, a list at the top, no search, deep nesting, not UTF-8 text */
    put("local/detections/broken.yml", "name: [unclosed\nsearch: 'x\n");
    put("local/detections/list.yml", "- a\n- b\n");
    put("local/detections/deep/nosearch.yml", "name: x\nid: y\n");
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 199);
    deep[399] = 0;
    char deepdoc[512];
    snprintf(deepdoc, sizeof deepdoc, "name: n\nid: i\nsearch: s\nx: %s]\n", deep);
    put("local/detections/deep/deep.yml", deepdoc);
    put("local/macros/broken.yml", "name: m\ndefinition: \"unterminated\n");
    /* over the 4 MiB cap */
    {
        char p[512];
        snprintf(p, sizeof p, "%s/local/detections/huge.yml", tmpdir);
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        fputs("name: huge\nid: huge\nsearch: '", f);
        for (int i = 0; i < (5 << 20) / 64; i++)
            fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", f);
        fputs("'\n", f);
        fclose(f);
    }
    put("local/detections/rba.yml",
        "name: Newer Format\nid: rba-1\ntype: TTP\n"
        "search: '| tstats count from datamodel=Endpoint.Processes by Processes.dest'\n"
        "rba:\n  message: Activity on $dest$ by $user$\n"
        "  risk_objects:\n  - field: user\n    type: user\n    score: 56\n"
        "  - field: dest\n    type: system\n    score: 40\n"
        "  threat_objects:\n  - field: process_name\n    type: process_name\n"
        "tags:\n  analytic_story: [X]\n");
    put("local/detections/ok.yml", "name: Local Test\nid: local-1\ntype: TTP\n"
                                   "search: '| tstats count from datamodel=Endpoint.Processes'\n"
                                   "tags:\n  confidence: high\n");

    char local[512];
    snprintf(local, sizeof local, "%s/local", tmpdir);
    const char *dirs[] = {base, shipped, local};
    esc_content *c = NULL;
    esc_error err;
    assert_int_equal(esc_content_load(dirs, 3, &c, &err), ESC_OK);
    for (size_t i = 0; i < c->warnings.n; i++)
        print_message("warning: %s\n", c->warnings.v[i]);
    /* broken.yml, list.yml, nosearch.yml, deep.yml, huge.yml, broken macro, bad confidence */
    assert_int_equal(c->warnings.n, 7);
    bool huge_warned = false;
    for (size_t i = 0; i < c->warnings.n; i++)
        if (strstr(c->warnings.v[i], "huge.yml") && strstr(c->warnings.v[i], "larger than"))
            huge_warned = true;
    assert_true(huge_warned);
    bool deep_warned = false;
    for (size_t i = 0; i < c->warnings.n; i++)
        if (strstr(c->warnings.v[i], "deep.yml") && strstr(c->warnings.v[i], "nesting"))
            deep_warned = true;
    assert_true(deep_warned);
    assert_int_equal(c->ndetections, 3);
    const esc_detection *r = esc_content_find(c, "rba-1");
    assert_non_null(r);
    assert_string_equal(r->message, "Activity on $dest$ by $user$");
    assert_int_equal(r->nobservables, 3);
    assert_string_equal(r->observables[0].name, "user");
    assert_string_equal(r->observables[0].type, "User");
    assert_string_equal(r->observables[0].roles.v[0], "Victim");
    assert_string_equal(r->observables[1].type, "Hostname");
    assert_string_equal(r->observables[2].name, "process_name");
    assert_string_equal(r->observables[2].type, "process_name");
    assert_string_equal(r->observables[2].roles.v[0], "Attacker");
    assert_non_null(r->observable_scores);
    assert_int_equal(r->observable_scores[0], 56);
    assert_int_equal(r->observable_scores[1], 40);
    assert_int_equal(r->observable_scores[2], -1);
    assert_int_equal(r->risk_score, 56);
    assert_null(esc_content_find(c, SEED_ID)->observable_scores);
    const esc_detection *d = esc_content_find(c, SEED_ID);
    assert_non_null(d);
    assert_string_equal(macro(c, SEED_FILTER, 0)->definition, "search NOT user=svc_backup");
    assert_string_equal(macro(c, "security_content_ctime", 1)->definition,
                        "convert ctime($field$)");
    size_t nfilter = 0;
    for (size_t i = 0; i < c->macros.n; i++)
        nfilter += strcmp(c->macros.items[i].name, SEED_FILTER) == 0;
    assert_int_equal(nfilter, 1);
    assert_non_null(d->deployment);
    assert_string_equal(d->deployment->name, "Local TTP");
    assert_string_equal(d->deployment->cron_schedule, "*/5 * * * *");
    assert_false(d->deployment->disabled);
    assert_false(d->deployment->rba);
    assert_false(d->deployment->notable);
    const esc_detection *l = esc_content_find(c, "local-1");
    assert_non_null(l);
    assert_int_equal(l->confidence, -1);
    assert_string_equal(l->filter_macro, "local_test_filter");
    assert_non_null(macro(c, "local_test_filter", 0));
    esc_content_free(c);

    /* a folder with nothing loadable, and one that does not exist */
    mk("empty");
    char empty[512];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    const char *d2[] = {shipped, empty};
    assert_int_equal(esc_content_load(d2, 2, &c, &err), ESC_ECONTENT);
    assert_null(c);
    const char *d3[] = {"/nonexistent/escudo/content"};
    assert_int_equal(esc_content_load(d3, 1, &c, &err), ESC_EIO);
    assert_null(c);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_single_file(void **state) {
    (void)state;
    const char *dirs[] = {ESC_SOURCE_DIR "/content/base", ESC_SHARED_DATA "/escu",
                          ESC_SOURCE_DIR "/content/detections/endpoint/"
                                         "create_or_delete_windows_shares_using_net_exe.yml"};
    esc_content *c = NULL;
    esc_error err;
    assert_int_equal(esc_content_load(dirs, 3, &c, &err), ESC_OK);
    assert_int_equal(c->ndetections, 529);
    const esc_detection *d = esc_content_find(c, SEED_ID);
    assert_string_equal(d->tests[0].attack_data[0].data,
                        "tests/data/attack/T1070.005/windows-sysmon.log");
    esc_content_free(c);
    char p[] = "/tmp/esc_single_XXXXXX.yml";
    int fd = mkstemps(p, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "name: x\nid: y\n", 14), 14);
    close(fd);
    const char *bad[] = {ESC_SOURCE_DIR "/content", p};
    assert_int_equal(esc_content_load(bad, 2, &c, &err), ESC_ECONTENT);
    if (!strstr(err.msg, "without a search"))
        print_message("err: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "without a search"));
    unlink(p);
}

static void test_yaml_limits(void **state) {
    (void)state;
    esc_arena a;
    esc_arena_init(&a, 0, 1 << 20);
    esc_ynode *root;
    esc_error err;
    const char *doc = "a: &x 1\nb: *x\nc: ~\nd: 'null'\ne:\n";
    assert_int_equal(esc_yaml_parse(doc, strlen(doc), &a, 8, &root, &err), ESC_OK);
    assert_string_equal(esc_ynode_str(esc_ymap_get(root, "a")), "1");
    assert_true(esc_ynode_is_null(esc_ymap_get(root, "b")));
    assert_true(esc_ynode_is_null(esc_ymap_get(root, "c")));
    assert_string_equal(esc_ynode_str(esc_ymap_get(root, "d")), "null");
    assert_true(esc_ynode_is_null(esc_ymap_get(root, "e")));
    const char *deep = "[[[[[[[[[1]]]]]]]]]";
    assert_int_equal(esc_yaml_parse(deep, strlen(deep), &a, 8, &root, &err), ESC_ELIMIT);
    assert_int_equal(esc_yaml_parse(deep, strlen(deep), &a, 9, &root, &err), ESC_OK);
    const char *bad = "a: [1, 2\nb: 3\n";
    assert_int_equal(esc_yaml_parse(bad, strlen(bad), &a, 8, &root, &err), ESC_ECONTENT);
    assert_true(err.line > 0);
    /* a tiny arena cap: the document does not fit, a clean error */
    esc_arena small;
    esc_arena_init(&small, 64, 256);
    const char *big =
        "k: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, b, c, d, e, f]\n";
    assert_int_equal(esc_yaml_parse(big, strlen(big), &small, 8, &root, &err), ESC_ELIMIT);
    esc_arena_fini(&small);
    esc_arena_fini(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_escu),
        cmocka_unit_test(test_override_and_broken),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_yaml_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
