/* The raw-event search, the source of a search that does not start with '|':
 * `sourcetype=... EventCode=10 TargetImage=*lsass.exe "*dbghelp*" | stats ...` over the fields
 * search-time extraction gives each event (fields/), one row per matching event.
 *
 * Semantics (SPEC section 4, docs/spl.md "Raw-event searches"): field=value is an ASCII
 * case-insensitive glob over any value of the field; field!=value needs the field; NOT f=v also
 * keeps events without f; comparisons are numeric when both sides are numbers; a bare term
 * matches _raw (the event's XML rendering) as Splunk's index does, bounded by breakers,
 * TERM() by major breakers only, CASE() case-sensitively; `index=` terms hold for every event
 * (escudo has one index). The rows' columns are every field name the later commands mention
 * (a scan of their text), plus _time; a multivalue field keeps every value.
 * Invariants: a row copies what it keeps; rows are fed in event order (exec.c streams them
 * into a first stats, or sorts the kept ones newest first); each row carries its event's
 * reference (its lineage, spl/evidence.c: docs/evidence.md). Not done: subsearches in the
 * search itself, fields no later command names (`table *` sees the named ones only). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "fields/fields.h"
#include "spl/cmd.h"

#define RAW_MAX_COLUMNS 200  /* fits the uint8_t column of feed_by_field */
#define RAW_FEED_FIELDS 1024 /* events with more fields fill their row column by column */

static bool parse_raw(spl_parser *P, stage *st) {
    st->ds = ESC_DS_RAW;
    P->p->ds = ESC_DS_RAW;
    if (spl_at_end(P))
        return true;
    st->where = spl_parse_search_raw(P);
    if (!st->where)
        return false;
    if (spl_peek(P) == ')') {
        spl_fail(P, P->pos, "unbalanced parenthesis: ')' without '('");
        return false;
    }
    return spl_expect_end(P, "search");
}

static void resolve(snode *n) {
    if (!n)
        return;
    if (n->kind == SN_CMP)
        n->ref = spl_ds_lookup(ESC_DS_RAW, n->field, &n->fname);
    resolve(n->l);
    resolve(n->r);
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == ':' || c == '@' || c == '{' || c == '}';
}

/* ---- interest: event codes and channels every matching event has ---- */

typedef struct need {
    uint32_t codes[ESC_PLAN_MAX_CODES];
    size_t ncodes;
    bool any_code;
    const char *chans[ESC_PLAN_MAX_CHANS];
    size_t nchans;
    bool any_chan;
    bool never; /* esc_plan's never */
} need;

/* The channel a source/sourcetype/Channel/eventtype term names, or NULL. A source pattern
 * whose wildcards all follow its colon names a channel pattern (esc_plan_select matches it
 * only while the event's source is its channel's, see esc_plan_event_meta). */
static const char *term_channel(const snode *n) {
    if (n->op != SOP_EQ || n->ref != FIELD_NAMED)
        return NULL;
    const char *v = n->val;
    const char *star = memchr(v, '*', n->val_len);
    if (star) {
        const char *c = esc_str_eq_c(n->fname, "source") ? memchr(v, ':', n->val_len) : NULL;
        return c && c < star ? c + 1 : NULL;
    }
    if (esc_str_eq_c(n->fname, "source") || esc_str_eq_c(n->fname, "sourcetype")) {
        const char *c = memchr(v, ':', n->val_len);
        return c && c[1] ? c + 1 : NULL;
    }
    if (esc_str_eq_c(n->fname, "Channel"))
        return v;
    if (esc_str_eq_c(n->fname, "eventtype")) {
        if (!strcmp(v, "wineventlog_security"))
            return "Security";
        if (!strcmp(v, "wineventlog_system"))
            return "System";
    }
    return NULL;
}

/* True when pattern p (ASCII case-insensitive, '*' any run) can match a value starting with
 * prefix: the text before its first '*' and the prefix agree as far as both go. */
static bool may_start(const char *p, size_t n, const char *prefix) {
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n && i < pl && p[i] != '*'; i++)
        if (esc_lower((unsigned char)p[i]) != esc_lower((unsigned char)prefix[i]))
            return false;
    return memchr(p, '*', n) || n >= pl;
}

/* True when the term n holds for no Windows event whose source, sourcetype and eventtype are
 * extraction's own (fields.c: source XmlWinEventLog:<Channel> or WinEventLog:<Channel>,
 * sourcetype XmlWinEventLog, eventtype from the add-on's list or match.c's fallback):
 * sourcetype="linux:audit", source=ActiveDirectory, eventtype="osquery-process". */
static bool term_never(const snode *n) {
    if (n->op != SOP_EQ || n->ref != FIELD_NAMED)
        return false;
    if (esc_str_eq_c(n->fname, "sourcetype"))
        return !spl_glob_imatch(n->val, n->val_len, "XmlWinEventLog", 14);
    if (esc_str_eq_c(n->fname, "source"))
        return !may_start(n->val, n->val_len, "XmlWinEventLog:") &&
               !may_start(n->val, n->val_len, "WinEventLog:");
    if (!esc_str_eq_c(n->fname, "eventtype"))
        return false;
    static const char *const fallback[] = {"wineventlog_security", "wineventlog_system"};
    for (size_t i = 0; i < 2; i++)
        if (spl_glob_imatch(n->val, n->val_len, fallback[i], strlen(fallback[i])))
            return false;
    for (size_t i = 0; i < esc_fields_neventtypes(); i++) {
        const char *e = esc_fields_eventtype(i);
        if (e && spl_glob_imatch(n->val, n->val_len, e, strlen(e)))
            return false;
    }
    return true;
}

static void need_union(need *a, const need *b) {
    if (b->any_code || a->ncodes + b->ncodes > ESC_PLAN_MAX_CODES)
        a->any_code = true;
    else
        for (size_t i = 0; i < b->ncodes; i++)
            a->codes[a->ncodes++] = b->codes[i];
    if (b->any_chan || a->nchans + b->nchans > ESC_PLAN_MAX_CHANS)
        a->any_chan = true;
    else
        for (size_t i = 0; i < b->nchans; i++)
            a->chans[a->nchans++] = b->chans[i];
}

static void need_of(const snode *n, need *out) {
    memset(out, 0, sizeof *out);
    out->any_code = out->any_chan = true;
    if (!n)
        return;
    if (n->kind == SN_CMP) {
        double d;
        if (n->op == SOP_EQ && n->ref == FIELD_NAMED &&
            (esc_str_eq_c(n->fname, "EventCode") || esc_str_eq_c(n->fname, "EventID")) &&
            spl_parse_num(n->val, n->val_len, &d) && d >= 0 && d < 65536 && d == (uint32_t)d) {
            out->any_code = false;
            out->codes[out->ncodes++] = (uint32_t)d;
        }
        const char *ch = term_channel(n);
        if (ch) {
            out->any_chan = false;
            out->chans[out->nchans++] = ch;
        }
        out->never = term_never(n);
        return;
    }
    if (n->kind != SN_AND && n->kind != SN_OR)
        return;
    need *l = esc_malloc(2 * sizeof *l);
    if (!l)
        return;
    need_of(n->l, &l[0]);
    need_of(n->r, &l[1]);
    if (n->kind == SN_OR) {
        *out = l[0];
        need_union(out, &l[1]);
        out->never = l[0].never && l[1].never;
    } else { /* either side's limits hold: keep the narrower of each */
        const need *c =
            l[0].any_code || (!l[1].any_code && l[1].ncodes < l[0].ncodes) ? &l[1] : &l[0];
        const need *h =
            l[0].any_chan || (!l[1].any_chan && l[1].nchans < l[0].nchans) ? &l[1] : &l[0];
        out->any_code = c->any_code;
        out->ncodes = c->ncodes;
        memcpy(out->codes, c->codes, sizeof out->codes);
        out->any_chan = h->any_chan;
        out->nchans = h->nchans;
        memcpy(out->chans, h->chans, sizeof out->chans);
        out->never = l[0].never || l[1].never;
    }
    esc_free(l);
}

static esc_status scan_names(esc_plan *p, stage *st, const char *s, size_t at, bool quoted,
                             esc_error *err);

/* The column of each field name (not _time, column 0, nor _raw), for spl_raw_feed. */
static esc_status hash_columns(esc_plan *p, stage *st, esc_error *err) {
    size_t size = 16;
    while (size < 2 * st->out.n)
        size *= 2;
    if (!(st->colhash = esc_arena_alloc(&p->arena, size * sizeof *st->colhash)) ||
        !(st->collen = esc_arena_alloc(&p->arena, st->out.n * sizeof *st->collen)))
        return spl_plan_oom(err);
    memset(st->colhash, 0, size * sizeof *st->colhash);
    st->colmask = size - 1;
    for (size_t c = 0; c < st->out.n; c++) { /* (names are shorter than scan_names' 128) */
        esc_str n = esc_str_c(st->out.name[c]);
        st->collen[c] = (uint16_t)n.len;
        if (!c || esc_str_eq_c(n, "_raw"))
            continue;
        size_t h = esc_fields_name_hash(n) & st->colmask;
        while (st->colhash[h])
            h = (h + 1) & st->colmask;
        st->colhash[h] = (uint16_t)(c + 1);
    }
    return ESC_OK;
}

/* The column of field name n (>= 1), or 0. */
static size_t column_of(const stage *st, esc_str n) {
    for (size_t h = esc_fields_name_hash(n) & st->colmask; st->colhash[h];
         h = (h + 1) & st->colmask) {
        size_t c = st->colhash[h] - 1u;
        if (n.len == st->collen[c] && !memcmp(n.ptr, st->out.name[c], n.len))
            return c;
    }
    return 0;
}

static esc_status plan_raw(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    (void)in;
    resolve(st->where);
    need nd;
    need_of(st->where, &nd);
    p->any_code = nd.any_code;
    p->ncodes = nd.ncodes;
    memcpy(p->codes, nd.codes, sizeof p->codes);
    p->any_chan = nd.any_chan;
    p->nchans = nd.nchans;
    memcpy(p->chans, nd.chans, sizeof p->chans);
    p->never = nd.never;
    for (size_t i = 0; i < p->nchans; i++) {
        p->chan_len[i] = strlen(p->chans[i]);
        p->chan_glob |= strchr(p->chans[i], '*') != NULL;
    }
    /* columns: _time, then every name-like word of the later commands, once (a map's search:
     * of the whole search, names_text) */
    if (!spl_schema_alloc(p, &st->out, RAW_MAX_COLUMNS))
        return spl_plan_oom(err);
    st->out.n = 0;
    spl_schema_add(&st->out, "_time");
    esc_status rc = ESC_OK;
    for (int quoted = p->raw_quoted != 2; quoted >= 0; quoted--) {
        /* names inside "..." too, unless they make too many (then only those outside: the
         * patterns of PowerShell 4104 Hunting's match() calls are no field names) */
        p->raw_quoted = quoted ? 1 : 2;
        st->out.n = 1;
        /* a map's search: its own conditions' fields too, and every name of the whole search */
        rc = scan_names(p, st, p->expanded, p->names_text ? 0 : st->end, quoted, err);
        if (rc == ESC_OK && p->names_text)
            rc = scan_names(p, st, p->names_text, 0, quoted, err);
        if (rc != ESC_ELIMIT)
            break;
    }
    return rc ? rc : hash_columns(p, st, err);
}

static bool skipped(const esc_plan *p, const char *name) {
    for (size_t i = 0; i < p->nraw_skip; i++)
        if (strcmp(p->raw_skip[i], name) == 0)
            return true;
    return false;
}

/* Name s[b, e) a column (unless it starts with a digit, is too long, skipped or known). */
static esc_status add_name(esc_plan *p, stage *st, const char *s, size_t b, size_t e,
                           esc_error *err) {
    char tmp[128];
    if (e == b || (s[b] >= '0' && s[b] <= '9') || e - b >= sizeof tmp)
        return ESC_OK;
    memcpy(tmp, s + b, e - b);
    tmp[e - b] = 0;
    if (spl_schema_find(&st->out, tmp) >= 0 || skipped(p, tmp))
        return ESC_OK;
    if (st->out.n == RAW_MAX_COLUMNS)
        return esc_error_at(err, ESC_ELIMIT, NULL, b,
                            "a raw-event search's later commands name more than %d fields",
                            RAW_MAX_COLUMNS);
    const char *d = esc_arena_dup(&p->arena, esc_str_make(tmp, e - b)).ptr;
    if (!d)
        return spl_plan_oom(err);
    spl_schema_add(&st->out, d);
    return ESC_OK;
}

/* Every name-like word of s from at (inside "..." too when quoted): the word without '.' at
 * its ends, and outside quotes each of its '.'-separated pieces as well, as eval's '.'
 * concatenates ("%".parent_process."%" and a.b read parent_process, a and b). */
static esc_status scan_names(esc_plan *p, stage *st, const char *s, size_t at, bool quoted,
                             esc_error *err) {
    size_t n = strlen(s);
    bool in_q = false;
    esc_status rc = ESC_OK;
    while (at < n && rc == ESC_OK) {
        char c = s[at];
        if (c == '"' || (in_q && c == '\\') || (in_q && !quoted) || !name_char(c)) {
            in_q ^= c == '"';
            at += in_q && c == '\\' && at + 1 < n ? 2 : 1;
            continue;
        }
        size_t b = at;
        while (at < n && name_char(s[at]))
            at++;
        size_t e = at;
        while (b < e && s[b] == '.')
            b++;
        while (e > b && s[e - 1] == '.')
            e--;
        rc = add_name(p, st, s, b, e, err);
        if (in_q || !memchr(s + b, '.', e - b))
            continue;
        for (size_t i = b; rc == ESC_OK && i < e;) {
            const char *dot = memchr(s + i, '.', e - i);
            size_t j = dot ? (size_t)(dot - s) : e;
            rc = add_name(p, st, s, i, j, err);
            i = j + 1;
        }
    }
    return rc ? rc : hash_columns(p, st, err);
}

/* One row from r's fields in one pass over them (what the loop of spl_raw_feed below gives,
 * column by column): each field's column by its name, then each column's values in field
 * order, up to 256; _time, _raw and eventtype's fallback as spl_rec_values gives them. */
static esc_status feed_by_field(const stage *st, esc_cell *row, const esc_record *r,
                                esc_error *err) {
    /* per column its first field, per field the next of its column (fields in order) */
    uint16_t first[RAW_MAX_COLUMNS], next[RAW_FEED_FIELDS];
    const esc_fields *fs = r->fs;
    memset(first, 0xff, st->out.n * sizeof *first);
    for (size_t i = fs->n; i-- > 0;) {
        size_t c = column_of(st, fs->f[i].name);
        if (c) {
            next[i] = first[c];
            first[c] = (uint16_t)i;
        }
    }
    char tb[48];
    esc_str ts = esc_str_make(tb, spl_time_text(r->time_us, tb, sizeof tb));
    if (!spl_cell_num(&row[0], (double)r->time_us / 1e6, &ts))
        return spl_exec_oom(err);
    for (size_t c = 1; c < st->out.n; c++) {
        esc_str vals[256];
        size_t nv = 0;
        if (st->dead && st->dead[c])
            continue; /* no later command reads it (live.c) */
        if (first[c] != UINT16_MAX) {
            for (size_t i = first[c]; i != UINT16_MAX && nv < 256; i = next[i])
                vals[nv++] = fs->f[i].value;
        } else if ((st->collen[c] == 4 && !memcmp(st->out.name[c], "_raw", 4)) ||
                   (st->collen[c] == 9 && !memcmp(st->out.name[c], "eventtype", 9))) {
            esc_str fname = esc_str_c(st->out.name[c]);
            char buf[32];
            int ref = spl_ds_lookup(ESC_DS_RAW, st->out.name[c], &fname);
            if ((nv = spl_rec_values(r, ref, fname, vals, 256, buf, sizeof buf)) > 256)
                nv = 256;
        }
        if (nv && !spl_cell_set(&row[c], vals, nv))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

esc_status spl_raw_feed(const stage *st, esc_table *t, size_t *cap, const esc_record *r,
                        esc_error *err) {
    if (t->nrows >= ESC_SPL_MAX_ROWS)
        return esc_error_set(err, ESC_ELIMIT, "a raw-event search matched more than %d events",
                             ESC_SPL_MAX_ROWS);
    if (t->nrows == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        esc_cell *c = esc_realloc(t->cells, nc * t->ncols * sizeof *c);
        if (!c)
            return spl_exec_oom(err);
        memset(c + *cap * t->ncols, 0, (nc - *cap) * t->ncols * sizeof *c);
        t->cells = c;
        size_t *id = esc_realloc(t->row_id, nc * sizeof *id);
        if (!id)
            return spl_exec_oom(err);
        t->row_id = id;
        *cap = nc;
    }
    esc_cell *row = &t->cells[t->nrows * t->ncols];
    t->nrows++;
    esc_status rc = spl_lineage_event(t, t->nrows - 1, r, err);
    if (rc != ESC_OK)
        return rc;
    if (r->fs && r->fs->n <= RAW_FEED_FIELDS)
        return feed_by_field(st, row, r, err);
    for (size_t i = 0; i < st->out.n; i++) {
        if (i && st->dead && st->dead[i])
            continue; /* as above; _time (column 0) orders the rows */
        esc_str fname = esc_str_c(st->out.name[i]);
        int ref = i == 0 ? FIELD_TIME : spl_ds_lookup(ESC_DS_RAW, st->out.name[i], &fname);
        esc_str vals[256];
        char buf[32];
        size_t nv = spl_rec_values(r, ref, fname, vals, 256, buf, sizeof buf);
        if (nv > 256)
            nv = 256;
        if (!nv)
            continue;
        if (ref == FIELD_TIME) { /* seconds, sub-second part kept, as a number */
            char tb[48];
            esc_str ts = esc_str_make(tb, spl_time_text(r->time_us, tb, sizeof tb));
            if (!spl_cell_num(&row[i], (double)r->time_us / 1e6, &ts))
                return spl_exec_oom(err);
            continue;
        }
        if (!spl_cell_set(&row[i], vals, nv))
            return spl_exec_oom(err);
    }
    return ESC_OK;
}

static void explain_raw(const stage *st, esc_buf *out) {
    esc_buf_append_c(out, " (raw events)\n  where: ");
    spl_explain_snode(st->where, out);
}

const spl_cmd spl_cmd_raw = {
    .name = "search",
    .flags = SPL_CMD_SOURCE,
    .parse = parse_raw,
    .plan = plan_raw,
    .explain = explain_raw,
};
