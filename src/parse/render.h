/* Render one raw event as text: an XmlWinEventLog line or an escudo dump JSON line.
 *
 * esc_render_xml writes one line
 *   <Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>...</System>
 *   <EventData><Data Name='..'>..</Data>...</EventData></Event>
 * (without the line break) with the fields an esc_event holds, XML-escaped, such that the XML
 * reader reads it back into the same event. esc_render_json writes escudo's dump shape:
 *   {"escudo_dump":1,"kind":"windows","provider":"..","channel":"..","computer":"..",
 *    "event_id":1,"record_id":N,"time":"2020-12-09T18:21:05.119999Z",
 *    "system":[["Provider@Name","v"],..],"data":[["Name","v"],..]}
 * where fields the event does not have are absent ("system": the event's System pairs,
 * esc_event.sys, when it has them), "data" keeps order and duplicates, and
 * UTF-8 is written as is. Both append to out (nothing is appended on failure other than
 * what fit before a buffer cap was hit; the caller clears the buffer per event). */
#ifndef ESC_PARSE_RENDER_H
#define ESC_PARSE_RENDER_H

#include "core/buf.h"
#include "parse/event.h"

esc_status esc_render_xml(const esc_event *ev, esc_buf *out);
/* The XML escape of byte c as every XML escudo writes has it (&amp; &lt; &gt; &apos; &quot;, and
 * &#N; for a control character), or NULL when c is written as is; tmp holds a numeric one. */
const char *esc_xml_escape_byte(unsigned char c, char tmp[8]);
/* s as XML text or a value quoted with ' (& < > ' " and control characters as references),
 * runs between them copied whole. */
esc_status esc_render_xml_str(esc_buf *out, esc_str s);
esc_status esc_render_json(const esc_event *ev, esc_buf *out);
/* As esc_render_json, with "data" as an object for jq and friends: {"Name":"v",...}, keys in
 * the order they first occur, a name that occurs more than once as an array of its values in
 * order ({"A":["1","2"]}). */
esc_status esc_render_json_object(const esc_event *ev, esc_buf *out);
/* s as a JSON string (quotes included), as every JSON escudo writes escapes it. */
esc_status esc_render_json_str(esc_buf *out, esc_str s);
/* The time of an event as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds). */
esc_status esc_render_time(int64_t time_us, esc_buf *out);

#endif
