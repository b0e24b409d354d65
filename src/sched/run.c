/* The run loop (see run.h, docs/run.md): the step loop, its lifecycle and its checkpoint.
 *
 * A step is either a pass over the inputs (run_input.c; records reach the windows through the
 * engine's feeder and run_window.c), then late emissions, or the firing of every run due up to
 * the time the inputs were last seen caught up (run_act.c), or one wait on the clock.
 * Invariants:
 * - Everything durable goes through one checkpoint transaction per step: input offsets, the
 *   records each window gained (as its next segment, run_window.c), fired windows, the
 *   CrowdStrike host inventory seen in the inputs ("@hosts") and the "@run" bookkeeping blob
 *   (when each detection was enabled and last fired, the committed sizes of JSON-lines sink
 *   files, counters). A crash loses at most the step in progress, which is then redone.
 * - Sinks are written before the commit that marks their windows fired; on restart, JSON-lines
 *   files are cut back to their committed sizes, so redoing a step writes its lines once.
 * - A window's blob is the list of its kept records, fed into an execution when the window
 *   fires, whether the records were read in this process or before a restart: the result
 *   equals the uninterrupted one.
 * - With a Kafka input (run_kafka.c) windows are per partition, the Kafka offsets are committed
 *   after this checkpoint, and "horizon" and the state directory's "id" are kept in "@run".
 *   A partition's window is stored as its blob's header alone (for `escudo status`): a restart
 *   forgets such windows and every assignment rebuilds them by replaying their partition, so
 *   their records would be written at every step and never read back.
 * Deliberately not done: printing, signals, threads, reading the system clock, reading any
 * format (parse/ and the engine do), resuming standard input, holding CrowdStrike records until
 * their host appears (they map with the inventory seen so far, or --aidmaster). */
#include "sched/run_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/timeutil.h"

/* ---- messages ---------------------------------------------------------------------------- */

void esc_run_msg(esc_runner *r, const char *fmt, ...) {
    if (r->nmsgs == ESC_RUN_MAX_MESSAGES) {
        r->dropped++;
        return;
    }
    esc_buf b;
    esc_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    esc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = esc_buf_take(&b);
    if (s)
        r->msgs[r->nmsgs++] = s;
    else
        r->dropped++;
}

static void msgs_clear(esc_runner *r) {
    for (size_t i = 0; i < r->nmsgs; i++)
        esc_free(r->msgs[i]);
    r->nmsgs = 0;
    r->dropped = 0;
}

void esc_run_msg_err(esc_runner *r, const char *path, const esc_error *e) {
    if (e->has_offset)
        esc_run_msg(r, "%s: offset %llu: %s", path, (unsigned long long)e->offset, e->msg);
    else
        esc_run_msg(r, "%s: %s", path, e->msg);
}

/* ---- the host inventory ------------------------------------------------------------------ */

/* The feeder's host callback: an inventory entry seen in the inputs, kept for "@hosts" as an
 * "aid\tname" line (an entry that cannot be written so is used, not kept). */
static esc_status remember_host(void *runner, esc_str aid, esc_str name, esc_error *err) {
    esc_runner *r = runner;
    (void)err;
    if (memchr(aid.ptr, '\t', aid.len) || memchr(aid.ptr, '\n', aid.len) ||
        memchr(name.ptr, '\n', name.len))
        return ESC_OK;
    if (esc_buf_printf(&r->hosts_text, "%.*s\t%.*s\n", ESC_STR_FMT(aid), ESC_STR_FMT(name)))
        return ESC_ELIMIT;
    r->hosts_dirty = true;
    return ESC_OK;
}

/* The inventory of "@hosts" back into the feeder. */
static esc_status restore_hosts(esc_runner *r, esc_error *err) {
    esc_buf hb;
    esc_buf_init(&hb, 0);
    esc_status st = esc_ckpt_get_partial(r->ck, ESC_RUN_HOSTS, 0, 0, &hb, err);
    if (st == ESC_OK) {
        for (size_t i = 0; i < hb.len;) {
            const char *line = hb.ptr + i, *nl = memchr(line, '\n', hb.len - i);
            size_t ln = nl ? (size_t)(nl - line) : hb.len - i;
            const char *tab = memchr(line, '\t', ln);
            if (tab && esc_feeder_put_host(r->feed, esc_str_make(line, (size_t)(tab - line)),
                                           esc_str_make(tab + 1, ln - (size_t)(tab - line) - 1))) {
                st = esc_error_set(err, ESC_ELIMIT, "host inventory is full");
                break;
            }
            i += ln + 1;
        }
        if (!st && esc_buf_append(&r->hosts_text, hb.ptr, hb.len))
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
    } else if (st == ESC_EOF) {
        st = ESC_OK;
    }
    esc_buf_fini(&hb);
    return st;
}

/* ---- checkpoint -------------------------------------------------------------------------- */

static esc_status meta_build(esc_runner *r, esc_buf *b) {
    esc_status st =
        esc_buf_printf(b, "v 1\nfired %llu\nlate %llu\nlate_emitted %llu\ncommit %lld\n",
                       (unsigned long long)r->fired_total, (unsigned long long)r->stats.late,
                       (unsigned long long)r->stats.late_emitted, (long long)r->last_commit);
    for (size_t j = 0; !st && j < r->ndet; j++)
        st = esc_buf_printf(b, "det %lld %lld %s\n", (long long)r->det[j].enabled_at,
                            (long long)r->det[j].last_fired, r->det[j].d->id);
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    for (int i = 0; !st && i < 2; i++)
        if (r->sink_track[i])
            st = esc_buf_printf(b, "sink %llu %s\n", (unsigned long long)r->sink_size[i], p[i]);
    for (size_t i = 0; !st && i < r->nin; i++)
        if (!r->in[i].is_stdin && !strchr(r->in[i].path, '\n'))
            st = esc_buf_printf(b, "input %s\n", r->in[i].path);
    if (!st && r->kafka)
        st = esc_buf_printf(b, "id %s\nhorizon %lld\n", r->state_id, (long long)r->horizon);
    if (!st && r->kafka)
        st = esc_run_kafka_meta(r, b);
    return st;
}

static void damaged_free(esc_runner *r) {
    for (size_t i = 0; i < r->ndamaged; i++)
        esc_free((char *)r->damaged[i].detection);
    esc_free(r->damaged);
    r->damaged = NULL;
    r->ndamaged = 0;
}

static esc_status put_risk(esc_runner *r, esc_error *err) {
    esc_buf b;
    esc_buf_init(&b, ESC_CKPT_MAX_BLOB);
    esc_status st = esc_run_risk_save(r, &b);
    if (st)
        st = esc_error_set(err, st, "risk rule state too large");
    else {
        esc_ckpt_partial p = {ESC_RUN_RISK, 0, 0, b.ptr, b.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    esc_buf_fini(&b);
    return st;
}

/* The risk rule's "@risk" back; a damaged one is reported and the rule restarts empty. */
static esc_status restore_risk(esc_runner *r, esc_error *err) {
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_status st = esc_ckpt_get_partial(r->ck, ESC_RUN_RISK, 0, 0, &b, err);
    if (st == ESC_OK && !esc_run_risk_restore(r, b.ptr, b.len))
        esc_run_msg(r,
                    "state %s: the risk rule's state (%s) is damaged: the 24-hour risk rule "
                    "restarts without the risk events seen before",
                    r->o.state_dir, ESC_RUN_RISK);
    if (st == ESC_EOF)
        st = ESC_OK;
    esc_buf_fini(&b);
    return st;
}

/* Whether a commit stores w as its row and segments (esc_run_win_store): a window not deleted
 * and not a Kafka partition's (stored as its header alone). */
static bool in_segments(const win_state *w) {
    return !w->deleted && !w->kslot1;
}

esc_status esc_run_commit(esc_runner *r, esc_error *err) {
    esc_status fst = r->repart ? esc_run_repart_flush(r, err) : ESC_OK;
    if (fst) /* partials published must be delivered before the windows count as fired */
        return fst;
    bool any = r->meta_dirty || r->nfired || r->hosts_dirty || r->risk_dirty || r->ndamaged;
    for (size_t i = 0; !any && i < r->nin; i++)
        any = r->in[i].dirty;
    for (size_t i = 0; !any && i < r->nwin; i++)
        any = r->win[i]->dirty;
    if (!any) /* nor did a partition's low watermark move: a window or a position would be dirty */
        return ESC_OK;
    if (r->kafka)
        esc_run_kafka_before_commit(r);
    r->last_commit = esc_clock_now_sec(r->o.clock);
    esc_buf meta;
    esc_buf_init(&meta, ESC_CKPT_MAX_BLOB);
    esc_status st = meta_build(r, &meta);
    if (st) {
        esc_buf_fini(&meta);
        return esc_error_set(err, st, "run bookkeeping too large");
    }
    if ((st = esc_ckpt_begin(r->ck, err)))
        goto out;
    for (size_t i = 0; !st && i < r->nin; i++) {
        run_in *in = &r->in[i];
        if (!in->dirty || in->is_stdin)
            continue;
        esc_ckpt_input ci = {in->path, in->inode, in->offset, in->head_len, in->head_hash};
        st = esc_ckpt_put_input(r->ck, &ci, err);
    }
    for (size_t i = 0; !st && i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (!w->dirty)
            continue;
        if (in_segments(w)) {
            st = esc_run_win_store(r, w, err);
            continue;
        }
        char key[ESC_CKPT_MAX_KEY];
        if (w->kslot1)
            esc_run_kafka_win_key(r, w, key, sizeof key);
        /* a partition's window: its header alone (replayed, never read back) */
        unsigned char head[RUN_BLOB_HDR + RUN_BLOB_CRC];
        esc_run_blob_head(&w->blob, head);
        esc_ckpt_partial p = {w->kslot1 ? key : r->det[w->det].d->id, w->w.earliest, w->w.latest,
                              w->deleted ? NULL : head, sizeof head};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    for (size_t i = 0; !st && i < r->ndamaged; i++)
        if (!esc_run_win_find_key(r, &r->damaged[i]))
            st = esc_ckpt_put_partial(r->ck, &r->damaged[i], err);
    for (size_t i = 0; !st && i < r->nfired; i++) {
        fired_row *f = &r->fired[i];
        esc_ckpt_fired cf = {r->det[f->det].d->id, f->e, f->l, f->t};
        st = esc_ckpt_put_fired(r->ck, &cf, err);
    }
    int64_t keep = r->o.late_retention > 0 ? r->o.late_retention : 86400;
    if (!st)
        st = esc_ckpt_prune_fired(r->ck, r->last_commit - keep - 86400, err);
    if (!st && r->hosts_dirty) {
        esc_ckpt_partial p = {ESC_RUN_HOSTS, 0, 0, r->hosts_text.ptr ? r->hosts_text.ptr : "",
                              r->hosts_text.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    if (!st && r->risk_dirty)
        st = put_risk(r, err);
    if (!st && r->kafka)
        st = esc_run_kafka_put_outbox(r, err);
    if (!st) {
        esc_ckpt_partial p = {ESC_RUN_META, 0, 0, meta.ptr, meta.len};
        st = esc_ckpt_put_partial(r->ck, &p, err);
    }
    if (!st && ++r->commits == (uint64_t)r->crash_commit)
        raise(SIGKILL);
    if (!st)
        st = esc_ckpt_commit(r->ck, err);
    if (st) {
        esc_ckpt_rollback(r->ck, NULL);
        goto out;
    }
    r->stats.commits++;
    for (size_t i = 0; i < r->nin; i++)
        r->in[i].dirty = false;
    for (size_t i = 0; i < r->nwin; i++) {
        win_state *w = r->win[i];
        if (w->dirty && in_segments(w))
            esc_run_win_stored(w);
        w->dirty = false;
    }
    r->nfired = 0;
    r->meta_dirty = false;
    r->hosts_dirty = false;
    r->risk_dirty = false;
    damaged_free(r);
    esc_run_win_compact(r);
    if (r->kafka)
        esc_run_kafka_after_commit(r);
    if (r->repart)
        esc_run_repart_after_commit(r);
out:
    esc_buf_fini(&meta);
    return st;
}

/* ---- restore ----------------------------------------------------------------------------- */

/* One line of the "@run" blob into the run's state. have_size: the sink sizes found. */
static void restore_line(esc_runner *r, const meta_line *m, bool have_size[2]) {
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    if (!strcmp(m->key, "fired")) {
        r->fired_total = strtoull(m->rest, NULL, 10);
    } else if (!strcmp(m->key, "late")) {
        r->stats.late = strtoull(m->rest, NULL, 10);
    } else if (!strcmp(m->key, "horizon")) {
        r->horizon = strtoll(m->rest, NULL, 10);
    } else if (!strcmp(m->key, "id") && strlen(m->rest) == sizeof r->state_id - 1) {
        memcpy(r->state_id, m->rest, sizeof r->state_id);
    } else if (!strcmp(m->key, "late_emitted")) {
        r->stats.late_emitted = strtoull(m->rest, NULL, 10);
    } else if (!strcmp(m->key, "det")) {
        long long en, lf;
        int off = 0;
        if (sscanf(m->rest, "%lld %lld %n", &en, &lf, &off) < 2 || !off)
            return;
        for (size_t j = 0; j < r->ndet; j++)
            if (!strcmp(r->det[j].d->id, m->rest + off)) {
                r->det[j].enabled_at = en;
                r->det[j].last_fired = lf;
            }
    } else if (!strcmp(m->key, "sink")) {
        char *end;
        unsigned long long sz = strtoull(m->rest, &end, 10);
        for (int k = 0; k < 2; k++)
            if (r->sink_track[k] && *end == ' ' && !strcmp(end + 1, p[k])) {
                r->sink_size[k] = sz;
                have_size[k] = true;
            }
    }
}

/* The bookkeeping blob; JSON-lines sink files cut back to their committed sizes; the agenda. */
static esc_status restore_meta(esc_runner *r, esc_error *err) {
    esc_buf mb;
    esc_buf_init(&mb, 0);
    esc_status st = esc_ckpt_get_partial(r->ck, ESC_RUN_META, 0, 0, &mb, err);
    bool fresh = st == ESC_EOF;
    if (st && st != ESC_EOF) {
        esc_buf_fini(&mb);
        return st;
    }
    int64_t now = esc_clock_now_sec(r->o.clock);
    for (size_t j = 0; j < r->ndet; j++)
        r->det[j].enabled_at = INT64_MIN;
    const char *p[2] = {r->o.sinks.notables_path, r->o.sinks.risk_path};
    bool have_size[2] = {false, false};
    if (!fresh && esc_buf_putc(&mb, 0) == ESC_OK) {
        size_t cap = 4096 + r->ndet * 2 + ESC_RUN_MAX_INPUTS;
        meta_line *ml = esc_calloc(cap, sizeof *ml);
        if (!ml) {
            esc_buf_fini(&mb);
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        }
        size_t n = esc_run_meta_lines(mb.ptr, ml, cap);
        for (size_t i = 0; i < n; i++)
            restore_line(r, &ml[i], have_size);
        esc_free(ml);
    }
    esc_buf_fini(&mb);
    /* JSON-lines files: cut back what a step wrote but did not commit. */
    for (int k = 0; k < 2; k++) {
        if (!r->sink_track[k])
            continue;
        uint64_t cur = esc_run_file_size(p[k]);
        if (!have_size[k])
            r->sink_size[k] = cur;
        else if (cur > r->sink_size[k] && truncate(p[k], (off_t)r->sink_size[k]) != 0)
            return esc_error_set(err, ESC_EIO, "%s: cannot cut back to the last checkpoint: %s",
                                 p[k], strerror(errno));
    }
    for (size_t j = 0; j < r->ndet; j++) {
        det_state *d = &r->det[j];
        if (d->enabled_at == INT64_MIN) {
            d->enabled_at = now;
            d->last_fired = INT64_MIN;
            int64_t lf;
            if (esc_ckpt_last_fired(r->ck, d->d->id, &lf, NULL) == ESC_OK)
                d->last_fired = lf;
            r->meta_dirty = true;
        }
        int64_t resume = d->last_fired > d->enabled_at ? d->last_fired : d->enabled_at;
        if ((st = esc_agenda_add(r->agenda, d->d->id, &d->sched, resume, NULL, err)))
            return st;
    }
    return ESC_OK;
}

/* Kept records of open windows, and fired windows retained for late events. */
static void iso_time(int64_t t, char out[32]) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld", (long long)t);
}

/* A window blob deleted from the store at the next commit, silently. */
static esc_status forget_window(esc_runner *r, const esc_ckpt_partial *cp, esc_error *err) {
    esc_ckpt_partial *nd = esc_realloc(r->damaged, (r->ndamaged + 1) * sizeof *nd);
    if (!nd)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->damaged = nd;
    nd[r->ndamaged] =
        (esc_ckpt_partial){esc_strdup(cp->detection), cp->earliest, cp->latest, NULL, 0};
    if (!nd[r->ndamaged].detection)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->ndamaged++;
    return ESC_OK;
}

/* A damaged window blob: reported (its records are lost: the inputs are not read again) and
 * deleted from the store at the next commit, so it is reported once. */
static esc_status window_damaged(esc_runner *r, const esc_ckpt_partial *cp, const char *why,
                                 esc_error *err) {
    char e[32], l[32];
    iso_time(cp->earliest, e);
    iso_time(cp->latest, l);
    esc_run_msg(r,
                "state %s: the kept records of window [%s, %s) of %s are damaged (%s): that "
                "window's records are lost; its notables will be missing or incomplete",
                r->o.state_dir, e, l, cp->detection, why);
    r->stats.damaged++;
    return forget_window(r, cp, err);
}

static esc_status restore_windows(esc_runner *r, esc_error *err) {
    esc_ckpt_iter *it = NULL;
    esc_status st = esc_ckpt_partials_iter(r->ck, NULL, &it, err);
    if (st)
        return st;
    esc_ckpt_partial cp;
    while ((st = esc_ckpt_iter_next(it, &cp, err)) == ESC_OK) {
        if (cp.detection[0] == '@')
            continue;
        if (strchr(cp.detection, '@')) { /* a Kafka partition's window: rebuilt by replay */
            if ((st = forget_window(r, &cp, err)))
                break;
            continue;
        }
        size_t j = 0;
        while (j < r->ndet && strcmp(r->det[j].d->id, cp.detection) != 0)
            j++;
        if (j == r->ndet)
            continue; /* not enabled now: left as it is */
        size_t body;
        bool old;
        const char *why = esc_run_blob_check(cp.data, cp.len, &body, &old);
        if (!why)
            st = esc_run_win_restore(r, j, &cp, body, &why, err);
        if (!st && why)
            st = window_damaged(r, &cp, why, err);
        if (st)
            break;
    }
    esc_ckpt_iter_free(it);
    return st == ESC_EOF ? ESC_OK : st;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* Whether an earlier detection than j has the schedule of j's deployment (its cron, earliest and
 * latest time), which then passed esc_run_check_cover: the check depends on nothing else. */
static bool schedule_checked(const esc_runner *r, size_t j) {
    const esc_deployment *a = r->det[j].d->deployment;
    for (size_t k = 0; k < j; k++) {
        const esc_deployment *b = r->det[k].d->deployment;
        if (a == b || (!strcmp(a->cron_schedule, b->cron_schedule) &&
                       !strcmp(a->earliest_time, b->earliest_time) &&
                       !strcmp(a->latest_time, b->latest_time)))
            return true;
    }
    return false;
}

/* The enabled detections and their schedules. The cover check runs once per distinct schedule
 * (over escu-full's 1,109 enabled detections: 13 s when each ran it, a week of hourly probes). */
static esc_status setup_detections(esc_runner *r, esc_error *err) {
    r->ndet = esc_engine_count(r->o.engine);
    if (!(r->det = esc_calloc(r->ndet ? r->ndet : 1, sizeof *r->det)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    for (size_t j = 0; j < r->ndet; j++) {
        det_state *d = &r->det[j];
        d->d = esc_engine_detection(r->o.engine, j);
        d->plan = esc_engine_plan(r->o.engine, j);
        const esc_deployment *dep = d->d->deployment;
        if (!dep || !dep->cron_schedule || !dep->earliest_time || !dep->latest_time)
            return esc_error_set(err, ESC_ECONTENT, "%s: no deployment schedule", d->d->name);
        esc_status st = esc_schedule_parse(&d->sched, dep->cron_schedule, dep->earliest_time,
                                           dep->latest_time, err);
        if (st || (!schedule_checked(r, j) &&
                   (st = esc_run_check_cover(d, esc_clock_now_sec(r->o.clock), err))))
            return st;
    }
    return ESC_OK;
}

/* The inputs given: files (and "-") followed as they are, directories expanded at each pass. */
static esc_status setup_inputs(esc_runner *r, esc_error *err) {
    for (size_t i = 0; i < r->o.ninputs; i++) {
        const char *path = r->o.inputs[i];
        struct stat sb;
        if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            esc_status st = esc_run_add_input(r, path, err);
            if (st)
                return st;
            continue;
        }
        char **nd = esc_realloc(r->dirs, (r->ndirs + 1) * sizeof *nd);
        if (nd)
            r->dirs = nd;
        if (!nd || !(nd[r->ndirs] = esc_strdup(path)))
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        r->ndirs++;
    }
    return ESC_OK;
}

/* One run per state directory: an exclusive flock on its lock file, held while the runner
 * lives (the kernel drops it when the process dies, so a killed run never leaves it stale).
 * A second run on the same folder is refused with ESC_EUSAGE (exit 2). */
static esc_status lock_state(esc_runner *r, const char *path, esc_error *err) {
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (r->lock_fd < 0)
        return esc_error_set(err, ESC_EIO, "state directory %s: lock file %s: %s", r->o.state_dir,
                             path, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return ESC_OK;
    int e = errno;
    if (e == EWOULDBLOCK)
        return esc_error_set(err, ESC_EUSAGE,
                             "state directory %s is in use by another escudo run (it holds %s); "
                             "one run per state directory",
                             r->o.state_dir, path);
    return esc_error_set(err, ESC_EIO, "state directory %s: lock %s: %s", r->o.state_dir, path,
                         strerror(e));
}

/* The state directory's store; the sink files whose sizes are checkpointed; the test hook. */
static esc_status open_state(esc_runner *r, esc_error *err) {
    const esc_runner_opts *o = &r->o;
    if (o->crash_at) {
        if (!strncmp(o->crash_at, "sink:", 5))
            r->crash_sink = atol(o->crash_at + 5);
        else if (!strncmp(o->crash_at, "commit:", 7))
            r->crash_commit = atol(o->crash_at + 7);
    }
    r->sink_track[0] = o->sinks.notables_path && strcmp(o->sinks.notables_path, "-") != 0;
    r->sink_track[1] = o->sinks.risk_path && strcmp(o->sinks.risk_path, "-") != 0 &&
                       !(r->sink_track[0] && !strcmp(o->sinks.notables_path, o->sinks.risk_path));
    if (!o->state_dir || (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST))
        return esc_error_set(err, ESC_EIO, "state directory %s: %s",
                             o->state_dir ? o->state_dir : "(none)", strerror(errno));
    size_t dl = strlen(o->state_dir) + sizeof ESC_RUN_STATE_FILE + sizeof ESC_RUN_LOCK_FILE + 2;
    char *db = esc_malloc(dl);
    if (!db)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    snprintf(db, dl, "%s/%s", o->state_dir, ESC_RUN_LOCK_FILE);
    esc_status st = lock_state(r, db, err);
    snprintf(db, dl, "%s/%s", o->state_dir, ESC_RUN_STATE_FILE);
    if (!st)
        st = esc_ckpt_open(db, &r->ck, err);
    esc_free(db);
    return st;
}

esc_status esc_runner_new(const esc_runner_opts *o, esc_runner **out, esc_error *err) {
    *out = NULL;
    esc_runner *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->o = *o;
    r->lock_fd = -1;
    r->horizon = INT64_MIN;
    if (!r->o.poll_us)
        r->o.poll_us = 1000000;
    esc_buf_init(&r->hosts_text, ESC_CKPT_MAX_BLOB);
    esc_feeder_opts fo = {.profile = o->profile,
                          .record = esc_run_consume,
                          .host = remember_host,
                          .ctx = r,
                          .max_held = 0,
                          .engine = o->engine};
    esc_status st = esc_feeder_new(&fo, &r->feed, err);
    if (st)
        goto fail;
    if (!(r->chunk = esc_malloc(RUN_CHUNK_MAX)) || !(r->agenda = esc_agenda_new())) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = open_state(r, err)) || (st = setup_detections(r, err)))
        goto fail;
    if (o->aidmaster && (st = esc_feeder_load_hosts(r->feed, o->aidmaster, NULL, err)))
        goto fail;
    if ((st = restore_meta(r, err)) || (st = restore_hosts(r, err)) ||
        (st = restore_risk(r, err)) || (st = restore_windows(r, err)) ||
        (st = setup_inputs(r, err)))
        goto fail;
    r->meta_dirty = true;
    if (o->kafka && (st = esc_run_kafka_open(r, err)))
        goto fail;
    if (o->kafka && o->kafka->repartition && (st = esc_run_repart_open(r, err)))
        goto fail;
    if ((st = esc_run_commit(r, err)))
        goto fail;
    *out = r;
    return ESC_OK;
fail:
    esc_runner_free(r);
    return st;
}

void esc_runner_stop(esc_runner *r) {
    if (r && r->kafka) {
        msgs_clear(r); /* the last step's were read: what follows is the stop's */
        esc_run_repart_close(r);
        esc_run_kafka_stop(r);
    }
}

void esc_runner_free(esc_runner *r) {
    if (!r)
        return;
    esc_run_repart_close(r);
    esc_run_kafka_close(r);
    esc_run_session_free(r);
    esc_run_inputs_free(r);
    for (size_t i = 0; i < r->nwin; i++)
        esc_run_win_free(r->win[i]);
    esc_free(r->win);
    esc_free(r->widx);
    esc_free(r->fired);
    esc_free(r->det);
    esc_agenda_free(r->agenda);
    esc_run_risk_free(r);
    esc_run_store_free(r);
    damaged_free(r);
    esc_ckpt_free(r->ck);
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the state directory's lock */
    esc_feeder_free(r->feed);
    esc_buf_fini(&r->hosts_text);
    esc_free(r->chunk);
    msgs_clear(r);
    esc_free(r);
}

void esc_runner_set_until(esc_runner *r, int64_t once_until) {
    r->o.once_until = once_until;
}

const esc_runner_stats *esc_runner_stats_get(const esc_runner *r) {
    return &r->stats;
}

size_t esc_runner_messages(const esc_runner *r, const char *const **msgs, size_t *dropped) {
    *msgs = (const char *const *)r->msgs;
    if (dropped)
        *dropped = r->dropped;
    return r->nmsgs;
}

/* ---- the step ---------------------------------------------------------------------------- */

/* A pass over the inputs, late emissions, the checkpoint. */
static esc_status read_step(esc_runner *r, int64_t now, esc_error *err) {
    bool progress = false;
    esc_status st = esc_run_read_pass(r, &progress, err);
    if (!st && r->repart)
        st = esc_run_repart_pass(r, err);
    for (size_t i = 0; !st && i < r->nwin; i++)
        if (r->win[i]->late_dirty)
            st = esc_run_emit_late(r, r->win[i], now, err);
    if (!st)
        st = esc_run_session_close(r, err);
    if (!st)
        st = esc_run_commit(r, err);
    if (!st && !progress) {
        r->caught = true;
        r->stats.caught_up_to = now;
    }
    return st;
}

/* Every run due up to the time the inputs were caught up; *fired when one did. */
static esc_status fire_due(esc_runner *r, bool *fired, esc_error *err) {
    int64_t limit =
        r->stats.caught_up_to < r->o.once_until ? r->stats.caught_up_to : r->o.once_until;
    for (;;) {
        esc_run run;
        esc_error e = {0};
        esc_status st = esc_agenda_pop_due(r->agenda, limit, &run, &e);
        if (st == ESC_EOF)
            return ESC_OK;
        if (st == ESC_ECONTENT) {
            esc_run_msg(r, "%s", e.msg);
            continue;
        }
        if (st) {
            *err = e;
            return st;
        }
        if ((st = esc_run_fire(r, &run, err)))
            return st;
        if (run.scheduled > r->horizon) /* runs pop in time order: all up to it fired */
            r->horizon = run.scheduled;
        *fired = true;
    }
}

static esc_status step(esc_runner *r, esc_error *err) {
    int64_t now = esc_clock_now_sec(r->o.clock);
    if (!r->caught)
        return read_step(r, now, err);
    r->caught = false;
    bool fired = false;
    esc_status st = fire_due(r, &fired, err);
    if (!st && r->kafka)
        st = esc_run_kafka_fired(r, err);
    if (st)
        return st;
    esc_run_win_prune(r, now);
    if ((st = esc_run_session_close(r, err)) || (st = esc_run_commit(r, err)))
        return st;
    if (fired)
        return ESC_OK;
    int64_t next = esc_agenda_next_time(r->agenda);
    if (r->o.once_until != ESC_RUN_FOREVER && r->stats.caught_up_to >= r->o.once_until &&
        next > r->o.once_until && (!r->repart || esc_run_repart_done(r)))
        return ESC_EOF;
    int64_t now_us = esc_clock_now_us(r->o.clock);
    int64_t until = now_us + r->o.poll_us;
    if (next != ESC_CRON_NEVER && next < INT64_MAX / ESC_US_PER_SEC &&
        next * ESC_US_PER_SEC < until)
        until = next * ESC_US_PER_SEC;
    if (r->o.once_until != ESC_RUN_FOREVER && r->o.once_until < INT64_MAX / ESC_US_PER_SEC &&
        r->o.once_until * ESC_US_PER_SEC < until)
        until = r->o.once_until * ESC_US_PER_SEC;
    if (until > now_us)
        esc_clock_wait_until(r->o.clock, until, r->o.poll_us);
    return ESC_OK;
}

esc_status esc_runner_step(esc_runner *r, esc_error *err) {
    if (r->stepped) /* the first step's messages follow those of the restore */
        msgs_clear(r);
    r->stepped = true;
    esc_status st = step(r, err);
    const esc_feeder_stats *fs = esc_feeder_stats_get(r->feed);
    r->stats.events = fs->events;
    r->stats.process_events = fs->process_events;
    return st;
}
