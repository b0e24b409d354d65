/* Static validation of one detection (esc_ctest_validate): what `contentctl validate` checks
 * without running anything, and the planning of a detection's search that the replayed tests
 * share (esc_ctest_plan).
 *
 * The search is planned by the engine exactly as hunt plans it (esc_engine_new, strict), so
 * lookups and macros are the same; a planner message that means "escudo does not implement
 * this" (or names a lookup of Splunk Enterprise Security) makes the detection "not validated",
 * a skip, never a pass. The search's output columns, against which observables and the $tokens$
 * of tags.message are checked, are those of the engine's result over no input at all: a
 * pipeline's result schema is static, so no accessor on the plan is needed, and like the
 * replayed tests (ctest_replay.c) this drives only the engine, never a plan's execution.
 *
 * Invariants: a detection gets exactly one static result; every finding is a reason on it,
 * only ESC_ENOMEM / ESC_ELIMIT are errors. The YAML file is read again (at most CTEST_YAML_MAX
 * bytes) only to tell an absent data_source key from an empty one.
 * Deliberately not done: checks that need Splunk apps (lookups' contents, data model
 * acceleration), and content-wide checks (duplicate ids, files loading skipped: the scan in
 * ctest_discover.c). */
#include "detect/ctest_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "content/yaml_tree.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- planning ---------------------------------------------------------------------------- */

/* Planner messages that mean "escudo does not implement this" rather than "this is wrong". */
static bool unsupported_msg(const char *msg) {
    return strstr(msg, "unsupported") || strstr(msg, "not supported") ||
           strstr(msg, "not implemented");
}

esc_status esc_ctest_plan(const esc_content *c, const esc_detection *d, esc_engine **engine,
                          char *broken, char *unsupported, esc_error *err) {
    const size_t cap = CTEST_MSG_MAX;
    *engine = NULL;
    broken[0] = unsupported[0] = 0;
    if (!d->search) {
        snprintf(broken, cap, "the detection has no search");
        return ESC_OK;
    }
    char *expanded = NULL;
    esc_error e = {0};
    esc_status st = esc_spl_expand(d->search, &c->macros, &expanded, &e);
    esc_free(expanded);
    if (st == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (st != ESC_OK) {
        if (e.has_offset)
            snprintf(broken, cap, "search: %s (at byte %llu of the search)", e.msg,
                     (unsigned long long)e.offset);
        else
            snprintf(broken, cap, "search: %s", e.msg);
        return ESC_OK;
    }
    esc_error_clear(&e);
    st = esc_engine_new(c, &d, 1, true, engine, &e);
    if (st == ESC_OK)
        return ESC_OK;
    *engine = NULL;
    if (st == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    /* the strict engine prefixes the detection's name */
    const char *msg = e.msg;
    size_t nl = d->name ? strlen(d->name) : 0;
    if (nl && strncmp(msg, d->name, nl) == 0 && msg[nl] == ':' && msg[nl + 1] == ' ')
        msg += nl + 2;
    char where[160] = "";
    if (e.has_offset)
        snprintf(where, sizeof where, " (at byte %llu of the expanded search)",
                 (unsigned long long)e.offset);
    bool ours = unsupported_msg(msg);
    /* a lookup that Splunk Enterprise Security provides (its asset and identity framework, the
     * CIM app's settings) is missing from escudo, not from the content */
    static const char *const es_lookups[] = {
        "asset_lookup_by_str", "asset_lookup_by_cidr", "identity_lookup_expanded",
        "cim_corporate_email_domain_lookup", "cim_corporate_web_domain_lookup"};
    const char *lk = "unknown lookup '";
    if (!ours && strncmp(msg, lk, strlen(lk)) == 0) {
        const char *nm = msg + strlen(lk), *q = strchr(nm, '\'');
        for (size_t i = 0; q && i < sizeof es_lookups / sizeof es_lookups[0] && !ours; i++)
            ours = strlen(es_lookups[i]) == (size_t)(q - nm) &&
                   memcmp(es_lookups[i], nm, (size_t)(q - nm)) == 0;
        if (ours)
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     "; an Enterprise Security lookup escudo does not have");
    }
    snprintf(ours ? unsupported : broken, cap, "%s%s", msg, where);
    return ESC_OK;
}

/* The final columns: the engine over no input (a pipeline's result schema is static). *out is
 * the hunt's result table, valid until *hunt is freed. */
static esc_status final_columns(const esc_engine *engine, esc_hunt **hunt, const esc_table **out,
                                esc_error *err) {
    *out = NULL;
    esc_hunt_opts ho = {.earliest_us = 0, .latest_us = ESC_TIME_MAX};
    esc_status st = esc_hunt_new(engine, &ho, NULL, 0, hunt, err);
    if (st == ESC_OK && (st = esc_hunt_finish(*hunt, err)) == ESC_OK)
        *out = esc_hunt_table(*hunt, 0);
    return st;
}

/* ---- static validation -------------------------------------------------------------------- */

static bool is_uuid(const char *s) {
    static const int groups[5] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++) {
            char c = *s;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return false;
        }
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == 0;
}

/* The columns as "a, b, c" (truncated) for messages. */
static void cols_text(const esc_table *t, char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < t->ncols && n + 8 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", t->cols[i]);
        if (w < 0 || (size_t)w >= cap - n) {
            snprintf(out + (cap > 5 ? cap - 5 : 0), cap > 5 ? 5 : cap, "...");
            return;
        }
        n += (size_t)w;
    }
}

static const char *const TYPES[] = {"TTP",         "Anomaly",  "Hunting",
                                    "Correlation", "Baseline", "Deprecated"};
static const char *const STATUSES[] = {"production", "experimental", "deprecated", "validation"};
static const char *const DOMAINS[] = {"endpoint", "network", "threat", "identity",
                                      "access",   "audit",   "cloud"};

static bool in_list(const char *s, const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return true;
    return false;
}

/* Whether the detection's YAML has a top-level key (an empty list counts: ESCU writes
 * `data_source: []`, which contentctl accepts). Unreadable files count as having it: loading
 * already read this one. */
static bool yaml_has_key(const char *path, const char *key) {
    bool has = true;
    esc_arena a;
    esc_arena_init(&a, 64 * 1024, 64u << 20);
    char *data = esc_malloc(CTEST_YAML_MAX + 1);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (data && f) {
        size_t n = fread(data, 1, CTEST_YAML_MAX + 1, f);
        esc_ynode *root = NULL;
        if (n <= CTEST_YAML_MAX && esc_yaml_parse(data, n, &a, 64, &root, NULL) == ESC_OK && root &&
            root->kind == ESC_Y_MAP) {
            const esc_ynode *v = esc_ymap_get(root, key);
            has =
                v && (v->kind != ESC_Y_NULL && !(v->kind == ESC_Y_SCALAR && esc_ynode_is_null(v)));
        }
    }
    if (f)
        fclose(f);
    esc_free(data);
    esc_arena_fini(&a);
    return has;
}

/* contentctl: the file is named after the detection: spaces, '-', '.' and '/' become '_', all
 * lower-cased, plus .yml. */
static esc_status check_file_name(esc_ctest_result *r, const esc_detection *d, esc_error *err) {
    const char *base = strrchr(d->path, '/');
    base = base ? base + 1 : d->path;
    char want[512];
    size_t n = 0;
    for (const char *p = d->name; *p && n + 5 < sizeof want; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '.' || c == '/')
            c = '_';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        want[n++] = c;
    }
    memcpy(want + n, ".yml", 5);
    size_t bl = strlen(base);
    bool yaml = bl > 5 && strcmp(base + bl - 5, ".yaml") == 0;
    if (yaml ? (bl - 5 == n && memcmp(base, want, n) == 0) : strcmp(base, want) == 0)
        return ESC_OK;
    return esc_ctest_reason(r, err, "file name %s does not follow the name (expected %s)", base,
                            want);
}

static esc_status check_required(esc_ctest_result *r, const esc_detection *d, esc_error *err) {
    bool data_source_key = d->data_sources.n > 0 || yaml_has_key(d->path, "data_source") ||
                           yaml_has_key(d->path, "data_sources");
    struct {
        const char *name;
        bool missing;
    } req[] = {
        {"name", is_blank(d->name)},
        {"id", is_blank(d->id)},
        {"version", d->version <= 0},
        {"date", is_blank(d->date)},
        {"author", is_blank(d->author)},
        {"type", is_blank(d->type)},
        {"status", is_blank(d->status)},
        {"description", is_blank(d->description)},
        {"search", is_blank(d->search)},
        {"how_to_implement", is_blank(d->how_to_implement)},
        {"known_false_positives", is_blank(d->known_false_positives)},
        {"data_source", !data_source_key},
        {"tags.analytic_story", d->analytic_story.n == 0},
        {"tags.asset_type", is_blank(d->asset_type)},
        {"tags.product", d->product.n == 0},
        {"tags.security_domain", is_blank(d->security_domain)},
    };
    esc_status st = ESC_OK;
    for (size_t i = 0; i < NELEM(req) && st == ESC_OK; i++)
        if (req[i].missing)
            st = esc_ctest_reason(r, err, "required field %s is missing or empty", req[i].name);
    if (st == ESC_OK && !is_blank(d->id) && !is_uuid(d->id))
        st = esc_ctest_reason(r, err, "id '%s' is not a UUID", d->id);
    if (st == ESC_OK && !is_blank(d->type) && !in_list(d->type, TYPES, NELEM(TYPES)))
        st = esc_ctest_reason(r, err,
                              "type '%s' is not one of TTP, Anomaly, Hunting, Correlation, "
                              "Baseline, Deprecated",
                              d->type);
    if (st == ESC_OK && !is_blank(d->status) && !in_list(d->status, STATUSES, NELEM(STATUSES)))
        st = esc_ctest_reason(r, err,
                              "status '%s' is not one of production, experimental, deprecated, "
                              "validation",
                              d->status);
    if (st == ESC_OK && !is_blank(d->security_domain) &&
        !in_list(d->security_domain, DOMAINS, NELEM(DOMAINS)))
        st = esc_ctest_reason(r, err,
                              "tags.security_domain '%s' is not one of endpoint, network, "
                              "threat, identity, access, audit, cloud",
                              d->security_domain);
    /* risk: what the actions need for TTP and Anomaly (risk-based alerting) */
    bool rba = d->type && (strcmp(d->type, "TTP") == 0 || strcmp(d->type, "Anomaly") == 0);
    if (st == ESC_OK && rba && is_blank(d->message))
        st = esc_ctest_reason(r, err, "tags.message is missing (a %s detection makes risk events)",
                              d->type);
    if (st == ESC_OK && rba && d->nobservables == 0)
        st = esc_ctest_reason(
            r, err, "tags.observable is missing (a %s detection makes risk events)", d->type);
    if (st == ESC_OK && d->impact >= 0 && d->confidence >= 0 && d->risk_score >= 0) {
        int want = (int)lround((double)d->impact * (double)d->confidence / 100.0);
        if (want != d->risk_score)
            st = esc_ctest_reason(r, err,
                                  "tags.risk_score %d is not round(impact*confidence/100) = "
                                  "round(%d*%d/100) = %d",
                                  d->risk_score, d->impact, d->confidence, want);
    }
    if (st == ESC_OK && rba && d->risk_score < 0 && (d->impact < 0 || d->confidence < 0))
        st = esc_ctest_reason(r, err,
                              "no risk score: tags.risk_score, or tags.impact and "
                              "tags.confidence, are missing");
    if (st == ESC_OK && !is_blank(d->name) && d->path)
        st = check_file_name(r, d, err);
    for (size_t i = 0; i < d->nobservables && st == ESC_OK; i++) {
        const esc_observable *o = &d->observables[i];
        if (is_blank(o->type))
            st = esc_ctest_reason(r, err, "observable %s has no type", o->name);
        else if (o->roles.n == 0)
            st = esc_ctest_reason(r, err, "observable %s has no role", o->name);
    }
    return st;
}

esc_status esc_ctest_validate(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                              esc_error *err) {
    esc_ctest_result r;
    esc_engine *engine = NULL;
    esc_hunt *hunt = NULL;
    const esc_table *cols = NULL;
    char broken[CTEST_MSG_MAX], unsupported[CTEST_MSG_MAX];
    esc_status st =
        esc_ctest_result_begin(&r, d->name, d->id, d->path, ESC_CTEST_STATIC, NULL, err);
    if (st != ESC_OK)
        return st;
    if ((st = check_required(&r, d, err)) != ESC_OK)
        goto fail;
    if ((st = esc_ctest_plan(c, d, &engine, broken, unsupported, err)) != ESC_OK)
        goto fail;
    if (broken[0]) {
        if ((st = esc_ctest_reason(&r, err, "%s", broken)) != ESC_OK)
            goto fail;
    } else if (unsupported[0]) {
        /* never a pass: a skip, or a failure that also says why the rest was not checked */
        if ((st = esc_ctest_reason(&r, err, "not validated: %s", unsupported)) != ESC_OK)
            goto fail;
        if (r.nreasons == 1)
            r.outcome = ESC_CTEST_SKIP;
    } else {
        esc_error xe = {0};
        st = final_columns(engine, &hunt, &cols, &xe);
        if (st == ESC_ENOMEM) {
            if (err)
                *err = xe;
            goto fail;
        }
        if (st != ESC_OK) {
            st = esc_ctest_reason(&r, err, "search: %s", xe.msg);
            if (st != ESC_OK)
                goto fail;
        } else {
            char have[1024];
            cols_text(cols, have, sizeof have);
            for (size_t i = 0; i < d->nobservables && st == ESC_OK; i++) {
                const char *nm = d->observables[i].name;
                if (table_col_n(cols, nm, strlen(nm)) < 0)
                    st = esc_ctest_reason(
                        &r, err, "observable %s is not among the search's output fields (%s)", nm,
                        have);
            }
            size_t pos = 0, s0, n;
            while (st == ESC_OK && d->message && next_token(d->message, &pos, &s0, &n))
                if (table_col_n(cols, d->message + s0, n) < 0)
                    st = esc_ctest_reason(
                        &r, err,
                        "tags.message token $%.*s$ is not among the search's output "
                        "fields (%s)",
                        (int)n, d->message + s0, have);
            if (st != ESC_OK)
                goto fail;
        }
    }
    st = esc_ctest_report_add(rep, &r, err);
fail:
    esc_ctest_result_fini(&r);
    esc_hunt_free(hunt);
    esc_engine_free(engine);
    return st;
}
