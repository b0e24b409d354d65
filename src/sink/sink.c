/* The sink set: opens the sinks the options name and fans every event out to them.
 *
 * Invariants: every sink gets every event even when an earlier sink failed (the first error is
 * returned); flush and close flush every sink even when an earlier one failed; batches a sink
 * holds but could not deliver yet are counted by esc_sinks_pending, never returned as errors.
 * Deliberately not done: per-sink filtering or reordering; a sink sees events in the order actions
 * produced them. */
#include "sink/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/str.h"

#define MAX_SINKS 8

struct esc_sinks {
    esc_sink *s[MAX_SINKS];
    size_t n;
};

esc_status esc_sinks_open(const esc_sink_opts *o, esc_sinks **out, esc_error *err) {
    esc_status st = ESC_OK;
    *out = NULL;
    esc_sinks *set = esc_calloc(1, sizeof *set);
    if (!set)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (o && (o->notables_path || o->risk_path)) {
        st = esc_sink_jsonl_open(o->notables_path, o->risk_path, &set->s[set->n], err);
        if (st != ESC_OK)
            goto fail;
        set->n++;
    }
    if (o && o->db_path) {
        st = esc_sink_sqlite_open(o->db_path, &set->s[set->n], err);
        if (st != ESC_OK)
            goto fail;
        set->n++;
    }
    if (o && o->hec_url) {
        st = esc_sink_hec_open(o, &set->s[set->n], err);
        if (st != ESC_OK)
            goto fail;
        set->n++;
    }
    *out = set;
    return ESC_OK;
fail:
    esc_sinks_close(set, NULL);
    return st;
}

esc_status esc_sinks_add(esc_sinks *s, esc_sink *sink, esc_error *err) {
    if (s->n == MAX_SINKS)
        return esc_error_set(err, ESC_ELIMIT, "at most %d sinks", MAX_SINKS);
    s->s[s->n++] = sink;
    return ESC_OK;
}

esc_status esc_sinks_put(esc_sinks *s, const esc_sink_event *ev, esc_error *err) {
    esc_status first = ESC_OK;
    if (!s)
        return ESC_OK;
    for (size_t i = 0; i < s->n; i++) {
        esc_status st = s->s[i]->ops->put(s->s[i], ev, first == ESC_OK ? err : NULL);
        if (st != ESC_OK && first == ESC_OK)
            first = st;
    }
    return first;
}

esc_status esc_sinks_history(esc_sinks *s, const char *type, const char *object,
                             esc_risk_history *out, esc_error *err) {
    out->pts = NULL;
    out->n = 0;
    out->strings = NULL;
    if (!s)
        return ESC_OK;
    for (size_t i = 0; i < s->n; i++)
        if (s->s[i]->ops->history)
            return s->s[i]->ops->history(s->s[i], type, object, out, err);
    return ESC_OK;
}

void esc_risk_history_fini(esc_risk_history *h) {
    if (!h)
        return;
    esc_free(h->pts);
    esc_free(h->strings);
    h->pts = NULL;
    h->strings = NULL;
    h->n = 0;
}

esc_status esc_sinks_flush(esc_sinks *s, esc_error *err) {
    esc_status first = ESC_OK;
    if (!s)
        return ESC_OK;
    for (size_t i = 0; i < s->n; i++) {
        const esc_sink_ops *ops = s->s[i]->ops;
        esc_status st = ops->flush ? ops->flush(s->s[i], first == ESC_OK ? err : NULL) : ESC_OK;
        if (st != ESC_OK && first == ESC_OK)
            first = st;
    }
    return first;
}

size_t esc_sinks_pending(esc_sinks *s, esc_error *why) {
    size_t total = 0;
    for (size_t i = 0; s && i < s->n; i++)
        total += esc_sink_hec_pending(s->s[i], total ? NULL : why);
    return total;
}

esc_status esc_sinks_close(esc_sinks *s, esc_error *err) {
    if (!s)
        return ESC_OK;
    esc_status first = esc_sinks_flush(s, err);
    for (size_t i = 0; i < s->n; i++)
        if (s->s[i]->ops->close)
            s->s[i]->ops->close(s->s[i]);
    esc_free(s);
    return first;
}

esc_status esc_hec_token_load(const char *token_file, char **out, esc_error *err) {
    *out = NULL;
    if (token_file) {
        FILE *f = fopen(token_file, "rb");
        if (!f)
            return esc_error_set(err, ESC_EIO, "HEC token file %s: cannot open", token_file);
        char line[1024];
        if (!fgets(line, sizeof line, f)) {
            fclose(f);
            return esc_error_set(err, ESC_EUSAGE, "HEC token file %s is empty", token_file);
        }
        fclose(f);
        esc_str t = esc_str_trim(esc_str_c(line));
        if (t.len == 0)
            return esc_error_set(err, ESC_EUSAGE, "HEC token file %s is empty", token_file);
        *out = esc_strndup(t.ptr, t.len);
    } else {
        const char *env = getenv("ESCUDO_HEC_TOKEN");
        if (!env || !*env)
            return esc_error_set(err, ESC_EUSAGE,
                                 "--hec needs a token: --hec-token-file FILE or ESCUDO_HEC_TOKEN");
        esc_str t = esc_str_trim(esc_str_c(env));
        *out = esc_strndup(t.ptr, t.len);
    }
    if (!*out)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    for (char *p = *out; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            esc_free(*out);
            *out = NULL;
            return esc_error_set(err, ESC_EUSAGE, "HEC token has characters a token cannot have");
        }
    return ESC_OK;
}
