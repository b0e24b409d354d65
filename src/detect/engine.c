/* Detection engine and the hunt driver (see engine.h).
 *
 * Invariants: plans and the interest set are frozen after esc_engine_new; a hunt owns its
 * executions and a feeder (feed.c: the host inventory and the records it holds back).
 * CrowdStrike records whose host cannot be resolved yet are held (up to max_held) until every
 * input has been read, then mapped with the complete inventory, so an aidmaster record anywhere
 * in the inputs resolves them (SPEC section 2). With o.shards > 1 (hunt --two-stage) each
 * detection whose plan merges runs once per shard of hosts and the shards' partial aggregates,
 * encoded and decoded, are merged into its own execution before it finishes: the Kafka mode's
 * second stage checked against one process (docs/scale.md). Not here: reading records (the
 * feeder), printing, output formats, notables (risk_stage.c makes risk events only to feed the
 * RBA detections). */
#include "detect/engine.h"

#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/litfilter.h"
#include "detect/risk_stage.h"
#include "fields/fields.h"
#include "ingest/input.h"

#define STEP_EVENTS 4096
#define DEFAULT_MAX_HELD 100000
#define SPILL_MIN ((size_t)256 << 10) /* a smaller table is not worth a spill */
/* A finished search that lets go of this much of groups gives the freed heap back
 * (malloc_trim). Smaller ones do not: the next finish allocates that heap again, and trimming
 * it after each of them made every such page fault back in (over 1 GiB of XML: 121,000 page
 * faults against 100,000, the finishes 5.0-5.9 s against 3.7-4.0 s, for 0.3 MB more peak RSS). */
#define FINISH_TRIM ((size_t)8 << 20)

typedef struct code_det {
    uint32_t code;
    size_t det;
} code_det;

struct esc_engine {
    const esc_content *content;
    size_t n;
    const esc_detection **det;
    esc_plan **plan;
    char **search_name;
    size_t nskipped;
    const esc_detection **skipped;
    char **skip_reason;
    esc_interest interest;
    size_t *others; /* detections reading a dataset other than Endpoint.Processes */
    size_t nothers;
    size_t *procs; /* detections reading Endpoint.Processes (a subsearch's included) */
    size_t nprocs;
    uint64_t *procs_bits; /* the same, one bit per detection (word i / 64, bit i % 64) */
    /* per detection: its data model when that is all it reads (then esc_plan_select is
     * esc_dm_wants of it), else 0 */
    uint8_t *dm_only;
    /* those detections by the event code they read, sorted by code then detection; a detection
     * that may read any code is in any_code instead */
    code_det *by_code;
    size_t nby_code;
    size_t *any_code;
    size_t nany_code;
    /* detections whose raw-event search is esc_plan_never: offered only events for which
     * esc_plan_event_meta holds */
    size_t *meta_only;
    size_t nmeta_only;
    size_t *parts; /* detections reading whole-element fields (reads_parts) */
    size_t nparts;
    uint64_t id;             /* unique in the process (any_parts_of's answers are kept by it) */
    bool *parts_any;         /* per entry of parts: it may read any event code */
    uint8_t *parts_codes;    /* the codes the others read, a bit each (parts_of) */
    uint32_t datasets;       /* every dataset some detection reads */
    bool *second;            /* per detection: reads Risk.All_Risk (the hunt's second stage) */
    esc_spl_lookup *lookups; /* the content's lookups as the planner takes them */
    esc_spl_env env;
    esc_litfilter *lf; /* every detection's record literals, or NULL */
};

static const char *concat3(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = esc_malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

/* Minimum literal length of a clause: a crude measure of how rare its literals are. */
static size_t clause_strength(const esc_literal_clause *cl) {
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < cl->nlit; i++) {
        size_t l = strlen(cl->lit[i]);
        if (l < m)
            m = l;
    }
    return cl->nlit ? m : 0;
}

/* The readers' literal prefilter. One detection: its own clauses. Several: an event that any of
 * them can match contains a literal of that detection's every clause, so the union of one
 * clause per detection (its strongest) is a clause every useful event satisfies. A detection
 * without a literal clause, or a union too large, leaves the prefilter off. */
static void union_prefilter(esc_engine *e) {
    if (e->n == 1) {
        esc_plan_interest(e->plan[0], &e->interest);
        return;
    }
    esc_literal_clause *u = &e->interest.clause[0];
    u->nlit = 0;
    for (size_t i = 0; i < e->n; i++) {
        esc_interest one;
        memset(&one, 0, sizeof one);
        esc_plan_interest(e->plan[i], &one);
        if (one.nclauses == 0)
            return;
        size_t best = 0;
        for (size_t c = 1; c < one.nclauses; c++)
            if (clause_strength(&one.clause[c]) > clause_strength(&one.clause[best]))
                best = c;
        const esc_literal_clause *cl = &one.clause[best];
        for (size_t l = 0; l < cl->nlit; l++) {
            bool dup = false;
            for (size_t k = 0; k < u->nlit && !dup; k++)
                dup = strcmp(u->lit[k], cl->lit[l]) == 0;
            if (dup)
                continue;
            if (u->nlit == ESC_INTEREST_MAX_LITERALS) {
                u->nlit = 0;
                return;
            }
            u->lit[u->nlit++] = cl->lit[l];
        }
    }
    e->interest.nclauses = u->nlit ? 1 : 0;
}

/* The content's lookups as the planner takes them (esc_malloc'd; views into the content). */
static esc_spl_lookup *spl_lookups(const esc_content *c) {
    esc_spl_lookup *l = esc_calloc(c->nlookups ? c->nlookups : 1, sizeof *l);
    for (size_t i = 0; l && i < c->nlookups; i++)
        l[i] = (esc_spl_lookup){.name = c->lookups[i].name,
                                .csv_path = c->lookups[i].csv_path,
                                .case_sensitive = c->lookups[i].case_sensitive_match,
                                .match_type = c->lookups[i].match_type,
                                .default_match = c->lookups[i].default_match,
                                .min_matches = c->lookups[i].min_matches,
                                .max_matches = c->lookups[i].max_matches};
    return l;
}

/* Plan d alone with the content's macros and lookups. */
static esc_plan *plan_one(const esc_content *c, const esc_detection *d, char **err_text,
                          esc_error *err) {
    if (err_text)
        *err_text = NULL;
    if (!d->search) {
        esc_error_set(err, ESC_ECONTENT, "detection has no search");
        return NULL;
    }
    esc_spl_lookup *l = spl_lookups(c);
    if (!l) {
        esc_error_set(err, ESC_ENOMEM, "out of memory");
        return NULL;
    }
    esc_spl_env env = {&c->macros, l, c->nlookups};
    esc_plan *p = esc_plan_new_env(d->search, &env, err_text, err);
    esc_free(l);
    if (!p && err && !err->code)
        err->code = ESC_ECONTENT;
    return p;
}

esc_status esc_engine_check(const esc_content *c, const esc_detection *d, char **err_text,
                            esc_error *err) {
    esc_plan *p = plan_one(c, d, err_text, err);
    if (!p)
        return err && err->code ? err->code : ESC_ECONTENT;
    esc_plan_free(p);
    return ESC_OK;
}

esc_status esc_engine_mergeable(const esc_content *c, const esc_detection *d, bool *ok,
                                char **why) {
    esc_error err = {0};
    esc_plan *p = plan_one(c, d, NULL, &err);
    *ok = false;
    *why = NULL;
    if (!p && err.code == ESC_ENOMEM)
        return ESC_ENOMEM;
    if (!p) {
        size_t n = strlen(err.msg) + 32;
        if ((*why = esc_malloc(n)))
            snprintf(*why, n, "the search does not plan: %s", err.msg);
        return *why ? ESC_OK : ESC_ENOMEM;
    }
    *ok = esc_plan_mergeable(p, why);
    esc_plan_free(p);
    return *ok || *why ? ESC_OK : ESC_ENOMEM;
}

static int cmp_code_det(const void *a, const void *b) {
    const code_det *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->det < y->det ? -1 : x->det > y->det;
}

/* The index from event code to the detections (of e->others) that read it, so an event is
 * offered only to the detections whose codes it has (per-event cost does not grow with the
 * number of detections reading other codes). */
static esc_status index_codes(esc_engine *e, esc_error *err) {
    esc_win_source *w = esc_malloc(ESC_INTEREST_MAX_WIN * sizeof *w);
    e->any_code = esc_calloc(e->nothers ? e->nothers : 1, sizeof *e->any_code);
    e->meta_only = esc_calloc(e->nothers ? e->nothers : 1, sizeof *e->meta_only);
    size_t cap = 64;
    e->by_code = esc_malloc(cap * sizeof *e->by_code);
    if (!w || !e->any_code || !e->meta_only || !e->by_code)
        goto oom;
    for (size_t k = 0; k < e->nothers; k++) {
        size_t n = 0, i = e->others[k];
        if (esc_plan_never(e->plan[i])) {
            e->meta_only[e->nmeta_only++] = i;
            continue;
        }
        if (!esc_plan_win_sources(e->plan[i], w, ESC_INTEREST_MAX_WIN, &n)) {
            e->any_code[e->nany_code++] = i;
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            if (e->nby_code == cap) {
                code_det *p = esc_realloc(e->by_code, 2 * cap * sizeof *p);
                if (!p)
                    goto oom;
                e->by_code = p;
                cap *= 2;
            }
            e->by_code[e->nby_code++] = (code_det){w[j].event_id, i};
        }
    }
    qsort(e->by_code, e->nby_code, sizeof *e->by_code, cmp_code_det);
    size_t m = 0; /* one entry per (code, detection): several providers may share a code */
    for (size_t j = 0; j < e->nby_code; j++)
        if (!m || e->by_code[m - 1].code != e->by_code[j].code ||
            e->by_code[m - 1].det != e->by_code[j].det)
            e->by_code[m++] = e->by_code[j];
    e->nby_code = m;
    esc_free(w);
    return ESC_OK;
oom:
    esc_free(w);
    return esc_error_set(err, ESC_ENOMEM, "out of memory");
}

/* Endpoint.Processes detections also read the other events the add-ons tag `process report`
 * (esc_cim_win_sources past Sysmon 1 and 4688). */
static void processes_interest(esc_interest *in) {
    esc_win_source w[32];
    size_t n = esc_cim_win_sources(w, sizeof w / sizeof w[0]);
    for (size_t i = 0; i < n && !in->everything; i++) {
        bool dup = false;
        for (size_t k = 0; k < in->nwin && !dup; k++)
            dup = in->win[k].event_id == w[i].event_id &&
                  (!in->win[k].provider || !strcmp(in->win[k].provider, w[i].provider));
        if (dup)
            continue;
        if (in->nwin == ESC_INTEREST_MAX_WIN)
            in->everything = true;
        else
            in->win[in->nwin++] = w[i];
    }
}

/* Whether p's search names a whole-element field (esc_event.parts): the readers then give
 * them to the events it may select (parts_of; an EVTX record is rendered for them). */
static bool reads_parts(const esc_plan *p) {
    const char *text = esc_plan_expanded(p);
    for (int k = 0; text && k < ESC_XML_NPARTS; k++)
        if (strstr(text, esc_fields_whole[k]))
            return true;
    return false;
}

#define PARTS_CODES (65536 / 8) /* bytes: a bit per 16-bit event code */

/* Detection i reads whole-element fields: into e->parts, with the event codes it reads. */
static esc_status add_parts(esc_engine *e, size_t i, esc_error *err) {
    esc_win_source *w = esc_malloc(ESC_INTEREST_MAX_WIN * sizeof *w);
    if (!w)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    size_t n = 0;
    e->parts_any[e->nparts] = !esc_plan_win_sources(e->plan[i], w, ESC_INTEREST_MAX_WIN, &n);
    for (size_t k = 0; k < n; k++) {
        if (w[k].event_id >= PARTS_CODES * 8)
            e->parts_any[e->nparts] = true;
        else
            e->parts_codes[w[k].event_id >> 3] |= (uint8_t)(1u << (w[k].event_id & 7));
    }
    e->parts[e->nparts++] = i;
    esc_free(w);
    return ESC_OK;
}

/* Whether a detection of e->parts that reads any event code may select ev. The answers are
 * kept per thread (the readers' decoding threads ask) in a table of SLOTS by (code, provider,
 * channel): a channel pattern costs a few hundred instructions, a lookup a few dozen. */
static bool any_parts_of(const esc_engine *e, const esc_event *ev) {
    enum { SLOTS = 64, KEY = 96 };
    static _Thread_local struct {
        uint64_t engine; /* esc_engine.id: an address is used again by a later engine */
        uint64_t code;   /* the event code, 1 << 32 when it has none */
        size_t plen, clen;
        char prov[KEY], chan[KEY];
        bool yes;
    } memo[SLOTS];
    uint64_t code = ev->has_event_id ? ev->event_id : (uint64_t)1 << 32;
    bool keep = ev->provider.len <= KEY && ev->channel.len <= KEY;
    uint64_t h = (code * 0x9e3779b97f4a7c15ull) ^ (ev->provider.len << 8) ^ ev->channel.len;
    h ^= ev->channel.len ? (uint64_t)(unsigned char)ev->channel.ptr[ev->channel.len - 1] << 16 : 0;
    h ^= ev->provider.len ? (uint64_t)(unsigned char)ev->provider.ptr[ev->provider.len / 2] << 24
                          : 0;
    h = (h * 0xff51afd7ed558ccdull) >> 58; /* 6 bits: SLOTS */
    if (keep && memo[h].engine == e->id && memo[h].code == code &&
        memo[h].plen == ev->provider.len && memo[h].clen == ev->channel.len &&
        (!ev->channel.len || !memcmp(memo[h].chan, ev->channel.ptr, ev->channel.len)) &&
        (!ev->provider.len || !memcmp(memo[h].prov, ev->provider.ptr, ev->provider.len)))
        return memo[h].yes;
    bool yes = false;
    for (size_t k = 0; k < e->nparts && !yes; k++)
        yes = e->parts_any[k] && esc_plan_select_meta(e->plan[e->parts[k]], ev, false);
    if (keep) {
        memo[h].engine = e->id;
        memo[h].code = code;
        memo[h].plen = ev->provider.len;
        memo[h].clen = ev->channel.len;
        if (ev->provider.len)
            memcpy(memo[h].prov, ev->provider.ptr, ev->provider.len);
        if (ev->channel.len)
            memcpy(memo[h].chan, ev->channel.ptr, ev->channel.len);
        memo[h].yes = yes;
    }
    return yes;
}

/* The readers' esc_interest.parts_of: whether a detection reading whole-element fields may
 * select ev by its event code and channel (as if it had no field named source, sourcetype or
 * eventtype: esc_plan_select_meta), so that only such events are rendered for them. */
static bool parts_of(const void *ctx, const esc_event *ev) {
    const esc_engine *e = ctx;
    bool coded = ev->has_event_id && ev->event_id < PARTS_CODES * 8 &&
                 (e->parts_codes[ev->event_id >> 3] >> (ev->event_id & 7)) & 1;
    for (size_t k = 0; coded && k < e->nparts; k++)
        if (!e->parts_any[k] && esc_plan_select_meta(e->plan[e->parts[k]], ev, false))
            return true;
    return any_parts_of(e, ev);
}

/* The readers' interest set: every Endpoint.Processes source (the data model does not care which
 * data_source a detection lists), then each other detection's (provider, event code) pairs
 * (esc_plan_win_sources: a raw-event search's codes for any provider, a data model's sources),
 * so readers skip the other events before decoding them. A raw-event search naming no event
 * code, or more pairs than the set holds, makes it every event. */
static esc_status interest(esc_engine *e, esc_error *err) {
    esc_interest *in = &e->interest;
    in->win[0] = (esc_win_source){"Microsoft-Windows-Sysmon", 1};
    in->win[1] = (esc_win_source){"Microsoft-Windows-Security-Auditing", 4688};
    in->nwin = 2;
    in->crowdstrike = true;
    in->fields = esc_cim_raw_fields();
    in->system = true; /* Security 4688's action reads its Keywords */
    e->others = esc_calloc(e->n ? e->n : 1, sizeof *e->others);
    e->procs = esc_calloc(e->n ? e->n : 1, sizeof *e->procs);
    e->procs_bits = esc_calloc((e->n + 63) / 64 + 1, sizeof *e->procs_bits);
    e->dm_only = esc_calloc(e->n ? e->n : 1, sizeof *e->dm_only);
    e->second = esc_calloc(e->n ? e->n : 1, sizeof *e->second);
    e->parts = esc_calloc(e->n ? e->n : 1, sizeof *e->parts);
    e->parts_any = esc_calloc(e->n ? e->n : 1, sizeof *e->parts_any);
    e->parts_codes = esc_calloc(1, PARTS_CODES);
    if (!e->others || !e->procs || !e->procs_bits || !e->dm_only || !e->second || !e->parts ||
        !e->parts_any || !e->parts_codes)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_status st;
    for (size_t i = 0; i < e->n; i++) {
        uint32_t m = esc_plan_datasets(e->plan[i]);
        e->datasets |= m;
        if (m & (1u << ESC_DS_PROCESSES)) {
            e->procs[e->nprocs++] = i;
            e->procs_bits[i / 64] |= 1ull << (i % 64);
        }
        for (int ds = ESC_DS_PROCESSES + 1; ds < ESC_DS_RAW; ds++)
            if (m == 1u << ds)
                e->dm_only[i] = (uint8_t)ds;
        e->second[i] = esc_risk_stage_reads(e->plan[i]);
        /* Risk.All_Risk records are risk events, not events the readers see */
        if (!(m & ~((1u << ESC_DS_PROCESSES) | (1u << ESC_DS_RISK))))
            continue;
        e->others[e->nothers++] = i;
        in->fields = NULL; /* search-time extraction reads every field and System element */
        in->system = true;
        if (reads_parts(e->plan[i]) && (st = add_parts(e, i, err)))
            return st;
        if (!in->everything &&
            !esc_plan_win_sources(e->plan[i], in->win, ESC_INTEREST_MAX_WIN, &in->nwin))
            in->everything = true;
    }
    if (e->nparts) {
        in->parts = true;
        in->parts_of = parts_of;
        in->parts_ctx = e;
    }
    if (e->nprocs)
        processes_interest(in);
    if (!in->everything)
        union_prefilter(e);
    return index_codes(e, err);
}

esc_status esc_engine_new(const esc_content *c, const esc_detection *const *dets, size_t ndets,
                          bool strict, esc_engine **out, esc_error *err) {
    if (!dets) {
        ndets = c->ndetections;
    }
    esc_engine *e = esc_calloc(1, sizeof *e);
    esc_status st = ESC_OK;
    if (!e)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    static atomic_uint_fast64_t ids;
    e->id = atomic_fetch_add(&ids, 1) + 1;
    e->content = c;
    if (!(e->lookups = spl_lookups(c))) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    e->env = (esc_spl_env){&c->macros, e->lookups, c->nlookups};
    e->det = esc_calloc(ndets ? ndets : 1, sizeof *e->det);
    e->plan = esc_calloc(ndets ? ndets : 1, sizeof *e->plan);
    e->search_name = esc_calloc(ndets ? ndets : 1, sizeof *e->search_name);
    e->skipped = esc_calloc(ndets ? ndets : 1, sizeof *e->skipped);
    e->skip_reason = esc_calloc(ndets ? ndets : 1, sizeof *e->skip_reason);
    if (!e->det || !e->plan || !e->search_name || !e->skipped || !e->skip_reason) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ndets; i++) {
        const esc_detection *d = dets ? dets[i] : &c->detections[i];
        esc_error perr = {0};
        esc_plan *p = d->search ? esc_plan_new_env(d->search, &e->env, NULL, &perr) : NULL;
        if (!p) {
            if (!d->search)
                esc_error_set(&perr, ESC_ECONTENT, "detection has no search");
            if (strict || perr.code == ESC_ENOMEM) {
                st = perr.code ? perr.code : ESC_ECONTENT;
                if (err) {
                    *err = perr;
                    err->code = st;
                    snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", d->name ? d->name : "?",
                             perr.msg);
                }
                goto fail;
            }
            e->skipped[e->nskipped] = d;
            e->skip_reason[e->nskipped] = esc_strdup(perr.msg);
            e->nskipped++;
            continue;
        }
        e->det[e->n] = d;
        e->plan[e->n] = p;
        e->search_name[e->n] = (char *)concat3("ESCU - ", d->name ? d->name : "?", " - Rule");
        if (!e->search_name[e->n]) {
            e->n++;
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto fail;
        }
        e->n++;
    }
    if ((st = interest(e, err)))
        goto fail;
    if ((st = esc_litfilter_new(e->plan, e->n, &e->lf, err)))
        goto fail;
    /* Hyperscan's compiler frees its working memory (35 MB for escu-full's record literals)
     * below the arena's top, where glibc keeps it resident for the whole hunt: give it back */
    esc_alloc_trim();
    *out = e;
    return ESC_OK;
fail:
    esc_engine_free(e);
    return st;
}

void esc_engine_free(esc_engine *e) {
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        esc_plan_free(e->plan[i]);
        esc_free(e->search_name[i]);
    }
    for (size_t i = 0; i < e->nskipped; i++)
        esc_free(e->skip_reason[i]);
    esc_litfilter_free(e->lf);
    esc_free(e->procs);
    esc_free(e->procs_bits);
    esc_free(e->dm_only);
    esc_free(e->others);
    esc_free(e->second);
    esc_free(e->by_code);
    esc_free(e->any_code);
    esc_free(e->meta_only);
    esc_free(e->parts);
    esc_free(e->parts_any);
    esc_free(e->parts_codes);
    esc_free(e->det);
    esc_free(e->plan);
    esc_free(e->search_name);
    esc_free(e->skipped);
    esc_free(e->skip_reason);
    esc_free(e->lookups);
    esc_free(e);
}

size_t esc_engine_count(const esc_engine *e) {
    return e->n;
}
const esc_detection *esc_engine_detection(const esc_engine *e, size_t i) {
    return e->det[i];
}
const esc_plan *esc_engine_plan(const esc_engine *e, size_t i) {
    return e->plan[i];
}
size_t esc_engine_nskipped(const esc_engine *e) {
    return e->nskipped;
}
const esc_detection *esc_engine_skipped(const esc_engine *e, size_t i, const char **reason) {
    if (reason)
        *reason = e->skip_reason[i];
    return e->skipped[i];
}
const esc_interest *esc_engine_interest(const esc_engine *e) {
    return &e->interest;
}
const char *esc_engine_search_name(const esc_engine *e, size_t i) {
    return e->search_name[i];
}
size_t esc_engine_nothers(const esc_engine *e) {
    return e->nothers;
}
const esc_litfilter *esc_engine_litfilter(const esc_engine *e) {
    return e->lf;
}

size_t esc_engine_nprocs(const esc_engine *e) {
    return e->nprocs;
}

/* The detections that may read any code, then (binary search in the index) those reading ev's
 * code: per-event cost follows the detections of its code, not all of them. */
uint32_t esc_engine_select(const esc_engine *e, const esc_event *ev, size_t *cand, size_t *ncand) {
    uint32_t mask = 0;
    *ncand = 0;
    if (ev->kind != ESC_EV_WINDOWS)
        return 0;
    bool meta = esc_plan_event_meta(ev);
    for (size_t k = 0; meta && k < e->nmeta_only; k++) {
        uint32_t m = esc_plan_select_meta(e->plan[e->meta_only[k]], ev, true);
        if (m) {
            cand[(*ncand)++] = e->meta_only[k];
            mask |= m;
        }
    }
    for (size_t k = 0; k < e->nany_code; k++) {
        uint32_t m = esc_plan_select_meta(e->plan[e->any_code[k]], ev, meta);
        if (m) {
            cand[(*ncand)++] = e->any_code[k];
            mask |= m;
        }
    }
    if (!ev->has_event_id)
        return mask;
    size_t lo = 0, hi = e->nby_code; /* the first entry with this code */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->by_code[mid].code < ev->event_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    int8_t dm[ESC_DS_N]; /* esc_dm_wants per data model, -1: not asked yet */
    memset(dm, -1, sizeof dm);
    for (size_t j = lo; j < e->nby_code && e->by_code[j].code == ev->event_id; j++) {
        size_t i = e->by_code[j].det;
        int ds = e->dm_only[i];
        uint32_t m;
        if (ds) {
            if (dm[ds] < 0)
                dm[ds] = (int8_t)esc_dm_wants((esc_dataset)ds, ev);
            m = dm[ds] ? 1u << ds : 0;
        } else {
            m = esc_plan_select_meta(e->plan[i], ev, meta);
        }
        if (m) {
            cand[(*ncand)++] = e->by_code[j].det;
            mask |= m;
        }
    }
    return mask;
}

/* ---- hunt ------------------------------------------------------------------------------------ */

struct esc_hunt {
    const esc_engine *e;
    esc_hunt_opts o;
    char **files;
    size_t nfiles, next;
    esc_input *in;
    esc_reader *rd;
    esc_exec **x;
    esc_table **tables;
    esc_feeder *feed;
    bool ahead; /* the feeder reads the current input ahead */
    bool async; /* spills are written on a thread of their own (spl_spill_async_begin) */
    bool late;  /* a failed write of that thread to report after finishing (late_err) */
    esc_error late_err;
    esc_hunt_stats stats;
    bool finished;
    esc_exec ***sx; /* per detection: its shards' executions (o.shards > 1 and the plan merges:
                       the two-stage check), or NULL */
    size_t fed;     /* since the last keep_budget: each record's value bytes times the executions
                       fed it, about the most their groups can have grown (count_fed) */
};

static void close_input(esc_hunt *h) {
    if (h->feed)
        esc_feeder_detach(h->feed);
    h->ahead = false;
    if (h->rd) {
        const esc_reader_stats *rs = esc_reader_stats_get(h->rd);
        h->stats.events += rs->records;
        h->stats.prefiltered += rs->prefiltered;
        h->stats.repaired += rs->repaired;
    }
    if (h->in)
        h->stats.bytes += esc_input_offset(h->in);
    esc_reader_free(h->rd);
    esc_input_free(h->in);
    h->rd = NULL;
    h->in = NULL;
    h->stats.current = NULL;
}

void esc_hunt_free(esc_hunt *h) {
    if (!h)
        return;
    close_input(h);
    for (size_t i = 0; i < esc_engine_count(h->e); i++) {
        if (h->x)
            esc_exec_free(h->x[i]);
        if (h->tables)
            esc_table_free(h->tables[i]);
        for (size_t k = 0; h->sx && h->sx[i] && k < h->o.shards; k++)
            esc_exec_free(h->sx[i][k]);
        if (h->sx)
            esc_free(h->sx[i]);
    }
    esc_free(h->sx);
    esc_free(h->x);
    esc_free(h->tables);
    esc_paths_free(h->files, h->nfiles);
    esc_feeder_free(h->feed);
    if (h->async)
        spl_spill_async_end(); /* after the executions: their files are written */
    esc_free(h);
}

/* The shard of a record in the two-stage check: by its host, as producers key a Kafka topic
 * (docs/scale.md); a record without one goes to shard 0. */
static size_t shard_of(const esc_record *r, size_t n) {
    static const char *const names[] = {"dest", "Computer", "ComputerName", "host"};
    esc_str host = r->ds == ESC_DS_PROCESSES ? r->v[ESC_CIM_DEST] : ESC_STR_NULL;
    for (size_t i = 0; !host.len && r->fs && i < sizeof names / sizeof names[0]; i++)
        host = esc_fields_get(r->fs, esc_str_c(names[i]));
    uint64_t x = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < host.len; i++)
        x = (x ^ (unsigned char)host.ptr[i]) * 0x100000001b3ULL;
    return (size_t)(x % n);
}

static esc_status feed_det(esc_hunt *h, size_t i, const esc_record *r, esc_error *err) {
    esc_exec *x = h->sx && h->sx[i] ? h->sx[i][shard_of(r, h->o.shards)] : h->x[i];
    return esc_exec_feed(x, r, err);
}

/* The bytes of r's values (a Processes record's fields, else its event's data and System
 * values): what a group keyed by them, or a kept row, copies at most once over. */
static size_t record_bytes(const esc_record *r) {
    size_t n = 0;
    if (r->ds == ESC_DS_PROCESSES) {
        for (size_t i = 0; i < ESC_CIM_NFIELDS; i++)
            n += r->v[i].len;
        return n;
    }
    for (size_t i = 0; r->ev && i < r->ev->ndata; i++)
        n += r->ev->data[i].value.len;
    for (size_t i = 0; r->ev && i < r->ev->nsys; i++)
        n += r->ev->sys[i].value.len;
    return n;
}

/* Counts what r fed k executions may have added; past half the group memory budget, the pull
 * pauses so that keep_budget runs before the next event (events of long values fed to many
 * searches would otherwise add hundreds of MiB of groups between two checks). */
static void count_fed(esc_hunt *h, const esc_record *r, size_t k) {
    if (!k || h->o.group_memory == SIZE_MAX)
        return;
    h->fed += k * record_bytes(r);
    if (h->fed > h->o.group_memory / 2)
        esc_feeder_pause(h->feed);
}

/* The feeder's consumer: an Endpoint.Processes record goes to the executions of the
 * detections reading that data model, a record of another dataset to the detections the feeder
 * selected for its event, in both cases only when the feeder's literal filter does not rule the
 * detection out (an execution that is not fed a record does nothing with it: its main where
 * clause would reject it, and a plan with a subsearch has no clauses). *k: how many were fed. */
static esc_status feed_all(esc_hunt *h, const esc_record *r, size_t *k, esc_error *err) {
    const uint64_t *cb = esc_feeder_candidate_bits(h->feed);
    if (r->ds != ESC_DS_PROCESSES) {
        const size_t *cand;
        size_t ncand = esc_feeder_candidates(h->feed, &cand);
        for (size_t j = 0; j < ncand; j++) {
            /* a detection without its candidate bit may not match: no call to ask */
            if ((cb && !((cb[cand[j] / 64] >> (cand[j] % 64)) & 1)) ||
                !esc_feeder_may_match(h->feed, cand[j]))
                continue;
            ++*k;
            esc_status st = feed_det(h, cand[j], r, err);
            if (st)
                return st;
        }
        return ESC_OK;
    }
    for (size_t j = 0; !cb && j < h->e->nprocs; j++) {
        ++*k;
        esc_status st = feed_det(h, h->e->procs[j], r, err);
        if (st)
            return st;
    }
    /* the detections both reading Endpoint.Processes and still candidates, in index order */
    for (size_t w = 0; cb && w < (h->e->n + 63) / 64; w++)
        for (uint64_t b = cb[w] & h->e->procs_bits[w]; b; b &= b - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(b);
            if (!esc_feeder_may_match(h->feed, i))
                continue;
            ++*k;
            esc_status st = feed_det(h, i, r, err);
            if (st)
                return st;
        }
    return ESC_OK;
}

/* The feeder's consumer (feed_all), counting what it fed (count_fed). */
static esc_status feed(void *ctx, const esc_record *r, esc_error *err) {
    esc_hunt *h = ctx;
    size_t k = 0;
    esc_status st = feed_all(h, r, &k, err);
    count_fed(h, r, k);
    return st;
}

/* The two-stage check: each mergeable detection gets o.shards executions of its plan. */
static esc_status open_shards(esc_hunt *h, esc_error *err) {
    size_t n = esc_engine_count(h->e);
    if (h->o.shards > ESC_HUNT_MAX_SHARDS)
        return esc_error_set(err, ESC_EUSAGE, "more than %d shards", ESC_HUNT_MAX_SHARDS);
    if (!(h->sx = esc_calloc(n ? n : 1, sizeof *h->sx)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const esc_plan *p = esc_engine_plan(h->e, i);
        if (!esc_plan_mergeable(p, NULL))
            continue;
        if (!(h->sx[i] = esc_calloc(h->o.shards, sizeof **h->sx)))
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        for (size_t k = 0; k < h->o.shards; k++)
            if (!(h->sx[i][k] = esc_exec_new(p, h->o.earliest_us, h->o.latest_us, err)))
                return err && err->code ? err->code : ESC_ENOMEM;
        h->stats.two_stage++;
    }
    return ESC_OK;
}

/* Each shard's partial aggregates, encoded and decoded as they would travel, merged into the
 * detection's own execution (fed nothing), which then runs the rest of the search. */
static esc_status merge_shards(esc_hunt *h, size_t i, esc_error *err) {
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_status st = ESC_OK;
    for (size_t k = 0; k < h->o.shards && !st; k++) {
        esc_buf_clear(&b);
        if (!(st = esc_exec_partial(h->sx[i][k], &b, err)))
            st = esc_exec_merge(h->x[i], b.ptr, b.len, err);
        h->stats.partial_bytes += b.len;
        esc_exec_free(h->sx[i][k]);
        h->sx[i][k] = NULL;
    }
    esc_buf_fini(&b);
    return st;
}

/* The feeder's counters in the hunt's. */
static void sync_stats(esc_hunt *h) {
    const esc_feeder_stats *fs = esc_feeder_stats_get(h->feed);
    h->stats.process_events = fs->process_events;
    h->stats.malformed = fs->malformed;
    h->stats.aidmaster = fs->aidmaster;
    h->stats.unresolved_hosts = fs->unresolved_hosts;
    h->stats.other = fs->other;
}

esc_status esc_hunt_new(const esc_engine *e, const esc_hunt_opts *o, const char *const *files,
                        size_t nfiles, esc_hunt **out, esc_error *err) {
    esc_hunt *h = esc_calloc(1, sizeof *h);
    if (!h)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    h->e = e;
    h->o = *o;
    h->async = h->o.reader.threads > 1 && spl_spill_async_begin();
    if (!h->o.max_held)
        h->o.max_held = DEFAULT_MAX_HELD;
    if (!h->o.group_memory)
        h->o.group_memory = ESC_HUNT_GROUP_MEMORY;
    esc_status st = ESC_OK;
    size_t n = esc_engine_count(e);
    h->x = esc_calloc(n ? n : 1, sizeof *h->x);
    h->tables = esc_calloc(n ? n : 1, sizeof *h->tables);
    h->files = esc_calloc(nfiles ? nfiles : 1, sizeof *h->files);
    if (!h->x || !h->tables || !h->files) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    esc_feeder_opts fo = {
        .profile = o->profile, .record = feed, .ctx = h, .max_held = h->o.max_held, .engine = e};
    if ((st = esc_feeder_new(&fo, &h->feed, err)))
        goto fail;
    for (size_t i = 0; i < nfiles; i++) {
        if (!(h->files[i] = esc_strdup(files[i]))) {
            h->nfiles = i;
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto fail;
        }
    }
    h->nfiles = nfiles;
    for (size_t i = 0; i < n; i++) {
        h->x[i] = esc_exec_new(esc_engine_plan(e, i), o->earliest_us, o->latest_us, err);
        if (!h->x[i]) {
            st = err && err->code ? err->code : ESC_ENOMEM;
            goto fail;
        }
        /* detections starting with the same Processes tstats keep its groups once (the
         * earlier execution owns them and is finished and freed first); not in the two-stage
         * check, which merges each detection's shards into its own execution */
        for (size_t j = 0; o->shards <= 1 && j < i && !esc_exec_share(h->x[i], h->x[j]); j++)
            ;
    }
    if (o->shards > 1 && (st = open_shards(h, err)))
        goto fail;
    if (o->aidmaster && (st = esc_feeder_load_hosts(h->feed, o->aidmaster, &h->o.reader, err)))
        goto fail;
    *out = h;
    return ESC_OK;
fail:
    esc_hunt_free(h);
    return st;
}

static esc_status open_next(esc_hunt *h, esc_error *err) {
    const char *path = h->files[h->next++];
    h->stats.inputs++;
    esc_status st = esc_input_open(path, &h->in, err);
    if (st) {
        h->stats.inputs_failed++;
        return st;
    }
    h->stats.current = esc_input_path(h->in);
    h->stats.current_size = esc_input_size(h->in);
    h->stats.current_offset = 0;
    /* a second thread reads a file ahead (not a stream: it could block on it when the hunt
     * stops early) and decodes it alone: EVTX decoding threads besides it made the hunt slower
     * (docs/benchmarks.md, "Read ahead on a second thread") */
    bool ahead = h->o.reader.threads > 1 && esc_input_size(h->in);
    esc_reader_opts ro = h->o.reader;
    if (ahead)
        ro.threads = 1;
    st = esc_reader_open(h->in, esc_engine_interest(h->e), &ro, &h->rd, err);
    if (!st && ahead)
        h->ahead = !esc_feeder_read_ahead(h->feed, h->rd);
    if (st) {
        if (st == ESC_SKIP)
            h->stats.inputs_unknown++;
        else
            h->stats.inputs_failed++;
        close_input(h);
    }
    return st;
}

static esc_status step(esc_hunt *h, esc_error *err);

typedef struct exec_mem {
    size_t bytes;
    size_t i;
} exec_mem;

static int cmp_mem(const void *a, const void *b) {
    const exec_mem *x = a, *y = b;
    return x->bytes != y->bytes ? (x->bytes > y->bytes ? -1 : 1) : (x->i > y->i) - (x->i < y->i);
}

/* Past the group memory budget, the largest spillable executions move their groups to
 * temporary files until half the budget is left (spl.h esc_exec_spill); a table under a
 * sixteenth of the budget (at most SPILL_MIN) stays. */
static esc_status keep_budget(esc_hunt *h, esc_error *err) {
    size_t n = esc_engine_count(h->e), total = 0, budget = h->o.group_memory;
    h->fed = 0;
    if (budget == SIZE_MAX || h->sx)
        return ESC_OK;
    if (spl_spill_async_failed(err)) { /* as a failed spill below: no more are tried */
        h->o.group_memory = SIZE_MAX;
        h->stats.warnings++;
        return ESC_EIO;
    }
    size_t min = budget / 16 < SPILL_MIN ? budget / 16 : SPILL_MIN;
    exec_mem *m = esc_malloc((n ? n : 1) * sizeof *m);
    if (!m)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        total += esc_exec_mem(h->x[i], min, &m[i].bytes);
        m[i].i = i;
    }
    esc_status st = ESC_OK;
    if (total > budget) {
        qsort(m, n, sizeof *m, cmp_mem);
        for (size_t k = 0; k < n && m[k].bytes && total > budget / 2 && !st; k++) {
            size_t before = esc_exec_mem(h->x[m[k].i], min, NULL);
            st = esc_exec_spill(h->x[m[k].i], min, err);
            total -= before - esc_exec_mem(h->x[m[k].i], min, NULL);
            h->stats.spills++;
        }
        /* no esc_alloc_trim here: the freed groups' heap is what the next 4,096 events
         * allocate again, and malloc_trim's madvise made each of those pages fault back in
         * (over 100 MiB: 55,000 of the hunt's 122,000 page faults, a quarter of its CPU,
         * for 1.6 MB of peak) */
    }
    esc_free(m);
    if (st && st != ESC_ENOMEM) { /* the groups stay in memory; no more spills are tried */
        h->o.group_memory = SIZE_MAX;
        h->stats.warnings++;
    }
    return st;
}

/* Errors name the input by the hunt's own copy of its path, which outlives the input. */
esc_status esc_hunt_step(esc_hunt *h, esc_error *err) {
    size_t cur = h->rd ? h->next - 1 : h->next;
    esc_status st = step(h, err);
    sync_stats(h);
    if (st != ESC_OK && st != ESC_EOF && err && err->path && cur < h->nfiles)
        err->path = h->files[cur];
    return st;
}

static esc_status step(esc_hunt *h, esc_error *err) {
    if (!h->rd) {
        if (h->next == h->nfiles)
            return ESC_EOF;
        esc_status st = open_next(h, err);
        if (st) {
            h->stats.warnings++;
            return st;
        }
    }
    bool failed = false;
    esc_status st = esc_feeder_pull(h->feed, h->rd, 0, STEP_EVENTS, NULL, &failed, err);
    if (st == ESC_EOF) {
        close_input(h);
        return keep_budget(h, err);
    }
    if (st) { /* a warning (malformed record, a limit), or fatal (out of memory) */
        h->stats.warnings++;
        if (failed) { /* fatal for this input */
            h->stats.inputs_failed++;
            close_input(h);
        }
        return st;
    }
    if (h->in) /* reading ahead, the input is the reading thread's */
        h->stats.current_offset =
            h->ahead ? esc_feeder_stats_get(h->feed)->offset : esc_input_offset(h->in);
    return keep_budget(h, err);
}

const esc_hunt_stats *esc_hunt_stats_get(const esc_hunt *h) {
    return &h->stats;
}

typedef struct finishing {
    uint64_t spilled;
    size_t det;
} finishing;

static int cmp_finishing(const void *a, const void *b) {
    const finishing *x = a, *y = b;
    if (x->spilled != y->spilled)
        return x->spilled > y->spilled ? -1 : 1;
    return (x->det > y->det) - (x->det < y->det);
}

/* The order detections finish in: those merging the most spilled bytes back first, while the
 * result tables of the others are not held yet, then the rest in order (an owner of shared
 * groups and its sharers count the same, so the owner, earlier, still finishes first). A
 * detection's rows do not depend on when it finishes: each finish counts its own regex stops.
 * NULL when out of memory. */
static size_t *finish_order(const esc_hunt *h) {
    size_t n = esc_engine_count(h->e);
    finishing *f = esc_malloc((n ? n : 1) * sizeof *f);
    size_t *o = esc_malloc((n ? n : 1) * sizeof *o);
    if (!f || !o) {
        esc_free(f);
        esc_free(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        f[i] = (finishing){h->x[i] ? esc_exec_spilled(h->x[i]) : 0, i};
    qsort(f, n, sizeof *f, cmp_finishing);
    for (size_t i = 0; i < n; i++)
        o[i] = f[i].det;
    esc_free(f);
    return o;
}

/* Detection i's table, its execution's groups released. */
static esc_status finish_one(esc_hunt *h, size_t i, esc_error *err) {
    esc_status st;
    if (h->sx && h->sx[i] && (st = merge_shards(h, i, err)))
        return st;
    if ((st = esc_exec_finish(h->x[i], &h->tables[i], err)))
        return st;
    size_t before = esc_exec_mem(h->x[i], 0, NULL);
    esc_exec_release(h->x[i]); /* its groups are in its table now */
    if (before >= FINISH_TRIM)
        esc_alloc_trim();
    h->stats.rows += h->tables[i]->nrows;
    h->stats.regex_limited += h->tables[i]->regex_limited;
    h->stats.warnings += h->tables[i]->regex_limited > 0; /* one per detection */
    /* one per record the merge back of spilled groups dropped, as while reading */
    h->stats.warnings += h->tables[i]->dropped_groups + h->tables[i]->dropped_bytes;
    h->stats.warnings += h->tables[i]->join_unused > 0; /* one per detection */
    return ESC_OK;
}

/* Every detection of the first stage (second: of the second), in order. */
static esc_status finish_stage(esc_hunt *h, const size_t *order, bool second, esc_error *err) {
    esc_status st = ESC_OK;
    for (size_t k = 0; k < esc_engine_count(h->e) && !st; k++)
        if (h->e->second[order[k]] == second)
            st = finish_one(h, order[k], err);
    return st;
}

bool esc_hunt_late_warning(esc_hunt *h, esc_error *err) {
    bool late = h->late;
    if (late)
        *err = h->late_err;
    h->stats.warnings += late;
    h->late = false;
    return late;
}

esc_status esc_hunt_finish(esc_hunt *h, esc_error *err) {
    if (h->finished)
        return ESC_OK;
    h->finished = true;
    close_input(h);
    esc_status st = esc_feeder_flush(h->feed, err);
    sync_stats(h);
    if (st)
        return st;
    for (size_t i = 0; i < esc_engine_count(h->e) && !st; i++)
        st = esc_exec_fed_all(h->x[i], err);
    if (st)
        return st;
    if (h->async) { /* finishing reads each file back at once: from here spills are written as
                       they come (unless a file holds chunks the thread could not write: its
                       later ones must be held too) */
        spl_spill_async_wait();
        if (!(h->late = spl_spill_async_failed(&h->late_err))) {
            spl_spill_async_end();
            h->async = false;
        }
    }
    size_t *order = finish_order(h);
    if (!order)
        return esc_error_set(err, ESC_ENOMEM, "out of memory finishing the hunt");
    /* first every detection but the RBA ones, then the risk events of their rows feed those */
    esc_risk_stage rs = {.content = h->e->content,
                         .det = h->e->det,
                         .tables = h->tables,
                         .x = h->x,
                         .second = h->e->second,
                         .n = esc_engine_count(h->e),
                         .earliest_us = h->o.earliest_us,
                         .latest_us = h->o.latest_us,
                         .now = h->o.now};
    if (!(st = finish_stage(h, order, false, err)) && !(st = esc_risk_stage_run(&rs, err)))
        st = finish_stage(h, order, true, err);
    esc_free(order);
    return st;
}

const esc_table *esc_hunt_table(const esc_hunt *h, size_t i) {
    return h->tables[i];
}
