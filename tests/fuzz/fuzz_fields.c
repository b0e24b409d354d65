/* libFuzzer target for search-time field extraction and the data-model mapping over any
 * XmlWinEventLog event: esc_xml_event_parse (System asked for, whole-element parts too), then
 * esc_fields_extract in both profiles, then esc_dm_map for every dataset.
 *
 * Input layout: byte 0 picks the arena (bit 0: a small one, 64 KiB, so that extraction meets a
 * full arena), the rest is one event's text. The rule tables read fields by name, the eventtype
 * terms (field=value, field<number, words searched in the values) read any of them, so an event
 * may name its Data after any field a rule or term reads: the seeds do (corpus_fields).
 *
 * Checked: every field has a name, values and names are views into the text, the arena or
 * static tables (ASan sees any other), and the eventtype and tag values are sorted without
 * repeats, as Splunk lists them, unless the event itself names a field so (any element, Data
 * or attribute may: the text holds "tag" or "eventtype"). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cim/cim.h"
#include "core/arena.h"
#include "fields/fields.h"
#include "parse/xml/xml.h"

static void check_sorted(const esc_fields *fs, const char *name) {
    esc_str v[ESC_FIELDS_MAX_MV];
    size_t n = esc_fields_values(fs, esc_str_c(name), v, ESC_FIELDS_MAX_MV);
    for (size_t i = 1; i < n && i < ESC_FIELDS_MAX_MV; i++)
        if (esc_str_cmp(v[i - 1], v[i]) >= 0)
            abort();
}

static void touch(const esc_fields *fs) {
    volatile unsigned sum = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if (!fs->f[i].name.ptr || !fs->f[i].name.len)
            abort();
        for (size_t k = 0; k < fs->f[i].name.len; k++)
            sum += (unsigned char)fs->f[i].name.ptr[k];
        for (size_t k = 0; k < fs->f[i].value.len; k++)
            sum += (unsigned char)fs->f[i].value.ptr[k];
    }
    (void)sum;
}

/* The text holds word, ASCII case-insensitively. */
static bool holds(const char *text, size_t n, const char *word) {
    size_t l = strlen(word);
    for (size_t i = 0; l <= n && i <= n - l; i++)
        if (strncasecmp(text + i, word, l) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    esc_arena a;
    esc_arena_init(&a, 0, data[0] & 1 ? 64 << 10 : 16 << 20);
    esc_interest in;
    memset(&in, 0, sizeof in);
    in.everything = true;
    in.system = true;
    in.parts = true;
    esc_event ev;
    const char *text = (const char *)data + 1;
    if (esc_xml_event_parse(text, size - 1, &in, &a, &ev, NULL) == ESC_OK) {
        for (int native = 0; native < 2; native++) {
            esc_fields fs;
            if (esc_fields_extract(&ev, native, &a, &fs, NULL) != ESC_OK)
                continue;
            touch(&fs);
            if (!holds(text, size - 1, "tag") && !holds(text, size - 1, "eventtype")) {
                check_sorted(&fs, "eventtype");
                check_sorted(&fs, "tag");
            }
            for (int ds = 0; ds < ESC_DS_RAW; ds++) {
                esc_fields out;
                if (ds != ESC_DS_RISK && esc_dm_map(ds, &fs, &a, &out) == ESC_OK)
                    touch(&out);
            }
        }
    }
    esc_arena_fini(&a);
    return 0;
}
