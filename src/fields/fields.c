/* Search-time field extraction: esc_event -> esc_fields (SPEC section 8, docs/fields.md).
 *
 * This file holds the field-set container and the System/EventData part every event gets. It
 * does not render _raw (readers do) and does not know data models (cim does). */
#include "fields/fields.h"

#include <stdio.h>
#include <string.h>

esc_status esc_fields_add(esc_fields *fs, esc_arena *a, esc_str name, esc_str value, bool copy) {
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 64;
        esc_field *nf = esc_arena_alloc(a, cap * sizeof *nf);
        if (!nf)
            return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
        if (fs->n)
            memcpy(nf, fs->f, fs->n * sizeof *nf);
        fs->f = nf;
        fs->cap = cap;
    }
    if (copy && value.ptr) {
        value = esc_arena_dup(a, value);
        if (!value.ptr)
            return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    }
    fs->f[fs->n++] = (esc_field){name, value};
    return ESC_OK;
}

esc_str esc_fields_get(const esc_fields *fs, esc_str name) {
    for (size_t i = 0; i < fs->n; i++)
        if (esc_str_eq(fs->f[i].name, name))
            return fs->f[i].value;
    return ESC_STR_NULL;
}

size_t esc_fields_values(const esc_fields *fs, esc_str name, esc_str *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (esc_str_eq(fs->f[i].name, name)) {
            if (k < max)
                out[k] = fs->f[i].value;
            k++;
        }
    return k;
}

static esc_status add_c(esc_fields *fs, esc_arena *a, const char *name, esc_str v, bool copy) {
    if (!v.ptr)
        return ESC_OK;
    return esc_fields_add(fs, a, esc_str_c(name), v, copy);
}

/* source, sourcetype, host and the System fields of a Windows event. */
static esc_status windows_system(const esc_event *ev, esc_arena *a, esc_fields *fs) {
    char buf[300];
    esc_status st = ESC_OK;
    int n = snprintf(buf, sizeof buf, "XmlWinEventLog:%.*s", (int)ev->channel.len, ev->channel.ptr);
    if (n > 0 && (size_t)n < sizeof buf)
        st = add_c(fs, a, "source", esc_str_make(buf, (size_t)n), true);
    if (!st)
        st = add_c(fs, a, "sourcetype", esc_str_c("XmlWinEventLog"), false);
    if (!st)
        st = add_c(fs, a, "host", ev->computer, false);
    if (!st && ev->has_event_id) {
        n = snprintf(buf, sizeof buf, "%u", (unsigned)ev->event_id);
        st = add_c(fs, a, "EventCode", esc_str_make(buf, (size_t)n), true);
        if (!st)
            st = add_c(fs, a, "EventID", esc_str_make(buf, (size_t)n), true);
    }
    if (!st)
        st = add_c(fs, a, "Computer", ev->computer, false);
    if (!st)
        st = add_c(fs, a, "Channel", ev->channel, false);
    if (!st && ev->record_id) {
        n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)ev->record_id);
        st = add_c(fs, a, "RecordNumber", esc_str_make(buf, (size_t)n), true);
    }
    return st;
}

esc_status esc_fields_extract(const esc_event *ev, bool native, esc_arena *a, esc_fields *out,
                              esc_error *err) {
    (void)native;
    *out = (esc_fields){.time_us = ev->time_us, .has_time = ev->has_time, .ev = ev};
    esc_status st = ESC_OK;
    if (ev->kind == ESC_EV_WINDOWS)
        st = windows_system(ev, a, out);
    for (size_t i = 0; !st && i < ev->ndata; i++)
        st = esc_fields_add(out, a, ev->data[i].name, ev->data[i].value, false);
    if (!st && ev->xml.ptr)
        out->raw = ev->xml;
    if (st)
        esc_error_set(err, st, "event fields: the per-event arena is full");
    return st;
}
