/* Detection content in the ESCU format: detections, macros, deployments, lookups, data
 * sources, loaded from one or more folders laid out like splunk/security_content.
 *
 * Later folders shadow earlier ones (as Splunk's local/ shadows default/): a detection with the
 * same id replaces the earlier one, a macro with the same name and arity wins, a deployment
 * with the same name replaces. A file that cannot be read or parsed is recorded in
 * content->warnings and skipped; the rest still loads. Everything is owned by the esc_content
 * (one arena) and is read-only after esc_content_load returns. A detection's `<name>_filter`
 * macro that no folder defines is synthesised as `search *` (SPEC section 1). */
#ifndef ESC_CONTENT_CONTENT_H
#define ESC_CONTENT_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
#include "spl/macro.h"

typedef struct esc_strlist {
    const char *const *v;
    size_t n;
} esc_strlist;

typedef struct esc_observable {
    const char *name;
    const char *type;  /* User, Hostname, Process, ... */
    esc_strlist roles; /* Victim, Attacker, ... */
} esc_observable;

typedef struct esc_drilldown {
    const char *name, *search, *earliest_offset, *latest_offset;
} esc_drilldown;

typedef struct esc_attack_data {
    const char *data; /* URL or path as written */
    const char *source, *sourcetype;
} esc_attack_data;

typedef struct esc_detection_test {
    const char *name;
    const esc_attack_data *attack_data;
    size_t nattack_data;
} esc_detection_test;

typedef struct esc_deployment {
    const char *path, *name, *id, *type; /* type: TTP, Anomaly, ... (ESCU default configs) */
    const char *cron_schedule, *earliest_time, *latest_time, *schedule_window;
    bool notable;                 /* alert_action.notable present */
    const char *rule_title;       /* e.g. "%name%" */
    const char *rule_description; /* e.g. "%description%" */
    esc_strlist nes_fields;
    bool rba;      /* alert_action.rba.enabled */
    bool disabled; /* ESCU ships detections disabled */
} esc_deployment;

typedef struct esc_detection {
    const char *path; /* file it was loaded from */
    const char *name, *id, *type, *status, *date, *author;
    int version;
    const char *description, *search, *how_to_implement, *known_false_positives;
    esc_strlist data_sources, references;
    const esc_drilldown *drilldowns;
    size_t ndrilldowns;
    /* tags */
    esc_strlist analytic_story, mitre_attack_id, product, required_fields;
    const char *asset_type, *security_domain, *message;
    int confidence, impact, risk_score; /* -1 when absent */
    const esc_observable *observables;
    size_t nobservables;
    const esc_detection_test *tests;
    size_t ntests;
    const esc_deployment *deployment; /* by the detection's type; NULL if none matches */
    const char *filter_macro; /* name of its zero-argument `<name>_filter` macro (always set) */
    /* Risk score of each observable (nobservables entries, -1 = the detection's score), from
     * the newer ESCU `rba:` block whose risk_objects carry their own score; NULL otherwise.
     * An `rba:` block (message, risk_objects, threat_objects) is read into message and
     * observables (risk objects as role Victim, threat objects as role Attacker). */
    const int *observable_scores;
} esc_detection;

typedef struct esc_data_source {
    const char *path, *name, *source, *sourcetype;
} esc_data_source;

typedef struct esc_lookup {
    const char *path, *name, *filename; /* filename: the CSV beside it, or NULL (KV store) */
    const char *csv_path;               /* resolved path of the CSV, or NULL */
    bool case_sensitive_match;          /* Splunk's default: true */
    const char *match_type;             /* "WILDCARD(a),WILDCARD(b)", or NULL */
    const char *default_match;          /* output when fewer than min_matches rows match */
    size_t min_matches, max_matches;    /* 0: not set (Splunk: 0 and 100) */
} esc_lookup;

typedef struct esc_mitre_tactic {
    const char *technique; /* T1070.005 */
    esc_strlist tactics;   /* defense-evasion, ... */
} esc_mitre_tactic;

typedef struct esc_content {
    const esc_detection *detections;
    size_t ndetections;
    esc_macro_set macros;
    const esc_deployment *deployments;
    size_t ndeployments;
    const esc_data_source *data_sources;
    size_t ndata_sources;
    const esc_lookup *lookups;
    size_t nlookups;
    const esc_mitre_tactic *mitre;
    size_t nmitre;
    esc_strlist warnings; /* "path: message" for each file skipped or field ignored */
    esc_arena arena;      /* owns everything above */
} esc_content;

/* Load folders in order (later ones shadow earlier). An entry may also be one detection YAML
 * file, loaded as if it were in a folder of its own. ESC_ECONTENT only when nothing usable
 * could be loaded from a folder that exists; per-file problems become warnings. */
esc_status esc_content_load(const char *const *dirs, size_t ndirs, esc_content **out,
                            esc_error *err);
void esc_content_free(esc_content *c);
/* The folder where parsed content files are kept for later runs (content/ycache.c; made when
 * first written), or NULL: none. Call before loading; the path is copied. */
void esc_content_cache_use(const char *dir);
/* By exact name, id, or file path/basename of the YAML; NULL if none. */
const esc_detection *esc_content_find(const esc_content *c, const char *name_or_id_or_file);
/* Tactics for a technique id (e.g. "defense-evasion" for T1070.005), or an empty list. */
esc_strlist esc_content_tactics(const esc_content *c, const char *technique);

#endif
