/* The report's model: the store's notables and risk events read through esc_store_list (the read
 * path of `escudo notables` and `escudo risk`), each notable's stored JSON decoded once
 * (parse/json_value.h) into what the page shows, then grouped by detection and by host.
 *
 * Invariants: every string is copied into the model's arena; the model holds at most
 * ESC_REPORT_MAX_NOTABLES notables and ESC_REPORT_MAX_RISK risk events (past either the load
 * fails with ESC_ELIMIT, naming the cap and --since/--until); a notable whose JSON does not
 * decode is kept with the store's columns only. Evidence is read when a notable carries it
 * (members listed in docs/report.md) and otherwise absent, never guessed. Deliberately not done:
 * any SQL (the store module owns it), any output. */
#include <stdlib.h>
#include <string.h>

#include "act/act.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "parse/json_value.h"
#include "report/model.h"
#include "sink/store.h"

const char *const RPT_SEV[5] = {"informational", "low", "medium", "high", "critical"};

int rpt_sev_rank(const char *s) {
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, RPT_SEV[i]) == 0)
            return i;
    return -1;
}

/* Members of a notable that are its metadata, not the result row's fields: those act writes
 * itself (esc_act_notable_keys, annotations*), and these, which the page shows in places of
 * their own (times, risk, the evidence count) rather than among the fields. */
static const char *const META[] = {
    "evidence_total",   "risk_object", "risk_object_type", "risk_score",
    "risk_event_count", "firstTime",   "lastTime",
};
static const char *const HOST_KEYS[] = {"dest",         "dest_host", "dest_nt_host", "host",
                                        "ComputerName", "dvc",       "src_host"};
static const char *const USER_KEYS[] = {"user", "src_user", "user_name"};
static const char *const TIME_KEYS[] = {"orig_time", "firstTime", "lastTime"};

static bool is_meta(const char *k) {
    if (strncmp(k, "annotations", 11) == 0)
        return true;
    for (size_t i = 0; i < esc_act_nnotable_keys; i++)
        if (strcmp(k, esc_act_notable_keys[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof META / sizeof META[0]; i++)
        if (strcmp(k, META[i]) == 0)
            return true;
    return false;
}

static const char *dup(rpt_model *m, const char *s) {
    return s ? esc_arena_strdup(&m->arena, s) : NULL;
}

/* A member's value as one string: a string or number as it is, an array's first item. */
static const char *first_text(const esc_json_member *v) {
    if (!v)
        return NULL;
    if (v->type == ESC_JT_ARR)
        return v->nitems ? v->items[0] : NULL;
    if (v->type == ESC_JT_STR || v->type == ESC_JT_NUM)
        return v->text;
    return NULL;
}

/* Epoch seconds from a number (epoch), or an ISO 8601 or epoch string. */
static bool parse_when(const char *s, int64_t *out) {
    int64_t us;
    if (!s || !*s)
        return false;
    if (esc_time_parse_epoch(esc_str_c(s), &us) || esc_time_parse_iso(esc_str_c(s), &us)) {
        *out = esc_time_sec(us);
        return true;
    }
    return false;
}

static const char *lookup(const esc_json_object *o, const char *const *keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *s = first_text(esc_json_object_get(o, keys[i], 0));
        if (s && *s)
            return s;
    }
    return NULL;
}

static esc_status strings(rpt_model *m, const esc_json_member *v, const char *const **out,
                          size_t *n) {
    *out = NULL;
    *n = 0;
    if (!v || (v->type != ESC_JT_ARR && v->type != ESC_JT_STR))
        return ESC_OK;
    size_t k = v->type == ESC_JT_ARR ? v->nitems : 1;
    const char **a = esc_arena_alloc(&m->arena, (k ? k : 1) * sizeof *a);
    if (!a)
        return ESC_ENOMEM;
    for (size_t i = 0; i < k; i++)
        if (!(a[i] = dup(m, v->type == ESC_JT_ARR ? v->items[i] : v->text)))
            return ESC_ENOMEM;
    *out = a;
    *n = k;
    return ESC_OK;
}

static bool num(const esc_json_object *o, const char *key, uint64_t *out) {
    const esc_json_member *v = esc_json_object_get(o, key, 0);
    if (!v || (v->type != ESC_JT_NUM && v->type != ESC_JT_STR) || !*v->text)
        return false;
    char *end;
    unsigned long long x = strtoull(v->text, &end, 10);
    if (*end)
        return false;
    *out = x;
    return true;
}

/* One evidence reference, an object with path (or file), offset, line, record_id and _time
 * (epoch seconds, or time_us); items that are not objects are skipped. */
static esc_status one_ref(rpt_model *m, const char *text, rpt_ev *e, bool *ok) {
    esc_json_object *o = NULL;
    esc_error err = {0};
    *ok = false;
    if (esc_json_object_read(text, strlen(text), &o, &err) != ESC_OK)
        return err.code == ESC_ENOMEM ? ESC_ENOMEM : ESC_OK;
    static const char *const PATH_KEYS[] = {"path", "file", "source"};
    memset(e, 0, sizeof *e);
    e->time = INT64_MIN;
    const char *p = lookup(o, PATH_KEYS, 3);
    e->path = dup(m, p ? p : "");
    e->has_offset = num(o, "offset", &e->offset);
    e->has_line = num(o, "line", &e->line);
    e->has_record = num(o, "record_id", &e->record_id) || num(o, "record", &e->record_id);
    uint64_t us;
    const char *t = first_text(esc_json_object_get(o, "_time", 0));
    if (!parse_when(t, &e->time) &&
        !parse_when(first_text(esc_json_object_get(o, "time", 0)), &e->time) &&
        num(o, "time_us", &us))
        e->time = (int64_t)(us / 1000000);
    esc_json_object_free(o);
    *ok = e->path != NULL;
    return e->path ? ESC_OK : ESC_ENOMEM;
}

static esc_status evidence(rpt_model *m, const esc_json_object *o, rpt_notable *n) {
    const esc_json_member *v = esc_json_object_get(o, "evidence", ESC_JT_ARR);
    if (!v)
        return ESC_OK;
    uint64_t total = v->nitems;
    if (!num(o, "evidence_total", &total))
        num(o, "evidence_count", &total);
    size_t k = v->nitems < ESC_REPORT_MAX_EVIDENCE ? v->nitems : ESC_REPORT_MAX_EVIDENCE;
    n->ev = esc_arena_alloc(&m->arena, (k ? k : 1) * sizeof *n->ev);
    if (!n->ev)
        return ESC_ENOMEM;
    for (size_t i = 0; i < v->nitems && n->nev < k; i++) {
        bool ok;
        esc_status st = one_ref(m, v->items[i], &n->ev[n->nev], &ok);
        if (st)
            return st;
        n->nev += ok;
    }
    n->ev_total = total > n->nev ? total : n->nev;
    m->with_evidence += n->nev > 0;
    return ESC_OK;
}

static esc_status fields(rpt_model *m, const esc_json_object *o, rpt_notable *n) {
    n->fields = esc_arena_alloc(&m->arena, ESC_REPORT_MAX_FIELDS * sizeof *n->fields);
    if (!n->fields)
        return ESC_ENOMEM;
    for (size_t i = 0; i < esc_json_object_count(o) && n->nfields < ESC_REPORT_MAX_FIELDS; i++) {
        const esc_json_member *v = esc_json_object_member(o, i);
        if (is_meta(v->key) || v->type == ESC_JT_OBJ || v->type == ESC_JT_NULL)
            continue;
        const char *text = v->text;
        esc_buf j;
        esc_buf_init(&j, 0);
        esc_status st = ESC_OK;
        if (v->type == ESC_JT_ARR) { /* a multivalue's values joined by " | " */
            for (size_t k = 0; k < v->nitems && j.len <= ESC_REPORT_MAX_VALUE && !st; k++)
                st = esc_buf_printf(&j, "%s%s", k ? " | " : "", v->items[k]);
            text = j.ptr ? j.ptr : "";
        }
        rpt_field *f = &n->fields[n->nfields++];
        f->name = dup(m, v->key);
        f->value = st ? NULL : dup(m, text);
        esc_buf_fini(&j);
        if (!f->name || !f->value)
            return ESC_ENOMEM;
    }
    return ESC_OK;
}

/* What the stored JSON adds to the columns: host, user, event time, ATT&CK, fields, evidence. */
static esc_status decode(rpt_model *m, const char *json, rpt_notable *n) {
    esc_json_object *o = NULL;
    esc_error err = {0};
    if (!json || esc_json_object_read(json, strlen(json), &o, &err) != ESC_OK)
        return err.code == ESC_ENOMEM ? ESC_ENOMEM : ESC_OK;
    esc_status st = ESC_ENOMEM;
    const char *h = lookup(o, HOST_KEYS, sizeof HOST_KEYS / sizeof HOST_KEYS[0]);
    if (h && !(n->host = dup(m, h)))
        goto out;
    const char *u = lookup(o, USER_KEYS, sizeof USER_KEYS / sizeof USER_KEYS[0]);
    if (u && !(n->user = dup(m, u)))
        goto out;
    bool timed = false;
    for (size_t i = 0; i < sizeof TIME_KEYS / sizeof TIME_KEYS[0] && !timed; i++)
        timed = parse_when(first_text(esc_json_object_get(o, TIME_KEYS[i], 0)), &n->etime);
    if ((st = strings(m, esc_json_object_get(o, "annotations.mitre_attack", 0), &n->techs,
                      &n->ntechs)) ||
        (st = strings(m, esc_json_object_get(o, "annotations.mitre_attack.mitre_tactic", 0),
                      &n->tactics, &n->ntactics)) ||
        (st = fields(m, o, n)) || (st = evidence(m, o, n)))
        goto out;
    if (!timed) /* the earliest evidence event, when there is one */
        for (size_t i = 0; i < n->nev; i++)
            if (n->ev[i].time != INT64_MIN && (!timed || n->ev[i].time < n->etime)) {
                n->etime = n->ev[i].time;
                timed = true;
            }
    n->timed = timed || n->timed;
    st = ESC_OK;
out:
    esc_json_object_free(o);
    return st;
}

static esc_status add_notable(void *ctx, const esc_store_row *r, esc_error *err) {
    rpt_model *m = ctx;
    if (m->nn >= m->max_notables)
        return esc_error_set(err, ESC_ELIMIT,
                             "more than %zu notables to report; narrow with --since/--until",
                             m->max_notables);
    if (m->nn == m->capn && !ESC_VEC_GROW(m->n, m->capn, m->nn + 1, 256))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    rpt_notable *n = &m->n[m->nn];
    memset(n, 0, sizeof *n);
    n->time = n->etime = r->time;
    n->id = dup(m, r->event_id);
    n->search = dup(m, r->search_name ? r->search_name : "");
    n->title = dup(m, r->rule_title ? r->rule_title : n->search);
    n->severity = dup(m, r->severity ? r->severity : "");
    n->status = dup(m, r->status);
    n->owner = dup(m, r->owner);
    n->risk_object = dup(m, r->risk_object);
    n->risk_object_type = dup(m, r->risk_object_type);
    n->incident = r->risk_object && r->has_risk_score;
    n->timed = n->incident; /* its _time is the risk event's that crossed the threshold */
    n->risk_score = r->risk_score;
    n->sev = rpt_sev_rank(r->severity);
    if (!n->id || !n->search || !n->title || !n->severity || decode(m, r->json, n) != ESC_OK)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!n->host && n->incident && r->risk_object_type &&
        strcmp(r->risk_object_type, "system") == 0)
        n->host = n->risk_object;
    if (!n->host)
        n->host = "(no host)";
    m->nn++;
    return ESC_OK;
}

static esc_status add_risk(void *ctx, const esc_store_row *r, esc_error *err) {
    rpt_model *m = ctx;
    if (m->nr >= m->max_risk)
        return esc_error_set(err, ESC_ELIMIT,
                             "more than %zu risk events to report; narrow with --since/--until",
                             m->max_risk);
    if (m->nr == m->capr && !ESC_VEC_GROW(m->r, m->capr, m->nr + 1, 256))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    rpt_risk *k = &m->r[m->nr];
    k->object = dup(m, r->risk_object ? r->risk_object : "");
    k->type = dup(m, r->risk_object_type ? r->risk_object_type : "");
    k->search = dup(m, r->search_name ? r->search_name : "");
    k->time = r->time;
    k->score = r->risk_score;
    if (!k->object || !k->type || !k->search)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    m->nr++;
    return ESC_OK;
}

/* qsort over indexes into the notables, with the model at hand (no global): pairs of key and
 * index sorted by key. */
typedef struct keyed {
    const char *key;
    int64_t t;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_host(const void *a, const void *b) {
    const rpt_host *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Hosts by notable count; past ESC_REPORT_MAX_LANES the rest share the last lane. */
static esc_status group_hosts(rpt_model *m, keyed *k) {
    for (size_t i = 0; i < m->nn; i++)
        k[i] = (keyed){m->n[i].host, 0, i};
    qsort(k, m->nn, sizeof *k, cmp_keyed);
    m->hosts = esc_calloc(m->nn + 1, sizeof *m->hosts);
    if (!m->hosts)
        return ESC_ENOMEM;
    for (size_t i = 0; i < m->nn; i++) {
        if (i == 0 || strcmp(k[i].key, k[i - 1].key) != 0)
            m->hosts[m->nhosts++] = (rpt_host){k[i].key, 0};
        m->hosts[m->nhosts - 1].n++;
    }
    qsort(m->hosts, m->nhosts, sizeof *m->hosts, cmp_host);
    /* past the cap, lanes [0, named) are the busiest hosts and lane `named` holds the others */
    size_t named = m->nhosts <= ESC_REPORT_MAX_LANES ? m->nhosts : ESC_REPORT_MAX_LANES - 1;
    m->nlanes = m->nhosts <= ESC_REPORT_MAX_LANES ? m->nhosts : ESC_REPORT_MAX_LANES;
    for (size_t i = 0; i < m->nn; i++) {
        m->n[i].lane = named;
        for (size_t h = 0; h < named; h++)
            if (strcmp(m->hosts[h].name, m->n[i].host) == 0) {
                m->n[i].lane = h;
                break;
            }
    }
    return ESC_OK;
}

/* Detections by search_name, each with its notables in event-time order. */
static esc_status group_dets(rpt_model *m, keyed *k) {
    for (size_t i = 0; i < m->nn; i++)
        k[i] = (keyed){m->n[i].search, m->n[i].etime, i};
    qsort(k, m->nn, sizeof *k, cmp_keyed);
    m->dets = esc_calloc(m->nn + 1, sizeof *m->dets);
    size_t *rows = esc_arena_alloc(&m->arena, (m->nn + 1) * sizeof *rows);
    if (!m->dets || !rows)
        return ESC_ENOMEM;
    for (size_t i = 0; i < m->nn; i++) {
        rpt_notable *n = &m->n[k[i].i];
        if (i == 0 || strcmp(k[i].key, k[i - 1].key) != 0)
            m->dets[m->ndets++] =
                (rpt_det){n->search, n->title, n->sev, 0, 0, n->etime, n->etime, rows + i};
        rpt_det *d = &m->dets[m->ndets - 1];
        d->rows[d->n++] = k[i].i;
        n->det = m->ndets - 1;
        d->first = n->etime < d->first ? n->etime : d->first;
        d->last = n->etime > d->last ? n->etime : d->last;
        if (n->sev > d->sev)
            d->sev = n->sev;
        if (n->incident) /* one title per object: the detection's own name reads better */
            d->title = n->search;
    }
    for (size_t d = 0; d < m->ndets; d++) { /* distinct hosts: sort its rows' hosts */
        rpt_det *x = &m->dets[d];
        for (size_t j = 0; j < x->n; j++)
            k[j] = (keyed){m->n[x->rows[j]].host, 0, j};
        qsort(k, x->n, sizeof *k, cmp_keyed);
        for (size_t j = 0; j < x->n; j++)
            x->nhosts += j == 0 || strcmp(k[j].key, k[j - 1].key) != 0;
    }
    return ESC_OK;
}

static int cmp_risk(const void *a, const void *b) {
    const rpt_risk *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (!c)
        c = strcmp(x->object, y->object);
    if (!c && x->time != y->time)
        c = x->time < y->time ? -1 : 1;
    return c;
}

static void span(rpt_model *m, int64_t t) {
    if (t == INT64_MIN)
        return;
    if (!m->any_time || t < m->tmin)
        m->tmin = t;
    if (!m->any_time || t > m->tmax)
        m->tmax = t;
    m->any_time = true;
}

esc_status rpt_model_load(rpt_model *m, const esc_report_opts *o, esc_error *err) {
    memset(m, 0, sizeof *m);
    esc_arena_init(&m->arena, 1u << 20, 0);
    m->max_notables = o->max_notables ? o->max_notables : ESC_REPORT_MAX_NOTABLES;
    m->max_risk = o->max_risk ? o->max_risk : ESC_REPORT_MAX_RISK;
    esc_store_filter f;
    memset(&f, 0, sizeof f);
    f.has_since = o->has_since;
    f.has_until = o->has_until;
    f.since = o->since;
    f.until = o->until;
    esc_status st = esc_store_list(o->db_path, ESC_SINK_NOTABLE, &f, add_notable, m, err);
    if (st == ESC_OK)
        st = esc_store_list(o->db_path, ESC_SINK_RISK, &f, add_risk, m, err);
    if (st)
        return st;
    keyed *k = esc_malloc((m->nn + 1) * sizeof *k);
    if (!k || group_hosts(m, k) || group_dets(m, k)) {
        esc_free(k);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    esc_free(k);
    qsort(m->r, m->nr, sizeof *m->r, cmp_risk);
    for (size_t i = 0; i < m->nr; i++)
        m->nobjects +=
            i == 0 || cmp_risk(&(rpt_risk){m->r[i].object, m->r[i].type, NULL, 0, 0},
                               &(rpt_risk){m->r[i - 1].object, m->r[i - 1].type, NULL, 0, 0}) != 0;
    for (size_t i = 0; i < m->nn; i++) {
        const rpt_notable *n = &m->n[i];
        if (n->sev >= 0)
            m->nsev[n->sev]++;
        else
            m->nsev_unknown++;
        m->incidents += n->incident;
        m->untimed += !n->timed;
        if (n->timed)
            span(m, n->etime);
        for (size_t e = 0; e < n->nev; e++)
            span(m, n->ev[e].time);
    }
    return ESC_OK;
}

void rpt_model_fini(rpt_model *m) {
    esc_free(m->n);
    esc_free(m->r);
    esc_free(m->dets);
    esc_free(m->hosts);
    esc_arena_fini(&m->arena);
}
