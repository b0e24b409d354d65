/* The feeder: the one loop from readers to the searches (see engine.h).
 *
 * It pulls events from a reader, keeps the CrowdStrike host inventory (aidmaster records, a
 * --aidmaster file, entries restored by the caller), maps process events to CIM records with
 * that inventory, puts each event the engine's detections want (esc_engine_select) in the other
 * datasets and hands each record to the caller's consumer.
 * Invariants: a record handed on lives in the feeder's map arena until the next event (one made
 * ahead, in its batch's arena until the batch is taken whole); held records (CrowdStrike records
 * whose host is not known yet, when max_held > 0) are deep copies in their own arena and are
 * mapped only by esc_feeder_flush. The host callback hears of an entry only when an event adds or
 * changes it.
 * Not done here: opening inputs or readers, choosing which records a search keeps (the
 * consumer: the candidates narrow it to the detections of the event's code), windows,
 * printing.
 *
 * Reading ahead (esc_feeder_read_ahead): a second thread takes the reader's events, copies each
 * into a batch (the reader reuses its buffers) and does the work that depends on the event alone:
 * the selection of the other datasets, the text check and the fields' extraction (prepare), and
 * the Processes record of an event whose mapping reads no host inventory, with its scan (premap).
 * The calling thread takes the batches in order and does the rest exactly as for an event read
 * directly (handle): the inventory, the other events' Processes mapping, the consumer.
 * AHEAD_BATCHES batches of up to AHEAD_EVENTS events or AHEAD_BYTES bytes circulate between the
 * two, so the thread is never further ahead than that, nor begins a batch while the full ones
 * hold more than AHEAD_HELD bytes (events at their size caps). Eight batches, not three: the two
 * threads' work comes in bursts (a spill stops the calling thread for a while, a run of events
 * that take long to extract the reading one), and with three each thread waited for the other
 * over a second of a 1 GiB hunt (docs/benchmarks.md). A batch's fields share its arena; an event
 * whose extraction finds that arena full while earlier events hold part of it is done again in a
 * fresh batch, so each event meets the same limit as when read directly. The reading thread
 * touches only the reader, its preparer (prep[0]) and the batches; the statistics are counted by
 * the calling thread as it takes the events. Which thread sets the pace depends on the input
 * (XML: the reading one; EVTX, whose events take longer to search: mostly the calling one), so
 * the work is shared: while fewer than AHEAD_LEAVE_BELOW batches wait full, the calling thread
 * is about to wait, and the reading thread leaves the events it reads unprepared (ahead_item.
 * left); the calling thread prepares those itself as for a direct read, with its own preparer
 * (prep[1]), so the result does not depend on which thread prepared what. */
#include "detect/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/litfilter.h"

#define HELD_ARENA_CAP (256u << 20)
#define SEL_SLOTS 256                /* selections remembered (a power of two) */
#define SEL_KEY_MAX 240              /* provider and channel bytes a remembered selection holds */
#define SEL_CAND_MAX 8192            /* candidates all remembered selections hold together */
#define FIELDS_ARENA_CAP (64u << 20) /* an event's fields and its datasets' views */
#define AHEAD_BATCHES 8
#define AHEAD_EVENTS 256 /* each batch handed over is a futex wake (docs/benchmarks.md) */
#define AHEAD_BLOCK (64u << 10)
#define AHEAD_BYTES (1024u << 10)   /* a batch closes once its arenas grew this much */
#define AHEAD_HELD (10u << 20)      /* no batch is begun while the full ones hold more */
#define AHEAD_COPY_CAP (256u << 20) /* a batch's copies: AHEAD_BYTES and one event at most */
#define AHEAD_LEAVE_BELOW 1         /* fewer full batches: events are left to the calling thread */

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

/* What an event gives the datasets other than Endpoint.Processes, worked out from the event
 * alone (prepare): the datasets and the detections that may read it there, its fields, and its
 * records for those datasets, each with its literal scan (esc_litscan_save). */
typedef struct prepared {
    uint32_t mask; /* 0: no record for the other datasets */
    const size_t *cand;
    size_t ncand;
    esc_fields fs;
    bool has_fs;
    size_t nrec;
    esc_dataset ds[ESC_DS_N]; /* the records' datasets */
    const esc_fields **rfs;   /* their fields (the event's, or a data model's view of them) */
    uint64_t *scan;           /* their scans, esc_litscan_saved_words each */
    esc_status vst;           /* a view that could not be made after the nrec records */
    int proc;                 /* the event's Endpoint.Processes record (premap) */
    esc_record proc_rec;      /* PROC_MADE: the record */
    uint64_t *proc_scan;      /* ... and its scan */
} prepared;

enum { PROC_LATER, PROC_MADE, PROC_NONE }; /* prepared.proc: processes() maps it, made, none */

/* One event read ahead: the reader's status and, for ESC_OK, a copy of the event and what
 * prepare made of it (pst: its failure, reported where a direct read reports it). */
typedef struct ahead_item {
    esc_status st, pst;
    esc_error *err; /* the error of st or pst, or NULL */
    bool left;      /* not prepared: the calling thread prepares it (see ahead_main) */
    esc_event ev;
    prepared p;
} ahead_item;

typedef struct ahead_batch {
    esc_arena copies; /* the events, their candidates and errors */
    esc_arena fields; /* their fields (each event's limit: FIELDS_ARENA_CAP) */
    ahead_item item[AHEAD_EVENTS];
    size_t n;
    bool full; /* handed to the calling thread, until it has taken every event */
} ahead_batch;

typedef struct ahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    esc_reader *rd;
    bool stop; /* the calling thread detaches: the reading thread ends */
    ahead_batch b[AHEAD_BATCHES];
    atomic_size_t nfull; /* the full batches (changed under mu, read without it) */
    size_t leave_below;  /* AHEAD_LEAVE_BELOW, or the test's choice (esc_feeder_read_ahead) */
    size_t take, taken;  /* the batch the calling thread reads, and its next event */
} ahead;

/* What prepare and premap work with: the text and record scanner, the selection and its memo.
 * Each thread that prepares events has its own. */
typedef struct preparer {
    esc_litscan *ls;
    size_t *cand; /* select_event's answer (room for every other detection) */
    size_t ncand;
    sel_memo *memo; /* SEL_SLOTS remembered selections (see sel_memo) */
    size_t *cand_pool;
    size_t npool;
} preparer;

struct esc_feeder {
    esc_feeder_opts o;
    esc_hostmap *hosts;
    esc_arena map_arena;
    esc_arena fields_arena; /* an event read directly: its fields and records, until the next */
    esc_arena held_arena;
    esc_event *held;
    size_t nheld, capheld;
    const size_t *cur_cand; /* the detections the current event may feed in the other datasets */
    size_t cur_ncand;
    esc_litscan *ls; /* the engine's literal filter scanner (the record handed on), or NULL */
    /* [0]: the reading thread's, or the calling thread's when none reads ahead; [1]: the
     * calling thread's for the events the reading thread leaves to it (made with the first
     * reading ahead) */
    preparer prep[2];
    ahead *ahead; /* reading ahead (esc_feeder_read_ahead), or NULL */
    esc_feeder_stats stats;
    bool tagged; /* map the events tagged `process report` past Sysmon 1 / 4688 (cim.h) */
    bool paused; /* esc_feeder_pause: the pull ends after the event being handled */
};

/* pr's parts that are not made yet (a failed attempt leaves the ones it made, which the
 * feeder frees). */
static esc_status preparer_init(preparer *pr, const esc_engine *e, esc_error *err) {
    if ((!pr->cand && !(pr->cand = esc_calloc(esc_engine_nothers(e), sizeof *pr->cand))) ||
        (!pr->memo && !(pr->memo = esc_calloc(SEL_SLOTS, sizeof *pr->memo))) ||
        (!pr->cand_pool && !(pr->cand_pool = esc_calloc(SEL_CAND_MAX, sizeof *pr->cand_pool))))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    return pr->ls ? ESC_OK : esc_litscan_new(esc_engine_litfilter(e), &pr->ls, err);
}

esc_status esc_feeder_new(const esc_feeder_opts *o, esc_feeder **out, esc_error *err) {
    esc_feeder *f = esc_calloc(1, sizeof *f);
    if (!f || !(f->hosts = esc_hostmap_new())) {
        esc_free(f);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    f->o = *o;
    f->tagged = !o->engine || esc_engine_nprocs(o->engine);
    esc_arena_init(&f->map_arena, 64 * 1024, 64u << 20);
    esc_arena_init(&f->fields_arena, 64 * 1024, FIELDS_ARENA_CAP);
    esc_arena_init(&f->held_arena, 1u << 20, HELD_ARENA_CAP);
    if (o->engine && !esc_engine_nothers(o->engine))
        f->o.engine = NULL; /* Endpoint.Processes only */
    esc_status st = ESC_OK;
    if (o->engine)
        st = esc_litscan_new(esc_engine_litfilter(o->engine), &f->ls, err);
    if (!st && f->o.engine)
        st = preparer_init(&f->prep[0], f->o.engine, err);
    if (st) {
        esc_feeder_free(f);
        return st;
    }
    *out = f;
    return ESC_OK;
}

void esc_feeder_free(esc_feeder *f) {
    if (!f)
        return;
    esc_feeder_detach(f);
    esc_hostmap_free(f->hosts);
    esc_arena_fini(&f->map_arena);
    esc_arena_fini(&f->fields_arena);
    esc_arena_fini(&f->held_arena);
    esc_free(f->held);
    for (size_t i = 0; i < 2; i++) {
        esc_free(f->prep[i].cand);
        esc_free(f->prep[i].memo);
        esc_free(f->prep[i].cand_pool);
        esc_litscan_free(f->prep[i].ls);
    }
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

/* A copy of s in a: a view into the event's text becomes the same view into its copy (to). */
static esc_str copy_str(esc_arena *a, esc_str s, esc_str text, const char *to, bool *ok) {
    if (!s.len)
        return s;
    if (to && s.ptr >= text.ptr && s.ptr + s.len <= text.ptr + text.len)
        return esc_str_make(to + (s.ptr - text.ptr), s.len);
    esc_str c = esc_arena_dup(a, s);
    *ok &= c.ptr != NULL;
    return c;
}

/* s copied to *at, which moves past it (an empty s as it is, as copy_str leaves it). */
static esc_str copy_into(char **at, esc_str s) {
    if (!s.len)
        return s;
    memcpy(*at, s.ptr, s.len);
    *at += s.len;
    return esc_str_make(*at - s.len, s.len);
}

static const esc_kv *copy_kvs(esc_arena *a, const esc_kv *kv, size_t n, esc_str text,
                              const char *to, bool *ok) {
    if (!n)
        return kv;
    esc_kv *c = esc_arena_alloc(a, n * sizeof *c);
    if (!c) {
        *ok = false;
        return NULL;
    }
    if (to) { /* names and values are pieces of the copied text */
        for (size_t i = 0; i < n; i++) {
            c[i].name = copy_str(a, kv[i].name, text, to, ok);
            c[i].value = copy_str(a, kv[i].value, text, to, ok);
        }
        return c;
    }
    size_t len = 0; /* no text (EVTX): every name and value into one block */
    for (size_t i = 0; i < n; i++)
        len += kv[i].name.len + kv[i].value.len;
    char *at = len ? esc_arena_alloc(a, len) : NULL;
    if (len && !at) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        c[i].name = copy_into(&at, kv[i].name);
        c[i].value = copy_into(&at, kv[i].value);
    }
    return c;
}

/* Deep-copy ev into *c in a (the path stays the input's). ESC_ELIMIT when a is full. */
static esc_status copy_event(esc_arena *a, const esc_event *ev, esc_event *c) {
    bool ok = true;
    *c = *ev;
    c->text = copy_str(a, ev->text, ESC_STR_NULL, NULL, &ok);
    const char *to = ok && c->text.len ? c->text.ptr : NULL;
    c->provider = copy_str(a, ev->provider, ev->text, to, &ok);
    c->channel = copy_str(a, ev->channel, ev->text, to, &ok);
    c->computer = copy_str(a, ev->computer, ev->text, to, &ok);
    c->xml = copy_str(a, ev->xml, ev->text, to, &ok);
    c->json = copy_str(a, ev->json, ev->text, to, &ok);
    c->lines = copy_str(a, ev->lines, ev->text, to, &ok);
    c->warning = copy_str(a, ev->warning, ev->text, to, &ok);
    for (int k = 0; k < ESC_XML_NPARTS; k++)
        c->parts[k] = copy_str(a, ev->parts[k], ev->text, to, &ok);
    c->data = copy_kvs(a, ev->data, ev->ndata, ev->text, to, &ok);
    c->sys = copy_kvs(a, ev->sys, ev->nsys, ev->text, to, &ok);
    return ok ? ESC_OK : ESC_ELIMIT;
}

/* Deep-copy an event into the held arena. */
static esc_status hold(esc_feeder *f, const esc_event *ev) {
    if (f->nheld == f->capheld && !ESC_VEC_GROW(f->held, f->capheld, f->nheld + 1, 256))
        return ESC_ENOMEM;
    esc_event *c = &f->held[f->nheld];
    if (copy_event(&f->held_arena, ev, c))
        return ESC_ELIMIT;
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

static esc_status processes(esc_feeder *f, const esc_event *ev, const prepared *p, esc_error *err);

size_t esc_feeder_candidates(const esc_feeder *f, const size_t **det) {
    *det = f->cur_cand;
    return f->cur_ncand;
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
static uint32_t select_event(const esc_feeder *f, preparer *pr, const esc_event *ev) {
    if (ev->kind != ESC_EV_WINDOWS) {
        pr->ncand = 0;
        return 0;
    }
    size_t plen = ev->provider.len, clen = ev->channel.len;
    if (plen + clen > SEL_KEY_MAX || esc_plan_event_meta(ev))
        return esc_engine_select(f->o.engine, ev, pr->cand, &pr->ncand);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < plen; i++)
        h = (h ^ (unsigned char)ev->provider.ptr[i]) * 1099511628211ull;
    for (size_t i = 0; i < clen; i++)
        h = (h ^ (unsigned char)ev->channel.ptr[i]) * 1099511628211ull;
    h = (h ^ (ev->has_event_id ? ev->event_id : UINT64_MAX)) * 1099511628211ull;
    for (size_t k = 0; k < SEL_SLOTS; k++) {
        sel_memo *m = &pr->memo[(h + k) & (SEL_SLOTS - 1)];
        if (m->used) {
            if (m->has_code != ev->has_event_id || (m->has_code && m->code != ev->event_id) ||
                m->plen != plen || m->clen != clen ||
                (plen && memcmp(m->key, ev->provider.ptr, plen)) ||
                (clen && memcmp(m->key + plen, ev->channel.ptr, clen)))
                continue;
            if (m->n)
                memcpy(pr->cand, pr->cand_pool + m->at, m->n * sizeof *pr->cand);
            pr->ncand = m->n;
            return m->mask;
        }
        uint32_t mask = esc_engine_select(f->o.engine, ev, pr->cand, &pr->ncand);
        if (pr->npool + pr->ncand > SEL_CAND_MAX)
            return mask;
        *m = (sel_memo){.used = true,
                        .has_code = ev->has_event_id,
                        .code = ev->has_event_id ? ev->event_id : 0,
                        .mask = mask,
                        .plen = (uint16_t)plen,
                        .clen = (uint16_t)clen,
                        .at = pr->npool,
                        .n = pr->ncand};
        if (plen)
            memcpy(m->key, ev->provider.ptr, plen);
        if (clen)
            memcpy(m->key + plen, ev->channel.ptr, clen);
        if (pr->ncand)
            memcpy(pr->cand_pool + pr->npool, pr->cand, pr->ncand * sizeof *pr->cand);
        pr->npool += pr->ncand;
        return mask;
    }
    return esc_engine_select(f->o.engine, ev, pr->cand, &pr->ncand);
}

/* The record of ev in dataset ds, with fields fs. */
static esc_record dataset_record(const esc_event *ev, esc_dataset ds, const esc_fields *fs) {
    esc_record rec;
    memset(&rec, 0, sizeof rec);
    rec.time_us = ev->time_us;
    rec.ev = ev;
    rec.ds = ds;
    rec.fs = fs;
    return rec;
}

/* Each dataset view of ev's fields (made in a) as a record, scanned for every detection's
 * literals with pr->ls. A view that cannot be made ends them (p->vst). */
static void make_records(preparer *pr, const esc_event *ev, esc_arena *a, prepared *p) {
    size_t n = (size_t)__builtin_popcount(p->mask), words = esc_litscan_saved_words(pr->ls);
    esc_fields *views = esc_arena_alloc(a, n * sizeof *views);
    p->rfs = esc_arena_alloc(a, n * sizeof *p->rfs);
    p->scan = words ? esc_arena_alloc(a, n * words * sizeof *p->scan) : NULL;
    if (!views || !p->rfs || (words && !p->scan)) {
        p->vst = a->failed ? ESC_ENOMEM : ESC_ELIMIT;
        return;
    }
    for (int ds = ESC_DS_PROCESSES + 1; ds < ESC_DS_N; ds++) {
        if (!(p->mask & (1u << ds)))
            continue;
        const esc_fields *use = &p->fs;
        if (ds != ESC_DS_RAW) {
            esc_status st = esc_dm_map(ds, &p->fs, a, &views[p->nrec]);
            if (st == ESC_SKIP)
                continue;
            if (st) {
                p->vst = a->failed ? ESC_ENOMEM : st;
                return;
            }
            use = &views[p->nrec];
        }
        esc_record rec = dataset_record(ev, (esc_dataset)ds, use);
        esc_litscan_record(pr->ls, &rec);
        esc_litscan_save(pr->ls, p->scan + p->nrec * words);
        p->ds[p->nrec] = (esc_dataset)ds;
        p->rfs[p->nrec++] = use;
    }
}

/* What ev gives the datasets other than Endpoint.Processes the engine's detections want it in
 * (p->mask), the detections that may read it there, its fields and records, made in a. The
 * candidates the text check rules out go first (their records would pass no literal filter):
 * without candidates, the event's fields are not extracted. Uses the event and pr only (the
 * reading thread runs it with its own preparer). */
static esc_status prepare(const esc_feeder *f, preparer *pr, const esc_event *ev, esc_arena *a,
                          prepared *p, esc_error *err) {
    memset(p, 0, sizeof *p);
    p->mask = select_event(f, pr, ev);
    p->cand = pr->cand;
    if (!p->mask || !ev->has_time) {
        p->mask = 0;
        return ESC_OK;
    }
    p->ncand = pr->ncand;
    bool check = pr->ls != NULL;
    for (size_t k = 0; check && k < pr->ncand; k++)
        check = esc_litscan_text_can(pr->ls, pr->cand[k]);
    if (check) {
        esc_litscan_text(pr->ls, ev);
        size_t n = 0;
        for (size_t k = 0; k < pr->ncand; k++)
            if (esc_litscan_text_may_match(pr->ls, pr->cand[k]))
                pr->cand[n++] = pr->cand[k];
        pr->ncand = p->ncand = n;
        if (!n) {
            p->mask = 0;
            return ESC_OK;
        }
    }
    esc_status st = esc_fields_extract(ev, f->o.profile == ESC_PROFILE_NATIVE, a, &p->fs, err);
    if (st)
        return a->failed ? esc_error_set(err, ESC_ENOMEM, "out of memory") : st;
    make_records(pr, ev, a, p);
    p->has_fs = true;
    return ESC_OK;
}

/* ev's Endpoint.Processes record and its scan (pr->ls), made in a on the reading thread
 * when its mapping reads no host inventory: every source but CrowdStrike's, whose records may
 * wait for an aidmaster record read later. Otherwise, or when the mapping fails, processes()
 * maps the event (and reports what failed). The record is scanned as hand_on would. */
static void premap(const esc_feeder *f, preparer *pr, const esc_event *ev, esc_arena *a,
                   prepared *p) {
    esc_cim_source src = esc_cim_classify(ev);
    if (src == ESC_SRC_NONE) {
        p->proc = PROC_NONE;
        return;
    }
    if (src == ESC_SRC_CROWDSTRIKE || (!f->tagged && src > ESC_SRC_CROWDSTRIKE))
        return; /* (the latter: processes() does not map it) */
    esc_arena_mark m = esc_arena_mark_get(a);
    size_t words = esc_litscan_saved_words(pr->ls);
    uint64_t *scan = words ? esc_arena_alloc(a, words * sizeof *scan) : NULL;
    if ((words && !scan) ||
        esc_cim_map(ev, f->o.profile, NULL, a, &p->proc_rec, NULL, NULL) != ESC_OK) {
        esc_arena_rollback(a, m);
        return;
    }
    uint64_t *vh = esc_arena_alloc(a, ESC_CIM_NFIELDS * sizeof *vh);
    if (vh) { /* (without it, each search hashes the values it groups by) */
        for (size_t i = 0; i < ESC_CIM_NFIELDS; i++)
            vh[i] = p->proc_rec.v[i].ptr ? esc_str_hash(p->proc_rec.v[i]) : 0;
        p->proc_rec.vh = vh;
    }
    esc_litscan_record(pr->ls, &p->proc_rec);
    esc_litscan_save(pr->ls, scan);
    p->proc_scan = scan;
    p->proc = PROC_MADE;
}

/* Hand a prepared event's records on, each with its scan. */
static esc_status hand_datasets(esc_feeder *f, const esc_event *ev, const prepared *p,
                                esc_error *err) {
    if (!p->has_fs)
        return ESC_OK;
    f->stats.field_events++;
    f->cur_cand = p->cand;
    f->cur_ncand = p->ncand;
    size_t words = esc_litscan_saved_words(f->ls);
    for (size_t i = 0; i < p->nrec; i++) {
        esc_record rec = dataset_record(ev, p->ds[i], p->rfs[i]);
        esc_litscan_restore(f->ls, p->scan + i * words);
        esc_status st = f->o.record(f->o.ctx, &rec, err);
        if (st)
            return st;
    }
    if (p->vst)
        return esc_error_at(err, p->vst, ev->path, ev->offset,
                            "event fields: the per-event arena is full");
    return ESC_OK;
}

/* An event: the host inventory, Endpoint.Processes, then the other datasets from p (NULL: the
 * event is prepared here). pst and perr are p's failure and its error, reported where an event
 * prepared here reports its own. */
static esc_status handle(esc_feeder *f, const esc_event *ev, const prepared *p, esc_status pst,
                         const esc_error *perr, esc_error *err) {
    f->stats.events++;
    if (ev->kind == ESC_EV_AIDMASTER)
        return inventory(f, ev, err);
    if (ev->kind == ESC_EV_OTHER) {
        f->stats.other++;
        return ESC_OK;
    }
    esc_status st = processes(f, ev, p && !pst ? p : NULL, err);
    if (st || !f->o.engine)
        return st;
    prepared own;
    if (!p) {
        esc_arena_reset(&f->fields_arena);
        if ((st = prepare(f, &f->prep[f->ahead ? 1 : 0], ev, &f->fields_arena, &own, err)))
            return st;
        p = &own;
    } else if (pst) {
        if (err && perr)
            *err = *perr;
        return pst;
    }
    return hand_datasets(f, ev, p, err);
}

/* Endpoint.Processes: the fixed record (cim.c), made here or by premap (p). */
static esc_status processes(esc_feeder *f, const esc_event *ev, const prepared *p, esc_error *err) {
    esc_record rec;
    bool unresolved = false;
    esc_arena_reset(&f->map_arena);
    if (!f->tagged) { /* no detection reads Endpoint.Processes */
        if (esc_cim_classify(ev) > ESC_SRC_CROWDSTRIKE)
            return ESC_OK;
    }
    if (p && p->proc == PROC_NONE)
        return ESC_OK;
    if (p && p->proc == PROC_MADE) {
        f->stats.process_events++;
        esc_litscan_restore(f->ls, p->proc_scan);
        return f->o.record(f->o.ctx, &p->proc_rec, err);
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

/* ---- reading ahead ------------------------------------------------------------------------ */

static void ahead_lock_set_full(ahead *h, ahead_batch *b, bool full) {
    pthread_mutex_lock(&h->mu);
    b->full = full;
    atomic_fetch_add_explicit(&h->nfull, full ? 1 : (size_t)-1, memory_order_relaxed);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* The reader's answer (st, ev, e) as the next event of b: ESC_OK, or ESC_ELIMIT when b's
 * arenas cannot take it while they hold other events (b is closed and the event taken into
 * the next batch). */
static esc_status ahead_take(esc_feeder *f, ahead_batch *b, esc_status st, const esc_event *ev,
                             const esc_error *e, bool leave) {
    ahead_item *it = &b->item[b->n];
    esc_arena_mark cm = esc_arena_mark_get(&b->copies), fm = esc_arena_mark_get(&b->fields);
    esc_error pe;
    memset(it, 0, sizeof *it);
    it->st = st;
    if (st == ESC_OK && copy_event(&b->copies, ev, &it->ev)) {
        if (b->n)
            goto full;
        it->st = esc_error_set(&pe, ESC_ENOMEM, "out of memory");
        e = &pe;
    } else if (st == ESC_OK && leave) {
        it->left = true;
    } else if (st == ESC_OK && f->o.engine) {
        it->pst = prepare(f, &f->prep[0], &it->ev, &b->fields, &it->p, &pe);
        if (!it->pst && it->ev.kind == ESC_EV_WINDOWS)
            premap(f, &f->prep[0], &it->ev, &b->fields, &it->p);
        if ((it->pst || it->p.vst) && b->fields.capped && b->n)
            goto full;
        size_t *cand = it->p.ncand ? esc_arena_alloc(&b->copies, it->p.ncand * sizeof *cand) : NULL;
        if (it->p.ncand && !cand) {
            if (b->n)
                goto full;
            it->pst = esc_error_set(&pe, ESC_ENOMEM, "out of memory");
        } else if (cand) {
            memcpy(cand, it->p.cand, it->p.ncand * sizeof *cand);
        }
        it->p.cand = cand;
        e = &pe;
    }
    if ((it->st && it->st != ESC_EOF) || it->pst) {
        if ((it->err = esc_arena_alloc(&b->copies, sizeof *it->err)))
            *it->err = *e;
        else if (b->n)
            goto full;
    }
    b->n++;
    return ESC_OK;
full:
    esc_arena_rollback(&b->copies, cm);
    esc_arena_rollback(&b->fields, fm);
    return ESC_ELIMIT;
}

/* Empty a batch's arena. A reset keeps the arena's first block, which a large event may have
 * made large: such an arena starts again, so that a few large events do not hold their room
 * for the rest of the file. */
static void batch_arena_reset(esc_arena *a, size_t cap) {
    esc_arena_reset(a);
    if (a->used > AHEAD_BLOCK) {
        esc_arena_fini(a);
        esc_arena_init(a, AHEAD_BLOCK, cap);
    }
}

/* The bytes the full batches hold (under h->mu; only the reading thread changes them). */
static size_t held(const ahead *h) {
    size_t bytes = 0;
    for (size_t k = 0; k < AHEAD_BATCHES; k++)
        if (h->b[k].full)
            bytes += h->b[k].copies.used + h->b[k].fields.used;
    return bytes;
}

/* The reading thread: fills the batches in turn until the reader ends or fails, or the
 * feeder detaches. */
static void *ahead_main(void *arg) {
    esc_feeder *f = arg;
    ahead *h = f->ahead;
    esc_event ev;
    esc_error e;
    esc_status st = ESC_OK;
    bool more = true, pending = false; /* pending: ev did not fit in the last batch */
    for (size_t fill = 0; more; fill = (fill + 1) % AHEAD_BATCHES) {
        ahead_batch *b = &h->b[fill];
        pthread_mutex_lock(&h->mu);
        while ((b->full || held(h) > AHEAD_HELD) && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        batch_arena_reset(&b->copies, AHEAD_COPY_CAP);
        batch_arena_reset(&b->fields, FIELDS_ARENA_CAP);
        b->n = 0;
        size_t kept = b->copies.used + b->fields.used; /* the first blocks, kept by the resets */
        while (more && (!b->n || (b->n < AHEAD_EVENTS &&
                                  b->copies.used + b->fields.used - kept < AHEAD_BYTES))) {
            if (!pending)
                st = esc_reader_next(h->rd, &ev, &e);
            bool leave = f->o.engine &&
                         atomic_load_explicit(&h->nfull, memory_order_relaxed) < h->leave_below;
            pending = ahead_take(f, b, st, &ev, &e, leave) == ESC_ELIMIT;
            if (pending)
                break;
            more = st == ESC_OK || st == ESC_EMALFORMED;
        }
        ahead_lock_set_full(h, b, true);
    }
    return NULL;
}

static void ahead_free(ahead *h) {
    for (size_t i = 0; i < AHEAD_BATCHES; i++) {
        esc_arena_fini(&h->b[i].copies);
        esc_arena_fini(&h->b[i].fields);
    }
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    esc_free(h);
}

esc_status esc_feeder_read_ahead(esc_feeder *f, esc_reader *rd) {
    esc_feeder_detach(f);
    esc_status st;
    if (f->o.engine && !f->prep[1].ls && (st = preparer_init(&f->prep[1], f->o.engine, NULL)))
        return st;
    ahead *h = esc_calloc(1, sizeof *h);
    if (!h)
        return ESC_ENOMEM;
    h->rd = rd;
    /* which events the calling thread prepares depends on timing; a test fixes it: "all" or
     * "none" (tests/cli/t_hunt_read_ahead.sh) */
    const char *leave = getenv("ESCUDO_TEST_AHEAD_LEAVE");
    h->leave_below = !leave                   ? AHEAD_LEAVE_BELOW
                     : !strcmp(leave, "all")  ? AHEAD_BATCHES + 1
                     : !strcmp(leave, "none") ? 0
                                              : AHEAD_LEAVE_BELOW;
    for (size_t i = 0; i < AHEAD_BATCHES; i++) {
        esc_arena_init(&h->b[i].copies, AHEAD_BLOCK, AHEAD_COPY_CAP);
        esc_arena_init(&h->b[i].fields, AHEAD_BLOCK, FIELDS_ARENA_CAP);
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    f->ahead = h;
    if (pthread_create(&h->thread, NULL, ahead_main, f)) {
        f->ahead = NULL;
        ahead_free(h);
        return ESC_EINTERNAL;
    }
    return ESC_OK;
}

void esc_feeder_detach(esc_feeder *f) {
    ahead *h = f->ahead;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    ahead_free(h);
    f->ahead = NULL;
}

/* The next event read ahead, valid until the next call. After the reader's end or failure,
 * that last answer again. */
static const ahead_item *ahead_next(ahead *h) {
    ahead_batch *b = &h->b[h->take];
    if (h->taken && h->taken == b->n) {
        const ahead_item *last = &b->item[b->n - 1];
        if (last->st != ESC_OK && last->st != ESC_EMALFORMED)
            return last;
        ahead_lock_set_full(h, b, false);
        h->take = (h->take + 1) % AHEAD_BATCHES;
        h->taken = 0;
        b = &h->b[h->take];
    }
    if (!h->taken) {
        pthread_mutex_lock(&h->mu);
        while (!b->full)
            pthread_cond_wait(&h->cv, &h->mu);
        pthread_mutex_unlock(&h->mu);
    }
    return &b->item[h->taken++];
}

esc_status esc_feeder_pull(esc_feeder *f, esc_reader *rd, uint64_t skip_before, size_t max,
                           uint64_t *next_off, bool *input_failed, esc_error *err) {
    if (input_failed)
        *input_failed = false;
    bool reading = f->ahead && f->ahead->rd == rd;
    for (size_t k = 0; k < max; k++) {
        esc_event own;
        const esc_event *ev = &own;
        const ahead_item *it = NULL;
        esc_status st;
        if (reading) {
            it = ahead_next(f->ahead);
            ev = &it->ev;
            if ((st = it->st) && err && it->err)
                *err = *it->err;
        } else {
            st = esc_reader_next(rd, &own, err);
        }
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
        f->stats.offset = ev->offset;
        if (ev->offset < skip_before)
            continue;
        if (next_off)
            *next_off = ev->offset + 1;
        st = it && !it->left ? handle(f, ev, &it->p, it->pst, it->err, err)
                             : handle(f, ev, NULL, 0, NULL, err);
        if (st == ESC_EMALFORMED)
            f->stats.malformed++;
        if (st) /* a warning (malformed record, a limit) or fatal (out of memory) */
            return st;
        if (ev->warning.len)
            return esc_error_at(err, ESC_SKIP, ev->path, ev->warning_offset, "%.*s (record kept)",
                                ESC_STR_FMT(ev->warning));
        if (f->paused) {
            f->paused = false;
            break;
        }
    }
    return ESC_OK;
}

void esc_feeder_pause(esc_feeder *f) {
    f->paused = true;
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
