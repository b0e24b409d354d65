/* XmlWinEventLog: one <Event> element -> esc_event (SPEC section 3).
 *
 * esc_xml_event_parse parses the text of one complete <Event>...</Event> element (UTF-8).
 * Used by the XML stream reader and by the JSON reader for Splunk exports whose _raw is XML.
 * Views in ev point into text or into arena; ev->data is allocated in arena. */
#ifndef ESC_PARSE_XML_H
#define ESC_PARSE_XML_H

#include "core/arena.h"
#include "core/error.h"
#include "parse/event.h"

#define ESC_XML_MAX_DEPTH 64    /* element nesting inside one event */
#define ESC_XML_MAX_FIELDS 1024 /* data fields kept per event */
#define ESC_XML_MAX_SYS 64      /* System elements and attributes kept per event */

/* ESC_EMALFORMED with err->offset relative to text when the element is broken. ev->path and
 * ev->offset are left for the caller. */
esc_status esc_xml_event_parse(const char *text, size_t len, const esc_interest *interest,
                               esc_arena *arena, esc_event *ev, esc_error *err);

#endif
