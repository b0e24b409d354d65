/* Reading a run's state directory for `escudo status` (see run.h), and the "@run" bookkeeping
 * blob's line format that the run loop also reads back (run.c).
 *
 * Invariants: what it reports is what the last checkpoint committed (a run in progress may be
 * one step ahead of it); the store is opened read-only (an empty or foreign SQLite file is
 * reported as such, never written); the HEC spool is only counted. Not done here: changing the
 * state, printing (src/cli/cmd_status.c does). */
#include "sched/run_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"

size_t esc_run_meta_lines(char *text, meta_line *out, size_t cap) {
    size_t n = 0;
    for (char *p = text; *p && n < cap;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        char *sp = strchr(p, ' ');
        if (sp) {
            *sp = 0;
            out[n].key = p;
            out[n].rest = sp + 1;
            n++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

esc_status esc_run_status_read(const char *state_dir, const char *hec_spool, esc_run_status *out,
                               esc_error *err) {
    memset(out, 0, sizeof *out);
    size_t dl = strlen(state_dir) + sizeof ESC_RUN_STATE_FILE + 2;
    char *db = esc_malloc(dl);
    if (!db)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    snprintf(db, dl, "%s/%s", state_dir, ESC_RUN_STATE_FILE);
    struct stat sb;
    if (stat(db, &sb) != 0) {
        esc_status st = esc_error_set(err, ESC_EIO, "%s: no run state here", state_dir);
        esc_free(db);
        return st;
    }
    esc_ckpt *ck = NULL;
    esc_buf mb;
    esc_buf_init(&mb, 0);
    meta_line *ml = NULL;
    esc_ckpt_iter *it = NULL;
    esc_status st = esc_ckpt_open_readonly(db, &ck, err);
    esc_free(db);
    if (st == ESC_EOF) { /* an empty store: nothing checkpointed yet */
        out->empty = true;
        st = ESC_OK;
        goto out;
    }
    if (st)
        goto out;
    st = esc_ckpt_get_partial(ck, ESC_RUN_META, 0, 0, &mb, err);
    if (st == ESC_EOF) {
        st = ESC_OK;
        goto out;
    }
    if (st || (st = esc_buf_putc(&mb, 0)))
        goto out;
    size_t cap = 8192 + ESC_RUN_MAX_INPUTS;
    if (!(ml = esc_calloc(cap, sizeof *ml)) ||
        !(out->inputs = esc_calloc(cap, sizeof *out->inputs)) ||
        !(out->dets = esc_calloc(cap, sizeof *out->dets))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = esc_run_meta_lines(mb.ptr, ml, cap);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ml[i].key, "fired"))
            out->fired = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "late"))
            out->late = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "late_emitted"))
            out->late_emitted = strtoull(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "commit"))
            out->last_commit = strtoll(ml[i].rest, NULL, 10);
        else if (!strcmp(ml[i].key, "det")) {
            long long en, lf;
            int off = 0;
            if (sscanf(ml[i].rest, "%lld %lld %n", &en, &lf, &off) < 2 || !off)
                continue;
            esc_run_status_det *d = &out->dets[out->ndets];
            if (!(d->id = esc_strdup(ml[i].rest + off)))
                continue;
            d->enabled_at = en;
            d->last_fired = lf == INT64_MIN ? 0 : lf;
            out->ndets++;
        } else if (!strcmp(ml[i].key, "input")) {
            esc_run_status_input *in = &out->inputs[out->ninputs];
            esc_ckpt_input ci;
            if (esc_ckpt_get_input(ck, ml[i].rest, &ci, NULL) != ESC_OK)
                ci.offset = 0;
            if (!(in->path = esc_strdup(ml[i].rest)))
                continue;
            in->offset = ci.offset;
            in->committed = ci.inode;
            in->high = -1;
            struct stat fs;
            if ((in->kafka = !strncmp(in->path, "kafka:", 6)))
                ; /* not a file: kpart lines and the windows say the rest */
            else if (stat(in->path, &fs) == 0)
                in->size = (uint64_t)fs.st_size;
            else
                in->missing = true;
            out->ninputs++;
        } else if (!strcmp(ml[i].key, "kpart")) {
            long long hi;
            int owned, off = 0;
            if (sscanf(ml[i].rest, "%lld %d %n", &hi, &owned, &off) < 2 || !off)
                continue;
            for (size_t j = 0; j < out->ninputs; j++)
                if (out->inputs[j].kafka && !strcmp(out->inputs[j].path, ml[i].rest + off)) {
                    out->inputs[j].high = hi;
                    out->inputs[j].owned = owned != 0;
                }
        }
    }
    if ((st = esc_ckpt_partials_iter(ck, NULL, &it, err)))
        goto out;
    esc_ckpt_partial cp;
    while ((st = esc_ckpt_iter_next(it, &cp, err)) == ESC_OK) {
        if (cp.detection[0] == '@' || cp.len < RUN_BLOB_HDR)
            continue;
        if (!esc_run_blob_fired(cp.data)) {
            out->open_windows++;
            const char *at = strchr(cp.detection, '@'); /* DETECTION-ID@kafka:TOPIC/P */
            for (size_t j = 0; at && j < out->ninputs; j++)
                if (out->inputs[j].kafka && !strcmp(out->inputs[j].path, at + 1))
                    out->inputs[j].open_windows++;
        }
        out->kept_bytes += cp.len;
    }
    uint64_t seg = 0;
    if (st == ESC_EOF && (st = esc_ckpt_segment_bytes(ck, &seg, err)) == ESC_OK)
        out->kept_bytes += seg;
    if (!st && hec_spool) {
        DIR *dir = opendir(hec_spool);
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (de->d_name[0] != '.' && !strstr(de->d_name, ".rejected") &&
                !strstr(de->d_name, ".tmp") && strstr(de->d_name, ".json"))
                out->hec_spooled++;
        if (dir)
            closedir(dir);
    }
out:
    esc_ckpt_iter_free(it);
    esc_free(ml);
    esc_buf_fini(&mb);
    esc_ckpt_free(ck);
    return st;
}

void esc_run_status_fini(esc_run_status *s) {
    for (size_t i = 0; i < s->ninputs; i++)
        esc_free(s->inputs[i].path);
    for (size_t i = 0; i < s->ndets; i++)
        esc_free(s->dets[i].id);
    esc_free(s->inputs);
    esc_free(s->dets);
    memset(s, 0, sizeof *s);
}
