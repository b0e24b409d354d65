/* JSON-lines sink: notables to one file, risk events to another, one object a line.
 *
 * Invariants: files are opened for appending (a second hunt adds lines; the event_id tells
 * repeats apart); "-" is standard output; each line is written whole. Deliberately not done:
 * deduplication (that is the SQLite store's job), rotation, fsync per line (flush syncs). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "sink/sink.h"

typedef struct jsonl_sink {
    esc_sink base;
    FILE *notables, *risk;
    bool notables_stdout, risk_stdout;
} jsonl_sink;

static esc_status jsonl_put(esc_sink *s, const esc_act_event *ev, esc_error *err) {
    jsonl_sink *j = (jsonl_sink *)s;
    FILE *f = ev->kind == ESC_ACT_RISK ? j->risk : j->notables;
    if (!f)
        return ESC_OK;
    if (fwrite(ev->json, 1, ev->json_len, f) != ev->json_len || fputc('\n', f) == EOF)
        return esc_error_set(err, ESC_EIO, "writing %s: %s",
                             ev->kind == ESC_ACT_RISK ? "risk events" : "notables",
                             strerror(errno));
    return ESC_OK;
}

static esc_status sync_file(FILE *f, esc_error *err) {
    if (!f)
        return ESC_OK;
    if (fflush(f) != 0)
        return esc_error_set(err, ESC_EIO, "writing JSON lines: %s", strerror(errno));
    return ESC_OK;
}

static esc_status jsonl_flush(esc_sink *s, esc_error *err) {
    jsonl_sink *j = (jsonl_sink *)s;
    esc_status st = sync_file(j->notables, err);
    if (st == ESC_OK && j->risk != j->notables)
        st = sync_file(j->risk, err);
    return st;
}

static void jsonl_close(esc_sink *s) {
    jsonl_sink *j = (jsonl_sink *)s;
    if (j->notables && !j->notables_stdout)
        fclose(j->notables);
    if (j->risk && !j->risk_stdout && j->risk != j->notables)
        fclose(j->risk);
    esc_free(j);
}

static const esc_sink_ops jsonl_ops = {
    .name = "jsonl",
    .put = jsonl_put,
    .flush = jsonl_flush,
    .close = jsonl_close,
    .history = NULL,
};

static esc_status open_one(const char *path, FILE **f, bool *is_stdout, esc_error *err) {
    if (!path)
        return ESC_OK;
    if (strcmp(path, "-") == 0) {
        *f = stdout;
        *is_stdout = true;
        return ESC_OK;
    }
    *f = fopen(path, "ab");
    if (!*f)
        return esc_error_set(err, ESC_EIO, "%s: %s", path, strerror(errno));
    return ESC_OK;
}

esc_status esc_sink_jsonl_open(const char *notables_path, const char *risk_path, esc_sink **out,
                               esc_error *err) {
    *out = NULL;
    jsonl_sink *j = esc_calloc(1, sizeof *j);
    if (!j)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    j->base.ops = &jsonl_ops;
    esc_status st = open_one(notables_path, &j->notables, &j->notables_stdout, err);
    if (st == ESC_OK) {
        if (risk_path && notables_path && strcmp(risk_path, notables_path) == 0) {
            j->risk = j->notables;
            j->risk_stdout = j->notables_stdout;
        } else
            st = open_one(risk_path, &j->risk, &j->risk_stdout, err);
    }
    if (st != ESC_OK) {
        jsonl_close(&j->base);
        return st;
    }
    *out = &j->base;
    return ESC_OK;
}
