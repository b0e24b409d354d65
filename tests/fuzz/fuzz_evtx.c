/* libFuzzer target: one EVTX chunk through the chunk, record and BinXML decoder.
 *
 * Input: one flag byte, then the chunk's bytes (at most 64 KiB; shorter inputs are a truncated
 * chunk). Flag bit 0 turns on slack-space recovery, bit 1 uses a narrow interest set (Sysmon 1
 * with three fields) instead of "everything", bit 2 renders each record's XML from its tree
 * (dump --format xml), bit 3 renders it for the whole-element parts (want_parts, the interest
 * set asking for them). Every item is checked to point inside the text
 * buffer, and every event is rendered as XML and JSON, so the rendering is fuzzed too.
 * Seeds: real chunks cut from the shared EVTX files (tests/evtx/t_evtx_fuzz_smoke.sh makes
 * them; docs/fuzzing.md has the command). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "parse/evtx/evtx_chunk.h"
#include "parse/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fields[] = {"Image", "CommandLine", "User", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    esc_interest everything, narrow;
    memset(&everything, 0, sizeof everything);
    everything.everything = true;
    memset(&narrow, 0, sizeof narrow);
    narrow.win[0].provider = "Microsoft-Windows-Sysmon";
    narrow.win[0].event_id = 1;
    narrow.nwin = 1;
    narrow.fields = fields;
    uint8_t flags = data[0];
    data++;
    size--;
    if (size > EVTX_CHUNK_SIZE)
        size = EVTX_CHUNK_SIZE;

    evtx_chunk c;
    if (evtx_chunk_init(&c, (flags & 2) ? &narrow : &everything, flags & 1, 1u << 20))
        return 0;
    c.want_xml = (flags & 4) != 0;
    c.want_parts = (flags & 8) != 0;
    everything.parts = narrow.parts = c.want_parts;
    memcpy(c.data, data, size);
    c.len = size;
    c.file_off = 4096;
    c.in_use = true;
    esc_buf out;
    esc_buf_init(&out, 0);
    esc_kv *kv = NULL;
    if (evtx_chunk_decode(&c) == ESC_OK) {
        for (size_t i = 0; i < c.nitems; i++) {
            const evtx_item *it = &c.items[i];
            if (it->is_error) {
                if ((size_t)it->msg.off + it->msg.len > c.text.len)
                    abort();
                continue;
            }
            if ((size_t)it->kv_first + it->nkv > c.nkv ||
                (size_t)it->xml.off + it->xml.len > c.text.len)
                abort();
            for (int k = 0; k < ESC_XML_NPARTS; k++)
                if ((size_t)it->parts[k].off + it->parts[k].len > c.text.len)
                    abort();
            kv = realloc(kv, (it->nkv + 1) * sizeof *kv);
            if (!kv)
                break;
            for (uint32_t k = 0; k < it->nkv; k++) {
                const evtx_kvspan *s = &c.kvs[it->kv_first + k];
                if ((size_t)s->name.off + s->name.len > c.text.len ||
                    (size_t)s->value.off + s->value.len > c.text.len)
                    abort();
                kv[k].name = evtx_chunk_str(&c, s->name);
                kv[k].value = evtx_chunk_str(&c, s->value);
            }
            esc_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = ESC_EV_WINDOWS;
            ev.provider = evtx_chunk_str(&c, it->provider);
            ev.channel = evtx_chunk_str(&c, it->channel);
            ev.computer = evtx_chunk_str(&c, it->computer);
            ev.event_id = it->event_id;
            ev.has_event_id = it->has_event_id;
            ev.time_us = it->time_us;
            ev.has_time = it->has_time;
            ev.data = kv;
            ev.ndata = it->nkv;
            ev.record_id = it->record_id;
            ev.xml = evtx_chunk_str(&c, it->xml);
            esc_buf_clear(&out);
            esc_render_json(&ev, &out);
            esc_buf_clear(&out);
            esc_render_xml(&ev, &out);
        }
    }
    free(kv);
    esc_buf_fini(&out);
    evtx_chunk_fini(&c);
    return 0;
}
