/* Source event -> CIM Endpoint.Processes record (SPEC section 2).
 *
 * The mapping is a table per (source, profile); see cim.c and docs/cim.md. A record's values
 * are views into the event or into the caller's arena. A value that the source cannot fill is
 * "unknown" for the fields the CIM app defaults (dest, user, process, process_name,
 * parent_process, parent_process_name, original_file_name) and absent (ptr == NULL) otherwise.
 * This module does not filter on detections; it only maps. */
#ifndef ESC_CIM_CIM_H
#define ESC_CIM_CIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "fields/fields.h"
#include "parse/event.h"

typedef enum esc_cim_field {
    ESC_CIM_DEST,
    ESC_CIM_USER,
    ESC_CIM_PROCESS,
    ESC_CIM_PROCESS_NAME,
    ESC_CIM_PROCESS_PATH,
    ESC_CIM_ORIGINAL_FILE_NAME,
    ESC_CIM_PARENT_PROCESS,
    ESC_CIM_PARENT_PROCESS_NAME,
    ESC_CIM_PARENT_PROCESS_PATH,
    ESC_CIM_PROCESS_ID,
    ESC_CIM_PARENT_PROCESS_ID,
    ESC_CIM_PROCESS_GUID,
    ESC_CIM_PARENT_PROCESS_GUID,
    ESC_CIM_PROCESS_HASH,
    ESC_CIM_PROCESS_INTEGRITY_LEVEL,
    ESC_CIM_PROCESS_CURRENT_DIRECTORY,
    ESC_CIM_VENDOR_PRODUCT,
    ESC_CIM_ACTION,
    ESC_CIM_PROCESS_EXEC,
    ESC_CIM_PARENT_PROCESS_EXEC,
    ESC_CIM_NFIELDS
} esc_cim_field;

typedef enum esc_profile {
    ESC_PROFILE_SPLUNK = 0,
    ESC_PROFILE_NATIVE,
} esc_profile;

typedef enum esc_cim_source {
    ESC_SRC_NONE = 0,
    ESC_SRC_SYSMON1,
    ESC_SRC_SECURITY4688,
    ESC_SRC_CROWDSTRIKE,
    /* The other events Splunk's add-ons tag `process report` (the Endpoint.Processes
     * constraint), each mapped with the add-on's rules for its code (docs/cim.md):
     * Splunk_TA_microsoft_sysmon eventtype ms-sysmon-process, EventCode 5, 6, 9, 15, 17, 18
     * (SYSMON_TAGGED) and 8, 10 (SYSMON_SOURCE: the source process acts); Splunk_TA_windows
     * eventtype windows_endpoint_processes, 4689, 4673, 4674 (SECURITY_TAGGED) and 4696. */
    ESC_SRC_SYSMON_TAGGED,
    ESC_SRC_SYSMON_SOURCE,
    ESC_SRC_SECURITY_TAGGED,
    ESC_SRC_SECURITY4696,
    ESC_SRC_N
} esc_cim_source;

/* The datasets a record can belong to: Endpoint.Processes (the fixed record above), the other
 * CIM datasets of dm.c, and raw events (every field search-time extraction gives). */
typedef enum esc_dataset {
    ESC_DS_PROCESSES = 0,
    ESC_DS_REGISTRY,
    ESC_DS_FILESYSTEM,
    ESC_DS_SERVICES,
    ESC_DS_TRAFFIC,
    ESC_DS_DNS,
    ESC_DS_AUTH,
    ESC_DS_CHANGE,
    ESC_DS_ALERTS, /* Alerts: events tagged `alert` (no Windows add-on escudo follows tags one) */
    ESC_DS_RISK,   /* Risk.All_Risk: escudo's own risk events (detect/risk_stage.c feeds them) */
    ESC_DS_RAW,
    ESC_DS_N
} esc_dataset;

typedef struct esc_record {
    int64_t time_us; /* _time */
    esc_str v[ESC_CIM_NFIELDS];
    esc_cim_source source;
    const esc_event *ev; /* the event it came from (provenance, valid as long as the event) */
    /* ESC_DS_PROCESSES: v[] holds the fields (fs is NULL). Any other dataset: fs holds them by
     * name (dataset field names without the prefix; for ESC_DS_RAW the event's own fields). */
    esc_dataset ds;
    const esc_fields *fs;
    /* ESC_DS_PROCESSES: NULL, or per field of v[] its esc_str_hash (a record made on the
     * reading thread has them, detect/feed.c premap), which tstats groups by instead of hashing
     * the value again for each search */
    const uint64_t *vh;
} esc_record;

/* "dest", "user", ... ; NULL for an out-of-range id. */
const char *esc_cim_field_name(esc_cim_field f);
/* Field id for a CIM field name (exact), or -1. "_time" is not a string field: -1. */
int esc_cim_field_lookup(esc_str name);
/* The names of the data fields the mappings read, NULL-terminated (for esc_interest.fields). */
const char *const *esc_cim_raw_fields(void);

/* Host inventory from CrowdStrike aidmaster records: aid -> ComputerName (last one wins). */
typedef struct esc_hostmap esc_hostmap;
esc_hostmap *esc_hostmap_new(void);
void esc_hostmap_free(esc_hostmap *m);
/* Copies both strings. ESC_ELIMIT when the map is full (ESC_HOSTMAP_MAX entries). */
esc_status esc_hostmap_put(esc_hostmap *m, esc_str aid, esc_str computer);
esc_str esc_hostmap_get(const esc_hostmap *m, esc_str aid);
size_t esc_hostmap_count(const esc_hostmap *m);
#define ESC_HOSTMAP_MAX 1000000

/* Which source an event is, or ESC_SRC_NONE when it does not enter the dataset. */
esc_cim_source esc_cim_classify(const esc_event *ev);
/* The (provider, event code) pairs of every Windows source above (for the readers' interest);
 * returns how many there are (up to max written). */
size_t esc_cim_win_sources(esc_win_source *out, size_t max);

/* Map ev to a record. ESC_SKIP when the event does not enter the dataset; ESC_EMALFORMED (err
 * set) when it has no usable time; ESC_ELIMIT/ESC_ENOMEM when the arena is full. hosts may be
 * NULL. *unresolved is set when a CrowdStrike dest could not be resolved (may be NULL). */
esc_status esc_cim_map(const esc_event *ev, esc_profile profile, const esc_hostmap *hosts,
                       esc_arena *arena, esc_record *out, bool *unresolved, esc_error *err);

/* ---- the other data models (dm.c) ---- */

/* The dataset "Model.Dataset" names (Endpoint.Registry, Network_Traffic.All_Traffic, ...; a
 * model alone names its root dataset), or -1. */
int esc_dm_lookup(esc_str name);
/* The prefix tstats writes before a dataset's fields ("Registry"), or NULL for raw events. */
const char *esc_dm_prefix(int ds);
/* "Endpoint.Registry" (in buf), or "raw events". */
const char *esc_dm_name(int ds, char *buf, size_t cap);
/* The (provider, event code) pairs standing in for the dataset's tag constraint; returns how
 * many there are (up to max written). */
size_t esc_dm_sources(int ds, esc_win_source *out, size_t max);
/* True when ev is one of those sources. */
bool esc_dm_wants(int ds, const esc_event *ev);
/* The dataset's view of an event's fields: ESC_SKIP when the event is not in it (its tags, or
 * while it has none its source, and the dataset's constraint decide); else out holds the
 * dataset's fields (views into fs, its event or a). ESC_ELIMIT / ESC_ENOMEM: arena full.
 * ESC_DS_RISK takes a risk event's own fields (fs->ev may be NULL): every one of them, plus the
 * fields Enterprise Security's annotation enrichment adds (docs/cim.md, "Risk.All_Risk"). */
esc_status esc_dm_map(int ds, const esc_fields *fs, esc_arena *a, esc_fields *out);

#endif
