/* The Splunk view of one event: the fields search-time extraction gives it (SPEC section 8).
 *
 * An event read from EVTX, XmlWinEventLog or any JSON shape is seen as the XmlWinEventLog event
 * Splunk's Windows add-on would have indexed: source, sourcetype, host, the System fields under
 * the add-on's names, EventData/Data by Name, UserData leaves, then the add-ons' aliases and
 * calculated fields, eventtype and tag. docs/fields.md lists every field and the add-on stanza
 * it comes from.
 *
 * A field set is an ordered list of (name, value) pairs. A multivalue field is several
 * consecutive pairs with one name. A field extraction does not produce is absent (not empty).
 * Names are case-sensitive, as in Splunk. Values are views into the event or the caller's arena:
 * valid as long as both. */
#ifndef ESC_FIELDS_FIELDS_H
#define ESC_FIELDS_FIELDS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "parse/event.h"

#define ESC_FIELDS_MAX_MV 64    /* values of one field a rule copies or eventtype lists */
#define ESC_FIELDS_MAX_EVAL 128 /* EVAL settings applied to one event */

typedef struct esc_field {
    esc_str name;
    esc_str value;
} esc_field;

typedef struct esc_fields_ix esc_fields_ix;

typedef struct esc_fields {
    esc_field *f;
    size_t n, cap;
    /* esc_fields_extract's sets: an index of the names (in the arena), kept by esc_fields_add
     * and extraction; NULL elsewhere (lookups then scan). A set with one must change only
     * through esc_fields_add. */
    esc_fields_ix *ix;
    int64_t time_us; /* _time */
    bool has_time;
    esc_str
        raw; /* _raw when the event carries its rendering (EVTX with xml, XML input), else null */
    const esc_event *ev; /* the event (provenance) */
} esc_fields;

/* The whole-element field of each esc_xml_part: the inner XML of that child of <Event> as the
 * event has it (esc_event.parts), made for the events that carry it. */
extern const char *const esc_fields_whole[ESC_XML_NPARTS];

/* Extract ev's fields into out (out->f allocated from a). native: the log's own values where an
 * add-on rule loses or bends one (docs/fields.md). ESC_ELIMIT / ESC_ENOMEM when the arena is
 * full. The strings of ev it reads (channel, computer, System and data pairs, parts, xml) are
 * those the text check gathers for an event without text (detect/litfilter.c values_text):
 * keep the two in step. */
esc_status esc_fields_extract(const esc_event *ev, bool native, esc_arena *a, esc_fields *out,
                              esc_error *err);
/* Append one pair (value copied into a only when copy is set). */
esc_status esc_fields_add(esc_fields *fs, esc_arena *a, esc_str name, esc_str value, bool copy);
/* First value of field name, or ESC_STR_NULL when absent. */
esc_str esc_fields_get(const esc_fields *fs, esc_str name);
/* Values of field name, up to max into out; returns how many it has. */
size_t esc_fields_values(const esc_fields *fs, esc_str name, esc_str *out, size_t max);
/* The hash of a field name the index of an extracted set keeps (and litfilter's name table):
 * its first and last eight bytes (overlapping when shorter), or its first, middle and last
 * byte when shorter than four, and its length; constant time, no call. */
static inline uint32_t esc_fields_name_hash(esc_str n) {
    const unsigned char *p = (const unsigned char *)n.ptr;
    uint64_t a = 0, b = 0;
    if (n.len >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n.len - 8, 8);
    } else if (n.len >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n.len - 4, 4);
        a = x | (uint64_t)y << 32;
    } else if (n.len) {
        a = p[0] | (uint64_t)p[n.len / 2] << 8 | (uint64_t)p[n.len - 1] << 16;
    }
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ n.len) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h ^ (h >> 32));
}
/* Whether lit, wherever extraction's values of a Windows event read from XML hold it (ASCII
 * case-insensitively), is also in the event's text (esc_event.text), as long as that text
 * holds no '&' and no "<!" (entities, comments and CDATA make values that are not pieces of
 * it). Every value is a piece of the text, a number read from it, a constant of the add-on
 * rules, or two of those joined (source's "XmlWinEventLog:" and the channel; the process of
 * an event esc_fields_joins: the program and the arguments joined by a space, the program
 * maybe quoted); eventtype and tag values come from the tables alone. So the field must be
 * neither eventtype nor tag, and lit printable ASCII without ':', not digits only, and in no
 * constant: then 2 when it holds a space or '"' (it is bound for events that do not join),
 * else 1; 0 when it is not bound. */
int esc_fields_text_bound(const char *field, const char *lit);
/* Two of the add-ons' action rules, which the data models also apply to events whose field was
 * not extracted (cim/cim.c, cim/dm.c): a Sysmon 12 by its EventType (Splunk_TA_microsoft_sysmon:
 * CreateKey created, DeleteKey or DeleteValue deleted), a Security 4688 by its Keywords
 * (Splunk_TA_windows: 0x8020000000000000, audit success, allowed); otherwise none (NULL). */
esc_str esc_fields_reg_action(esc_str event_type);
esc_str esc_fields_4688_action(esc_str keywords);
/* True when extraction may join two pieces of ev's text with a space or '"' (Security 4688's
 * EVAL-process). */
bool esc_fields_joins(const esc_event *ev);
/* The name of eventtype row i (i < esc_fields_neventtypes()) extraction may give a Windows
 * event; NULL for a row that only adds tags (a field-value stanza of tags.conf). */
size_t esc_fields_neventtypes(void);
const char *esc_fields_eventtype(size_t i);

#endif
