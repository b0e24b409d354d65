/* Execution: records -> tstats groups (agg/) -> a result table -> each later stage's run hook
 * (cmd.h) in order; and the table and cell helpers the hooks share.
 *
 * Invariants: esc_exec_feed copies what it keeps (record views die after the call); the plan is
 * only read, so several executions of one plan may run at once; rows leave tstats and stats
 * ordered by their BY values (byte order, first field first); every string in a result table
 * is esc_malloc'd and owned by the table; a join's subsearch has its own execution, fed the
 * same records; its finished table stays with it until the search that joins it is finished
 * (the evidence of the joined rows, evidence.c). A raw-event search whose first stats follows only
 * row-local commands (eval, where, rename, rex, ...) and uses no order-dependent function (first,
 * last, list) streams: every batch of matching events (stream_batch) runs through those commands
 * into the stats' running groups, so memory holds the groups, not the events. Kept rows of a
 * raw-event search go to the later commands newest _time first, as Splunk returns events (Search
 * Manual "About retrieving events"), events of one _time in event order. Two stages
 * (docs/scale.md): an execution's first-stage aggregates (tstats', or the streamed stats') can be
 * encoded (esc_exec_partial) and merged into another execution of the same plan (esc_exec_merge),
 * whose finish then runs the rest over the merged groups. Past a hunt's group budget
 * (esc_exec_spill) the tstats groups, a streamed stats' groups (those its filters can keep,
 * prune.c), or a raw-event search's kept rows move to a temporary file (spill.c) and come back, in
 * the order they were fed, when the search finishes; a join's side merges back only what the other
 * side can pair with (semijoin.c), and nothing when an inner join's subsearch found no rows and no
 * stage after it can make one (filter_empty); a large spill that only makes the first table
 * merges back one range of keys at a time (table_in_parts); esc_exec_release gives a
 * finished search's groups back (a shared owner's once its sharers are done). Deliberately not
 * done: streaming of post-tstats stages (they run once, on esc_exec_finish) and windows (the caller
 * runs one execution per window). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agg/agg.h"
#include "core/alloc.h"
#include "core/fmt.h"
#include "core/timeutil.h"
#include "spl/cmd.h"
#include "spl/eval.h"
#include "spl/semijoin.h"
#include "spl/spill.h"

struct esc_exec {
    const esc_plan *p;
    int64_t earliest, latest;
    int64_t now;     /* now(): the end of the window, else when x was made (Splunk: the time
                        the search started); set on the thread before any stage runs */
    esc_agg *agg;    /* tstats */
    esc_table *rows; /* a raw-event search: the matching events so far */
    size_t rows_cap;
    esc_exec **subs;  /* per stage: the execution of a join's subsearch, or NULL */
    esc_evset *ev;    /* the events behind each tstats group (spl/evidence.c) */
    size_t stream_at; /* a raw-event search's first stats, when only row-local commands
                         precede it (then acc holds its groups so far), else 0 */
    size_t batch;     /* stream_at: the rows it takes at once (stream_batch) */
    spl_stats_acc *acc;
    esc_table *kept; /* a subsearch's finished table, for the joining search's evidence */
    size_t prune_k;  /* tstats: stages 1..prune_k decide whether a group can give a row */
    size_t checked;  /* groups before this one have been checked */
    bool *dead;      /* per checked group: it cannot give a row (dropped at the next compaction) */
    size_t dead_cap, ndead;
    spl_prune_memo *memo;      /* the verdicts so far by the BY values they depend on (prune.c), for
                                  x's plan and every sharer's at once; made at the first check */
    bool memo_skip;            /* a record whose groups memo holds dead need not be counted */
    bool fed_all;              /* esc_exec_fed_all: no memo any more */
    esc_exec *owner;           /* esc_exec_share: agg and ev are owner's */
    size_t nsharers;           /* executions sharing this one's agg and ev, not yet released */
    const esc_plan **sharer_p; /* an owner that prunes: every sharer's plan (they prune too); a
                                  group is dropped only when dead for each of them and x */
    size_t nsharer_p;
    bool released;     /* esc_exec_release: groups given back (or, shared, let go of) */
    spl_spill *spill;  /* groups moved to a temporary file (spill.c), merged at finish */
    spl_keyset *keys;  /* the spilled groups merged back are only these (semijoin.c) */
    int *join_by;      /* a join's subsearch: per join field, the BY field its parent's rows
                          may filter (semijoin.c), or -1; NULL: none */
    esc_table *early;  /* a join's subsearch finished before its parent's groups merged */
    bool sealed;       /* finishing: every group of x's is in its spill file, none come */
    esc_exec *borrow;  /* finishing sharer of a spilled owner: reads the owner's spill file */
    bool fed;          /* a record got past the window check */
    bool keep_lineage; /* a map's search: its rows keep their events as lineage, which the
                          map's rows copy (cmd_map.c) */
    spl_spill *rspill; /* a raw-event search's kept rows moved to a temporary file (spill.c) */
    spl_row_keep keep; /* of those, the ones its finish keeps (spl_exec_keep_rows), or NULL */
    void *keep_ctx;
    size_t rows_bytes; /* about what rows holds (row_mem): kept rows, or a streamed batch */
    bool sprune_on;    /* the streamed stats' groups can be pruned (prune.c), as sprune says */
    spl_prune sprune;
    uint64_t dropped[2];  /* records of spilled groups the merge back dropped at the group cap,
                             the byte cap (esc_agg_dropped) */
    uint64_t join_unused; /* a join's subsearch: its rows past ESC_SPL_JOIN_ROWS, and those of
                             its own joins */
    bool join_cap;        /* a join's subsearch filtered by keys: of those, only the groups
                             among its first ESC_SPL_JOIN_ROWS come back (join_cap.c) */
    esc_str *cap_last;    /* ... those up to this key tuple; NULL: all */
    bool cap_none;        /* ... none */
};

#define STREAM_BATCH 1024                      /* rows a streamed stats takes at once, at most */
#define STREAM_BATCH_MIN 64                    /* ... at least (spl_raw_feed's first room) */
#define STREAM_BATCH_CELLS 4096                /* ... up to this many cells (96 KiB) */
#define STREAM_BATCH_BYTES ((size_t)256 << 10) /* ... and about this many bytes (row_mem) */
#define PRUNE_BATCH 256                        /* new tstats groups checked at once */
#define REGROUP_TRIM ((size_t)8 << 20)         /* groups let go at finish: their pages go back */
#define REGROUP_MIN ((size_t)1 << 20)          /* groups kept through the stages, not read again */
#define PIECE_ROWS 64                          /* rows an mvexpand expands at once (run_pieces) */

/* Commands whose output rows each depend on one input row only (no subsearch). */
bool spl_exec_row_local(const stage *st) {
    static const spl_cmd *const local[] = {
        &spl_cmd_rename,  &spl_cmd_convert, &spl_cmd_search, &spl_cmd_where,    &spl_cmd_eval,
        &spl_cmd_regex,   &spl_cmd_rex,     &spl_cmd_lookup, &spl_cmd_fillnull, &spl_cmd_makemv,
        &spl_cmd_replace, &spl_cmd_xmlkv,   &spl_cmd_bin,    &spl_cmd_bucket, /* span= only: each
                                                                                 row's own _time
                                                                                 (cmd_bin.c) */
        &spl_cmd_fields,  &spl_cmd_table,
    };
    if (st->sub)
        return false;
    if (st->cmd == &spl_cmd_addtotals)
        return spl_addtotals_row_local(st);
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (st->cmd == local[i])
            return true;
    return false;
}

/* Whether p's stages after its first give one row for each row, in order (row-local ones that
 * drop none), so that its rows are its groups in key order. */
static bool keeps_rows(const esc_plan *p) {
    for (size_t i = 1; i < p->nstages; i++) {
        const spl_cmd *c = p->stages[i].cmd;
        if (!spl_exec_row_local(&p->stages[i]) || c == &spl_cmd_search || c == &spl_cmd_where ||
            c == &spl_cmd_regex)
            return false;
    }
    return true;
}

/* A stats whose result depends on the order of its rows (first, last, list): it needs them
 * newest first, so they are kept and sorted. */
static bool order_dependent(const stage *st) {
    for (size_t i = 0; i < st->naggs; i++)
        if (st->aggs[i].fn == AGG_FIRST || st->aggs[i].fn == AGG_LAST || st->aggs[i].fn == AGG_LIST)
            return true;
    return false;
}

/* The stage a raw-event search can stream into (see above), or 0. */
static size_t stream_stage(const esc_plan *p) {
    for (size_t i = 1; i < p->nstages; i++) {
        if (p->stages[i].cmd == &spl_cmd_stats)
            return order_dependent(&p->stages[i]) ? 0 : i;
        if (!spl_exec_row_local(&p->stages[i]))
            return 0;
    }
    return 0;
}

/* The rows a streamed stats takes at once: about STREAM_BATCH_CELLS cells, a power of two
 * between STREAM_BATCH_MIN and STREAM_BATCH rows (spl_raw_feed's room doubles up to it). Each of
 * some 400 streamed raw-event searches holds a batch until its finish, cells of every column
 * (most null, many no later command reads); 1,024 rows of each held 20 MB of cells over the
 * 1 GiB benchmark. */
static size_t stream_batch(const esc_plan *p) {
    size_t ncols = p->stages[0].out.n ? p->stages[0].out.n : 1, n = STREAM_BATCH;
    while (n > STREAM_BATCH_MIN && n * ncols > STREAM_BATCH_CELLS)
        n /= 2;
    return n;
}

/* The rows kept so far through the row-local commands into the running stats; x->rows starts
 * empty again. */
static esc_status flush_rows(esc_exec *x, esc_error *err) {
    const esc_plan *p = x->p;
    esc_status rc = ESC_OK;
    spl_eval_set_now(x->now);
    for (size_t i = 1; i < x->stream_at && rc == ESC_OK; i++) {
        spl_run run = {x->rows, NULL};
        rc = p->stages[i].cmd->run(&p->stages[i], &run, err);
    }
    if (rc == ESC_OK)
        rc = spl_stats_add(x->acc, x->rows, err);
    esc_table_free(x->rows);
    x->rows_cap = x->rows_bytes = 0;
    if (!(x->rows = spl_table_new(&p->stages[0].out, 0)) && rc == ESC_OK)
        rc = spl_exec_oom(err);
    return rc;
}

esc_exec *esc_exec_new(const esc_plan *p, int64_t earliest_us, int64_t latest_us, esc_error *err) {
    esc_exec *x = esc_calloc(1, sizeof *x);
    if (!x)
        goto fail;
    x->p = p;
    x->earliest = earliest_us;
    x->latest = latest_us;
    x->now = latest_us != ESC_TIME_MAX ? esc_time_sec(latest_us) : (int64_t)time(NULL);
    x->ev = esc_evset_new();
    if (!x->ev)
        goto fail;
    if (p->ds == ESC_DS_RAW) {
        if (!(x->rows = spl_table_new(&p->stages[0].out, 0)))
            goto fail;
        x->stream_at = stream_stage(p);
        x->batch = stream_batch(p);
        if (x->stream_at && !(x->acc = spl_stats_open(&p->stages[x->stream_at])))
            goto fail;
        x->sprune_on = x->stream_at && spl_prune_stats(p, x->stream_at, &x->sprune);
    } else if (p->stages[0].cmd != &spl_cmd_inputlookup && p->stages[0].cmd != &spl_cmd_pipein &&
               !(x->agg = spl_agg_new(&p->stages[0]))) {
        goto fail;
    } else {
        x->prune_k = spl_prune_stages(p, NULL);
    }
    for (size_t i = 1; i < p->nstages; i++) {
        if (!p->stages[i].sub)
            continue;
        if (!x->subs && !(x->subs = esc_calloc(p->nstages, sizeof *x->subs)))
            goto fail;
        if (!(x->subs[i] = esc_exec_new(p->stages[i].sub, earliest_us, latest_us, err)))
            goto fail;
        x->subs[i]->keep_lineage = p->stages[i].cmd == &spl_cmd_map;
    }
    return x;
fail:
    esc_exec_free(x);
    esc_error_set(err, ESC_ENOMEM, "out of memory starting a search");
    return NULL;
}

void esc_exec_free(esc_exec *x) {
    if (!x)
        return;
    if (x->subs)
        for (size_t i = 0; i < x->p->nstages; i++)
            esc_exec_free(x->subs[i]);
    esc_free(x->subs);
    if (!x->owner) {
        esc_agg_free(x->agg);
        esc_evset_free(x->ev);
    }
    spl_spill_free(x->spill);
    spl_spill_free(x->rspill);
    spl_stats_free(x->acc);
    esc_table_free(x->rows);
    esc_table_free(x->kept);
    esc_free(x->dead);
    spl_prune_memo_free(x->memo);
    esc_free(x->sharer_p);
    spl_keyset_free(x->keys);
    esc_free(x->cap_last);
    esc_free(x->join_by);
    esc_table_free(x->early);
    esc_free(x);
}

void spl_exec_keep(esc_exec *x, esc_table *t) {
    esc_table_free(x->kept);
    x->kept = t;
}

/* The memo of x's verdicts: over the BY fields any of x's and its sharers' checks depend on,
 * each verdict the combined one (dead for each). */
static spl_prune_memo *memo_of(esc_exec *x) {
    if (!x->memo && !x->fed_all) {
        spl_prune_deps d;
        spl_prune_stages(x->p, &d);
        uint64_t by = d.by;
        bool skip = d.skip;
        for (size_t k = 0; k < x->nsharer_p; k++) {
            spl_prune_stages(x->sharer_p[k], &d);
            by |= d.by;
            skip = skip && d.skip;
        }
        x->memo = spl_prune_memo_new(by, x->p->stages[0].nby);
        x->memo_skip = skip;
    }
    return x->memo;
}

/* The groups x->checked..ng-1 checked: dead for x's plan and for every sharer's (each prunes:
 * esc_exec_share), so that each keeps every group that can give it a row. The verdict of a group
 * whose BY values of the memo's fields the memo holds is the memo's; the others with the same
 * such values as one before them in the batch share its verdict; the rest are checked, and
 * their verdicts go to the memo when every check was exact. A check that was not keeps every
 * group of the batch, as it would have with each of them checked (the memo's ones would have
 * been exact: their values decide that too). */
static esc_status check_dead(esc_exec *x, size_t ng, esc_error *err) {
    bool *dead = x->dead + x->checked;
    size_t n = ng - x->checked;
    spl_prune_memo *m = memo_of(x);
    bool memo = spl_prune_memo_on(m);
    size_t *todo = esc_malloc(n * sizeof *todo), *rep = esc_malloc(n * sizeof *rep);
    uint64_t *th = memo ? esc_malloc(n * sizeof *th) : NULL;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = memo ? esc_calloc(cap, sizeof *slot) : NULL;
    bool *res = esc_malloc(n ? n : 1), *other = x->nsharer_p ? esc_malloc(n ? n : 1) : NULL;
    esc_status rc = ESC_OK;
    if (!todo || !rep || !res || (memo && (!th || !slot)) || (x->nsharer_p && !other)) {
        rc = spl_exec_oom(err);
        goto done;
    }
    size_t nt = 0;
    esc_str keys[ESC_SPL_MAX_ITEMS];
    for (size_t i = 0; i < n; i++) {
        size_t g = x->checked + i;
        if (!memo) {
            rep[i] = nt;
            todo[nt++] = g;
            continue;
        }
        spl_prune_memo_keys(m, x->agg, g, keys);
        uint64_t h = spl_prune_memo_hash(m, keys);
        int v = spl_prune_memo_get(m, h, keys);
        if (v >= 0) {
            dead[i] = v;
            rep[i] = SIZE_MAX;
            continue;
        }
        size_t j = h & (cap - 1);
        for (; slot[j]; j = (j + 1) & (cap - 1)) {
            size_t t = slot[j] - 1;
            if (th[t] != h)
                continue;
            if (spl_prune_memo_same(m, x->agg, todo[t], keys))
                break;
        }
        if (slot[j]) {
            rep[i] = slot[j] - 1;
            continue;
        }
        th[nt] = h;
        slot[j] = (uint32_t)(nt + 1);
        rep[i] = nt;
        todo[nt++] = g;
    }
    bool exact = true;
    if (nt) {
        rc = spl_prune_check(x->p, x->prune_k, x->agg, todo, nt, res, &exact, err);
        for (size_t k = 0; rc == ESC_OK && exact && k < x->nsharer_p; k++) {
            const esc_plan *sp = x->sharer_p[k];
            rc = spl_prune_check(sp, spl_prune_stages(sp, NULL), x->agg, todo, nt, other, &exact,
                                 err);
            for (size_t t = 0; rc == ESC_OK && t < nt; t++)
                res[t] = res[t] && other[t];
        }
    }
    if (rc != ESC_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        dead[i] = exact && (rep[i] == SIZE_MAX ? dead[i] : res[rep[i]]);
    for (size_t t = 0; memo && exact && t < nt; t++) {
        spl_prune_memo_keys(m, x->agg, todo[t], keys);
        spl_prune_memo_put(m, th[t], keys, res[t]);
    }
done:
    esc_free(todo);
    esc_free(rep);
    esc_free(th);
    esc_free(slot);
    esc_free(res);
    esc_free(other);
    return rc;
}

/* Drop the groups that cannot give a row and give back their memory (spl/prune.c): the groups
 * created since the last check are checked; the dead ones are dropped when they outnumber the
 * live ones (each live group is copied a bounded number of times per dead group), or always
 * when final. */
static esc_status prune(esc_exec *x, bool final, esc_error *err) {
    spl_eval_set_now(x->now);
    size_t ng = esc_agg_ngroups(x->agg);
    if (ng > x->checked) {
        if (!ESC_VEC_GROW(x->dead, x->dead_cap, ng, PRUNE_BATCH))
            return spl_exec_oom(err);
        esc_status rc = check_dead(x, ng, err);
        if (rc != ESC_OK)
            return rc;
        for (size_t g = x->checked; g < ng; g++)
            x->ndead += x->dead[g];
        x->checked = ng;
    }
    if (!x->ndead || (!final && (x->ndead < ng - x->ndead || x->ndead < PRUNE_BATCH)))
        return ESC_OK;
    size_t *remap = esc_malloc(ng * sizeof *remap);
    if (!remap)
        return spl_exec_oom(err);
    for (size_t g = 0; g < ng; g++)
        x->dead[g] = !x->dead[g]; /* now: keep */
    esc_status rc = esc_agg_compact(x->agg, x->dead, remap, err);
    size_t nn = esc_agg_ngroups(x->agg);
    if (rc == ESC_OK && esc_evset_compact(x->ev, remap, ng, nn) != 0)
        rc = spl_exec_oom(err);
    esc_free(remap);
    memset(x->dead, 0, nn * sizeof *x->dead);
    x->ndead = 0;
    x->checked = nn;
    return rc;
}

esc_status esc_exec_fed_all(esc_exec *x, esc_error *err) {
    if (!x)
        return ESC_OK;
    esc_status rc = ESC_OK;
    if (x->agg && x->prune_k && !x->owner && !x->released && !x->sealed)
        rc = prune(x, true, err);
    spl_prune_memo_free(x->memo);
    x->memo = NULL;
    x->fed_all = true;
    for (size_t i = 0; x->subs && i < x->p->nstages && rc == ESC_OK; i++)
        rc = esc_exec_fed_all(x->subs[i], err);
    return rc;
}

size_t esc_exec_groups(const esc_exec *x) {
    if (x && x->rows)
        return x->rows->nrows;
    return x && x->agg ? esc_agg_ngroups(x->agg) : 0;
}

/* ---- memory: release and spill ---- */

/* x's groups go once x and every execution sharing them are released. */
static void let_go(esc_exec *x) {
    if (!x->released || (x->nsharers && !x->sealed))
        return; /* the sharers read these groups, or (sealed) the spill file */
    esc_agg_free(x->agg);
    esc_evset_free(x->ev);
    x->agg = NULL;
    x->ev = NULL;
    if (x->nsharers)
        return;
    spl_spill_free(x->spill);
    x->spill = NULL;
}

void esc_exec_release(esc_exec *x) {
    if (!x || x->released)
        return;
    x->released = true;
    for (size_t i = 0; x->subs && i < x->p->nstages; i++)
        esc_exec_release(x->subs[i]);
    esc_table_free(x->kept); /* a subsearch's rows: the joining search has its evidence */
    x->kept = NULL;
    spl_stats_free(x->acc);
    x->acc = NULL;
    esc_table_free(x->rows);
    x->rows = NULL;
    spl_spill_free(x->rspill);
    x->rspill = NULL;
    if (x->owner) {
        x->owner->nsharers--;
        let_go(x->owner);
        return;
    }
    let_go(x);
}

/* About the bytes row r of t holds: its cells, their values (with the allocator's overhead
 * for each) and its events. */
static size_t row_mem(const esc_table *t, size_t r) {
    size_t n = t->ncols * sizeof(esc_cell) + sizeof(size_t) + (t->lineage ? 64 : 0);
    for (size_t c = 0; c < t->ncols; c++) {
        const esc_cell *cell = esc_table_cell(t, r, c);
        n += cell->n ? cell->n * sizeof(char *) + 16 : 0;
        for (size_t i = 0; i < cell->n; i++)
            n += strlen(cell->v[i]) + 17;
    }
    return n;
}

/* The bytes of x's own groups (or kept rows), and whether a spill may move them (at least min
 * of them). */
static size_t own_mem(const esc_exec *x, size_t min, bool *may) {
    *may = false;
    if (x->rows && !x->acc && !x->released) { /* a raw-event search's kept rows */
        *may = x->rows_bytes >= min && x->rows->nrows;
        return x->rows_bytes;
    }
    if (x->acc && !x->released) { /* a raw-event search's streamed stats, and its batch */
        size_t n = spl_stats_mem(x->acc) + x->rows_bytes;
        *may = n >= min && (esc_agg_ngroups(spl_stats_agg(x->acc)) || x->rows->nrows) &&
               spl_stats_spillable(x->acc);
        return n;
    }
    if (x->owner || !x->agg)
        return 0;
    size_t n = esc_agg_mem(x->agg) + esc_evset_mem(x->ev);
    *may = !x->released && n >= min && esc_agg_ngroups(x->agg) && esc_agg_table_mergeable(x->agg);
    return n;
}

size_t esc_exec_mem(const esc_exec *x, size_t min, size_t *spillable) {
    bool may;
    size_t n = own_mem(x, min, &may), sp = may ? n : 0;
    for (size_t i = 0; x->subs && i < x->p->nstages; i++)
        if (x->subs[i]) {
            size_t s;
            n += esc_exec_mem(x->subs[i], min, &s);
            sp += s;
        }
    if (spillable)
        *spillable = sp;
    return n;
}

uint64_t esc_exec_spilled(const esc_exec *x) {
    return spl_spill_bytes(x->owner ? x->owner->spill : x->spill);
}

/* A streamed stats' groups that cannot give a row (prune.c) dropped, before they spill or
 * merge back: a spilled stats merges back only the groups its filters can keep. */
static esc_status prune_stream(esc_exec *x, esc_error *err) {
    spl_eval_set_now(x->now);
    size_t ng = esc_agg_ngroups(spl_stats_agg(x->acc)), ndead = 0;
    if (!x->sprune_on || !ng)
        return ESC_OK;
    esc_table *t = NULL;
    bool *dead = esc_malloc(ng);
    esc_status rc = dead ? spl_stats_key_rows(x->acc, &t, err) : spl_exec_oom(err);
    if (rc == ESC_OK)
        rc = spl_prune_check_rows(x->p, &x->sprune, t, dead, err);
    esc_table_free(t);
    for (size_t g = 0; rc == ESC_OK && g < ng; g++) {
        ndead += dead[g];
        dead[g] = !dead[g]; /* now: keep */
    }
    if (rc == ESC_OK && ndead)
        rc = spl_stats_compact(x->acc, dead, err);
    esc_free(dead);
    return rc;
}

esc_status esc_exec_spill(esc_exec *x, size_t min, esc_error *err) {
    bool may;
    own_mem(x, min, &may);
    esc_status rc = ESC_OK;
    if (may && x->acc) { /* the rows so far into the stats, then its groups */
        if ((rc = flush_rows(x, err)) == ESC_OK && (rc = prune_stream(x, err)) == ESC_OK)
            rc = spl_stats_spill(x->acc, &x->spill, err);
        may = false;
    }
    if (may && x->rows && !x->acc) { /* kept rows: to the file, in the order they came */
        if ((rc = spl_spill_rows(&x->rspill, x->rows, err)) == ESC_OK)
            x->rows_bytes = x->rows_cap = 0;
        may = false;
    }
    if (may && x->prune_k) /* the groups that cannot give a row go first */
        rc = prune(x, true, err);
    if (!rc && may && (rc = spl_spill_write(&x->spill, x->agg, x->ev, err)) == ESC_OK)
        x->checked = x->ndead = 0;
    for (size_t i = 0; !rc && x->subs && i < x->p->nstages; i++)
        if (x->subs[i])
            rc = esc_exec_spill(x->subs[i], min, err);
    return rc;
}

/* At finish: the spilled groups back, merged in the order they were fed (the groups in memory
 * are spilled last, so that ties keep the earliest as one table would). */
static esc_status seal(esc_exec *x, esc_error *err) {
    if (x->sealed)
        return ESC_OK;
    x->sealed = true;
    esc_status rc = spl_spill_write(&x->spill, x->agg, x->ev, err);
    /* a file that fails a write from then on holds what comes in memory, after its chunks
     * (spill.c put_chunk), as the writing thread does: the groups go there, in their order */
    if (rc == ESC_EIO && x->spill &&
        (rc = spl_spill_write(&x->spill, x->agg, x->ev, err)) == ESC_OK)
        esc_error_clear(err);
    return rc;
}

/* Whether x's groups come back through a filter (first_keep). */
static bool first_filter(const esc_exec *x) {
    return spl_keyset_any(x->keys) || x->cap_last || x->cap_none;
}

/* The filter x's spilled groups first come back through: the semi-join's keys, and of those
 * the ones among a join's first rows. */
static bool first_keep(void *ctx, const esc_str *keys) {
    const esc_exec *x = ctx;
    return !x->cap_none && (!x->keys || spl_keyset_keep(x->keys, keys)) &&
           (!x->cap_last || spl_keys_cmp(keys, x->cap_last, x->p->stages[0].nby) <= 0);
}

/* x's spilled groups merged back through first_keep; the file is not read when it keeps none
 * (a join's other side gave no value of a join field, or none of x's groups is among the
 * join's first rows): over 1 GiB of XML, 19 reads, 13 of them of 9 to 86 MB, for nothing. */
static esc_status unspill(esc_exec *x, esc_error *err) {
    esc_exec *from = x->borrow ? x->borrow : x;
    esc_status rc = seal(from, err);
    bool (*keep)(void *, const esc_str *) = first_filter(x) ? first_keep : NULL;
    if (!rc && !(keep && (x->cap_none || spl_keyset_none(x->keys))))
        rc = spl_spill_read(from->spill, x->agg, x->ev, keep, x, err);
    esc_agg_dropped(x->agg, &x->dropped[0], &x->dropped[1]); /* (a regroup's are these again) */
    x->checked = esc_agg_ngroups(x->agg); /* every group was checked before its spill */
    return rc;
}

/* x has read its spill file for the last time: the file goes (a borrowed one once every
 * sharer has read it). */
static void unspill_done(esc_exec *x) {
    spl_keyset_free(x->keys);
    x->keys = NULL;
    esc_free(x->cap_last);
    x->cap_last = NULL;
    x->cap_none = false;
    if (x->borrow) {
        x->borrow->nsharers--;
        let_go(x->borrow);
        x->borrow = NULL;
    } else if (!x->nsharers) {
        spl_spill_free(x->spill);
        x->spill = NULL;
    }
}

/* A sharer of a spilled owner finishing: its own tables, filled from the owner's file. */
static esc_status detach(esc_exec *x, esc_error *err) {
    esc_exec *o = x->owner;
    esc_status rc = seal(o, err); /* o's groups still in memory go to the file first */
    if (rc)
        return rc;
    x->agg = spl_agg_new(&x->p->stages[0]);
    x->ev = esc_evset_new();
    x->owner = NULL;
    x->borrow = o; /* o->nsharers still counts x until x has read the file */
    return x->agg && x->ev ? ESC_OK : spl_exec_oom(err);
}

static const spl_spill *spill_of(const esc_exec *x) {
    return x->borrow ? x->borrow->spill : x->spill;
}

/* ---- semi-join of spilled groups (semijoin.c) ---- */

/* The first join of x's pipeline, or 0. */
static size_t first_join(const esc_exec *x) {
    for (size_t i = 1; x->subs && i < x->p->nstages; i++)
        if (x->p->stages[i].cmd == &spl_cmd_join && x->subs[i])
            return i;
    return 0;
}

/* x's own groups filtered by the rows of its first join's subsearch, finished first (kept for
 * the join as sub->early). */
static esc_status filter_main(esc_exec *x, size_t i, esc_error *err) {
    const stage *st = &x->p->stages[i];
    esc_exec *sub = x->subs[i];
    esc_status rc = esc_exec_finish(sub, &sub->early, err);
    if (rc)
        return rc;
    if (!(x->keys = spl_keyset_new(x->p->stages[0].nby)))
        return spl_exec_oom(err);
    for (size_t k = 0; k < st->nnames; k++) {
        int b = spl_semijoin_main_by(x->p, i, k);
        if (b >= 0 && !spl_keyset_add_column(x->keys, (size_t)b, sub->early, (size_t)st->cols2[k]))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

/* Whether the stages after stage i give no row when i gives none: row-local commands, dedup,
 * sort, and stats by some field (over no rows: no groups, so no rows). */
static bool none_from_none(const esc_plan *p, size_t i) {
    for (size_t j = i + 1; j < p->nstages; j++) {
        const stage *st = &p->stages[j];
        if (!spl_exec_row_local(st) && st->cmd != &spl_cmd_dedup && st->cmd != &spl_cmd_sort &&
            !(st->cmd == &spl_cmd_stats && st->nby > 0 && !st->sub))
            return false;
    }
    return true;
}

/* An inner join (stage i) after row-local commands, whose subsearch, finished first, has no
 * rows, pairs no row of x's whatever its groups: when the stages after the join also give no
 * row from none, x's final table is empty, so none of its spilled groups need come back (the
 * keys filter keeps nothing); nor does evidence change, there being no rows to carry it. A
 * subsearch with rows stays finished for the join (sub->early), nothing filtered. */
static esc_status filter_empty(esc_exec *x, size_t i, esc_error *err) {
    const esc_plan *p = x->p;
    if (p->stages[i].join_type != 0 || !none_from_none(p, i))
        return ESC_OK;
    for (size_t j = 1; j < i; j++)
        if (!spl_exec_row_local(&p->stages[j]))
            return ESC_OK;
    esc_exec *sub = x->subs[i];
    esc_status rc = esc_exec_finish(sub, &sub->early, err);
    if (rc || sub->early->nrows || !sub->early->ncols || !p->stages[0].nby)
        return rc;
    if (!(x->keys = spl_keyset_new(p->stages[0].nby)) ||
        !spl_keyset_add_column(x->keys, 0, sub->early, 0)) /* no values: keeps no group */
        return spl_exec_oom(err);
    return ESC_OK;
}

/* Before x's spilled groups merge back: filter the side of its first join that spilled more
 * (x's own groups by the subsearch's rows, or the subsearch's groups, when it finishes in the
 * join, by the rows reaching it). */
static esc_status semijoin(esc_exec *x, esc_error *err) {
    size_t i = first_join(x);
    if (!i)
        return ESC_OK;
    const stage *st = &x->p->stages[i];
    esc_exec *sub = x->subs[i];
    bool main_side = false, sub_side = false;
    for (size_t k = 0; k < st->nnames; k++) {
        main_side |= spl_semijoin_main_by(x->p, i, k) >= 0;
        sub_side |= spl_semijoin_sub_by(x->p, i, k) >= 0;
    }
    uint64_t mine = spl_spill_bytes(spill_of(x)), theirs = spl_spill_bytes(sub->spill);
    if (main_side && x->agg && spill_of(x) && !x->owner && mine >= theirs)
        return filter_main(x, i, err);
    if (!main_side && !sub_side && x->agg && spill_of(x) && !x->owner)
        return filter_empty(x, i, err);
    /* the join uses the subsearch's first ESC_SPL_JOIN_ROWS rows: with more groups (one row
     * each at most), which they are is known from all of them (join_cap.c), when its stages
     * keep every row in order; else its groups are merged whole */
    uint64_t groups = spl_spill_groups(sub->spill) + (sub->agg ? esc_agg_ngroups(sub->agg) : 0);
    bool over = groups > ESC_SPL_JOIN_ROWS;
    if (!sub_side || !sub->spill || (over && !keeps_rows(sub->p)))
        return ESC_OK;
    sub->join_cap = over;
    if (!(sub->join_by = esc_malloc(st->nnames * sizeof *sub->join_by)))
        return spl_exec_oom(err);
    for (size_t k = 0; k < st->nnames; k++)
        sub->join_by[k] = spl_semijoin_sub_by(x->p, i, k);
    return ESC_OK;
}

/* Rows of t past the first n dropped, with their events and evidence. */
static void table_truncate(esc_table *t, size_t n) {
    for (size_t r = n; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++)
            spl_cell_clear(&t->cells[r * t->ncols + c]);
        if (t->evidence)
            spl_row_evidence_free(&t->evidence[r]);
    }
    if (n < t->nrows) {
        t->nrows = n;
        spl_table_shrink(t);
    }
}

esc_status spl_exec_join_rows(esc_exec *sub, const stage *st, const esc_table *t, esc_table **s,
                              esc_error *err) {
    if (sub->early) {
        *s = sub->early;
        sub->early = NULL;
    } else {
        if (sub->join_by && sub->spill) {
            if (!(sub->keys = spl_keyset_new(sub->p->stages[0].nby)))
                return spl_exec_oom(err);
            for (size_t k = 0; k < st->nnames; k++)
                if (sub->join_by[k] >= 0 &&
                    !spl_keyset_add_column(sub->keys, (size_t)sub->join_by[k], t,
                                           (size_t)st->cols[k]))
                    return spl_exec_oom(err);
        }
        esc_status rc = ESC_OK;
        uint64_t groups = 0; /* (the subsearch's rows, when its filter counted them) */
        if (sub->join_cap && spl_keyset_any(sub->keys) && (rc = seal(sub, err)) == ESC_OK)
            rc = spl_join_cap_cutoff(sub->spill, sub->agg, sub->keys, sub->p->stages[0].nby,
                                     ESC_SPL_JOIN_ROWS, &sub->cap_last, &sub->cap_none, &groups,
                                     err);
        sub->join_unused = groups > ESC_SPL_JOIN_ROWS ? groups - ESC_SPL_JOIN_ROWS : 0;
        if (rc == ESC_OK)
            rc = esc_exec_finish(sub, s, err);
        if (rc != ESC_OK)
            return rc;
    }
    /* Splunk joins the first 50,000 rows of the subsearch (SPL reference, join: "A maximum of
     * 50,000 rows in the right-side dataset can be joined"; limits.conf [join]
     * subsearch_maxout) */
    sub->join_unused += (*s)->join_unused;
    if ((*s)->nrows > ESC_SPL_JOIN_ROWS) {
        sub->join_unused += (*s)->nrows - ESC_SPL_JOIN_ROWS;
        table_truncate(*s, ESC_SPL_JOIN_ROWS);
    }
    return ESC_OK;
}

esc_status esc_exec_feed(esc_exec *x, const esc_record *r, esc_error *err) {
    if (r->time_us < x->earliest || (x->latest != ESC_TIME_MAX && r->time_us >= x->latest))
        return ESC_OK;
    x->fed = true;
    if (x->subs)
        for (size_t i = 0; i < x->p->nstages; i++) {
            esc_status rs = x->subs[i] ? esc_exec_feed(x->subs[i], r, err) : ESC_OK;
            if (rs != ESC_OK)
                return rs;
        }
    if (x->owner || (!x->rows && !x->agg) || !spl_main_matches(x->p, r))
        return ESC_OK; /* shared, or reads no records (inputlookup, a subpipeline) */
    if (x->rows) {
        esc_status rs = spl_raw_feed(&x->p->stages[0], x->rows, &x->rows_cap, r, err);
        if (rs == ESC_OK)
            x->rows_bytes += row_mem(x->rows, x->rows->nrows - 1);
        if (rs == ESC_OK && x->acc &&
            (x->rows->nrows >= x->batch || x->rows_bytes >= STREAM_BATCH_BYTES))
            rs = flush_rows(x, err);
        return rs;
    }
    uint64_t before, after;
    esc_agg_last(x->agg, &before);
    spl_prune_memo *skip = x->memo_skip && spl_prune_memo_any_dead(x->memo) ? x->memo : NULL;
    esc_status rc = spl_tstats_feed(&x->p->stages[0], x->agg, r, skip, err);
    size_t g = esc_agg_last(x->agg, &after);
    bool dead = g < x->checked && x->dead[g];
    if (rc == ESC_OK && after != before && r->ev && !dead)
        rc = spl_evidence_feed(x->ev, g, r, err);
    if (rc == ESC_OK && x->prune_k && esc_agg_ngroups(x->agg) - x->checked >= PRUNE_BATCH)
        rc = prune(x, false, err);
    return rc;
}

/* ---- two stages (docs/scale.md) ---- */

/* The aggregating stage a two-stage execution splits at: 0 (tstats) or the streamed stats. */
static const stage *split_stage(const esc_plan *p, char *why, size_t n) {
    size_t at = p->ds == ESC_DS_RAW ? stream_stage(p) : 0;
    for (size_t i = 0; i < p->nstages; i++)
        if (p->stages[i].sub) {
            snprintf(why, n, "command %zu (%s) has a subsearch, which reads every record", i + 1,
                     p->stages[i].cmd->name);
            return NULL;
        }
    if (p->ds == ESC_DS_RAW && !at) {
        snprintf(why, n,
                 "no stats that follows only row-local commands (eval, where, rex, ...) "
                 "to split at");
        return NULL;
    }
    const stage *st = &p->stages[at];
    for (size_t i = 0; i < st->naggs; i++) {
        aggfn f = st->aggs[i].fn;
        if (f == AGG_LIST || f >= AGG_FIRST_LOCAL) {
            snprintf(why, n, "%s() does not merge from partial results", spl_agg_name(f));
            return NULL;
        }
    }
    return st;
}

bool esc_plan_mergeable(const esc_plan *p, char **why) {
    char buf[256];
    bool ok = split_stage(p, buf, sizeof buf) != NULL;
    if (why)
        *why = ok ? NULL : esc_strdup(buf);
    return ok;
}

/* The running aggregates of a two-stage execution (the streamed rows flushed into them). */
static esc_status split_agg(esc_exec *x, esc_agg **a, esc_error *err) {
    char why[256];
    if (!split_stage(x->p, why, sizeof why))
        return esc_error_set(err, ESC_EINTERNAL, "two stages: %s", why);
    esc_status rc;
    if (x->acc && (rc = flush_rows(x, err)) != ESC_OK)
        return rc;
    *a = x->acc ? spl_stats_agg(x->acc) : x->agg;
    return ESC_OK;
}

esc_status esc_exec_partial(esc_exec *x, esc_buf *out, esc_error *err) {
    esc_agg *a = NULL;
    esc_status rc = split_agg(x, &a, err);
    return rc ? rc : esc_agg_encode(a, NULL, 0, out, err);
}

esc_status esc_exec_merge(esc_exec *x, const void *data, size_t len, esc_error *err) {
    esc_agg *a = NULL;
    esc_status rc = split_agg(x, &a, err);
    return rc ? rc : esc_agg_merge(a, data, len, err);
}

/* The text of p's source stage, without the spaces around it (`...process_guid| join` and
 * `...process_guid | join` share their groups). */
static esc_str source_text(const esc_plan *p) {
    const stage *st = &p->stages[0];
    return esc_str_trim(esc_str_make(p->expanded + st->start, st->end - st->start));
}

/* Identical source text means an identical source stage: it is parsed and planned from its
 * text and its data model alone. Only Processes sources are shared: the hunt feeds every
 * Processes record to every execution, so the owner sees every record a sharer would. When both
 * prune, the owner drops a group only when it is dead for each of them (check_dead): a group a
 * sharer keeps, the owner's own pipeline drops in the same prefix that found it dead for the
 * owner, so neither's rows change; when only one prunes, the groups are not shared. */
bool esc_exec_share(esc_exec *x, esc_exec *owner) {
    if (x == owner || x->owner || owner->owner || !x->agg || !owner->agg || x->fed || owner->fed ||
        !x->prune_k != !owner->prune_k || x->p->ds != ESC_DS_PROCESSES ||
        owner->p->ds != ESC_DS_PROCESSES || x->earliest != owner->earliest ||
        x->latest != owner->latest || !x->p->expanded || !owner->p->expanded ||
        !esc_str_eq(source_text(x->p), source_text(owner->p)))
        return false;
    if (x->prune_k) {
        const esc_plan **sp =
            esc_realloc(owner->sharer_p, (owner->nsharer_p + 1) * sizeof *owner->sharer_p);
        if (!sp)
            return false;
        owner->sharer_p = sp;
        owner->sharer_p[owner->nsharer_p++] = x->p;
    }
    esc_agg_free(x->agg);
    esc_evset_free(x->ev);
    x->agg = owner->agg;
    x->ev = owner->ev;
    x->owner = owner;
    owner->nsharers++;
    return true;
}

/* ---- newest first ---- */

typedef struct row_at {
    double t;
    size_t i;
} row_at;

static int cmp_newest(const void *a, const void *b) {
    const row_at *x = a, *y = b;
    if (x->t != y->t)
        return x->t > y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* A raw-event search's kept rows in the order Splunk returns events: newest _time first (rows
 * of one _time, and rows without one, keep their event order; rows without one go last). */
static esc_status newest_first(esc_table *t, esc_error *err) {
    if (t->nrows < 2)
        return ESC_OK;
    row_at *o = esc_malloc(t->nrows * sizeof *o);
    esc_cell *c = esc_malloc(t->nrows * t->ncols * sizeof *c);
    if (!o || !c) {
        esc_free(o);
        esc_free(c);
        return spl_exec_oom(err);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        const esc_cell *tc = &t->cells[r * t->ncols]; /* column 0 is _time (cmd_raw.c) */
        o[r] = (row_at){tc->n && tc->is_num ? tc->num : -INFINITY, r};
    }
    qsort(o, t->nrows, sizeof *o, cmp_newest);
    for (size_t r = 0; r < t->nrows; r++)
        memcpy(&c[r * t->ncols], &t->cells[o[r].i * t->ncols], t->ncols * sizeof *c);
    for (size_t r = 0; t->row_id && r < t->nrows; r++) /* each row's events go with it */
        o[r].i = t->row_id[o[r].i];
    for (size_t r = 0; t->row_id && r < t->nrows; r++)
        t->row_id[r] = o[r].i;
    esc_free(t->cells);
    t->cells = c;
    esc_free(o);
    return ESC_OK;
}

/* ---- tables and cells (shared by the commands' run hooks) ---- */

/* Whether c's one value sits in its value array's allocation (spl_cell_set). */
static bool inline_value(const esc_cell *c) {
    return c->n == 1 && c->v[0] == (char *)(c->v + 1);
}

void spl_cell_free_values(esc_cell *c) {
    for (size_t i = 0; i < c->n && !inline_value(c); i++)
        esc_free(c->v[i]);
    esc_free(c->v);
}

void spl_cell_replace(esc_cell *c, size_t i, char *nv) {
    if (!inline_value(c))
        esc_free(c->v[i]);
    c->v[i] = nv;
}

bool spl_cell_own(esc_cell *c) {
    if (!inline_value(c))
        return true;
    char *s = esc_strdup(c->v[0]);
    char **v = s ? esc_malloc(sizeof *v) : NULL;
    if (!v) {
        esc_free(s);
        return false;
    }
    v[0] = s;
    esc_free(c->v);
    c->v = v;
    return true;
}

void esc_table_free(esc_table *t) {
    if (!t)
        return;
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        spl_cell_clear(&t->cells[i]);
    for (size_t i = 0; t->cols && i < t->ncols; i++)
        esc_free(t->cols[i]);
    esc_free(t->cols);
    esc_free(t->mv_col);
    esc_free(t->cells);
    esc_free(t->row_id);
    esc_evset_free(t->lineage);
    spl_evidence_free(t);
    esc_free(t);
}

int esc_table_col(const esc_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0)
            return (int)i;
    return -1;
}

bool esc_cell_eq(const esc_cell *a, const esc_cell *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

esc_status spl_exec_oom(esc_error *err) {
    return esc_error_set(err, ESC_ENOMEM, "out of memory building results");
}

/* Set c to the values v[0..n) (copied). */
bool spl_cell_set(esc_cell *c, const esc_str *v, size_t n) {
    spl_cell_clear(c);
    if (!n)
        return true;
    if (n > ESC_SPL_CELL_MAX_VALUES) /* 32 GiB of pointers alone */
        return false;
    if (n == 1) { /* the value past its array, in one allocation */
        size_t len = v[0].ptr ? v[0].len : 0;
        if (!(c->v = esc_malloc(sizeof *c->v + len + 1)))
            return false;
        char *s = (char *)(c->v + 1);
        if (len)
            memcpy(s, v[0].ptr, len);
        s[len] = 0;
        c->v[0] = s;
        c->n = 1;
        return true;
    }
    c->v = esc_calloc(n, sizeof *c->v);
    if (!c->v)
        return false;
    for (size_t i = 0; i < n; i++) {
        c->v[i] = esc_strndup(v[i].ptr ? v[i].ptr : "", v[i].len);
        if (!c->v[i])
            return false;
        c->n = i + 1;
    }
    return true;
}

/* A non-integer's text (printf's "%.15g", read back, else "%.17g": over a thousand
 * instructions) remembered per thread by the number's bits: a finishing search writes the same
 * average or deviation into every row of its group (eventstats, stats values()). */
#define NUM_MEMO_BITS 6 /* 64 numbers */
typedef struct num_memo {
    uint64_t bits;
    uint8_t len; /* 0: empty */
    char text[31];
} num_memo;
static _Thread_local num_memo num_memos[1u << NUM_MEMO_BITS];

__extension__ typedef unsigned __int128 u128; /* GCC and Clang on 64-bit targets */

static uint64_t pow10u(int n) {
    uint64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* printf's "%.<prec>g" of a non-integer v with 1 <= |v| < 1e15 (prec 15 or 17: fixed notation,
 * prec - (its integer digits) digits after the point, trailing zeros dropped) into out, without
 * printf: |v| is N / 2^s exactly (N of 53 bits, 0 < s <= 52), so N * 10^D / 2^s in 128-bit
 * integers, rounded to nearest with ties to even as glibc rounds, gives the digits. 0 for
 * anything else (and for a rounding that carries into another digit): printf decides. */
size_t spl_num_fixed_g(double v, int prec, char *out) {
    double a = fabs(v);
    if (!(a >= 1 && a < 1e15) || a == floor(a) || (prec != 15 && prec != 17))
        return 0;
    int e;
    uint64_t n = (uint64_t)ldexp(frexp(a, &e), 53), ip;
    int s = 53 - e, intdigits = 1, d;
    ip = n >> s;
    while (intdigits < 16 && ip >= pow10u(intdigits))
        intdigits++;
    d = prec - intdigits;
    u128 x = (u128)n * pow10u(d), half = (u128)1 << (s - 1), r = x & (((u128)1 << s) - 1);
    uint64_t q = (uint64_t)(x >> s);
    if (r > half || (r == half && (q & 1)))
        q++;
    if (q >= pow10u(prec))
        return 0;
    char dig[24];
    esc_fmt_u64(dig, q, (unsigned)prec);
    size_t k = 0, last = (size_t)prec;
    while (last > (size_t)intdigits && dig[last - 1] == '0')
        last--;
    if (v < 0)
        out[k++] = '-';
    memcpy(out + k, dig, (size_t)intdigits);
    k += (size_t)intdigits;
    if (last > (size_t)intdigits) {
        out[k++] = '.';
        memcpy(out + k, dig + intdigits, last - (size_t)intdigits);
        k += last - (size_t)intdigits;
    }
    out[k] = 0;
    return k;
}

size_t spl_num_text(double v, char *buf, size_t cap) {
    int n;
    if (v == floor(v) && fabs(v) < 1e15 && cap > ESC_FMT_MAX + 1) { /* "%.0f", without printf */
        size_t k = signbit(v) ? 1 : 0;
        buf[0] = '-';
        k += esc_fmt_u64(buf + k, (uint64_t)fabs(v), 0);
        buf[k] = 0;
        return k;
    }
    if (v == floor(v) && fabs(v) < 1e15)
        n = snprintf(buf, cap, "%.0f", v);
    else {
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        num_memo *m = &num_memos[(bits * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - NUM_MEMO_BITS)];
        if (m->len && m->bits == bits && m->len < cap) {
            memcpy(buf, m->text, (size_t)m->len + 1);
            return m->len;
        }
        bool fast = cap > ESC_FMT_MAX + 1 && (n = (int)spl_num_fixed_g(v, 15, buf)) > 0;
        if (!fast)
            n = snprintf(buf, cap, "%.15g", v);
        double back;
        if ((!spl_parse_num(buf, (size_t)n, &back) || back != v) &&
            (!fast || (n = (int)spl_num_fixed_g(v, 17, buf)) == 0))
            n = snprintf(buf, cap, "%.17g", v);
        if (n > 0 && (size_t)n < cap && (size_t)n < sizeof m->text) {
            m->bits = bits;
            m->len = (uint8_t)n;
            memcpy(m->text, buf, (size_t)n + 1);
        }
    }
    return (size_t)n;
}

bool spl_cell_num(esc_cell *c, double v, const esc_str *text) {
    char buf[64];
    esc_str s = text ? *text : esc_str_make(buf, spl_num_text(v, buf, sizeof buf));
    if (!spl_cell_set(c, &s, 1))
        return false;
    c->is_num = true;
    c->num = v;
    return true;
}

bool spl_cell_copy(esc_cell *dst, const esc_cell *src) {
    esc_str tmp[1];
    spl_cell_clear(dst);
    if (!src->n)
        return true;
    if (src->n == 1) { /* one allocation (spl_cell_set) */
        tmp[0] = esc_str_c(src->v[0]);
        if (!spl_cell_set(dst, tmp, 1))
            return false;
        dst->is_num = src->is_num;
        dst->num = src->num;
        return true;
    }
    dst->v = esc_calloc(src->n, sizeof *dst->v);
    if (!dst->v)
        return false;
    for (size_t i = 0; i < src->n; i++) {
        tmp[0] = esc_str_c(src->v[i]);
        dst->v[i] = esc_strndup(tmp[0].ptr, tmp[0].len);
        if (!dst->v[i])
            return false;
        dst->n = i + 1;
    }
    dst->is_num = src->is_num;
    dst->num = src->num;
    return true;
}

esc_table *spl_table_new(const schema *s, size_t nrows) {
    esc_table *t = esc_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = s->n;
    t->cols = esc_calloc(s->n ? s->n : 1, sizeof *t->cols);
    t->mv_col = esc_calloc(s->n ? s->n : 1, sizeof *t->mv_col);
    size_t ncells = s->n * nrows;
    t->cells = esc_calloc(ncells ? ncells : 1, sizeof *t->cells);
    if (!t->cols || !t->mv_col || !t->cells)
        goto fail;
    t->nrows = nrows;
    for (size_t i = 0; i < s->n; i++) {
        t->cols[i] = esc_strdup(s->name[i]);
        if (!t->cols[i])
            goto fail;
        t->mv_col[i] = s->mv[i];
    }
    return t;
fail:
    t->nrows = 0;
    esc_table_free(t);
    return NULL;
}

void spl_table_swap(esc_table *a, esc_table *b) {
    esc_table tmp = *a;
    *a = *b;
    *b = tmp;
}

/* Whether rebuilding t in place (remap_in_place) gives the table spl_table_remap's copy would:
 * the copy keeps the rows, their ids and events, and sets the rest as spl_table_new makes a
 * table (no evidence, counts at zero), so t must be so already. */
static bool plain(const esc_table *t) {
    return !t->evidence && !t->regex_limited && !t->dropped_groups && !t->dropped_bytes &&
           !t->join_unused && (t->lineage || !t->evidence_truncated);
}

static void free_names(char **cols, bool *mv, size_t n) {
    for (size_t i = 0; cols && i < n; i++)
        esc_free(cols[i]);
    esc_free(cols);
    esc_free(mv);
}

/* Whether map keeps t's n columns where they are and adds the rest. */
static bool widens(const int *map, size_t nmap, size_t n) {
    for (size_t i = 0; i < nmap; i++)
        if (map[i] != (i < n ? (int)i : -1))
            return false;
    return nmap >= n;
}

/* t rebuilt where its cells are (see spl_table_remap), without holding the old cells and the
 * new at once (a table of every process a detection counts, renamed, then widened by an eval
 * and an eventstats): a narrower table's rows move down one at a time, the first first, then
 * the cells shrink; a wider one (map: its columns, then new ones) grows its cells (realloc)
 * and moves its rows up, the last first; one as wide, its columns where they are (an eval
 * batch after the first), keeps its cells. grow: widens(map, ...), the caller's answer. False,
 * t unchanged, when out of memory. */
static bool remap_in_place(esc_table *t, const schema *s, const int *map, bool grow) {
    size_t no = t->ncols, nn = s->n, ncells = t->nrows * nn > 0 ? t->nrows * nn : 1;
    char **cols = esc_calloc(nn ? nn : 1, sizeof *cols);
    bool *mv = esc_calloc(nn ? nn : 1, sizeof *mv);
    bool ok = cols && mv;
    for (size_t i = 0; ok && i < nn; i++) {
        ok = (cols[i] = esc_strdup(s->name[i])) != NULL;
        mv[i] = s->mv[i];
    }
    esc_cell *cells = t->cells, *row = NULL;
    if (ok && grow) { /* the same columns, and maybe new ones */
        if (nn > no && (ok = (cells = esc_realloc(t->cells, ncells * sizeof *cells)) != NULL))
            for (size_t r = t->nrows; r-- > 0;) {
                memmove(&cells[r * nn], &cells[r * no], no * sizeof *cells);
                memset(&cells[r * nn + no], 0, (nn - no) * sizeof *cells);
            }
    } else if (ok && (ok = (row = esc_malloc((no ? no : 1) * sizeof *row)) != NULL)) {
        for (size_t r = 0; r < t->nrows; r++) { /* row r lands on rows already moved out */
            memcpy(row, &cells[r * no], no * sizeof *row);
            memset(&cells[r * no], 0, no * sizeof *row);
            for (size_t i = 0; i < nn; i++)
                if (map[i] >= 0) {
                    cells[r * nn + i] = row[map[i]];
                    memset(&row[map[i]], 0, sizeof *row);
                }
            for (size_t k = 0; k < no; k++) /* the columns not kept */
                spl_cell_clear(&row[k]);
        }
        esc_free(row);
    }
    if (!ok) {
        free_names(cols, mv, nn);
        return false;
    }
    free_names(t->cols, t->mv_col, no);
    t->cols = cols;
    t->mv_col = mv;
    t->cells = cells;
    t->ncols = nn;
    if (nn < no)
        spl_table_shrink(t);
    return true;
}

/* Rebuild t with the columns of st->out where output column i takes input column map[i]
 * (moved, not copied; -1 = empty). */
esc_status spl_table_remap(esc_table *t, const schema *s, const int *map, esc_error *err) {
    bool grow = widens(map, s->n, t->ncols);
    if (plain(t) && (s->n <= t->ncols || grow))
        return remap_in_place(t, s, map, grow) ? ESC_OK : spl_exec_oom(err);
    esc_table *n = spl_table_new(s, t->nrows);
    if (!n)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < s->n; i++)
            if (map[i] >= 0) {
                n->cells[r * s->n + i] = t->cells[r * t->ncols + (size_t)map[i]];
                memset(&t->cells[r * t->ncols + (size_t)map[i]], 0, sizeof(esc_cell));
            }
    n->row_id = t->row_id; /* same rows, same order */
    t->row_id = NULL;
    spl_lineage_carry(n, t);
    spl_table_swap(t, n);
    esc_table_free(n);
    return ESC_OK;
}

/* Widen t to the schema s (which extends t's columns). */
esc_status spl_table_widen(esc_table *t, const schema *s, esc_error *err) {
    int map[ESC_SPL_MAX_COLUMNS];
    if (s->n > ESC_SPL_MAX_COLUMNS)
        return esc_error_set(err, ESC_ELIMIT, "more than %d columns", ESC_SPL_MAX_COLUMNS);
    for (size_t i = 0; i < s->n; i++)
        map[i] = i < t->ncols ? (int)i : -1;
    return spl_table_remap(t, s, map, err);
}

/* Keep rows with keep[r] set. */
void spl_table_filter(esc_table *t, const bool *keep) {
    size_t o = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (keep[r]) {
            if (o != r)
                memmove(&t->cells[o * t->ncols], row, t->ncols * sizeof *row);
            if (t->row_id)
                t->row_id[o] = t->row_id[r];
            o++;
        } else {
            for (size_t c = 0; c < t->ncols; c++)
                spl_cell_clear(&row[c]);
        }
    }
    size_t was = t->nrows;
    t->nrows = o;
    if (o <= was / 2) /* a `where` keeping few of many rows: their room goes back */
        spl_table_shrink(t);
}

/* Give back the room of rows past t->nrows (a smaller block or none is only a saving, so a
 * failed realloc leaves the table as it is). */
void spl_table_shrink(esc_table *t) {
    size_t ncells = t->nrows * t->ncols;
    esc_cell *c = esc_realloc(t->cells, (ncells ? ncells : 1) * sizeof *c);
    if (c)
        t->cells = c;
    if (t->row_id) {
        size_t *id = esc_realloc(t->row_id, (t->nrows ? t->nrows : 1) * sizeof *id);
        if (id)
            t->row_id = id;
    }
}

esc_status spl_table_add_rows(esc_table *t, size_t n, esc_error *err) {
    size_t rows = t->nrows + n;
    if (rows > ESC_SPL_MAX_ROWS)
        return esc_error_set(err, ESC_ELIMIT, "more than %d rows", ESC_SPL_MAX_ROWS);
    size_t ncells = rows * t->ncols;
    esc_cell *c = esc_realloc(t->cells, (ncells ? ncells : 1) * sizeof *c);
    if (!c)
        return spl_exec_oom(err);
    t->cells = c;
    memset(c + t->nrows * t->ncols, 0, n * t->ncols * sizeof *c);
    if (t->row_id) {
        size_t *id = esc_realloc(t->row_id, rows * sizeof *id);
        if (!id)
            return spl_exec_oom(err);
        t->row_id = id;
        for (size_t r = t->nrows; r < rows; r++)
            id[r] = SIZE_MAX; /* no group: no events (agg/evidence.h) */
    }
    t->nrows = rows;
    return ESC_OK;
}

/* Key text of a cell for dedup/stats: values joined by '\n'. */
esc_status spl_cell_key(const esc_cell *c, esc_buf *b) {
    esc_buf_clear(b);
    for (size_t i = 0; i < c->n; i++) {
        if (i && esc_buf_putc(b, '\n') != ESC_OK)
            return ESC_ELIMIT;
        if (esc_buf_append_c(b, c->v[i]) != ESC_OK)
            return ESC_ELIMIT;
    }
    if (!b->ptr && esc_buf_reserve(b, 1) != ESC_OK)
        return ESC_ENOMEM;
    return ESC_OK;
}

esc_status spl_run_remap(const stage *st, spl_run *x, esc_error *err) {
    return spl_table_remap(x->t, &st->out, st->map, err);
}

esc_status spl_run_text_rows(const stage *st, esc_table *t, int col, spl_text_row_fn fn, void *ctx,
                             esc_error *err) {
    if (col < 0)
        return ESC_OK;
    bool *touched = esc_malloc(t->ncols ? t->ncols : 1);
    esc_status rc = touched ? ESC_OK : ESC_ENOMEM;
    for (size_t r = 0; !rc && r < t->nrows; r++) {
        esc_cell *row = &t->cells[r * t->ncols];
        if (!row[col].n)
            continue;
        memset(touched, 0, t->ncols);
        rc = fn(st, row, touched, ctx);
    }
    esc_free(touched);
    return rc ? spl_exec_oom(err) : ESC_OK;
}

esc_status spl_cell_add(esc_cell *cell, bool *touched, esc_str v) {
    if (!*touched) {
        *touched = true;
        return spl_cell_set(cell, &v, 1) ? ESC_OK : ESC_ENOMEM;
    }
    if (cell->n >= ESC_SPL_MAX_MV)
        return ESC_OK;
    char *dup = spl_cell_own(cell) ? esc_strndup(v.ptr, v.len) : NULL;
    char **nv = dup ? esc_realloc(cell->v, (cell->n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        esc_free(dup);
        return ESC_ENOMEM;
    }
    nv[cell->n++] = dup;
    cell->v = nv;
    cell->is_num = false;
    return ESC_OK;
}

/* ---- the pipeline ---- */

/* ---- mvexpand in pieces ---- */

/* The row-local stages after an mvexpand or a streamed stats are i..j-1: the end of them from
 * i (i when there is none). */
static size_t row_local_end(const esc_plan *p, size_t i) {
    while (i < p->nstages && spl_exec_row_local(&p->stages[i]))
        i++;
    return i;
}

/* The stages from i that run over t a piece of rows at a time (run_pieces): an mvexpand and
 * the row-local stages after it, when some follow and t holds more than a piece; else i. Each
 * of their output rows comes from one input row, in order, so the pieces' rows one after the
 * other are the whole table's; a table mvexpand would refuse (ESC_SPL_MAX_ROWS) runs whole. */
static size_t pieces_end(const esc_plan *p, size_t i, const esc_table *t) {
    const stage *st = &p->stages[i];
    if (st->cmd != &spl_cmd_mvexpand || st->cols[0] < 0 || t->nrows <= PIECE_ROWS || t->evidence)
        return i;
    size_t total = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        size_t n = t->cells[r * t->ncols + (size_t)st->cols[0]].n;
        total += st->join_max && n > st->join_max ? st->join_max : n;
    }
    size_t j = row_local_end(p, i + 1);
    return j > i + 1 && total <= ESC_SPL_MAX_ROWS ? j : i;
}

/* Rows [from, to) of t moved to a new table of t's columns, sharing t's events (lineage). */
static esc_table *piece(esc_table *t, size_t from, size_t to) {
    esc_table *c = esc_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t n = (to - from) * t->ncols;
    c->ncols = t->ncols;
    c->cols = esc_calloc(t->ncols ? t->ncols : 1, sizeof *c->cols);
    c->mv_col = esc_calloc(t->ncols ? t->ncols : 1, sizeof *c->mv_col);
    c->cells = esc_calloc(n ? n : 1, sizeof *c->cells);
    c->row_id = t->row_id ? esc_malloc((to - from) * sizeof *c->row_id) : NULL;
    bool ok = c->cols && c->mv_col && c->cells && (c->row_id || !t->row_id);
    for (size_t k = 0; ok && k < t->ncols; k++) {
        ok = (c->cols[k] = esc_strdup(t->cols[k])) != NULL;
        c->mv_col[k] = t->mv_col[k];
    }
    if (!ok) {
        esc_table_free(c);
        return NULL;
    }
    c->nrows = to - from;
    memcpy(c->cells, &t->cells[from * t->ncols], n * sizeof *c->cells);
    memset(&t->cells[from * t->ncols], 0, n * sizeof *c->cells);
    if (t->row_id)
        memcpy(c->row_id, &t->row_id[from], (to - from) * sizeof *c->row_id);
    c->lineage = t->lineage; /* borrowed: run_pieces takes it back */
    c->evidence_truncated = t->evidence_truncated;
    return c;
}

/* c's rows moved to the end of out (room for *cap rows). */
static bool append_piece(esc_table *out, size_t *cap, esc_table *c) {
    if (out->nrows + c->nrows > *cap) {
        size_t nc = 2 * (out->nrows + c->nrows), ncells = nc * out->ncols;
        esc_cell *cells = esc_realloc(out->cells, (ncells ? ncells : 1) * sizeof *cells);
        if (!cells)
            return false;
        out->cells = cells;
        if (out->row_id) {
            size_t *id = esc_realloc(out->row_id, nc * sizeof *id);
            if (!id)
                return false;
            out->row_id = id;
        }
        *cap = nc;
    }
    memcpy(&out->cells[out->nrows * out->ncols], c->cells, c->nrows * c->ncols * sizeof *c->cells);
    if (out->row_id)
        memcpy(&out->row_id[out->nrows], c->row_id, c->nrows * sizeof *c->row_id);
    out->nrows += c->nrows;
    c->nrows = 0; /* its cells are out's now */
    return true;
}

/* Where run_pieces takes its pieces from: the rows of a table (moved out of it), or of a
 * streamed stats' groups in their order; lin, the rows' events, is shared by the pieces. */
typedef struct piece_src {
    size_t n;
    esc_table *t;
    spl_stats_acc *acc;
    const size_t *order;
    const esc_evset *lin;
} piece_src;

/* Stages i..j-1 over the rows of src a piece of PIECE_ROWS rows at a time, into *out (without
 * the rows' events, which the caller gives it): a table that an mvexpand multiplies, or a stats
 * makes of every group, is never held whole when a filter after it keeps few of its rows. */
static esc_status run_pieces(esc_exec *x, size_t i, size_t j, const piece_src *src, esc_table **out,
                             esc_error *err) {
    size_t cap = 0;
    esc_status rc = ESC_OK;
    *out = NULL;
    for (size_t a = 0; a < src->n && rc == ESC_OK; a += PIECE_ROWS) {
        size_t b = a + PIECE_ROWS < src->n ? a + PIECE_ROWS : src->n;
        esc_table *c = NULL;
        if (src->t && !(c = piece(src->t, a, b)))
            rc = spl_exec_oom(err);
        else if (!src->t)
            rc = spl_stats_rows(src->acc, src->order, a, b, &c, err);
        for (size_t s = i; s < j && rc == ESC_OK; s++) {
            spl_run run = {c, x->subs ? x->subs[s] : NULL};
            rc = x->p->stages[s].cmd->run(&x->p->stages[s], &run, err);
        }
        if (rc == ESC_OK && (c->lineage != src->lin || (*out && (c->ncols != (*out)->ncols ||
                                                                 !c->row_id != !(*out)->row_id))))
            rc = esc_error_set(err, ESC_EINTERNAL, "rows in pieces: the pieces differ");
        if (c)
            c->lineage = NULL; /* src's */
        if (rc == ESC_OK && !*out) {
            *out = c;
            cap = c->nrows;
            c = NULL;
        } else if (rc == ESC_OK && !append_piece(*out, &cap, c)) {
            rc = spl_exec_oom(err);
        }
        esc_table_free(c);
    }
    if (rc != ESC_OK) {
        esc_table_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Stages i..j-1 (pieces_end) over *tp in pieces. */
static esc_status expand_pieces(esc_exec *x, size_t i, size_t j, esc_table **tp, esc_error *err) {
    esc_table *t = *tp, *out;
    piece_src src = {t->nrows, t, NULL, NULL, t->lineage};
    esc_status rc = run_pieces(x, i, j, &src, &out, err);
    if (rc != ESC_OK)
        return rc;
    out->lineage = t->lineage;
    t->lineage = NULL;
    out->evidence_truncated = t->evidence_truncated;
    esc_table_free(t);
    *tp = out;
    return ESC_OK;
}

/* A streamed stats' table, through the row-local stages after it (stats at stage k, those up to
 * *end) in pieces when there are some and more groups than a piece, else whole (*end = k + 1). */
static esc_status close_stats(esc_exec *x, size_t k, size_t *end, esc_table **t, esc_error *err) {
    size_t j = row_local_end(x->p, k + 1), *order = NULL;
    *end = k + 1;
    if (j == k + 1 || esc_agg_ngroups(spl_stats_agg(x->acc)) <= PIECE_ROWS)
        return spl_stats_close(x->acc, t, err);
    piece_src src = {0, NULL, x->acc, NULL, NULL};
    esc_status rc = spl_stats_order(x->acc, &order, &src.n, &src.lin, err);
    src.order = order;
    if (rc == ESC_OK && (rc = run_pieces(x, k + 1, j, &src, t, err)) == ESC_OK) {
        (*t)->lineage = spl_stats_lineage(x->acc);
        *end = j;
    }
    esc_free(order);
    return rc;
}

/* ---- a spilled tstats finishing: its groups go once its first table is made ---- */

/* Whether x's groups, merged back from its spill file, may go once its first table is made, to
 * be read again for the evidence (regroup): a stage follows the tstats, the merge kept every
 * reference (past the byte cap, which ones are kept depends on every group merged) and dropped
 * no group (past a cap, which groups fit, and how much of one, depends on every group merged),
 * the groups hold at most half the byte cap: merging large groups again after the stages
 * would hold a second copy of their states with the table's (1,100 groups of 1 MB: 3.9 GB
 * where keeping them, as a hunt that spills nothing does, is 2 GB), and more than REGROUP_MIN
 * with their evidence: a few kept groups cost less to hold than to find again in a large
 * file (a join's handful of process groups, out of a shared 86 MB file over 1 GiB of XML). */
static bool regroup_later(const esc_exec *x) {
    if (!x->agg || x->acc || x->rows || !spill_of(x) || x->p->nstages < 2 ||
        esc_evset_truncated(x->ev) || x->dropped[0] || x->dropped[1])
        return false;
    size_t mem = esc_agg_mem(x->agg);
    return mem <= ESC_SPL_MAX_EXEC_BYTES / 2 && mem + esc_evset_mem(x->ev) > REGROUP_MIN;
}

/* x's groups let go, its tables left empty for regroup; held: some group kept references;
 * trim: they were large (the stages' tables will be too: each gives its pages back). */
static esc_status drop_groups(esc_exec *x, bool *held, bool *trim, esc_error *err) {
    size_t ng = esc_agg_ngroups(x->agg), mem = esc_agg_mem(x->agg) + esc_evset_mem(x->ev);
    *held = false;
    for (size_t g = 0; g < ng && !*held; g++)
        *held = esc_evset_total(x->ev, g) > 0;
    esc_agg_free(x->agg);
    esc_evset_free(x->ev);
    x->agg = spl_agg_new(&x->p->stages[0]);
    x->ev = esc_evset_new();
    if (!x->agg || !x->ev)
        return spl_exec_oom(err);
    if ((*trim = mem >= REGROUP_TRIM))
        esc_alloc_trim(); /* the stages' tables reuse little of it: its pages go back */
    return ESC_OK;
}

/* ---- a large spilled tstats finishing: its first table made a key range at a time ---- */

#define PART_BYTES ((size_t)4 << 20) /* spilled bytes per range read back (docs/limits.md) */
#define PART_MAX 64                  /* ranges at most */
#define PART_SAMPLE 1024             /* keys sampled to draw the ranges' bounds */

/* A sampled key: its BY values, copied. */
typedef struct part_key {
    esc_str *k;
} part_key;

typedef struct part_ctx {
    spl_keyset *keys; /* the semi-join's filter, or NULL */
    size_t nby;
    bool sampling; /* the counting pass: keys sampled, none kept */
    part_key *smp; /* sampled keys: every stride-th group read */
    size_t nsmp, stride, seen;
    bool oom;
    const part_key *bound; /* ranges: range r holds keys from bound[r - 1] (inclusive) */
    size_t nbound, r;      /* nbound bounds, nbound + 1 ranges; r: the range read */
} part_ctx;

static _Thread_local size_t sort_nby; /* the qsort comparator's key count */
static int cmp_part_key(const void *a, const void *b) {
    return spl_keys_cmp(((const part_key *)a)->k, ((const part_key *)b)->k, sort_nby);
}

static void sample(part_ctx *c, const esc_str *keys) {
    if (c->seen++ % c->stride)
        return;
    if (c->nsmp == PART_SAMPLE) { /* every other one goes: the stride doubles */
        for (size_t i = 0; i < PART_SAMPLE; i++)
            if (i % 2)
                esc_free(c->smp[i].k);
            else
                c->smp[i / 2] = c->smp[i];
        c->nsmp = PART_SAMPLE / 2;
        c->stride *= 2;
        if ((c->seen - 1) % c->stride)
            return;
    }
    if (!(c->smp[c->nsmp].k = spl_keys_copy(keys, c->nby)))
        c->oom = true;
    else
        c->nsmp++;
}

/* The range keys fall in. */
static size_t range_of(const part_ctx *c, const esc_str *keys) {
    size_t lo = 0, hi = c->nbound; /* the bounds at or below keys */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (spl_keys_cmp(c->bound[mid].k, keys, c->nby) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool part_keep(void *ctx, const esc_str *keys) {
    part_ctx *c = ctx;
    if (c->keys && !spl_keyset_keep(c->keys, keys))
        return false;
    if (c->sampling) {
        sample(c, keys);
        return false;
    }
    return range_of(c, keys) == c->r;
}

/* The range keys fall in, or none (SIZE_MAX) when the semi-join leaves them out. */
static size_t part_of(void *ctx, const esc_str *keys) {
    const part_ctx *c = ctx;
    return c->keys && !spl_keyset_keep(c->keys, keys) ? SIZE_MAX : range_of(c, keys);
}

static void free_ranges(spl_spill **parts, size_t n) {
    for (size_t r = 0; parts && r < n; r++)
        spl_spill_free(parts[r]);
    esc_free(parts);
}

/* The spill file sp split into one file per range of c (spl_spill_split), so that each range
 * reads back only its own groups, not the whole file again; NULL when it could not be (out of
 * memory, a write failed): each range then reads the whole file, keeping its own. */
static spl_spill **split_ranges(spl_spill *sp, part_ctx *c, const esc_agg *shape) {
    size_t n = c->nbound + 1;
    spl_spill **parts = esc_calloc(n, sizeof *parts);
    esc_error e = {0};
    if (parts && spl_spill_split(sp, shape, part_of, c, parts, n, &e) == ESC_OK)
        return parts;
    free_ranges(parts, n);
    return NULL;
}

/* Whether x's first table may be made in ranges: x's groups would merge back whole from a
 * large spill file, only to go once the table is made (regroup_later); not when a semi-join
 * filters them (they are few then). */
static bool may_part(const esc_exec *x) {
    return x->agg && !x->acc && !x->rows && spill_of(x) && x->p->nstages > 1 &&
           x->p->stages[0].nby && !first_filter(x) &&
           spl_spill_bytes(spill_of(x)) >= 2 * PART_BYTES;
}

/* The groups of range c->r merged back into a and ev (emptied first), from the range's own
 * file (parts, split_ranges) or, without parts, from the whole spill file filtered; their rows
 * appended to *t (room for *cap); *held: some group kept references; *ev_mem: the sets' bytes
 * so far. */
static esc_status part_rows(esc_exec *x, part_ctx *c, spl_spill *const *parts, esc_agg *a,
                            esc_evset *ev, esc_table **t, size_t *cap, bool *held, size_t *ev_mem,
                            esc_error *err) {
    esc_table *pt = NULL;
    esc_agg_reset(a);
    esc_evset_reset(ev);
    esc_status rc = ESC_OK;
    if (!parts)
        rc = spl_spill_read(x->borrow ? x->borrow->spill : x->spill, a, ev, part_keep, c, err);
    else if (parts[c->r]) /* (a range with no group has no file) */
        rc = spl_spill_read(parts[c->r], a, ev, NULL, NULL, err);
    for (size_t g = 0; rc == ESC_OK && g < esc_agg_ngroups(a) && !*held; g++)
        *held = esc_evset_total(ev, g) > 0;
    *ev_mem += esc_evset_mem(ev);
    if (rc == ESC_OK && (rc = spl_agg_table(a, &x->p->stages[0], true, &pt, err)) == ESC_OK) {
        if (!*t) {
            *t = pt;
            *cap = pt->nrows;
            pt = NULL;
        } else if (!append_piece(*t, cap, pt)) {
            rc = spl_exec_oom(err);
        }
    }
    esc_table_free(pt);
    return rc;
}

/* x's first table, made from its spill file one range of keys at a time, so that only one
 * range's groups are in memory with the table. A counting pass samples the keys and draws about
 * one range per PART_BYTES of the file; one more splits the file into a file per range
 * (split_ranges), so that each range reads back its own groups only, not the whole file again
 * (over 1 GiB of XML, Unusually Long Command Line read its 47 MB file twelve times). The rows
 * are those one merge of every group gives, in the same order (each group merges the same
 * chunks in the same order, all in one range; the ranges follow key order, as the rows do). *t
 * stays NULL (x's groups untouched) when a range's evidence reached the byte cap or the ranges'
 * sets together might take one set past it (esc_evset_fits_merged): whether one merge of every
 * group would have stopped keeping references is then not known, and the caller merges them
 * whole; so too when the ranges' groups together pass the group cap or half the byte cap
 * (ESC_SPL_MAX_GROUPS, ESC_SPL_MAX_EXEC_BYTES): which groups one merge keeps and drops is known
 * only by making it. */
static esc_status table_in_parts(esc_exec *x, esc_table **t, bool *held, bool *trim,
                                 esc_error *err) {
    esc_exec *from = x->borrow ? x->borrow : x;
    part_ctx c = {.keys = spl_keyset_any(x->keys) ? x->keys : NULL,
                  .nby = x->p->stages[0].nby,
                  .sampling = true,
                  .stride = 1};
    esc_agg *a = NULL;
    esc_evset *ev = NULL;
    size_t cap = 0, ev_mem = 0, mem = 0, ngroups = 0, bytes = 0,
           nparts = spl_spill_bytes(spill_of(x)) / PART_BYTES;
    part_key *bound = NULL;
    *t = NULL;
    *held = false;
    esc_status rc = seal(from, err);
    if (rc == ESC_OK && (!(c.smp = esc_malloc(PART_SAMPLE * sizeof *c.smp)) ||
                         !(a = spl_agg_new(&x->p->stages[0])) || !(ev = esc_evset_new())))
        rc = spl_exec_oom(err);
    if (rc == ESC_OK)
        rc = spl_spill_read(from->spill, a, ev, part_keep, &c, err);
    if (rc == ESC_OK && c.oom)
        rc = spl_exec_oom(err);
    nparts = nparts < PART_MAX ? nparts : PART_MAX;
    if (rc == ESC_OK && c.nsmp && !(bound = esc_malloc(nparts * sizeof *bound)))
        rc = spl_exec_oom(err);
    if (rc == ESC_OK && c.nsmp) {
        sort_nby = c.nby;
        qsort(c.smp, c.nsmp, sizeof *c.smp, cmp_part_key);
        for (size_t r = 1; r < nparts; r++) /* distinct bounds, ascending */
            if (!c.nbound ||
                spl_keys_cmp(bound[c.nbound - 1].k, c.smp[r * c.nsmp / nparts].k, c.nby) < 0)
                bound[c.nbound++] = c.smp[r * c.nsmp / nparts];
    }
    c.sampling = false;
    c.bound = bound;
    spl_spill **parts = rc == ESC_OK && c.nbound ? split_ranges(from->spill, &c, a) : NULL;
    for (c.r = 0; rc == ESC_OK && c.r <= c.nbound; c.r++) {
        rc = part_rows(x, &c, parts, a, ev, t, &cap, held, &ev_mem, err);
        if (mem < esc_agg_mem(a) + esc_evset_mem(ev))
            mem = esc_agg_mem(a) + esc_evset_mem(ev);
        if (rc == ESC_OK && (esc_evset_truncated(ev) || !esc_evset_fits_merged(ev_mem)))
            break; /* not known: merged whole by the caller */
        uint64_t dg, db;
        esc_agg_dropped(a, &dg, &db);
        ngroups += esc_agg_ngroups(a);
        bytes += esc_agg_mem(a);
        if (rc == ESC_OK &&
            (dg || db || ngroups > ESC_SPL_MAX_GROUPS || bytes > ESC_SPL_MAX_EXEC_BYTES / 2))
            break; /* near a cap: which groups one merge keeps is known only by making it */
    }
    bool whole = c.r <= c.nbound;
    free_ranges(parts, c.nbound + 1);
    for (size_t i = 0; i < c.nsmp; i++)
        esc_free(c.smp[i].k);
    esc_free(c.smp);
    esc_free(bound);
    esc_agg_free(a);
    esc_evset_free(ev);
    if (rc != ESC_OK || whole) {
        esc_table_free(*t);
        *t = NULL;
    }
    if ((*trim = mem >= REGROUP_TRIM / 2 || bytes > ESC_SPL_MAX_EXEC_BYTES / 2))
        esc_alloc_trim(); /* the ranges' groups (and rows) are gone: their pages go back */
    return rc;
}

/* Both filters of a merge: the one x's groups first came back through, and the final rows'. */
typedef struct keep_both {
    esc_exec *first; /* NULL: none */
    spl_keyset *rows;
} keep_both;

static bool keep_both_keys(void *ctx, const esc_str *keys) {
    const keep_both *k = ctx;
    return (!k->first || first_keep(k->first, keys)) &&
           (!k->rows || spl_keyset_keep(k->rows, keys));
}

/* After the stages: of x's spilled groups, those the first merge kept and whose BY values some
 * row of t carries in every column evidence constrains (spl_evidence_keys) come back, for the
 * evidence. Every group behind a final row is among them, and the merge gives each the same
 * state and references as the first (the same chunks, in the same order; the byte cap was not
 * reached then, so it is not now), so the rows' evidence is the same. */
static esc_status regroup(esc_exec *x, const esc_table *t, esc_error *err) {
    keep_both k = {first_filter(x) ? x : NULL, NULL};
    esc_status rc = ESC_OK;
    if (!t->nrows)
        return ESC_OK; /* no row carries evidence */
    if (!(k.rows = spl_keyset_new(x->p->stages[0].nby)) || !spl_evidence_keys(x->p, t, k.rows))
        rc = spl_exec_oom(err);
    if (!rc && !spl_keyset_any(k.rows)) { /* a row stands for every group */
        spl_keyset_free(k.rows);
        k.rows = NULL;
    }
    if (!rc)
        rc = spl_spill_read(x->borrow ? x->borrow->spill : x->spill, x->agg, x->ev,
                            k.first || k.rows ? keep_both_keys : NULL, &k, err);
    spl_keyset_free(k.rows);
    return rc;
}

/* t's rows that keep says yes to (spl_exec_keep_rows). */
static esc_status keep_rows(esc_table *t, spl_row_keep keep, void *ctx, esc_error *err) {
    bool *k = esc_malloc((t->nrows ? t->nrows : 1) * sizeof *k);
    if (!k)
        return spl_exec_oom(err);
    for (size_t r = 0; r < t->nrows; r++)
        k[r] = keep(ctx, &t->cells[r * t->ncols]);
    spl_table_filter(t, k);
    esc_free(k);
    return ESC_OK;
}

void spl_exec_keep_rows(esc_exec *x, spl_row_keep keep, void *ctx) {
    x->keep = keep;
    x->keep_ctx = ctx;
}

esc_status esc_exec_finish(esc_exec *x, esc_table **out, esc_error *err) {
    const esc_plan *p = x->p;
    esc_table *t = NULL;
    *out = NULL;
    esc_status rc = ESC_OK;
    /* the last groups checked first: a regex stopped there is counted when the kept groups
     * run the pipeline below, not twice */
    if (x->released)
        return esc_error_set(err, ESC_EINTERNAL, "a search finished twice");
    spl_eval_set_now(x->now);
    if (x->agg && x->prune_k && !x->owner && (rc = prune(x, true, err)) != ESC_OK)
        return rc; /* (a sharer's groups are its owner's, pruned for it and every sharer) */
    uint64_t limited = spl_re_limited();
    /* spilled groups back (a subsearch finished first counts its regex stops here, as in its
     * join) */
    if (x->owner && x->owner->spill && (rc = detach(x, err)) != ESC_OK)
        return rc;
    if ((rc = semijoin(x, err)) != ESC_OK)
        return rc;
    bool later = false, held = false, trim = false, parted;
    if (may_part(x) && (rc = table_in_parts(x, &t, &held, &trim, err)) != ESC_OK)
        return rc;
    /* parted: x's groups never all came back; they are read again for the evidence */
    later = parted = t != NULL;
    if (!parted && x->agg && spill_of(x)) {
        later = (rc = unspill(x, err)) == ESC_OK && regroup_later(x);
        if (!later)
            unspill_done(x);
        if (rc)
            return rc;
    }
    size_t first = 1;
    if (x->acc) { /* the last rows into the running stats, then its table */
        if ((rc = flush_rows(x, err)) != ESC_OK ||
            (x->spill && (rc = prune_stream(x, err)) != ESC_OK) ||
            (x->spill && (rc = spl_stats_unspill(x->acc, x->spill, x->dropped, err)) != ESC_OK) ||
            (rc = close_stats(x, x->stream_at, &first, &t, err)) != ESC_OK)
            return rc;
        /* its groups are in its table now: they go before the stages after it run */
        trim = spl_stats_mem(x->acc) >= REGROUP_TRIM;
        spl_spill_free(x->spill);
        x->spill = NULL;
        spl_stats_free(x->acc);
        x->acc = NULL;
        if (trim)
            esc_alloc_trim();
    } else if (x->rows) { /* the rows move to the caller (those spilled first back) */
        t = x->rows;
        x->rows = NULL;
        if ((x->keep && (rc = keep_rows(t, x->keep, x->keep_ctx, err)) != ESC_OK) ||
            (x->rspill &&
             (rc = spl_spill_rows_read(x->rspill, t, x->keep, x->keep_ctx, err)) != ESC_OK))
            goto fail;
        spl_spill_free(x->rspill);
        x->rspill = NULL;
        if ((rc = newest_first(t, err)) != ESC_OK)
            goto fail;
    } else if (!x->agg) { /* inputlookup: the lookup's rows */
        if (!(t = spl_inputlookup_table(&p->stages[0])))
            return spl_exec_oom(err);
    } else if (!parted && (rc = spl_agg_table(x->agg, &p->stages[0], true, &t, err)) != ESC_OK) {
        goto fail;
    }
    if (later && !parted && (rc = drop_groups(x, &held, &trim, err)) != ESC_OK)
        goto fail;
    for (size_t i = first; i < p->nstages; i++) {
        const stage *st = &p->stages[i];
        spl_run run = {t, x->subs ? x->subs[i] : NULL};
        if (trim && i > first)
            esc_alloc_trim(); /* the stage before replaced a large table: its pages go back */
        size_t j = pieces_end(p, i, t);
        if (j > i) {
            rc = expand_pieces(x, i, j, &t, err);
            i = j - 1;
        } else {
            rc = st->cmd->run(st, &run, err);
        }
        if (rc != ESC_OK)
            goto fail;
    }
    if (later && (rc = regroup(x, t, err)) != ESC_OK)
        goto fail;
    if (later)
        unspill_done(x);
    later = false;
    t->regex_limited = spl_re_limited() - limited;
    t->dropped_groups = x->dropped[0];
    t->dropped_bytes = x->dropped[1];
    t->join_unused = 0;
    for (size_t i = 0; x->subs && i < p->nstages; i++)
        t->join_unused += x->subs[i] ? x->subs[i]->join_unused : 0;
    const esc_table *subs[ESC_SPL_MAX_STAGES] = {NULL};
    bool joined = false;
    for (size_t i = 0; x->subs && i < p->nstages && i < ESC_SPL_MAX_STAGES; i++)
        if (x->subs[i] && (subs[i] = x->subs[i]->kept))
            joined = true;
    if (!x->keep_lineage && (rc = spl_lineage_finish(t, err)) != ESC_OK)
        goto fail;
    if ((x->agg || joined) &&
        (rc = spl_evidence_attach(p, x->agg, x->ev, held, joined ? subs : NULL, t, err)) != ESC_OK)
        goto fail;
    *out = t;
    return ESC_OK;
fail:
    if (later)
        unspill_done(x);
    esc_table_free(t);
    return rc;
}

/* A copy of t's rows (cells, columns, lineage). */
static esc_table *table_dup(const esc_table *t) {
    esc_table *n = esc_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->ncols = t->ncols;
    n->nrows = t->nrows;
    n->cols = esc_calloc(t->ncols ? t->ncols : 1, sizeof *n->cols);
    n->mv_col = esc_calloc(t->ncols ? t->ncols : 1, sizeof *n->mv_col);
    size_t ncells = t->nrows * t->ncols;
    n->cells = esc_calloc(ncells ? ncells : 1, sizeof *n->cells);
    bool ok = n->cols && n->mv_col && n->cells;
    for (size_t c = 0; ok && c < t->ncols; c++) {
        ok = (n->cols[c] = esc_strdup(t->cols[c])) != NULL;
        n->mv_col[c] = t->mv_col[c];
    }
    for (size_t i = 0; ok && i < t->nrows * t->ncols; i++)
        ok = spl_cell_copy(&n->cells[i], &t->cells[i]);
    if (ok && spl_lineage_dup(n, t))
        return n;
    esc_table_free(n);
    return NULL;
}

esc_status spl_exec_pipe(esc_exec *x, const esc_table *in, esc_table **out, esc_error *err) {
    const esc_plan *p = x->p;
    esc_table *t = table_dup(in);
    *out = NULL;
    if (!t)
        return spl_exec_oom(err);
    for (size_t i = 1; i < p->nstages; i++) {
        spl_run run = {t, x->subs ? x->subs[i] : NULL};
        esc_status rc = p->stages[i].cmd->run(&p->stages[i], &run, err);
        if (rc != ESC_OK) {
            esc_table_free(t);
            return rc;
        }
    }
    *out = t;
    return ESC_OK;
}
