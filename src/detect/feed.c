/* The feeder: the one loop from readers to the searches (see engine.h).
 *
 * It pulls events from a reader, keeps the CrowdStrike host inventory (aidmaster records, a
 * --aidmaster file, entries restored by the caller), maps process events to CIM records with
 * that inventory, puts each event the engine's detections want (esc_engine_select) in the other
 * datasets and hands each record to the caller's consumer.
 * Invariants: a record handed on lives in the feeder's map arena until the next event; held
 * records (CrowdStrike records whose host is not known yet, when max_held > 0) are deep copies in
 * their own arena and are mapped only by esc_feeder_flush. The host callback hears of an entry
 * only when an event adds or changes it.
 * Not done here: opening inputs or readers, choosing which records a search keeps (the
 * consumer: the candidates narrow it to the detections of the event's code), windows,
 * printing. */
#include "detect/engine.h"

#include <string.h>

#include "core/alloc.h"
#include "detect/litfilter.h"

#define HELD_ARENA_CAP (256u << 20)
#define SEL_SLOTS 256     /* selections remembered (a power of two) */
#define SEL_KEY_MAX 240   /* provider and channel bytes a remembered selection holds */
#define SEL_CAND_MAX 8192 /* candidates all remembered selections hold together */

/* One remembered esc_engine_select answer: it depends on the event's kind, code, provider and
 * channel only, unless the event carries a source, sourcetype or eventtype field of its own
 * (esc_plan_event_meta), whose events are never remembered. */
typedef struct sel_memo {
    bool used, has_code;
    uint32_t code, mask;
    uint16_t plen, clen;
    char key[SEL_KEY_MAX]; /* provider then channel */
    size_t at, n;          /* the candidates: cand_pool[at .. at + n - 1] */
} sel_memo;

struct esc_feeder {
    esc_feeder_opts o;
    esc_hostmap *hosts;
    esc_arena map_arena;
    esc_arena fields_arena; /* the event's fields and its dataset views, until the next event */
    esc_arena held_arena;
    esc_event *held;
    size_t nheld, capheld;
    size_t *cand; /* the detections the current event may feed in the other datasets */
    size_t ncand;
    esc_litscan *ls; /* the engine's literal filter scanner (the record handed on), or NULL */
    sel_memo *memo;  /* SEL_SLOTS remembered selections (see sel_memo), or NULL */
    size_t *cand_pool;
    size_t npool;
    esc_feeder_stats stats;
    bool tagged; /* map the events tagged `process report` past Sysmon 1 / 4688 (cim.h) */
};

esc_status esc_feeder_new(const esc_feeder_opts *o, esc_feeder **out, esc_error *err) {
    esc_feeder *f = esc_calloc(1, sizeof *f);
    if (!f || !(f->hosts = esc_hostmap_new())) {
        esc_free(f);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    f->o = *o;
    f->tagged = !o->engine || esc_engine_nprocs(o->engine);
    esc_arena_init(&f->map_arena, 64 * 1024, 64u << 20);
    esc_arena_init(&f->fields_arena, 64 * 1024, 64u << 20);
    esc_arena_init(&f->held_arena, 1u << 20, HELD_ARENA_CAP);
    if (o->engine && !esc_engine_nothers(o->engine))
        f->o.engine = NULL; /* Endpoint.Processes only */
    if (f->o.engine && (!(f->cand = esc_calloc(esc_engine_nothers(o->engine), sizeof *f->cand)) ||
                        !(f->memo = esc_calloc(SEL_SLOTS, sizeof *f->memo)) ||
                        !(f->cand_pool = esc_calloc(SEL_CAND_MAX, sizeof *f->cand_pool)))) {
        esc_feeder_free(f);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    esc_status st;
    if (o->engine && (st = esc_litscan_new(esc_engine_litfilter(o->engine), &f->ls, err))) {
        esc_feeder_free(f);
        return st;
    }
    *out = f;
    return ESC_OK;
}

void esc_feeder_free(esc_feeder *f) {
    if (!f)
        return;
    esc_hostmap_free(f->hosts);
    esc_arena_fini(&f->map_arena);
    esc_arena_fini(&f->fields_arena);
    esc_arena_fini(&f->held_arena);
    esc_free(f->held);
    esc_free(f->cand);
    esc_free(f->memo);
    esc_free(f->cand_pool);
    esc_litscan_free(f->ls);
    esc_free(f);
}

const esc_feeder_stats *esc_feeder_stats_get(const esc_feeder *f) {
    return &f->stats;
}

esc_status esc_feeder_put_host(esc_feeder *f, esc_str aid, esc_str name) {
    return esc_hostmap_put(f->hosts, aid, name);
}

esc_status esc_feeder_load_hosts(esc_feeder *f, const char *path, const esc_reader_opts *ro,
                                 esc_error *err) {
    esc_input *in = NULL;
    esc_reader *rd = NULL;
    esc_interest all = {.everything = true};
    esc_status st = esc_input_open(path, &in, err);
    if (st)
        return st;
    if ((st = esc_reader_open(in, &all, ro, &rd, err)))
        goto done;
    esc_event ev;
    while ((st = esc_reader_next(rd, &ev, err)) != ESC_EOF) {
        if (st == ESC_EMALFORMED)
            continue;
        if (st)
            goto done;
        if (ev.kind == ESC_EV_AIDMASTER) {
            esc_str aid = esc_event_get(&ev, "aid"), name = esc_event_get(&ev, "ComputerName");
            if (aid.len && name.len && (st = esc_hostmap_put(f->hosts, aid, name))) {
                esc_error_at(err, st, path, ev.offset, "%s",
                             st == ESC_ELIMIT ? "host inventory is full" : "out of memory");
                goto done;
            }
        }
    }
    st = ESC_OK;
done:
    esc_reader_free(rd);
    esc_input_free(in);
    return st;
}

/* Deep-copy an event into the held arena. */
static esc_status hold(esc_feeder *f, const esc_event *ev) {
    if (f->nheld == f->capheld) {
        size_t cap = f->capheld ? f->capheld * 2 : 256;
        esc_event *p = esc_realloc(f->held, cap * sizeof *p);
        if (!p)
            return ESC_ENOMEM;
        f->held = p;
        f->capheld = cap;
    }
    esc_event *c = &f->held[f->nheld];
    *c = *ev;
    esc_kv *kv = esc_arena_alloc(&f->held_arena, (ev->ndata ? ev->ndata : 1) * sizeof *kv);
    if (!kv)
        return ESC_ELIMIT;
    for (size_t i = 0; i < ev->ndata; i++) {
        kv[i].name = esc_arena_dup(&f->held_arena, ev->data[i].name);
        kv[i].value = esc_arena_dup(&f->held_arena, ev->data[i].value);
        if (!kv[i].name.ptr || !kv[i].value.ptr)
            return ESC_ELIMIT;
    }
    c->data = kv;
    c->path = NULL; /* the path string belongs to the input; not needed after mapping */
    c->warning = ESC_STR_NULL;
    f->nheld++;
    return ESC_OK;
}

static esc_status inventory(esc_feeder *f, const esc_event *ev, esc_error *err) {
    f->stats.aidmaster++;
    esc_str aid = esc_event_get(ev, "aid"), name = esc_event_get(ev, "ComputerName");
    if (!aid.len || !name.len)
        return ESC_OK;
    esc_str had = esc_hostmap_get(f->hosts, aid);
    if (had.ptr && esc_str_eq(had, name))
        return ESC_OK;
    esc_status st = esc_hostmap_put(f->hosts, aid, name);
    if (!st && f->o.host)
        st = f->o.host(f->o.ctx, aid, name, err);
    if (st)
        return esc_error_at(err, st, ev->path, ev->offset, "host inventory is full");
    return ESC_OK;
}

static esc_status processes(esc_feeder *f, const esc_event *ev, esc_error *err);

size_t esc_feeder_candidates(const esc_feeder *f, const size_t **det) {
    *det = f->cand;
    return f->ncand;
}

bool esc_feeder_may_match(const esc_feeder *f, size_t i) {
    return esc_litscan_may_match(f->ls, i);
}

const uint64_t *esc_feeder_candidate_bits(const esc_feeder *f) {
    return esc_litscan_candidates(f->ls);
}

/* Hand a record to the consumer, scanned first for every detection's literals. */
static esc_status hand_on(esc_feeder *f, const esc_record *rec, esc_error *err) {
    esc_litscan_record(f->ls, rec);
    return f->o.record(f->o.ctx, rec, err);
}

/* esc_engine_select for ev into f->cand, from the remembered selections when ev's kind, code,
 * provider and channel were seen before (an event of a source, sourcetype or eventtype field,
 * or of a longer provider and channel, is always selected afresh; so is every event once the
 * slots or the candidate pool are full). */
static uint32_t select_event(esc_feeder *f, const esc_event *ev) {
    if (ev->kind != ESC_EV_WINDOWS) {
        f->ncand = 0;
        return 0;
    }
    size_t plen = ev->provider.len, clen = ev->channel.len;
    if (plen + clen > SEL_KEY_MAX || esc_plan_event_meta(ev))
        return esc_engine_select(f->o.engine, ev, f->cand, &f->ncand);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < plen; i++)
        h = (h ^ (unsigned char)ev->provider.ptr[i]) * 1099511628211ull;
    for (size_t i = 0; i < clen; i++)
        h = (h ^ (unsigned char)ev->channel.ptr[i]) * 1099511628211ull;
    h = (h ^ (ev->has_event_id ? ev->event_id : UINT64_MAX)) * 1099511628211ull;
    for (size_t k = 0; k < SEL_SLOTS; k++) {
        sel_memo *m = &f->memo[(h + k) & (SEL_SLOTS - 1)];
        if (m->used) {
            if (m->has_code != ev->has_event_id || (m->has_code && m->code != ev->event_id) ||
                m->plen != plen || m->clen != clen ||
                (plen && memcmp(m->key, ev->provider.ptr, plen)) ||
                (clen && memcmp(m->key + plen, ev->channel.ptr, clen)))
                continue;
            if (m->n)
                memcpy(f->cand, f->cand_pool + m->at, m->n * sizeof *f->cand);
            f->ncand = m->n;
            return m->mask;
        }
        uint32_t mask = esc_engine_select(f->o.engine, ev, f->cand, &f->ncand);
        if (f->npool + f->ncand > SEL_CAND_MAX)
            return mask;
        *m = (sel_memo){.used = true,
                        .has_code = ev->has_event_id,
                        .code = ev->has_event_id ? ev->event_id : 0,
                        .mask = mask,
                        .plen = (uint16_t)plen,
                        .clen = (uint16_t)clen,
                        .at = f->npool,
                        .n = f->ncand};
        if (plen)
            memcpy(m->key, ev->provider.ptr, plen);
        if (clen)
            memcpy(m->key + plen, ev->channel.ptr, clen);
        if (f->ncand)
            memcpy(f->cand_pool + f->npool, f->cand, f->ncand * sizeof *f->cand);
        f->npool += f->ncand;
        return mask;
    }
    return esc_engine_select(f->o.engine, ev, f->cand, &f->ncand);
}

/* The datasets other than Endpoint.Processes the engine's detections want ev in: the event's
 * fields, extracted once, then each dataset's view of them, each handed on as a record. The
 * candidates the text check rules out go first (their records would pass no literal filter):
 * without candidates, the event's fields are not extracted. */
static esc_status other_datasets(esc_feeder *f, const esc_event *ev, esc_error *err) {
    uint32_t mask = select_event(f, ev);
    if (!mask || !ev->has_time)
        return ESC_OK;
    bool check = f->ls && ev->text.ptr;
    for (size_t k = 0; check && k < f->ncand; k++)
        check = esc_litscan_text_can(f->ls, f->cand[k]);
    if (check) {
        esc_litscan_text(f->ls, ev);
        size_t n = 0;
        for (size_t k = 0; k < f->ncand; k++)
            if (esc_litscan_text_may_match(f->ls, f->cand[k]))
                f->cand[n++] = f->cand[k];
        f->ncand = n;
        if (!n)
            return ESC_OK;
    }
    esc_arena_reset(&f->fields_arena);
    esc_fields fs, view;
    esc_status st =
        esc_fields_extract(ev, f->o.profile == ESC_PROFILE_NATIVE, &f->fields_arena, &fs, err);
    if (st)
        return f->fields_arena.failed ? esc_error_set(err, ESC_ENOMEM, "out of memory") : st;
    f->stats.field_events++;
    for (int ds = ESC_DS_PROCESSES + 1; ds < ESC_DS_N; ds++) {
        if (!(mask & (1u << ds)))
            continue;
        const esc_fields *use = &fs;
        if (ds != ESC_DS_RAW) {
            st = esc_dm_map(ds, &fs, &f->fields_arena, &view);
            if (st == ESC_SKIP)
                continue;
            if (st)
                return esc_error_at(err, f->fields_arena.failed ? ESC_ENOMEM : st, ev->path,
                                    ev->offset, "event fields: the per-event arena is full");
            use = &view;
        }
        esc_record rec;
        memset(&rec, 0, sizeof rec);
        rec.time_us = ev->time_us;
        rec.ev = ev;
        rec.ds = (esc_dataset)ds;
        rec.fs = use;
        if ((st = hand_on(f, &rec, err)))
            return st;
    }
    return ESC_OK;
}

static esc_status handle(esc_feeder *f, const esc_event *ev, esc_error *err) {
    f->stats.events++;
    if (ev->kind == ESC_EV_AIDMASTER)
        return inventory(f, ev, err);
    if (ev->kind == ESC_EV_OTHER) {
        f->stats.other++;
        return ESC_OK;
    }
    esc_status st = processes(f, ev, err);
    if (st == ESC_OK && f->o.engine)
        st = other_datasets(f, ev, err);
    return st;
}

/* Endpoint.Processes: the fixed record (cim.c). */
static esc_status processes(esc_feeder *f, const esc_event *ev, esc_error *err) {
    esc_record rec;
    bool unresolved = false;
    esc_arena_reset(&f->map_arena);
    if (!f->tagged) { /* no detection reads Endpoint.Processes */
        if (esc_cim_classify(ev) > ESC_SRC_CROWDSTRIKE)
            return ESC_OK;
    }
    esc_status st = esc_cim_map(ev, f->o.profile, f->hosts, &f->map_arena, &rec, &unresolved, err);
    if (st == ESC_SKIP)
        return ESC_OK;
    if (st == ESC_ELIMIT && f->map_arena.failed)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (st)
        return st;
    if (unresolved && f->nheld < f->o.max_held) {
        st = hold(f, ev);
        if (st == ESC_OK)
            return ESC_OK;
        if (st == ESC_ENOMEM || f->held_arena.failed)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        /* the held-record arena is full: map it now, with the hosts known so far */
    }
    f->stats.process_events++;
    if (unresolved)
        f->stats.unresolved_hosts++;
    return hand_on(f, &rec, err);
}

esc_status esc_feeder_pull(esc_feeder *f, esc_reader *rd, uint64_t skip_before, size_t max,
                           uint64_t *next_off, bool *input_failed, esc_error *err) {
    if (input_failed)
        *input_failed = false;
    for (size_t k = 0; k < max; k++) {
        esc_event ev;
        esc_status st = esc_reader_next(rd, &ev, err);
        f->stats.pulled++;
        if (st == ESC_EOF)
            return ESC_EOF;
        if (st == ESC_EMALFORMED) {
            f->stats.malformed++;
            return st;
        }
        if (st) { /* the reader cannot go on */
            if (input_failed)
                *input_failed = true;
            return st == ESC_ENOMEM ? st : ESC_EIO;
        }
        if (ev.offset < skip_before)
            continue;
        if (next_off)
            *next_off = ev.offset + 1;
        st = handle(f, &ev, err);
        if (st == ESC_EMALFORMED)
            f->stats.malformed++;
        if (st) /* a warning (malformed record, a limit) or fatal (out of memory) */
            return st;
        if (ev.warning.len)
            return esc_error_at(err, ESC_SKIP, ev.path, ev.warning_offset, "%.*s (record kept)",
                                ESC_STR_FMT(ev.warning));
    }
    return ESC_OK;
}

esc_status esc_feeder_flush(esc_feeder *f, esc_error *err) {
    for (size_t i = 0; i < f->nheld; i++) {
        esc_record rec;
        bool unresolved = false;
        esc_arena_reset(&f->map_arena);
        esc_status st =
            esc_cim_map(&f->held[i], f->o.profile, f->hosts, &f->map_arena, &rec, &unresolved, err);
        if (st == ESC_SKIP)
            continue;
        if (st)
            return st;
        f->stats.process_events++;
        if (unresolved)
            f->stats.unresolved_hosts++;
        if ((st = hand_on(f, &rec, err)))
            return st;
    }
    f->nheld = 0;
    esc_arena_reset(&f->held_arena);
    return ESC_OK;
}
